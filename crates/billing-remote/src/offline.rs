//! The plan without a token: no API calls. Every step not already recorded in the lock file
//! is `Pending`, with the dashboard steps that do the same by hand.

use std::collections::BTreeSet;

use billing_changeset::{RemoteAction, RemoteStep};
use billing_plan::{BillingPlan, DEFAULT_WEBHOOK_EVENTS, Environment};
use serde_json::json;

use crate::dashboard;
use crate::desired::{self, credit_description};
use crate::engine::RemotePlan;
use crate::keys::{self, object};
use crate::state::RemoteState;
use crate::webhook_url;

pub fn plan(plan: &BillingPlan, environment: Environment, state: &RemoteState) -> RemotePlan {
    let env_state = state.env(environment);
    let recorded = |key: &str| {
        env_state
            .and_then(|e| e.objects.get(key))
            .map(|r| r.id.clone())
    };
    let mut steps = Vec::new();
    let make = |key: String,
                obj: &str,
                summary: String,
                request: serde_json::Value,
                how: Vec<String>| {
        let (action, summary, dashboard_steps) = match recorded(&key) {
            Some(id) => (
                RemoteAction::Reuse,
                format!(
                    "{summary}: done earlier (id {id} in lock.json; not re-checked without a token)"
                ),
                Vec::new(),
            ),
            None => (
                RemoteAction::Pending,
                format!("{summary}: pending (no token)"),
                how,
            ),
        };
        RemoteStep {
            key,
            object: obj.to_owned(),
            action,
            environment: environment.as_str().to_owned(),
            summary,
            request,
            dashboard_steps,
        }
    };
    for meter in &plan.meters {
        let wanted = desired::meter_create(meter);
        steps.push(make(
            keys::meter(&meter.name),
            object::METER,
            format!(
                "create meter `{}` ({}){}",
                meter.name,
                desired::describe_meter(&wanted.filter, &wanted.aggregation),
                meter
                    .unit_explanation()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            serde_json::to_value(&wanted).unwrap_or_default(),
            dashboard::meter(environment, meter),
        ));
    }
    for price in &plan.prices {
        steps.push(make(
            keys::price(&price.product.0, &price.meter),
            object::METERED_PRICE,
            format!(
                "add a metered price to product `{}`: {} cents per unit of `{}`",
                price.product.0, price.unit_amount, price.meter
            ),
            json!({"amount_type": "metered_unit", "meter": price.meter, "unit_amount": price.unit_amount, "cap_amount": price.cap_amount}),
            dashboard::metered_price(environment, price),
        ));
    }
    for credit in &plan.credits {
        let description = credit_description(credit.units, &credit.meter);
        steps.push(make(
            keys::credit(&credit.product.0, &credit.meter),
            object::CREDIT_BENEFIT,
            format!(
                "create meter-credit benefit `{description}`: {} units of `{}` per cycle",
                credit.units, credit.meter
            ),
            json!({"type": "meter_credit", "description": description, "meter": credit.meter, "units": credit.units, "rollover": credit.rollover}),
            dashboard::credit_benefit(environment, credit),
        ));
    }
    let products: BTreeSet<&str> = plan.credits.iter().map(|c| c.product.0.as_str()).collect();
    for product in products {
        let descriptions: Vec<String> = plan
            .credits
            .iter()
            .filter(|c| c.product.0 == product)
            .map(|c| credit_description(c.units, &c.meter))
            .collect();
        let key = keys::product_benefits(product);
        // Attaching has no id of its own. An apply with a token records every credit and
        // clears `pending` only once all steps succeeded, so: every credit recorded and the
        // step not left pending means it was done.
        let done = env_state.is_some_and(|e| !e.pending.contains(&key))
            && plan
                .credits
                .iter()
                .filter(|c| c.product.0 == product)
                .all(|c| recorded(&keys::credit(product, &c.meter)).is_some());
        steps.push(RemoteStep {
            key,
            object: object::PRODUCT_BENEFITS.to_owned(),
            action: if done {
                RemoteAction::Reuse
            } else {
                RemoteAction::Pending
            },
            environment: environment.as_str().to_owned(),
            summary: format!(
                "attach {} to product `{product}`: {}",
                descriptions
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if done {
                    "done earlier (lock.json)"
                } else {
                    "pending (no token)"
                }
            ),
            request: json!({"benefits": descriptions}),
            dashboard_steps: if done {
                Vec::new()
            } else {
                dashboard::product_benefits(environment, product, &descriptions)
            },
        });
    }
    let mut notes = Vec::new();
    if let Some(hooks) = &plan.webhooks
        && let Some(url) = &hooks.url
    {
        match webhook_url::check(url, environment) {
            Ok(()) => {
                let events: Vec<String> = if hooks.events.is_empty() {
                    DEFAULT_WEBHOOK_EVENTS
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect()
                } else {
                    hooks.events.clone()
                };
                steps.push(make(
                    keys::webhook(url),
                    object::WEBHOOK,
                    format!("register webhook endpoint {url} for {}", events.join(", ")),
                    json!({"url": url, "format": "raw", "events": events}),
                    dashboard::webhook(environment, url, &events),
                ));
            }
            Err(reason) => notes.push(format!("webhook endpoint not registered: {reason}")),
        }
    }
    if steps.iter().any(|s| s.action == RemoteAction::Pending)
        && let Some(token) = dashboard::token_step(environment)
    {
        notes.push(token);
    }
    RemotePlan {
        environment,
        steps,
        notes,
    }
}
