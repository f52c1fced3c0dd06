//! What the generated code offers the app to feed each meter: the helpers its own code calls
//! (`recordLlmUsage(...)`), and the middleware, plugins or hooks whose registration records the
//! events (`app.use(spaireApiCalls())`). The names here are the ones the templates define;
//! `billing-ops` scans a project for them to say, per meter, what feeds it and what is missing.

use billing_detect::{FrameworkId, Language};
use billing_plan::{BillingPlan, Meter, MeterKind};

use crate::Target;
use crate::python::events::MeterEvents;
use crate::typescript::Layout;

/// The names that record a meter's events from the app's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Helpers the app calls where the usage happens.
    pub helpers: Vec<String>,
    /// Middleware / plugin / hook names whose registration records every request.
    pub middleware: Vec<String>,
    /// A generic helper that takes the event name (`recordUsage(id, "images", ...)`): it only
    /// feeds this meter on a line that also names the event.
    pub generic: Option<String>,
    /// One call in the package's language, to show in a manual step.
    pub example: String,
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// How the app feeds `meter` in a package of `language` (custom meters take their helper name
/// from the plan, as the generators do).
pub fn feed(language: Language, plan: &BillingPlan, meter: &Meter) -> Feed {
    let custom = MeterEvents::from_plan(plan)
        .custom
        .into_iter()
        .find(|c| c.meter == meter.name);
    let event = &meter.event;
    match language {
        Language::TypeScript | Language::JavaScript => match meter.kind {
            MeterKind::LlmTokens => Feed {
                helpers: owned(&crate::typescript::context::LLM_HELPERS),
                middleware: Vec::new(),
                generic: None,
                example: "recordLlmUsage(userId, result.totalUsage, \"model-name\");".to_owned(),
            },
            MeterKind::Embeddings => Feed {
                helpers: owned(&[crate::typescript::context::EMBEDDING_HELPER]),
                middleware: Vec::new(),
                generic: None,
                example: "recordEmbeddingUsage(userId, result.usage, \"model-name\");".to_owned(),
            },
            MeterKind::Images => Feed {
                helpers: owned(&[crate::typescript::context::IMAGES_HELPER]),
                middleware: Vec::new(),
                generic: None,
                example: "recordImageGeneration(userId, result.images, \"model-name\");".to_owned(),
            },
            MeterKind::ApiCalls => Feed {
                helpers: owned(&["recordApiCall"]),
                middleware: owned(&[
                    "spaireApiCalls",
                    "withApiCalls",
                    "withApiCallsPages",
                    "spaireHandle",
                ]),
                generic: None,
                example: "recordApiCall(userId, \"/route\", request.method);".to_owned(),
            },
            MeterKind::Storage => Feed {
                helpers: owned(&["recordStorageUpload"]),
                middleware: Vec::new(),
                generic: None,
                example: "recordStorageUpload(userId, bytes);".to_owned(),
            },
            MeterKind::ComputeTime => Feed {
                helpers: owned(&["startComputeTimer"]),
                middleware: Vec::new(),
                generic: None,
                example: "const timer = startComputeTimer(userId); /* the work */ timer.stop();"
                    .to_owned(),
            },
            MeterKind::Custom => Feed {
                helpers: Vec::new(),
                middleware: Vec::new(),
                generic: Some("recordUsage".to_owned()),
                example: match &meter.aggregation.property {
                    Some(property) => {
                        format!("recordUsage(userId, \"{event}\", {{ {property}: value }});")
                    }
                    None => format!("recordUsage(userId, \"{event}\");"),
                },
            },
        },
        Language::Python => python_like(
            meter,
            custom.as_ref().map(|c| c.function.as_str()),
            "record_event",
            &["ApiCallMiddleware", "install_billing"],
            Style::Snake,
        ),
        Language::Ruby => python_like(
            meter,
            custom.as_ref().map(|c| c.function.as_str()),
            "record_event",
            &["ApiCallMiddleware"],
            Style::Snake,
        ),
        Language::Php => python_like(
            meter,
            custom.as_ref().map(|c| c.function_camel.as_str()),
            "recordEvent",
            &["SpaireUsage"],
            Style::Camel,
        ),
        Language::Go => python_like(
            meter,
            custom.as_ref().map(|c| c.function_pascal.as_str()),
            "RecordEvent",
            &[
                "APICallMiddleware",
                "GinAPICallMiddleware",
                "EchoAPICallMiddleware",
                "FiberAPICallMiddleware",
            ],
            Style::Pascal,
        ),
    }
}

#[derive(Clone, Copy)]
enum Style {
    Snake,
    Camel,
    Pascal,
}

/// Python, Ruby, PHP and Go share one shape: a helper per kind, one per custom meter.
fn python_like(
    meter: &Meter,
    custom: Option<&str>,
    generic: &str,
    middleware: &[&str],
    style: Style,
) -> Feed {
    let pick = |snake: &str, camel: &str, pascal: &str| -> String {
        match style {
            Style::Snake => snake,
            Style::Camel => camel,
            Style::Pascal => pascal,
        }
        .to_owned()
    };
    let (helpers, middleware, example) = match meter.kind {
        MeterKind::LlmTokens => (
            match style {
                Style::Snake => owned(&[
                    "record_llm_usage",
                    "record_llm_response",
                    "record_agent_run",
                ]),
                Style::Camel => owned(&["recordLlmUsage"]),
                Style::Pascal => owned(&["RecordLLMUsage"]),
            },
            Vec::new(),
            pick(
                "record_llm_usage(user_id, result.usage(), model=\"model-name\")",
                "recordLlmUsage($userId, $inputTokens, $outputTokens)",
                "RecordLLMUsage(userID, inputTokens, outputTokens, totalTokens, \"model-name\")",
            ),
        ),
        MeterKind::Embeddings => (
            vec![pick(
                "record_embedding_usage",
                "recordEmbeddingUsage",
                "RecordEmbeddingUsage",
            )],
            Vec::new(),
            pick(
                "record_embedding_usage(user_id, response.usage.prompt_tokens, model=\"model-name\")",
                "recordEmbeddingUsage($userId, $tokens, 'model-name')",
                "RecordEmbeddingUsage(userID, tokens, \"model-name\")",
            ),
        ),
        MeterKind::Images => (
            vec![pick(
                "record_image_generation",
                "recordImageGeneration",
                "RecordImageGeneration",
            )],
            Vec::new(),
            pick(
                "record_image_generation(user_id, len(response.data), model=\"model-name\")",
                "recordImageGeneration($userId, $images, 'model-name')",
                "RecordImageGeneration(userID, images, \"model-name\")",
            ),
        ),
        MeterKind::ApiCalls => (
            vec![pick("record_api_call", "recordApiCall", "RecordAPICall")],
            owned(middleware),
            pick(
                "record_api_call(user_id, \"/route\", \"GET\")",
                "recordApiCall($userId, '/route', 'GET')",
                "RecordAPICall(userID, \"/route\", \"GET\")",
            ),
        ),
        MeterKind::Storage => (
            match style {
                // `record_stored_file`: a stored file's size, read safely (wired into a
                // presigned upload's `finish`).
                Style::Snake => owned(&["record_storage_upload", "record_stored_file"]),
                Style::Camel => owned(&["recordStorageUpload"]),
                Style::Pascal => owned(&["RecordStorageUpload"]),
            },
            Vec::new(),
            pick(
                "record_storage_upload(user_id, size_in_bytes)",
                "recordStorageUpload($userId, $bytes)",
                "RecordStorageUpload(userID, bytes)",
            ),
        ),
        MeterKind::ComputeTime => (
            vec![pick(
                "start_compute_timer",
                "startComputeTimer",
                "StartComputeTimer",
            )],
            Vec::new(),
            pick(
                "timer = start_compute_timer(user_id)  # the work, then: timer.stop()",
                "$stop = startComputeTimer($userId); /* the work */ $stop();",
                "timer := StartComputeTimer(userID) // the work, then: timer.Stop()",
            ),
        ),
        MeterKind::Custom => {
            let name = custom.unwrap_or(generic).to_owned();
            let example = match (style, meter.aggregation.property.is_some()) {
                (Style::Snake, true) => format!("{name}(user_id, value)"),
                (Style::Snake, false) => format!("{name}(user_id)"),
                (Style::Camel, true) => format!("{name}($userId, $value)"),
                (Style::Camel, false) => format!("{name}($userId)"),
                (Style::Pascal, true) => format!("{name}(userID, value)"),
                (Style::Pascal, false) => format!("{name}(userID)"),
            };
            (vec![name], Vec::new(), example)
        }
    };
    Feed {
        helpers,
        middleware,
        generic: (meter.kind == MeterKind::Custom).then(|| generic.to_owned()),
        example,
    }
}

/// The line that imports `names` (usage helpers, or the framework adapter's
/// `spaireApiCalls` / `spaireWebhooks`) into `from_file` (project-relative), in that file's
/// module system: a CommonJS file gets `require`, an ES module `import`, Python `from ... import`.
/// `None` for languages without an import line to add (Go, PHP, Ruby name the package inline).
pub fn import_line(target: &Target<'_>, from_file: &str, names: &[&str]) -> Option<String> {
    let list = names.join(", ");
    match target.package.language {
        Language::TypeScript | Language::JavaScript => {
            let framework = target.package.primary_framework();
            let layout = Layout::new(target.package, framework);
            let from = layout.to_package(from_file)?;
            let adapter = names
                .iter()
                .any(|n| *n == "spaireApiCalls" || *n == "spaireWebhooks");
            let stem = match (adapter, layout.framework) {
                (true, Some(FrameworkId::Express)) => "express",
                (true, Some(FrameworkId::Fastify)) => "fastify",
                (true, Some(FrameworkId::Hono)) => "hono",
                (true, Some(FrameworkId::Elysia)) => "elysia",
                (true, _) => return None,
                (false, _) => "usage",
            };
            let spec = layout.specifier(&from, stem);
            let esm = if from_file.ends_with(".cjs") || from_file.ends_with(".cts") {
                false
            } else if from_file.ends_with(".mjs") || from_file.ends_with(".mts") {
                true
            } else {
                layout.esm_syntax
            };
            Some(if esm {
                format!("import {{ {list} }} from \"{spec}\";")
            } else {
                format!("const {{ {list} }} = require(\"{spec}\");")
            })
        }
        Language::Python => {
            let module = crate::python::usage_module_import(target)?;
            Some(format!("from {module} import {list}"))
        }
        _ => None,
    }
}

/// The marker the generated session resolver logs while it still returns no user id: a file
/// containing it holds a stub the user has to fill in.
pub const SESSION_STUB_MARKER: &str = "returns no user id yet";

/// The function that must be filled in when [`SESSION_STUB_MARKER`] is present.
pub const SESSION_STUB_FUNCTION: &str = "customerIdFromSession";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_meter_has_a_way_in_for_every_language() {
        let meters: Vec<Meter> = billing_plan::presets()
            .into_iter()
            .flat_map(|p| p.meters)
            .collect();
        let plan: BillingPlan = serde_json::from_value(serde_json::json!({
            "environment": "local", "project": {"path": "."}, "customer": {"from": "session"},
            "meters": [], "prices": [], "credits": []
        }))
        .expect("plan");
        for language in [
            Language::TypeScript,
            Language::Python,
            Language::Go,
            Language::Php,
            Language::Ruby,
        ] {
            for meter in &meters {
                let feed = feed(language, &plan, meter);
                assert!(
                    !feed.helpers.is_empty() || feed.generic.is_some(),
                    "{language:?} {}",
                    meter.name
                );
                assert!(!feed.example.is_empty());
            }
        }
    }

    #[test]
    fn custom_meters_use_the_generated_helper_name() {
        let meter = Meter {
            name: "images".into(),
            event: "image-generated".into(),
            aggregation: billing_plan::Aggregation {
                func: billing_plan::AggregationFunc::Count,
                property: None,
            },
            kind: MeterKind::Custom,
            preset: None,
            markup: None,
            paths: None,
        };
        let plan: BillingPlan = serde_json::from_value(serde_json::json!({
            "environment": "local", "project": {"path": "."}, "customer": {"from": "session"},
            "meters": [meter], "prices": [], "credits": []
        }))
        .expect("plan");
        let py = feed(Language::Python, &plan, &meter);
        assert_eq!(py.helpers, vec!["record_images".to_owned()]);
        assert_eq!(py.generic.as_deref(), Some("record_event"));
        let ts = feed(Language::TypeScript, &plan, &meter);
        assert!(ts.helpers.is_empty());
        assert_eq!(ts.generic.as_deref(), Some("recordUsage"));
        assert_eq!(ts.example, "recordUsage(userId, \"image-generated\");");
    }
}
