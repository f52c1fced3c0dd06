//! What the generated code sends, derived from the plan's meters: event names per meter
//! kind and the custom-meter helpers. Shared by every language module so that all of them
//! send exactly the events the meters filter on.

use billing_plan::{BillingPlan, MeterKind};
use serde::Serialize;

/// Distinct event names per meter kind, in plan order.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MeterEvents {
    pub llm: Vec<String>,
    pub embedding: Vec<String>,
    pub image: Vec<String>,
    pub api: Vec<String>,
    pub storage: Vec<String>,
    pub compute: Vec<String>,
    pub custom: Vec<CustomMeter>,
}

/// A user-defined meter; the generated code has one helper per custom meter.
#[derive(Debug, Clone, Serialize)]
pub struct CustomMeter {
    /// Meter name in Spaire.
    pub meter: String,
    pub event: String,
    /// Aggregated metadata key (absent for `count`).
    pub property: Option<String>,
    pub aggregation: &'static str,
    /// Helper name in snake_case, e.g. `record_images`.
    pub function: String,
    /// Helper name in lowerCamelCase, e.g. `recordImages` (Go: exported via PascalCase).
    pub function_camel: String,
    /// Helper name in PascalCase, e.g. `RecordImages`.
    pub function_pascal: String,
    /// Parameter carrying the property value (snake_case, never a reserved word).
    pub param: String,
}

impl MeterEvents {
    pub fn from_plan(plan: &BillingPlan) -> Self {
        let mut events = MeterEvents::default();
        for meter in &plan.meters {
            let list = match meter.kind {
                MeterKind::LlmTokens => &mut events.llm,
                MeterKind::Embeddings => &mut events.embedding,
                MeterKind::Images => &mut events.image,
                MeterKind::ApiCalls => &mut events.api,
                MeterKind::Storage => &mut events.storage,
                MeterKind::ComputeTime => &mut events.compute,
                MeterKind::Custom => {
                    let words = words(&meter.name);
                    let function = format!("record_{}", words.join("_"));
                    if !events.custom.iter().any(|c| c.function == function) {
                        events.custom.push(CustomMeter {
                            meter: meter.name.clone(),
                            event: meter.event.clone(),
                            property: meter.aggregation.property.clone(),
                            aggregation: meter.aggregation.func.as_str(),
                            function_camel: camel(&["record"], &words, false),
                            function_pascal: camel(&["record"], &words, true),
                            function,
                            param: "value".to_owned(),
                        });
                    }
                    continue;
                }
            };
            if !list.contains(&meter.event) {
                list.push(meter.event.clone());
            }
        }
        events
    }
}

/// Lower-case ASCII words of a meter name ("Image generations" → ["image", "generations"]);
/// a leading digit gets a prefix so the result is a valid identifier in every language.
pub fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        words.push("meter".to_owned());
    }
    if words[0].starts_with(|c: char| c.is_ascii_digit()) {
        words.insert(0, "meter".to_owned());
    }
    words
}

fn camel(prefix: &[&str], words: &[String], pascal: bool) -> String {
    let mut out = String::new();
    for (i, word) in prefix
        .iter()
        .copied()
        .chain(words.iter().map(String::as_str))
        .enumerate()
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 && !pascal {
                out.push(first);
            } else {
                out.push(first.to_ascii_uppercase());
            }
            out.extend(chars);
        }
    }
    out
}

/// One webhook event type the handler has an explicit case for.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEvent {
    /// Wire type, e.g. `order.paid`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Python SDK payload class, e.g. `WebhookOrderPaidPayload`.
    pub class: String,
    /// Handler name, e.g. `on_order_paid`.
    pub handler: String,
    /// Handler name in lowerCamelCase (`onOrderPaid`).
    pub handler_camel: String,
    /// Handler name in PascalCase (`OnOrderPaid`).
    pub handler_pascal: String,
    /// One line on what the event means.
    pub doc: &'static str,
    /// Python expression naming the customer in a log line.
    pub customer_expr: &'static str,
    /// JSON path (dot-separated) to the customer's id in the payload's `data`, for the
    /// standard-library handlers (Go, PHP, Ruby).
    pub customer_field: &'static str,
    /// The Python SDK parses this type into `class`; otherwise the Python handler receives
    /// the payload's `data` as a dict (the standard-library handlers always parse JSON).
    pub python_sdk: bool,
}

/// The webhook cases for the plan, or the first event type Spaire does not send (only
/// possible for a plan that skipped validation).
pub fn webhook_events(plan: &BillingPlan) -> Result<Vec<WebhookEvent>, String> {
    let Some(webhooks) = &plan.webhooks else {
        return Ok(Vec::new());
    };
    let mut out: Vec<WebhookEvent> = Vec::new();
    for event_type in &webhooks.events {
        let Some(known) = billing_vocab::webhook::event_type(event_type) else {
            return Err(event_type.clone());
        };
        if out.iter().any(|e| &e.event_type == event_type) {
            continue;
        }
        let words: Vec<String> = event_type.split(['.', '_']).map(str::to_owned).collect();
        let class = format!("Webhook{}Payload", camel(&[], &words, true));
        let (customer_expr, customer_field) = match event_type.split('.').next() {
            Some("order" | "subscription" | "refund") => ("event.data.customer_id", "customer_id"),
            Some("customer") => ("event.data.external_id or event.data.id", "external_id"),
            _ => ("\"-\"", ""),
        };
        out.push(WebhookEvent {
            event_type: event_type.clone(),
            class,
            handler: format!("on_{}", words.join("_")),
            handler_camel: camel(&["on"], &words, false),
            handler_pascal: camel(&["on"], &words, true),
            doc: known.doc,
            customer_expr: if known.python_sdk {
                customer_expr
            } else {
                "\"-\""
            },
            customer_field,
            python_sdk: known.python_sdk,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers_in_every_style() {
        assert_eq!(words("Image generations"), ["image", "generations"]);
        assert_eq!(words("3d-renders"), ["meter", "3d", "renders"]);
        assert_eq!(
            camel(&["record"], &words("gpu-seconds"), false),
            "recordGpuSeconds"
        );
        assert_eq!(camel(&["on"], &words("order.paid"), true), "OnOrderPaid");
    }
}
