//! Each wizard answer judged where it is typed, by the plan's own rules: the answer is put
//! into a small plan next to the meters chosen so far and checked with
//! `billing_plan::validate` (through [`flag_values::verdict`]), so a prompt, a flag and
//! `spaire-billing.toml` can never disagree about what is valid, and an invalid answer is
//! asked again with the reason instead of failing the whole conversation at the end.

use billing_plan::{Aggregation, AggregationFunc, BillingPlan, CustomerSource, Meter, MeterKind};

use super::answers::ProductChoice;
use crate::flag_values;

/// An event name no preset sends, for checking a meter's name before its event is known
/// (only the name's own complaints are read).
const PLACEHOLDER_EVENT: &str = "spaire-billing-name-check";

fn custom(name: &str, event: &str, func: AggregationFunc, property: Option<&str>) -> Meter {
    Meter {
        name: name.to_owned(),
        event: event.to_owned(),
        aggregation: Aggregation {
            func,
            property: property.map(str::to_owned),
        },
        kind: MeterKind::Custom,
        preset: None,
        markup: None,
        paths: None,
    }
}

/// The plan's verdict on `key` of `meter` when it joins the meters chosen so far.
fn meter_rule(chosen: &[Meter], meter: Meter, key: &str) -> Result<(), String> {
    let mut plan: BillingPlan = flag_values::base_plan();
    plan.meters = chosen.to_vec();
    let index = plan.meters.len();
    plan.meters.push(meter);
    flag_values::verdict(&plan, &format!("meters[{index}].{key}"))
}

/// A custom meter's name: 3 to 100 printable characters, not taken by a chosen meter.
pub fn meter_name(chosen: &[Meter], name: &str) -> Result<(), String> {
    meter_rule(
        chosen,
        custom(name, PLACEHOLDER_EVENT, AggregationFunc::Count, None),
        "name",
    )
}

/// A custom meter's event: the characters Spaire stores, not sent by a chosen preset.
pub fn meter_event(chosen: &[Meter], name: &str, event: &str) -> Result<(), String> {
    meter_rule(
        chosen,
        custom(name, event, AggregationFunc::Count, None),
        "event",
    )
}

/// The metadata key a custom meter aggregates: an identifier the generated helper can write.
pub fn meter_property(
    chosen: &[Meter],
    name: &str,
    event: &str,
    func: AggregationFunc,
    property: &str,
) -> Result<(), String> {
    meter_rule(
        chosen,
        custom(name, event, func, Some(property)),
        "property",
    )
}

fn customer_rule(source: CustomerSource, key: &str) -> Result<(), String> {
    let mut plan = flag_values::base_plan();
    plan.customer = source;
    flag_values::verdict(&plan, key)
}

/// The request header carrying the customer id.
pub fn header(name: &str) -> Result<(), String> {
    customer_rule(
        CustomerSource::Header {
            header: name.to_owned(),
        },
        "customer.header",
    )
}

/// The JSON body field carrying the customer id.
pub fn body_field(field: &str) -> Result<(), String> {
    customer_rule(
        CustomerSource::Body {
            field: field.to_owned(),
        },
        "customer.field",
    )
}

/// The module exporting the customer function (checked before the function is asked).
pub fn function_module(module: &str) -> Result<(), String> {
    customer_rule(
        CustomerSource::Function {
            function: "getUserId".to_owned(),
            module: module.to_owned(),
        },
        "customer.module",
    )
}

/// The function returning the customer id.
pub fn function_name(function: &str) -> Result<(), String> {
    customer_rule(
        CustomerSource::Function {
            function: function.to_owned(),
            module: "@/lib/auth".to_owned(),
        },
        "customer.function",
    )
}

/// The product a typed answer names, matched by name or id against the organization's
/// products when the list is known; the reason names the products there are.
pub fn product<'p>(
    answer: &str,
    known: &'p [ProductChoice],
    environment: &str,
) -> Result<&'p ProductChoice, String> {
    if let Some(found) = known.iter().find(|p| p.name == answer || p.id == answer) {
        return Ok(found);
    }
    let names: Vec<&str> = known.iter().map(|p| p.name.as_str()).collect();
    let close = known
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(answer))
        .map(|p| p.name.as_str())
        .or_else(|| billing_plan::parse::did_you_mean(answer, &names));
    let listed = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(match close {
        Some(close) => format!(
            "no recurring product named `{answer}` in your {environment} organization; did you mean `{close}`?"
        ),
        None if names.is_empty() => {
            format!("your {environment} organization has no recurring product")
        }
        None => format!(
            "no recurring product named `{answer}` in your {environment} organization; it has {listed}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_calls() -> Vec<Meter> {
        billing_plan::preset("api-calls").unwrap().meters
    }

    #[test]
    fn the_answers_the_issue_lists_are_refused_with_the_plans_reason() {
        assert!(meter_name(&[], "ab").unwrap_err().contains("3 to 100"));
        assert!(meter_name(&[], "image-generations").is_ok());
        assert!(
            meter_name(&api_calls(), "api-calls")
                .unwrap_err()
                .contains("defined twice")
        );
        assert!(meter_event(&[], "images", "bild-é").is_err());
        assert!(meter_event(&[], "images", "image-generated").is_ok());
        let bad = meter_property(
            &[],
            "images",
            "image-generated",
            AggregationFunc::Sum,
            "image-generations",
        );
        assert!(bad.unwrap_err().contains("metadata key"));
        assert!(
            meter_property(
                &[],
                "images",
                "image-generated",
                AggregationFunc::Sum,
                "pixels"
            )
            .is_ok()
        );
        assert!(header("1,5").unwrap_err().contains("HTTP header name"));
        assert!(header("x-customer-id").is_ok());
        assert!(body_field("customer id").is_err());
        assert!(function_module("data:text/javascript").is_err());
        assert!(function_name("get-user").is_err());
    }

    #[test]
    fn products_are_matched_by_name_or_id_against_the_known_list() {
        let known = vec![ProductChoice {
            id: "0b5c".into(),
            name: "Pro".into(),
            interval: "month".into(),
        }];
        assert_eq!(product("Pro", &known, "local").unwrap().id, "0b5c");
        assert_eq!(product("0b5c", &known, "local").unwrap().name, "Pro");
        assert!(
            product("pro", &known, "local")
                .unwrap_err()
                .contains("did you mean `Pro`")
        );
        assert!(
            product("Enterprise", &known, "local")
                .unwrap_err()
                .contains("it has `Pro`")
        );
    }
}
