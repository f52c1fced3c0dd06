//! Code generation for Python: FastAPI, Flask, Django and PydanticAI (standalone or inside
//! one of those), on the official `spaire-sdk`.
//!
//! Everything lands in one package, `spaire_billing/`, placed where the app's own code can
//! import it (next to the entry file, inside its package when it is one; next to
//! `manage.py` for Django). Inside the package every import is relative, so the package can
//! be moved. The app is wired with a single `install_billing(app)` call (FastAPI, Flask) or
//! appended settings / URLconf entries (Django).

pub mod events;
pub mod import_block;
mod layout;
mod wiring;

use billing_changeset::{ChangeSet, EnvVarName, FileAction, FileChange, FileOrigin};
use billing_plan::{CustomerSource, Meter};
use serde::Serialize;

use crate::render;
use crate::{GenerateError, Target};
pub use layout::{PythonFramework, PythonLayout};

use events::{MeterEvents, WebhookEvent};

/// Name of the generated package.
pub const PACKAGE: &str = "spaire_billing";
/// URL path of the webhook endpoint in every Python framework.
pub use billing_vocab::WEBHOOK_PATH;

/// The dotted module the wiring of call sites imports the usage helpers from
/// (`record_llm_usage`, `record_agent_run`, `record_storage_upload`, `record_api_call`,
/// `start_compute_timer`), e.g. `app.spaire_billing.usage`. `None` for non-Python packages.
pub fn usage_module_import(target: &Target<'_>) -> Option<String> {
    if target.package.language != billing_detect::Language::Python {
        return None;
    }
    let layout = PythonLayout::resolve(target);
    Some(format!("{}.usage", layout.module))
}

/// Files besides the entry whose own app object gets `install_billing` as well (they build an
/// app and hold a call site), so wiring may use `current_customer_id()` in them.
pub fn other_app_files(target: &Target<'_>) -> Result<Vec<String>, GenerateError> {
    if target.package.language != billing_detect::Language::Python {
        return Ok(Vec::new());
    }
    wiring::other_app_files(target, &PythonLayout::resolve(target))
}

/// Whether the generated glue names each request's customer (a web framework's middleware), so
/// wiring may use `current_customer_id()` at call sites reached inside a request.
pub fn request_customer(target: &Target<'_>) -> bool {
    target.package.language == billing_detect::Language::Python
        && PythonLayout::resolve(target).framework != PythonFramework::None
}

/// Whether a webhook handler is generated: webhooks are planned and a web framework serves it.
pub fn generates_webhooks(target: &Target<'_>) -> bool {
    target.plan.webhooks.is_some()
        && PythonLayout::resolve(target).framework != PythonFramework::None
}

/// The usage helpers the generated usage module defines for this plan (one per meter kind in
/// the plan; a helper for a kind without a meter would send events nobody counts).
pub fn usage_helpers(plan: &billing_plan::BillingPlan) -> Vec<String> {
    let events = MeterEvents::from_plan(plan);
    let mut helpers: Vec<String> = vec!["record_event".to_owned()];
    if !events.llm.is_empty() {
        helpers.extend(
            [
                "record_llm_usage",
                "record_llm_response",
                "record_agent_run",
                "llm_token_counts",
            ]
            .map(str::to_owned),
        );
    }
    if !events.embedding.is_empty() {
        helpers.push("record_embedding_usage".to_owned());
    }
    if !events.image.is_empty() {
        helpers.push("record_image_generation".to_owned());
    }
    if !events.storage.is_empty() {
        helpers.push("record_storage_upload".to_owned());
    }
    if !events.api.is_empty() {
        helpers.push("record_api_call".to_owned());
    }
    if !events.compute.is_empty() {
        helpers.push("start_compute_timer".to_owned());
    }
    helpers.push("current_customer_id".to_owned());
    helpers.extend(events.custom.into_iter().map(|c| c.function));
    helpers
}

/// Metadata keys the generated code writes on `meter`'s events (camelCase, exactly what the
/// meters aggregate). Same table as the plan's invariant check and the TypeScript generator.
pub fn metadata_keys(meter: &Meter) -> Vec<String> {
    billing_plan::presets::written_keys(meter)
}

#[derive(Serialize)]
struct Context<'a> {
    header: String,
    /// spaire-sdk is installed with the code: its client, models and webhook verifier are used
    /// (otherwise the standard library and `standardwebhooks`, see `Target::without_sdk`).
    sdk: bool,
    default_server_url: String,
    framework: &'static str,
    customer: &'a CustomerSource,
    /// The login a `session` resolver reads (`flask-login`), or `unknown`.
    session_auth: &'static str,
    /// FastAPI: the app's own user dependencies, each wrapped to learn the customer.
    user_dependencies: Vec<crate::session_auth::UserDependency>,
    customer_body: bool,
    /// A web framework: its middleware names each request's customer for call sites with no
    /// user id of their own (`current_customer_id()`), whatever the meters.
    request_customer: bool,
    api_calls: bool,
    webhooks: bool,
    webhook_events: &'a [WebhookEvent],
    /// Some subscribed type has a spaire-sdk model (imports and `isinstance` cases).
    typed_webhook_events: bool,
    /// Some subscribed type has none (dispatched from the raw JSON instead).
    raw_webhook_events: bool,
    webhook_path: &'static str,
    webhook_path_django: &'static str,
    default_meter: String,
    llm_events: &'a [String],
    /// An `llm-cost` meter is planned: LLM events carry `_cost`, priced by genai-prices.
    llm_cost: bool,
    /// The factor the cost is multiplied by (decimal text for `Decimal(...)`).
    llm_markup: String,
    api_events: &'a [String],
    /// What the generated `is_billed_api_call` compares a request with (paths, never-billed
    /// segments), from the one definition every language renders.
    api_rule: crate::api_calls::ApiCallRule,
    storage_events: &'a [String],
    /// `embedding-usage` / `image-generation` events (embedding and image meters).
    embedding_events: &'a [String],
    image_events: &'a [String],
    compute_events: &'a [String],
    custom: &'a [events::CustomMeter],
    /// Largest batch a recorder sends ([`crate::delivery::max_batch_size`]).
    max_batch_size: usize,
}

pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    let plan = target.plan;
    let layout = PythonLayout::resolve(target);
    let events = MeterEvents::from_plan(plan);
    let mut webhook_events = events::webhook_events(plan)
        .map_err(|event| GenerateError::UnknownWebhookEvent { event })?;
    if target.without_sdk {
        // No spaire-sdk models: every event is dispatched from its JSON payload.
        for event in &mut webhook_events {
            event.python_sdk = false;
        }
    }
    let webhooks = generates_webhooks(target);
    let request_customer = layout.framework != PythonFramework::None;
    let api_calls = !events.api.is_empty() && request_customer;
    let default_meter = crate::server_context::default_meter(plan);
    let context = Context {
        header: render::header_line("#"),
        sdk: !target.without_sdk,
        default_server_url: plan.public_server_url(),
        framework: layout.framework.as_str(),
        customer: &plan.customer,
        session_auth: crate::session_auth::python(target)?.as_str(),
        user_dependencies: if layout.framework == PythonFramework::FastApi
            && plan.customer == CustomerSource::Session
        {
            crate::session_auth::fastapi_user_dependencies(target)?
        } else {
            Vec::new()
        },
        customer_body: matches!(plan.customer, CustomerSource::Body { .. }),
        request_customer,
        api_calls,
        webhooks,
        typed_webhook_events: webhook_events.iter().any(|e| e.python_sdk),
        raw_webhook_events: webhook_events.iter().any(|e| !e.python_sdk),
        webhook_events: &webhook_events,
        webhook_path: WEBHOOK_PATH,
        webhook_path_django: WEBHOOK_PATH.trim_start_matches('/'),
        default_meter,
        llm_events: &events.llm,
        llm_cost: plan.llm_cost_markup().is_some(),
        llm_markup: crate::escape::decimal_literal(plan.llm_cost_markup().unwrap_or("1")),
        api_events: &events.api,
        api_rule: crate::api_calls::ApiCallRule::new(plan, crate::api_calls::SERVER_DEFAULT_PREFIX),
        storage_events: &events.storage,
        embedding_events: &events.embedding,
        image_events: &events.image,
        compute_events: &events.compute,
        custom: &events.custom,
        max_batch_size: crate::delivery::max_batch_size(plan),
    };

    let env = render::environment(&render::embedded("python", std::convert::identity));
    let mut files: Vec<(&str, &str, &str)> = vec![
        (
            "__init__.py",
            "__init__.py",
            "package marker and what it configures",
        ),
        (
            "client.py",
            "client.py",
            "Spaire client with an explicit server URL",
        ),
        (
            "usage.py",
            "usage.py",
            "usage helpers: queue events, batch in the background",
        ),
        (
            "balance.py",
            "balance.py",
            "credit balances per meter name (balance > 0 = credits left)",
        ),
    ];
    if request_customer {
        files.push((
            "customer.py",
            "customer.py",
            "finds the customer id in a request",
        ));
    }
    if webhooks {
        files.push((
            "webhooks.py",
            "webhooks.py",
            "verifies and dispatches Spaire webhooks",
        ));
    }
    match layout.framework {
        // Always: besides middleware and routes it flushes usage at shutdown.
        PythonFramework::FastApi => files.push((
            "fastapi_integration.py",
            "integration.py",
            "FastAPI middleware, webhook route and shutdown flush",
        )),
        PythonFramework::Flask => files.push((
            "flask_integration.py",
            "integration.py",
            "Flask hooks (the request's customer) and webhook route",
        )),
        PythonFramework::Django => {
            files.push((
                "django_middleware.py",
                "middleware.py",
                "Django middleware: the request's customer (and API calls)",
            ));
            if webhooks {
                files.push((
                    "django_views.py",
                    "views.py",
                    "Django webhook view (csrf_exempt)",
                ));
                files.push(("django_urls.py", "urls.py", "URL of the webhook view"));
            }
        }
        _ => {}
    }

    let import_style = import_style(target)?;
    let mut changes = ChangeSet::default();
    for (template, file, summary) in files {
        let path = join(&layout.package_dir, file);
        let after = render::render(&env, template, &context)?;
        let after = import_block::format_imports(&after, &import_style);
        changes
            .files
            .push(created_or_modified(target, path, after, summary)?);
    }
    let registration = wiring::register(target, &layout, webhooks)?;
    changes.extend(registration);

    changes.installs.extend(
        crate::imports::imported_by(target)
            .into_iter()
            .filter(|sdk| !crate::imports::is_installed(target.package, sdk))
            .map(|sdk| crate::imports::install(target.package, sdk)),
    );
    changes.installs.extend(crate::imports::price_installs(
        target.root,
        target.package,
        target.plan,
    ));
    changes.env_vars.push(EnvVarName {
        name: "SPAIRE_ACCESS_TOKEN".to_owned(),
        purpose: "organization access token used to send usage events and read balances".to_owned(),
        required: true,
    });
    changes.env_vars.push(EnvVarName {
        name: "SPAIRE_SERVER_URL".to_owned(),
        purpose: format!("Spaire API base URL (default {})", plan.public_server_url()),
        required: false,
    });
    if webhooks {
        changes.env_vars.push(EnvVarName {
            name: "SPAIRE_WEBHOOK_SECRET".to_owned(),
            purpose: "secret of the Spaire webhook endpoint (starts with spaire_whs_)".to_owned(),
            required: true,
        });
    }
    Ok(changes)
}

/// How the project lays out imports: the line length its ruff / isort / black configuration
/// sets (nearest directory from the package up to the root first; 88 when none does), and the
/// app's own module a `function` customer resolver is imported from (isort's first party).
fn import_style(target: &Target<'_>) -> Result<import_block::ImportStyle, GenerateError> {
    let mut dirs = vec![target.package.path.clone()];
    let mut dir = target.package.path.as_str();
    while let Some((parent, _)) = dir.rsplit_once('/') {
        dirs.push(parent.to_owned());
        dir = parent;
    }
    if dir != "." && !dir.is_empty() {
        dirs.push(".".to_owned());
    }
    let mut texts: Vec<(&str, String)> = Vec::new();
    for dir in &dirs {
        for name in import_block::LAYOUT_CONFIGS {
            if let Some(text) = read_optional(target, &join(dir, name))? {
                texts.push((name, text));
            }
        }
    }
    let files: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let first_party = match &target.plan.customer {
        CustomerSource::Function { module, .. } => module
            .split('.')
            .next()
            .filter(|top| !top.is_empty())
            .map(|top| vec![top.to_owned()])
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(import_block::ImportStyle {
        line_length: import_block::configured_line_length(&files)
            .unwrap_or(import_block::DEFAULT_LINE_LENGTH),
        first_party,
    })
}

/// A generated file: `Create` when absent, `Modify` (with the current text) when present.
pub(crate) fn created_or_modified(
    target: &Target<'_>,
    path: String,
    after: String,
    summary: &str,
) -> Result<FileChange, GenerateError> {
    let before = read_optional(target, &path)?;
    Ok(FileChange {
        action: if before.is_some() {
            FileAction::Modify
        } else {
            FileAction::Create
        },
        origin: FileOrigin::Generated,
        path,
        before,
        after,
        summary: summary.to_owned(),
    })
}

/// The file at `path` (relative to the project root), or `None` when it does not exist.
pub(crate) fn read_optional(
    target: &Target<'_>,
    path: &str,
) -> Result<Option<String>, GenerateError> {
    // UTF-16 with a BOM (a `requirements.txt` saved by PowerShell) is text too; apply writes
    // it back in its own encoding.
    match std::fs::read(target.root.join(path)) {
        Ok(bytes) => billing_changeset::TextEncoding::decode(&bytes)
            .map(|(text, _)| Some(text))
            .ok_or_else(|| GenerateError::Read {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "neither UTF-8 nor UTF-16 with a byte-order mark",
                ),
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GenerateError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// `dir/file` with `/` separators, where `dir` "." means the project root.
pub(crate) fn join(dir: &str, file: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        file.to_owned()
    } else {
        format!("{dir}/{file}")
    }
}

#[cfg(test)]
mod tests;
