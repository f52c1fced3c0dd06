//! Exact dashboard steps for when there is no token (the seed's phases 3, 5 and 6), with the
//! values to enter. Dashboard URLs contain the organization's slug, which only the user knows
//! without a token, so they are written with `<organization>`.

use billing_api::dashboard_base;
use billing_plan::{AggregationFunc, CreditGrant, Environment, Meter, MeteredPrice};

use crate::desired::{cents_to_dollars, credit_description};

fn base(environment: Environment) -> String {
    match dashboard_base(environment) {
        Some(b) => format!("{b}/<organization>"),
        // The emulator has no dashboard; its objects are made by `apply` with its token.
        None => "(the local emulator has no dashboard)".to_owned(),
    }
}

fn emulator_steps() -> Vec<String> {
    vec![
        "The local emulator has no dashboard: start it with `spaire-billing emulator` and run \
         `spaire-billing apply --environment local` (it uses the emulator's default token, or \
         SPAIRE_ACCESS_TOKEN)"
            .to_owned(),
    ]
}

pub fn meter(environment: Environment, meter: &Meter) -> Vec<String> {
    if environment == Environment::Local {
        return emulator_steps();
    }
    let aggregation = match (
        meter.aggregation.func,
        meter.aggregation.property.as_deref(),
    ) {
        (AggregationFunc::Count, _) => "Count".to_owned(),
        (func, Some(p)) => format!("{} over property `{p}`", func_label(func)),
        (func, None) => func_label(func).to_owned(),
    };
    vec![
        format!("Open {}/products/meters/create", base(environment)),
        format!("Name: `{}`", meter.name),
        format!(
            "Filter: add one condition — property `name`, operator `equals`, value `{}`",
            meter.event
        ),
        format!("Aggregation: {aggregation}"),
        "Click \"Create Meter\"".to_owned(),
    ]
}

fn func_label(func: AggregationFunc) -> &'static str {
    match func {
        AggregationFunc::Count => "Count",
        AggregationFunc::Sum => "Sum",
        AggregationFunc::Max => "Maximum",
        AggregationFunc::Min => "Minimum",
        AggregationFunc::Avg => "Average",
        AggregationFunc::Unique => "Unique count",
    }
}

pub fn metered_price(environment: Environment, price: &MeteredPrice) -> Vec<String> {
    if environment == Environment::Local {
        return emulator_steps();
    }
    let mut steps = vec![
        format!(
            "Open {}/products, select the product `{}` and click \"Edit\" (it must be a \
             subscription product: metered prices are not supported on one-time products)",
            base(environment),
            price.product.0
        ),
        "Keep every existing price as it is, and click \"Add Additional Price\"".to_owned(),
        format!("Price type: \"Metered\", meter: `{}`", price.meter),
        format!(
            "Price per unit: ${} ({} cents)",
            cents_to_dollars(&price.unit_amount),
            price.unit_amount
        ),
    ];
    if let Some(cap) = price.cap_amount {
        steps.push(format!(
            "Cap (maximum charge per billing period): ${}",
            cents_to_dollars(&cap.to_string())
        ));
    }
    steps.push("Click \"Save Product\"".to_owned());
    steps
}

pub fn credit_benefit(environment: Environment, credit: &CreditGrant) -> Vec<String> {
    if environment == Environment::Local {
        return emulator_steps();
    }
    vec![
        format!(
            "Open {}/products/benefits and click \"Create Benefit\"",
            base(environment)
        ),
        "Type: \"Meter Credits\"".to_owned(),
        format!(
            "Description: `{}`",
            credit_description(credit.units, &credit.meter)
        ),
        format!("Meter: `{}`", credit.meter),
        format!("Units (credited every billing cycle): {}", credit.units),
        format!(
            "Rollover of unused credits: {}",
            if credit.rollover { "on" } else { "off" }
        ),
        "Click \"Create\"".to_owned(),
    ]
}

pub fn product_benefits(
    environment: Environment,
    product: &str,
    descriptions: &[String],
) -> Vec<String> {
    if environment == Environment::Local {
        return emulator_steps();
    }
    vec![
        format!(
            "Open {}/products, select the product `{product}` and click \"Edit\"",
            base(environment)
        ),
        format!(
            "Under Benefits, keep the benefits already enabled and also enable: {}",
            descriptions
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "Click \"Save Product\"".to_owned(),
    ]
}

pub fn webhook(environment: Environment, url: &str, events: &[String]) -> Vec<String> {
    if environment == Environment::Local {
        return emulator_steps();
    }
    vec![
        format!(
            "Open {}/settings/webhooks and click \"Add Endpoint\"",
            base(environment)
        ),
        format!("URL: `{url}`, format: Raw"),
        format!("Events: {}", events.join(", ")),
        "Create it, then copy the signing secret into the SPAIRE_WEBHOOK_SECRET environment \
         variable of your app (never commit it)"
            .to_owned(),
    ]
}

/// Where to create the token that lets `apply` do all of the above itself.
pub fn token_step(environment: Environment) -> Option<String> {
    dashboard_base(environment).map(|b| {
        format!(
            "Or let spaire-billing do it: create an organization access token at \
             {b}/<organization>/settings (scopes: {}), set SPAIRE_ACCESS_TOKEN and run \
             `spaire-billing apply` again",
            billing_api::REQUIRED_SCOPES.join(", ")
        )
    })
}
