//! What the generated code sends, derived from the plan's meters: event names per meter
//! kind and the custom-meter helpers. Shared by every language module so that all of them
//! send exactly the events the meters filter on.

use billing_plan::{AggregationFunc, BillingPlan, MeterKind};
use serde::Serialize;

/// Distinct event names per meter kind, in plan order.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MeterEvents {
    pub llm: Vec<String>,
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
                            aggregation: aggregation_name(meter.aggregation.func),
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

fn aggregation_name(func: AggregationFunc) -> &'static str {
    match func {
        AggregationFunc::Count => "count",
        AggregationFunc::Sum => "sum",
        AggregationFunc::Max => "max",
        AggregationFunc::Min => "min",
        AggregationFunc::Avg => "avg",
        AggregationFunc::Unique => "unique",
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
}

/// Every webhook type the Spaire SDKs know (spaire-sdk 0.28.4 `WebhoookPayload`).
pub const KNOWN_WEBHOOK_TYPES: &[&str] = &[
    "checkout.created",
    "checkout.updated",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.state_changed",
    "customer_seat.assigned",
    "customer_seat.claimed",
    "customer_seat.revoked",
    "order.created",
    "order.updated",
    "order.paid",
    "order.refunded",
    "subscription.created",
    "subscription.updated",
    "subscription.active",
    "subscription.canceled",
    "subscription.uncanceled",
    "subscription.revoked",
    "subscription.past_due",
    "refund.created",
    "refund.updated",
    "product.created",
    "product.updated",
    "benefit.created",
    "benefit.updated",
    "benefit_grant.created",
    "benefit_grant.cycled",
    "benefit_grant.updated",
    "benefit_grant.revoked",
    "organization.updated",
];

/// The webhook cases for the plan, or the first event type no SDK knows.
pub fn webhook_events(plan: &BillingPlan) -> Result<Vec<WebhookEvent>, String> {
    let Some(webhooks) = &plan.webhooks else {
        return Ok(Vec::new());
    };
    let mut out: Vec<WebhookEvent> = Vec::new();
    for event_type in &webhooks.events {
        if !KNOWN_WEBHOOK_TYPES.contains(&event_type.as_str()) {
            return Err(event_type.clone());
        }
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
            doc: webhook_doc(event_type),
            customer_expr,
            customer_field,
        });
    }
    Ok(out)
}

fn webhook_doc(event_type: &str) -> &'static str {
    match event_type {
        "order.paid" => "an order was paid; grant access or provision what was bought here.",
        "subscription.active" => "a subscription became active; enable the plan's features.",
        "subscription.canceled" => {
            "a subscription was canceled (it may run until the period ends)."
        }
        "subscription.revoked" => "a subscription ended; remove the plan's features.",
        "customer.state_changed" => {
            "the customer's subscriptions, benefits or meter balances changed."
        }
        _ => "handle it here.",
    }
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
