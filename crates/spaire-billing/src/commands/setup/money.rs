//! Prices as people say them ("$0.001 per token") → prices as Spaire stores them (cents, as a
//! decimal string with at most 12 decimals). Done on digit strings, never through floats:
//! `0.1 + 0.2` style rounding in a price is real money lost or overcharged.

use billing_plan::check_unit_amount;

/// Converts a dollar amount per unit ("0.001", "$0.0001", "2") to cents ("0.1", "0.01",
/// "200"), exactly. Errors say what was wrong in words a user can act on.
pub fn dollars_to_cents(input: &str) -> Result<String, String> {
    let cents = shift_to_cents(input)?;
    check_unit_amount(&cents).map_err(|why| {
        format!(
            "{} per unit is {cents} cents, which Spaire does not accept: {why}",
            input.trim()
        )
    })?;
    Ok(cents)
}

/// Converts a whole-cent dollar cap ("50", "$49.99") to integer cents.
pub fn dollars_to_whole_cents(input: &str) -> Result<i64, String> {
    let cents = shift_to_cents(input)?;
    if cents.contains('.') {
        return Err(format!(
            "a cap must be whole cents; `{input}` is {cents} cents"
        ));
    }
    cents
        .parse::<i64>()
        .map_err(|_| format!("`{input}` is too large for a cap"))
}

/// Moves the decimal point two places right, on the digit string.
fn shift_to_cents(input: &str) -> Result<String, String> {
    let trimmed = input.trim().trim_start_matches('$').trim();
    let (int, frac) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) || (int.is_empty() && frac.is_empty()) {
        return Err(format!(
            "`{}` is not a plain decimal number of dollars (e.g. 0.001)",
            input.trim()
        ));
    }
    let mut frac_digits = frac.to_owned();
    while frac_digits.len() < 2 {
        frac_digits.push('0');
    }
    let (to_int, rest) = frac_digits.split_at(2);
    let int = format!("{int}{to_int}");
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let rest = rest.trim_end_matches('0');
    Ok(if rest.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{rest}")
    })
}

/// Renders cents (a decimal string) back as dollars for the preview ("0.1" → "$0.001").
pub fn cents_to_dollars(cents: &str) -> String {
    let (int, frac) = cents.split_once('.').unwrap_or((cents, ""));
    let padded = format!("{int:0>3}");
    let (dollars, two) = padded.split_at(padded.len() - 2);
    let dollars = dollars.trim_start_matches('0');
    let dollars = if dollars.is_empty() { "0" } else { dollars };
    let frac = format!("{two}{frac}");
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("${dollars}")
    } else {
        format!("${dollars}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_exactly() {
        for (dollars, cents) in [
            ("0.001", "0.1"),
            ("$0.0001", "0.01"),
            ("2", "200"),
            ("0.5", "50"),
            ("1.25", "125"),
            ("0.00000000000001", "0.000000000001"),
            (" 0.10 ", "10"),
        ] {
            assert_eq!(dollars_to_cents(dollars).as_deref(), Ok(cents), "{dollars}");
        }
    }

    #[test]
    fn rejects_what_spaire_rejects() {
        assert!(dollars_to_cents("0").is_err());
        assert!(dollars_to_cents("abc").is_err());
        assert!(dollars_to_cents("-1").is_err());
        assert!(dollars_to_cents("1e-3").is_err());
        // 13 decimals of cents.
        assert!(dollars_to_cents("0.000000000000001").is_err());
        assert!(dollars_to_cents("").is_err());
    }

    #[test]
    fn caps_are_whole_cents() {
        assert_eq!(dollars_to_whole_cents("50"), Ok(5000));
        assert_eq!(dollars_to_whole_cents("$49.99"), Ok(4999));
        assert!(dollars_to_whole_cents("0.001").is_err());
    }

    #[test]
    fn round_trips_for_display() {
        for dollars in ["$0.001", "$2", "$0.5", "$1.25", "$0.00000000000001"] {
            let cents = dollars_to_cents(dollars).unwrap();
            assert_eq!(cents_to_dollars(&cents), dollars);
        }
    }
}
