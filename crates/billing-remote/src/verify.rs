//! `verify`: send one test event per meter and read it back through the API.
//!
//! By default the events belong to a fresh external customer id (no customer object is
//! created, so nothing is ever billed): a meter must then show exactly the test event's
//! value. With `--customer`, the events are recorded for that real customer; counts and sums
//! must grow by the test value, and with credits the balance must drop by it.

use std::time::{Duration, Instant};

use billing_api::{Client, EventCreate, Meter, QuantitiesQuery, TimeInterval, strip_metadata};
use billing_errors::Hinted;
use billing_plan::{AggregationFunc, BillingPlan, Environment};
use chrono::Utc;
use serde::Serialize;

use crate::desired::{self, describe_meter};

/// The value written to the aggregated property of a test event (distinct from 1 so that a
/// count-vs-sum mix-up shows).
const TEST_VALUE: f64 = 3.0;

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// External id of an existing customer to record the test usage for.
    pub customer: Option<String>,
    /// How long to wait for each meter (the real server settles balances ~15 s after ingest).
    pub timeout: Duration,
    pub poll_interval: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            customer: None,
            timeout: Duration::from_secs(45),
            poll_interval: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub environment: String,
    /// External customer id the test events were sent for.
    pub customer: String,
    /// True when the customer is a throwaway id made up for this run.
    pub test_customer: bool,
    pub meters: Vec<MeterCheck>,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeterCheck {
    pub meter: String,
    pub event: String,
    pub aggregation: String,
    pub meter_id: Option<String>,
    pub expected: Option<f64>,
    pub observed: Option<f64>,
    pub passed: bool,
    /// Why it failed (or what was skipped), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BalanceCheck {
    pub before: f64,
    pub expected: f64,
    pub observed: Option<f64>,
    pub passed: bool,
}

struct Pending {
    index: usize,
    meter: Meter,
    baseline: f64,
    expected: f64,
    balance_before: Option<f64>,
    consumed_delta: f64,
}

pub async fn verify(
    plan: &BillingPlan,
    client: &Client,
    environment: Environment,
    options: &VerifyOptions,
) -> Result<VerifyReport, Hinted> {
    let test_customer = options.customer.is_none();
    let customer = options
        .customer
        .clone()
        .unwrap_or_else(|| format!("spaire-billing-verify-{}", uuid::Uuid::new_v4().simple()));
    let wrap = |what: &str, e: billing_api::ApiError| {
        let hint = e.hint();
        Hinted::new(format!("{what} in {}", environment.as_str()), hint).with_source(e)
    };
    let mut checks = Vec::new();
    let mut events: std::collections::BTreeMap<String, EventCreate> = Default::default();
    let mut pending = Vec::new();
    let now = Utc::now();
    let window = QuantitiesQuery {
        start: now - chrono::Duration::days(1),
        end: now + chrono::Duration::days(1),
        interval: TimeInterval::Day,
        customer_id: Vec::new(),
        external_customer_id: vec![customer.clone()],
    };
    let state = if options.customer.is_some() && plan.uses_credits() {
        match client.customer_state_by_external_id(&customer).await {
            Ok(s) => Some(s),
            Err(e) if e.is_not_found() => {
                return Err(Hinted::new(
                    format!(
                        "no customer with external id `{customer}` exists in {}",
                        environment.as_str()
                    ),
                    "pass the external id (your app's user id) of a customer who exists in Spaire, or omit \
                     --customer to use a throwaway test id",
                ));
            }
            Err(e) => return Err(wrap("could not read the customer state", e)),
        }
    } else {
        None
    };

    for meter in &plan.meters {
        let wanted = desired::meter_create(meter);
        let mut check = MeterCheck {
            meter: meter.name.clone(),
            event: meter.event.clone(),
            aggregation: wanted.aggregation.describe(),
            meter_id: None,
            expected: None,
            observed: None,
            passed: false,
            message: None,
            balance: None,
        };
        let named = client
            .meters_named(&meter.name)
            .await
            .map_err(|e| wrap(&format!("could not look up meter `{}`", meter.name), e))?;
        let live: Vec<Meter> = named.into_iter().filter(|m| !m.is_archived()).collect();
        let Some(remote) = live
            .iter()
            .find(|m| desired::same_definition(m, &wanted))
            .or_else(|| live.first())
            .cloned()
        else {
            check.message = Some(format!(
                "meter `{}` does not exist in {}; run `spaire-billing apply` first",
                meter.name,
                environment.as_str()
            ));
            checks.push(check);
            continue;
        };
        check.meter_id = Some(remote.id.clone());
        let mut event = events
            .get(&meter.event)
            .cloned()
            .unwrap_or_else(|| new_test_event(&meter.event, &customer));
        let delta = match add_to_event(&mut event, meter) {
            Ok(delta) => delta,
            Err(message) => {
                check.message = Some(message);
                checks.push(check);
                continue;
            }
        };
        let baseline = if test_customer {
            0.0
        } else {
            client
                .meter_quantities(&remote.id, &window)
                .await
                .map_err(|e| {
                    wrap(
                        &format!("could not read quantities of meter `{}`", meter.name),
                        e,
                    )
                })?
                .total
        };
        let expected = match (test_customer, meter.aggregation.func) {
            (_, AggregationFunc::Count) => baseline + 1.0,
            (_, AggregationFunc::Sum) => baseline + delta,
            (true, AggregationFunc::Unique) => 1.0,
            (true, _) => delta,
            (false, AggregationFunc::Max) => baseline.max(delta),
            (false, _) => {
                check.message = Some(format!(
                    "skipped: the {} of an existing customer's usage cannot be predicted; run verify \
                     without --customer to check this meter",
                    check.aggregation
                ));
                check.passed = true;
                checks.push(check);
                continue;
            }
        };
        let consumed_delta = match meter.aggregation.func {
            AggregationFunc::Count => 1.0,
            AggregationFunc::Sum => delta,
            _ => 0.0,
        };
        let balance_before = state.as_ref().and_then(|s| {
            plan.credits.iter().any(|c| c.meter == meter.name).then(|| {
                s.active_meters
                    .iter()
                    .find(|m| m.meter_id == remote.id)
                    .map_or(0.0, |m| m.balance)
            })
        });
        check.expected = Some(expected);
        pending.push(Pending {
            index: checks.len(),
            meter: remote,
            baseline,
            expected,
            balance_before,
            consumed_delta,
        });
        checks.push(check);
        events.insert(meter.event.clone(), event);
    }

    if !events.is_empty() {
        client
            .ingest_events(&events.into_values().collect::<Vec<_>>())
            .await
            .map_err(|e| wrap("could not ingest the test events", e))?;
    }

    for p in pending {
        let observed = poll(
            options,
            || async {
                client
                    .meter_quantities(&p.meter.id, &window)
                    .await
                    .map(|q| q.total)
            },
            |v| close(v, p.expected),
        )
        .await
        .map_err(|e| {
            wrap(
                &format!("could not read quantities of meter `{}`", p.meter.name),
                e,
            )
        })?;
        let check = &mut checks[p.index];
        check.observed = Some(observed);
        check.passed = close(observed, p.expected);
        if !check.passed {
            let plan_meter = plan
                .meter(&check.meter)
                .expect("checks come from plan meters");
            check.message = Some(explain_mismatch(
                plan_meter,
                &p.meter,
                p.baseline,
                observed,
                options.timeout,
            ));
        }
        if let Some(before) = p.balance_before {
            if p.consumed_delta == 0.0 {
                check.message.get_or_insert_with(|| {
                    "balance not checked: only count and sum meters consume credits predictably"
                        .to_owned()
                });
            } else {
                let expected = before - p.consumed_delta;
                let observed = poll(
                    options,
                    || async {
                        client
                            .customer_state_by_external_id(&customer)
                            .await
                            .map(|s| {
                                s.active_meters
                                    .iter()
                                    .find(|m| m.meter_id == p.meter.id)
                                    .map_or(0.0, |m| m.balance)
                            })
                    },
                    |v| close(v, expected),
                )
                .await
                .map_err(|e| wrap("could not read the customer state", e))?;
                let passed = close(observed, expected);
                if !passed && check.passed {
                    check.passed = false;
                    check.message = Some(format!(
                        "the meter counted the event, but the customer's balance is {observed} instead of \
                         {expected} (was {before}) after {} s; credits may still be settling",
                        options.timeout.as_secs()
                    ));
                }
                check.balance = Some(BalanceCheck {
                    before,
                    expected,
                    observed: Some(observed),
                    passed,
                });
            }
        } else if test_customer && plan.credits.iter().any(|c| c.meter == check.meter) {
            check.message.get_or_insert_with(|| {
                "balance not checked: pass --customer <external id of a subscribed customer> to check that \
                 credits drop with usage"
                    .to_owned()
            });
        }
    }

    let passed = !checks.is_empty() && checks.iter().all(|c| c.passed);
    Ok(VerifyReport {
        environment: environment.as_str().to_owned(),
        customer,
        test_customer,
        meters: checks,
        passed,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Reads until `done` holds or the timeout passes; returns the last value read.
async fn poll<F, Fut>(
    options: &VerifyOptions,
    mut read: F,
    done: impl Fn(f64) -> bool,
) -> Result<f64, billing_api::ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<f64, billing_api::ApiError>>,
{
    let started = Instant::now();
    loop {
        let value = read().await?;
        if done(value) || started.elapsed() >= options.timeout {
            return Ok(value);
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

/// The test event for `meter.event`, shared by every meter on that event name: one event per
/// name, carrying each meter's property, so that a count meter sees exactly one event even
/// when a sum meter listens to the same name.
fn new_test_event(event_name: &str, customer: &str) -> EventCreate {
    EventCreate::for_external_customer(event_name, customer)
        .with_external_id(format!(
            "spaire-billing-verify-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .with_metadata("spaire_billing_verify", true)
}

/// Writes the meter's aggregated property into `event`; returns the value the meter should
/// add (1 for a count).
fn add_to_event(event: &mut EventCreate, meter: &billing_plan::Meter) -> Result<f64, String> {
    let Some(property) = meter.aggregation.property.as_deref() else {
        return Ok(1.0);
    };
    if matches!(meter.aggregation.func, AggregationFunc::Count) {
        return Ok(1.0);
    }
    let property = strip_metadata(property);
    // A number for every function: `unique` counts one distinct value either way, and meters
    // sharing a property then agree on its value.
    let value = serde_json::json!(TEST_VALUE as i64);
    match property.split_once('.') {
        None => {
            event.metadata.insert(property.to_owned(), value);
        }
        Some(("_llm", field)) => {
            let llm = event.metadata.entry("_llm").or_insert_with(|| {
                serde_json::json!({
                    "vendor": "spaire-billing", "model": "verify",
                    "input_tokens": 0, "output_tokens": 0, "total_tokens": 0
                })
            });
            llm[field] = value;
        }
        Some(("_cost", "amount")) => {
            // Spaire's reserved cost object: cents, and `usd` is the only currency it takes.
            event.metadata.insert(
                "_cost".to_owned(),
                serde_json::json!({"amount": value, "currency": "usd"}),
            );
        }
        Some(_) => {
            return Err(format!(
                "cannot build a test event for the nested property `{property}`: event metadata values \
                 must be flat (only `_llm.*` and `_cost.amount` may nest)"
            ));
        }
    }
    Ok(TEST_VALUE)
}

/// Says why the meter did not show the test event, most specific reason first.
fn explain_mismatch(
    plan_meter: &billing_plan::Meter,
    remote: &Meter,
    baseline: f64,
    observed: f64,
    timeout: Duration,
) -> String {
    let wanted = desired::meter_create(plan_meter);
    if remote.filter.single_event_name() != Some(plan_meter.event.as_str()) {
        return format!(
            "the meter's filter does not match the events: meter `{}` (id {}) counts {}, but the app \
             sends events named `{}`; change the meter's filter in the dashboard or the event name in \
             spaire-billing.toml so they agree",
            remote.name,
            remote.id,
            remote.filter.describe(),
            plan_meter.event
        );
    }
    if !remote.aggregation.same_as(&wanted.aggregation) {
        return format!(
            "the meter aggregates {}, but the app writes {}; the test event was not counted as planned",
            remote.aggregation.describe(),
            wanted.aggregation.describe()
        );
    }
    if observed == baseline {
        return format!(
            "the test event was accepted but meter `{}` did not count it within {} s (still {observed}); \
             the server may still be settling, try `--timeout {}`",
            remote.name,
            timeout.as_secs(),
            timeout.as_secs() * 2
        );
    }
    format!(
        "meter `{}` shows {observed}, which is not what one test event should produce; check {}",
        remote.name,
        describe_meter(&remote.filter, &remote.aggregation)
    )
}
