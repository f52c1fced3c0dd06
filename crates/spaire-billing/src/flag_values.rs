//! Parse-time checks of flag values (clap `value_parser`s), so a bad value is a usage error
//! with exit 2 before anything runs, and is judged by the same rules as the plan file:
//! each value is put into a small plan and checked with `billing_plan::validate`, so the
//! flag and `spaire-billing.toml` can never disagree about what is valid.

use billing_plan::{
    BillingPlan, CreditGrant, CustomerSource, Environment, Meter, MeteredPrice, ProductRef,
    ProjectSection, Webhooks,
};

use crate::commands::setup::{answers, money};

/// A valid plan with one `api-calls` meter, to put one flag value into.
pub(crate) fn base_plan() -> BillingPlan {
    BillingPlan {
        call_site_customer: Default::default(),
        environment: Environment::Local,
        server_url: None,
        project: ProjectSection {
            path: ".".to_owned(),
            framework: None,
        },
        customer: CustomerSource::Session,
        meters: billing_plan::preset(billing_plan::MeterKind::ApiCalls.as_str())
            .map(|p| p.meters)
            .unwrap_or_default(),
        prices: Vec::new(),
        credits: Vec::new(),
        webhooks: None,
    }
}

/// The plan's verdict on the keys under `prefix` after `edit` put a flag value into a plan.
fn plan_rule(prefix: &str, edit: impl FnOnce(&mut BillingPlan)) -> Result<(), String> {
    let mut plan = base_plan();
    edit(&mut plan);
    verdict(&plan, prefix)
}

/// The plan's complaints about the keys under `prefix`, joined; `Ok` when it has none.
pub(crate) fn verdict(plan: &BillingPlan, prefix: &str) -> Result<(), String> {
    let Err(err) = billing_plan::validate(plan) else {
        return Ok(());
    };
    let problems: Vec<String> = err
        .diagnostics
        .iter()
        .filter(|d| d.path.starts_with(prefix))
        .map(|d| d.message.clone())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn first_meter(plan: &BillingPlan) -> String {
    plan.meters
        .first()
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

/// `[METER=]VALUE` → (meter, value).
fn split_per_meter(text: &str) -> (Option<&str>, &str) {
    match text.split_once('=') {
        Some((meter, value)) => (Some(meter), value),
        None => (None, text),
    }
}

fn check_meter_part(meter: Option<&str>, text: &str) -> Result<(), String> {
    if meter.is_some_and(str::is_empty) {
        return Err(format!("`{text}` has an empty meter name before `=`"));
    }
    Ok(())
}

/// `--meter PRESET`: one of the presets.
pub fn preset(id: &str) -> Result<String, String> {
    if billing_plan::preset(id).is_some() {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "unknown meter preset; use one of: {}",
            billing_plan::presets::preset_ids().join(", ")
        ))
    }
}

/// `--llm-markup 1.2`: a positive factor up to 1000, as the plan file's `markup` takes it.
pub fn markup(text: &str) -> Result<String, String> {
    let text = text.trim();
    if billing_plan::validate::markup_in_range(text) {
        Ok(text.to_owned())
    } else {
        Err("expected a positive number up to 1000, e.g. 1.2 (cost + 20%)".to_owned())
    }
}

/// `--custom-meter NAME:EVENT:AGGREGATION[:PROPERTY]`, checked like a `[[meters]]` entry.
pub fn custom_meter(spec: &str) -> Result<Meter, String> {
    let meter = answers::parse_custom_meter(spec).map_err(|e| e.to_string())?;
    let checked = meter.clone();
    plan_rule("meters", |plan| plan.meters.push(checked))?;
    Ok(meter)
}

/// `--unit-price [METER=]DOLLARS`: a price Spaire accepts once turned into cents.
pub fn unit_price(text: &str) -> Result<String, String> {
    let (meter, dollars) = split_per_meter(text);
    check_meter_part(meter, text)?;
    money::dollars_to_cents(dollars)?;
    Ok(text.to_owned())
}

/// `--credits [METER=]UNITS`: a whole number of units within the API's limit.
pub fn credits(text: &str) -> Result<String, String> {
    let (meter, units) = split_per_meter(text);
    check_meter_part(meter, text)?;
    credit_units(units)?;
    Ok(text.to_owned())
}

/// A number of credited units (`100_000`, `1,000`), within the API's limit.
pub fn credit_units(text: &str) -> Result<i64, String> {
    let units = answers::parse_units(text)?;
    plan_rule("credits", |plan| {
        plan.credits.push(CreditGrant {
            meter: first_meter(plan),
            product: ProductRef("Pro".to_owned()),
            units,
            rollover: false,
        });
    })?;
    Ok(units)
}

/// `--cap DOLLARS`: whole cents within the API's limit.
pub fn cap(text: &str) -> Result<i64, String> {
    let cents = money::dollars_to_whole_cents(text)?;
    plan_rule("prices", |plan| {
        plan.prices.push(MeteredPrice {
            meter: first_meter(plan),
            product: ProductRef("Pro".to_owned()),
            unit_amount: "1".to_owned(),
            cap_amount: Some(cents),
        });
    })?;
    Ok(cents)
}

/// `--customer header:NAME|body:FIELD|function:MODULE#NAME|session`, checked like `[customer]`.
pub fn customer(spec: &str) -> Result<CustomerSource, String> {
    let source = answers::parse_customer(spec).map_err(|e| {
        let hints = billing_errors::hints_in_chain(e.as_ref());
        match hints.first() {
            Some(hint) => format!("{e}; {hint}"),
            None => e.to_string(),
        }
    })?;
    let checked = source.clone();
    plan_rule("customer", |plan| plan.customer = checked)?;
    Ok(source)
}

/// `--customer-expression PATH`, checked like `[customer] expression` (it is pasted into code).
pub fn customer_expression(path: &str) -> Result<String, String> {
    let value = path.trim().to_owned();
    let checked = value.clone();
    plan_rule("customer", |plan| {
        plan.call_site_customer.expression = Some(checked)
    })?;
    Ok(value)
}

/// `--customer-job-field FIELD`, checked like `[customer] job_field`.
pub fn customer_job_field(field: &str) -> Result<String, String> {
    let value = field.trim().to_owned();
    let checked = value.clone();
    plan_rule("customer", |plan| {
        plan.call_site_customer.job_field = Some(checked)
    })?;
    Ok(value)
}

/// `--webhook-url URL`, checked like `[webhooks] url`.
pub fn webhook_url(url: &str) -> Result<String, String> {
    plan_rule("webhooks", |plan| {
        plan.webhooks = Some(Webhooks {
            events: billing_vocab::DEFAULT_WEBHOOK_EVENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
            url: Some(url.to_owned()),
        });
    })?;
    Ok(url.to_owned())
}

/// `--server-url URL`, checked like the plan's `server_url` (http is allowed for the
/// emulator, the most permissive environment: which one is meant is known only later).
pub fn server_url(url: &str) -> Result<String, String> {
    plan_rule("server_url", |plan| plan.server_url = Some(url.to_owned()))?;
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_plan_file_rejects_are_rejected_as_flags() {
        assert!(
            credits("3000000000")
                .unwrap_err()
                .contains("from 1 to 2147483647")
        );
        assert!(credits("api-calls=100_000").is_ok());
        assert!(credits("=5").is_err());
        assert!(cap("abc").is_err());
        assert!(cap("99999999999").unwrap_err().contains("cents between"));
        assert_eq!(cap("$49.99"), Ok(4999));
        assert!(unit_price("0").is_err());
        assert!(unit_price("api-calls=0.00001").is_ok());
        assert!(custom_meter("images:image-generated:sum:pixels").is_ok());
        assert!(
            custom_meter("bilder:bild-é:count").is_err(),
            "event names are ASCII"
        );
        assert!(
            custom_meter("ab:short:count").is_err(),
            "names have 3+ characters"
        );
        assert!(customer("header:1,5").is_err());
        assert!(customer("header:x-user-id").is_ok());
        assert!(preset("tokens").is_err());
        assert!(server_url("ftp://x").is_err());
        assert!(server_url("http://127.0.0.1:8000").is_ok());
        assert!(
            webhook_url("http://example.com/hook")
                .unwrap_err()
                .contains("https")
        );
        assert!(webhook_url("https://example.com/hook").is_ok());
    }
}
