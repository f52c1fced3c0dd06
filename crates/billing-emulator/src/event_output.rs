//! A user event's metadata as the server's event list and get return it (`EventMetadataOutput`).
//!
//! The server validates the stored metadata again on the way out, and two of its reserved keys
//! come back in another shape than they went in (server/polar/event/schemas.py; issue 18):
//!
//! - `_cost.amount` is a pydantic `Decimal`, which JSON renders as a string. Ingestion stores
//!   it as a float (`kit/db/postgres.py` turns a `Decimal` into `float` for JSONB), so what
//!   comes back is Python's `str(Decimal(repr(float(amount))))`: `5` → `"5.0"`, `"0.50"` →
//!   `"0.5"`, `0.0000001` → `"1E-7"`.
//! - `_llm.prompt` and `_llm.response` default to `None`, so an event sent without them lists
//!   both as `null`.
//!
//! Ingestion stores the amount as that float too ([`stored_metadata`]), so a meter summing
//! `_cost.amount` counts an amount sent as a string, as the server's does.

use serde_json::{Map, Value};

/// Validated event metadata as the server stores it: `_cost.amount` (a decimal, sent as a
/// number or a string) becomes a float.
pub fn stored_metadata(mut metadata: Map<String, Value>) -> Map<String, Value> {
    if let Some(amount) = metadata
        .get_mut("_cost")
        .and_then(Value::as_object_mut)
        .and_then(|cost| cost.get_mut("amount"))
        && let Some(float) = as_float(amount).and_then(serde_json::Number::from_f64)
    {
        *amount = Value::Number(float);
    }
    metadata
}

/// `metadata` of a user event, shaped like the server's answer.
pub fn user_metadata(mut metadata: Value) -> Value {
    let Some(object) = metadata.as_object_mut() else {
        return metadata;
    };
    if let Some(cost) = object.get_mut("_cost").and_then(Value::as_object_mut)
        && let Some(amount) = cost.get_mut("amount")
        && let Some(text) = decimal_as_stored(amount)
    {
        *amount = Value::String(text);
    }
    if let Some(llm) = object.get_mut("_llm").and_then(Value::as_object_mut) {
        null_when_absent(llm, "prompt");
        null_when_absent(llm, "response");
    }
    metadata
}

fn null_when_absent(object: &mut Map<String, Value>, key: &str) {
    object.entry(key).or_insert(Value::Null);
}

/// The amount as the server returns it once stored as a float; `None` when it is not a
/// number (validation rejects that at ingestion).
fn decimal_as_stored(amount: &Value) -> Option<String> {
    as_float(amount).map(python_decimal_of_float)
}

fn as_float(amount: &Value) -> Option<f64> {
    let float = match amount {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    float.is_finite().then_some(float)
}

/// `str(Decimal(repr(x)))` in Python: the float's shortest round-trip digits, with `.0` on a
/// whole number below 1e16, in Decimal's notation (an exponent when it is positive or the
/// number is below 1e-6).
fn python_decimal_of_float(x: f64) -> String {
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's repr.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp10) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp10: i64 = exp10.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // The Decimal's exponent: the power of ten of the last digit.
    let mut exponent = exp10 - (digits.len() as i64 - 1);
    if (-4..16).contains(&exp10) && exponent >= 0 {
        // repr writes a whole number in fixed notation with `.0`: `500.0`.
        digits.push_str(&"0".repeat(exponent as usize + 1));
        exponent = -1;
    }
    let adjusted = exponent + digits.len() as i64 - 1;
    if exponent <= 0 && adjusted >= -6 {
        let point = digits.len() as i64 + exponent;
        let text = if exponent == 0 {
            digits
        } else if point > 0 {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        } else {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        };
        return format!("{sign}{text}");
    }
    let (first, rest) = digits.split_at(1);
    let fraction = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let exp_sign = if adjusted >= 0 { "+" } else { "-" };
    format!("{sign}{first}{fraction}E{exp_sign}{}", adjusted.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each expected string is what `str(Decimal(repr(float(x))))` prints in CPython 3.12.
    #[test]
    fn amounts_render_like_pythons_decimal_of_the_stored_float() {
        for (x, python) in [
            (5.0, "5.0"),
            (0.5, "0.5"),
            (0.0123, "0.0123"),
            (12345.6789, "12345.6789"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (0.00001, "0.00001"),
            (0.000001, "0.000001"),
            (0.0000001, "1E-7"),
            (0.00000015, "1.5E-7"),
            (0.123456789012, "0.123456789012"),
            (0.0, "0.0"),
            (-2.5, "-2.5"),
            (1e16, "1E+16"),
        ] {
            assert_eq!(python_decimal_of_float(x), python, "{x}");
        }
    }

    #[test]
    fn cost_becomes_a_string_and_llm_texts_default_to_null() {
        let sent = json!({
            "_cost": {"amount": 5, "currency": "usd"},
            "_llm": {"vendor": "openai", "model": "gpt-4o", "input_tokens": 1,
                     "output_tokens": 2, "total_tokens": 3, "response": "hi"},
            "tokens": 3,
        });
        assert_eq!(
            user_metadata(sent),
            json!({
                "_cost": {"amount": "5.0", "currency": "usd"},
                "_llm": {"vendor": "openai", "model": "gpt-4o", "input_tokens": 1,
                         "output_tokens": 2, "total_tokens": 3, "prompt": null, "response": "hi"},
                "tokens": 3,
            })
        );
        let stored = stored_metadata(
            json!({"_cost": {"amount": "0.25", "currency": "usd"}, "n": "1"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(
            Value::Object(stored),
            json!({"_cost": {"amount": 0.25, "currency": "usd"}, "n": "1"})
        );
        let plain = json!({"tokens": 3, "amount": 5});
        assert_eq!(
            user_metadata(plain.clone()),
            plain,
            "only the reserved keys"
        );
        assert_eq!(
            user_metadata(json!({"_cost": {"amount": "0.50", "currency": "usd"}})),
            json!({"_cost": {"amount": "0.5", "currency": "usd"}})
        );
    }
}
