//! `verify --from-app`: proves that the *running app* sends usage, not that a meter counts an
//! event spaire-billing sent itself. It polls the events list for events the app ingests after
//! the start, shows each one (name, customer, key metadata, the meters that count it and by how
//! much), and fails on an event no meter counts, an event missing the property its meter
//! aggregates, or no event at all before the timeout. The UX follows `stripe listen`.

use std::collections::HashSet;
use std::time::Duration;

use billing_api::{Client, Event, EventListQuery};
use billing_plan::{AggregationFunc, BillingPlan};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Pages read per poll: newest first, so older pages are only reached when the app is busy.
const MAX_PAGES_PER_POLL: usize = 5;

/// What one of the app's events did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppEvent {
    pub id: String,
    pub name: String,
    pub timestamp: String,
    /// `external_customer_id` (the app's own user id), else the Spaire customer id.
    pub customer: Option<String>,
    pub metadata: serde_json::Value,
    /// The meters of the plan that count it, with what each adds.
    pub counted_by: Vec<Counted>,
    /// Why the event bills nothing or not what it should (absent when it is fine).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counted {
    pub meter: String,
    /// "count", "sum of totalTokens", ...
    pub aggregation: String,
    /// What this event contributes: 1 for count, the property's value otherwise.
    pub quantity: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListenReport {
    /// What a pass proves, in words.
    pub proves: String,
    pub since: String,
    pub events: Vec<AppEvent>,
    pub passed: bool,
    /// Why it passed or failed, one sentence.
    pub outcome: String,
}

#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// Events with an earlier timestamp were there before; they prove nothing about the app now.
    pub since: DateTime<Utc>,
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// Stop after this many events (otherwise at the timeout).
    pub max_events: Option<usize>,
}

impl ListenOptions {
    /// Waits for events sent from now on.
    pub fn from_now(timeout: Duration, poll_interval: Duration, max_events: Option<usize>) -> Self {
        Self {
            since: Utc::now(),
            timeout,
            poll_interval,
            max_events,
        }
    }
}

pub const PROVES: &str = "the running app sent these events after the start, each for a customer, \
                          and each is counted by a meter of spaire-billing.toml with the property \
                          it aggregates";

fn aggregation_name(func: AggregationFunc, property: Option<&str>) -> String {
    if func == AggregationFunc::Count {
        return func.as_str().to_owned();
    }
    format!("{} of {}", func.as_str(), property.unwrap_or("?"))
}

/// Which meters count `event` (their filter is `name eq <event>`) and what each adds.
pub fn check_event(plan: &BillingPlan, event: &Event) -> AppEvent {
    let customer = event
        .external_customer_id
        .clone()
        .or_else(|| event.customer_id.clone())
        .filter(|c| !c.is_empty());
    let mut counted_by = Vec::new();
    let mut problems = Vec::new();
    for meter in plan.meters.iter().filter(|m| m.event == event.name) {
        let property = meter.aggregation.property.as_deref();
        let quantity = match (meter.aggregation.func, property) {
            (AggregationFunc::Count, _) | (_, None) => Some(serde_json::json!(1)),
            (AggregationFunc::Unique, Some(key)) => metadata_value(&event.metadata, key)
                .filter(|v| !v.is_null())
                .cloned(),
            (_, Some(key)) => metadata_value(&event.metadata, key)
                .and_then(numeric)
                .map(serde_json::Value::Number),
        };
        match quantity {
            Some(quantity) => counted_by.push(Counted {
                meter: meter.name.clone(),
                aggregation: aggregation_name(meter.aggregation.func, property),
                quantity,
            }),
            None => problems.push(format!(
                "meter `{}` aggregates `{}`, which this event does not carry as a number, so it \
                 counts nothing for it",
                meter.name,
                property.unwrap_or("?")
            )),
        }
    }
    if counted_by.is_empty() && problems.is_empty() {
        let known: Vec<&str> = plan.meters.iter().map(|m| m.event.as_str()).collect();
        problems.push(format!(
            "no meter of spaire-billing.toml counts `{}` events (the meters count: {})",
            event.name,
            known.join(", ")
        ));
    }
    if customer.is_none() {
        problems.push("the event names no customer, so nobody is billed for it".to_owned());
    }
    AppEvent {
        id: event.id.clone(),
        name: event.name.clone(),
        timestamp: event.timestamp.clone(),
        customer,
        metadata: event.metadata.clone(),
        counted_by,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// The value a meter's `property` reads: a flat key, else a dotted path into nested metadata
/// (`_llm.total_tokens`, `_cost.amount`), as the server resolves it.
fn metadata_value<'a>(metadata: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    metadata.get(key).or_else(|| {
        key.split('.')
            .try_fold(metadata, |value, part| value.get(part))
    })
}

/// A number, or a decimal the server returns as a string (`_cost.amount` is a `Decimal`).
fn numeric(value: &serde_json::Value) -> Option<serde_json::Number> {
    match value {
        serde_json::Value::Number(n) => Some(n.clone()),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64),
        _ => None,
    }
}

fn timestamp(event: &Event) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&event.timestamp)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Waits for the app's events and reports each through `on_event` as it arrives.
pub async fn listen(
    plan: &BillingPlan,
    client: &Client,
    options: &ListenOptions,
    on_event: &mut (dyn FnMut(&AppEvent) + Send),
) -> Result<ListenReport, billing_api::ApiError> {
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut seen: HashSet<String> = HashSet::new();
    let mut events: Vec<AppEvent> = Vec::new();
    let query = EventListQuery {
        source: Some("user".to_owned()),
        ..EventListQuery::default()
    };
    'poll: loop {
        let mut fresh: Vec<Event> = Vec::new();
        let mut pages = client.events(&query);
        for _ in 0..MAX_PAGES_PER_POLL {
            let Some(items) = pages.next_page().await? else {
                break;
            };
            let mut reached_older = false;
            for event in items {
                match timestamp(&event) {
                    Some(at) if at < options.since => reached_older = true,
                    // An unreadable timestamp cannot be placed; it is not shown as the app's.
                    None => reached_older = true,
                    Some(_) => {
                        if seen.insert(event.id.clone()) {
                            fresh.push(event);
                        }
                    }
                }
            }
            if reached_older {
                break;
            }
        }
        fresh.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
        for event in fresh {
            let checked = check_event(plan, &event);
            on_event(&checked);
            events.push(checked);
            if options.max_events.is_some_and(|max| events.len() >= max) {
                break 'poll;
            }
        }
        if tokio::time::Instant::now() + options.poll_interval > deadline {
            break;
        }
        tokio::time::sleep(options.poll_interval).await;
    }
    let bad = events.iter().filter(|e| e.problem.is_some()).count();
    let (passed, outcome) = if events.is_empty() {
        (
            false,
            format!(
                "no event arrived from the app within {} s: use the app (a billed request, a \
                 model call, an upload) while this runs, and check `spaire-billing status` for \
                 meters nothing feeds",
                options.timeout.as_secs()
            ),
        )
    } else if bad > 0 {
        (
            false,
            format!(
                "{bad} of {} event{} from the app would not be billed as planned",
                events.len(),
                if events.len() == 1 { "" } else { "s" }
            ),
        )
    } else {
        (
            true,
            format!(
                "{} event{} from the app, each counted by a meter",
                events.len(),
                if events.len() == 1 { "" } else { "s" }
            ),
        )
    };
    Ok(ListenReport {
        proves: PROVES.to_owned(),
        since: options.since.to_rfc3339(),
        events,
        passed,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> BillingPlan {
        billing_plan::parse(
            "spaire-billing.toml",
            "environment = \"local\"\n[[meters]]\npreset = \"llm-tokens\"\n[[meters]]\npreset = \"api-calls\"\n",
        )
        .unwrap()
    }

    fn event(name: &str, customer: Option<&str>, metadata: serde_json::Value) -> Event {
        Event {
            id: "e1".into(),
            name: name.into(),
            timestamp: "2026-12-02T12:00:00Z".into(),
            source: "user".into(),
            customer_id: None,
            external_customer_id: customer.map(str::to_owned),
            metadata,
        }
    }

    #[test]
    fn a_counted_event_names_its_meter_and_quantity() {
        let checked = check_event(
            &plan(),
            &event(
                "llm-usage",
                Some("u1"),
                serde_json::json!({"totalTokens": 42}),
            ),
        );
        assert_eq!(checked.problem, None);
        assert_eq!(
            checked.counted_by,
            vec![Counted {
                meter: "llm-token-usage".into(),
                aggregation: "sum of totalTokens".into(),
                quantity: serde_json::json!(42)
            }]
        );
    }

    #[test]
    fn missing_property_unknown_event_and_no_customer_are_problems() {
        let missing = check_event(
            &plan(),
            &event("llm-usage", Some("u1"), serde_json::json!({})),
        );
        assert!(
            missing
                .problem
                .unwrap()
                .contains("aggregates `totalTokens`")
        );
        let unknown = check_event(
            &plan(),
            &event("llm_usage", Some("u1"), serde_json::json!({})),
        );
        assert!(
            unknown
                .problem
                .unwrap()
                .contains("no meter of spaire-billing.toml counts `llm_usage`")
        );
        let anonymous = check_event(&plan(), &event("api-call", None, serde_json::json!({})));
        assert!(anonymous.problem.unwrap().contains("names no customer"));
    }

    /// The server answers `_cost.amount` as a decimal string and nests `_llm`: a meter
    /// summing either still counts the event.
    #[test]
    fn nested_properties_and_decimal_strings_are_counted() {
        // Meters of the LLM kinds may aggregate the nested reserved paths.
        let mut plan = plan();
        let mut cost = plan.meters[0].clone();
        cost.aggregation.property = Some("_cost.amount".into());
        plan.meters[0].aggregation.property = Some("_llm.total_tokens".into());
        plan.meters.insert(0, cost);
        let checked = check_event(
            &plan,
            &event(
                "llm-usage",
                Some("u1"),
                serde_json::json!({"_cost": {"amount": "0.25", "currency": "usd"},
                                   "_llm": {"total_tokens": 3, "prompt": null}}),
            ),
        );
        assert_eq!(checked.problem, None);
        let quantities: Vec<_> = checked
            .counted_by
            .iter()
            .map(|c| c.quantity.clone())
            .collect();
        assert_eq!(
            quantities,
            vec![serde_json::json!(0.25), serde_json::json!(3)]
        );
    }
}
