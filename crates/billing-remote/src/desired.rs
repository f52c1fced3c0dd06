//! What the plan asks for, in API terms.

use billing_api::{Aggregation, Filter, MeterCreate};
use billing_plan::Meter;

/// The meter create body for a plan meter: `name eq <event>` and its aggregation.
pub fn meter_create(meter: &Meter) -> MeterCreate {
    MeterCreate {
        name: meter.name.clone(),
        filter: Filter::event_name(&meter.event),
        aggregation: aggregation(meter),
        metadata: Default::default(),
    }
}

pub fn aggregation(meter: &Meter) -> Aggregation {
    Aggregation {
        func: meter.aggregation.func,
        property: meter.aggregation.property.clone(),
    }
}

/// True when an existing meter counts exactly what the plan meter would.
pub fn same_definition(existing: &billing_api::Meter, wanted: &MeterCreate) -> bool {
    existing.filter.single_event_name().is_some()
        && existing.filter.single_event_name() == wanted.filter.single_event_name()
        && existing.aggregation.same_as(&wanted.aggregation)
}

/// `filter name eq "x", aggregation sum(bytes)`.
pub fn describe_meter(filter: &Filter, aggregation: &Aggregation) -> String {
    format!(
        "filter {}, aggregation {}",
        filter.describe(),
        aggregation.describe()
    )
}

/// Benefit descriptions must be 3–42 characters; this one also identifies our benefits when
/// re-listing after a create whose response was lost.
pub fn credit_description(units: i64, meter: &str) -> String {
    let suffix = " credits";
    let units = units.to_string();
    let budget = 42usize.saturating_sub(units.len() + 1 + suffix.len());
    let meter: String = meter.chars().take(budget).collect();
    format!("{units} {meter}{suffix}")
}

/// Compares two decimal strings numerically (`"0.5"` == `"0.500000000000"`).
pub fn same_decimal(a: &str, b: &str) -> bool {
    normalize_decimal(a) == normalize_decimal(b)
}

/// A decimal string without insignificant zeros, for messages (`"0.000100000000"` → `"0.0001"`).
pub fn display_decimal(raw: &str) -> String {
    normalize_decimal(raw).trim_end_matches('.').to_owned()
}

fn normalize_decimal(raw: &str) -> String {
    let raw = raw.trim();
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    format!("{}.{}", if int.is_empty() { "0" } else { int }, frac)
}

/// Cents (decimal string) → dollars for the dashboard, which takes amounts in dollars:
/// `"0.0001"` → `"0.000001"`, `"150"` → `"1.50"`.
pub fn cents_to_dollars(cents: &str) -> String {
    let cents = cents.trim();
    let (int, frac) = cents.split_once('.').unwrap_or((cents, ""));
    let int = if int.is_empty() { "0" } else { int };
    let padded = format!("{int:0>3}");
    let split = padded.len() - 2;
    let dollars_int = padded[..split].trim_start_matches('0');
    let mut fraction = format!("{}{}", &padded[split..], frac);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!(
        "{}.{}",
        if dollars_int.is_empty() {
            "0"
        } else {
            dollars_int
        },
        fraction
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_become_dollars() {
        assert_eq!(cents_to_dollars("0.0001"), "0.000001");
        assert_eq!(cents_to_dollars("150"), "1.50");
        assert_eq!(cents_to_dollars("5"), "0.05");
        assert_eq!(cents_to_dollars("12345.5"), "123.455");
    }

    #[test]
    fn decimals_compare_numerically() {
        assert!(same_decimal("0.5", "0.500000000000"));
        assert!(same_decimal("05", "5.0"));
        assert!(!same_decimal("0.5", "0.05"));
        assert_eq!(display_decimal("0.000100000000"), "0.0001");
        assert_eq!(display_decimal("0050.000"), "50");
    }

    #[test]
    fn credit_descriptions_fit_the_server_limit() {
        assert_eq!(
            credit_description(1000, "api-calls"),
            "1000 api-calls credits"
        );
        let long = credit_description(2_000_000_000, &"m".repeat(80));
        assert_eq!(long.chars().count(), 42);
    }
}
