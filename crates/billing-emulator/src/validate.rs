//! Request-body checks that produce pydantic-shaped 422 details (`type`, `loc`, `msg`,
//! `input`, `ctx`), collected so one response lists every problem, as the server does.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::errors::{ApiError, Detail};

pub type Obj = Map<String, Value>;

#[derive(Debug, Default)]
pub struct Checker {
    pub errors: Vec<Detail>,
}

/// The request body as a JSON object, or the server's 422 when it is anything else (the
/// first check of every create and update).
pub fn body_object(body: &Value) -> Result<&Obj, ApiError> {
    let mut c = Checker::new();
    match c.object(body, &[Value::from("body")]) {
        Some(obj) => Ok(obj),
        None => Err(ApiError::Validation(c.errors)),
    }
}

pub fn at(base: &[Value], part: impl Into<Value>) -> Vec<Value> {
    let mut loc = base.to_vec();
    loc.push(part.into());
    loc
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, detail: Detail) {
        self.errors.push(detail);
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Ends validation: `Err(422 RequestValidationError)` when anything failed.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }

    pub fn object<'a>(&mut self, value: &'a Value, loc: &[Value]) -> Option<&'a Obj> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.push(Detail::new(
                    "model_attributes_type",
                    loc.to_vec(),
                    "Input should be a valid dictionary or object to extract fields from",
                    other.clone(),
                ));
                None
            }
        }
    }

    pub fn required<'a>(&mut self, obj: &'a Obj, key: &str, loc: &[Value]) -> Option<&'a Value> {
        match obj.get(key) {
            Some(value) => Some(value),
            None => {
                self.push(Detail::new(
                    "missing",
                    at(loc, key),
                    "Field required",
                    Value::Object(obj.clone()),
                ));
                None
            }
        }
    }

    /// A present, non-null optional field.
    pub fn optional<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
        obj.get(key).filter(|v| !v.is_null())
    }

    pub fn string(
        &mut self,
        value: &Value,
        loc: Vec<Value>,
        min: usize,
        max: Option<usize>,
    ) -> Option<String> {
        let Some(text) = value.as_str() else {
            self.push(Detail::new(
                "string_type",
                loc,
                "Input should be a valid string",
                value.clone(),
            ));
            return None;
        };
        let length = text.chars().count();
        if length < min {
            let plural = if min == 1 { "character" } else { "characters" };
            self.push(
                Detail::new(
                    "string_too_short",
                    loc,
                    format!("String should have at least {min} {plural}"),
                    value.clone(),
                )
                .with_ctx(json!({"min_length": min})),
            );
            return None;
        }
        if let Some(max) = max
            && length > max
        {
            self.push(
                Detail::new(
                    "string_too_long",
                    loc,
                    format!("String should have at most {max} characters"),
                    value.clone(),
                )
                .with_ctx(json!({"max_length": max})),
            );
            return None;
        }
        Some(text.to_owned())
    }

    /// pydantic's lax int: JSON integers, floats without a fraction, numeric strings.
    pub fn int(
        &mut self,
        value: &Value,
        loc: Vec<Value>,
        ge: Option<i64>,
        le: Option<i64>,
    ) -> Option<i64> {
        let parsed = match value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let Some(number) = parsed else {
            let (kind, msg) = match value {
                Value::Number(_) => (
                    "int_from_float",
                    "Input should be a valid integer, got a number with a fractional part",
                ),
                Value::String(_) => (
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                ),
                _ => ("int_type", "Input should be a valid integer"),
            };
            self.push(Detail::new(kind, loc, msg, value.clone()));
            return None;
        };
        if let Some(ge) = ge
            && number < ge
        {
            self.push(
                Detail::new(
                    "greater_than_equal",
                    loc,
                    format!("Input should be greater than or equal to {ge}"),
                    value.clone(),
                )
                .with_ctx(json!({"ge": ge})),
            );
            return None;
        }
        if let Some(le) = le
            && number > le
        {
            self.push(
                Detail::new(
                    "less_than_equal",
                    loc,
                    format!("Input should be less than or equal to {le}"),
                    value.clone(),
                )
                .with_ctx(json!({"le": le})),
            );
            return None;
        }
        Some(number)
    }

    pub fn bool(&mut self, value: &Value, loc: Vec<Value>) -> Option<bool> {
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) if n.as_i64() == Some(0) => Some(false),
            Value::Number(n) if n.as_i64() == Some(1) => Some(true),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
                "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.push(Detail::new(
                "bool_parsing",
                loc,
                "Input should be a valid boolean",
                value.clone(),
            ));
        }
        parsed
    }

    /// A UUID that must be version 4 (`UUID4` fields).
    pub fn uuid4(&mut self, value: &Value, loc: Vec<Value>) -> Option<Uuid> {
        let Some(text) = value.as_str() else {
            self.push(Detail::new(
                "uuid_type",
                loc,
                "UUID input should be a string, bytes or UUID object",
                value.clone(),
            ));
            return None;
        };
        match Uuid::parse_str(text) {
            Ok(id) if id.get_version_num() == 4 => Some(id),
            Ok(_) => {
                self.push(
                    Detail::new(
                        "uuid_version",
                        loc,
                        "UUID version 4 expected",
                        value.clone(),
                    )
                    .with_ctx(json!({"expected_version": 4})),
                );
                None
            }
            Err(err) => {
                self.push(Detail::new(
                    "uuid_parsing",
                    loc,
                    format!("Input should be a valid UUID, {err}"),
                    value.clone(),
                ));
                None
            }
        }
    }

    /// A timezone-aware datetime (ISO-8601 string or Unix seconds).
    pub fn aware_datetime(&mut self, value: &Value, loc: Vec<Value>) -> Option<DateTime<Utc>> {
        match parse_datetime(value) {
            Ok(dt) => Some(dt),
            Err(DateProblem::Naive) => {
                self.push(Detail::new(
                    "timezone_aware",
                    loc,
                    "Input should have timezone info",
                    value.clone(),
                ));
                None
            }
            Err(DateProblem::Invalid) => {
                self.push(Detail::new(
                    "datetime_from_date_parsing",
                    loc,
                    "Input should be a valid datetime or date, invalid character in year",
                    value.clone(),
                ));
                None
            }
        }
    }

    pub fn literal(&mut self, value: &Value, loc: Vec<Value>, allowed: &[&str]) -> Option<String> {
        if let Some(text) = value.as_str()
            && allowed.contains(&text)
        {
            return Some(text.to_owned());
        }
        let expected = quoted_alternatives(allowed);
        self.push(
            Detail::new(
                "literal_error",
                loc,
                format!("Input should be {expected}"),
                value.clone(),
            )
            .with_ctx(json!({"expected": expected})),
        );
        None
    }

    pub fn enumeration(
        &mut self,
        value: &Value,
        loc: Vec<Value>,
        allowed: &[&str],
    ) -> Option<String> {
        if let Some(text) = value.as_str()
            && allowed.contains(&text)
        {
            return Some(text.to_owned());
        }
        let expected = quoted_alternatives(allowed);
        self.push(
            Detail::new(
                "enum",
                loc,
                format!("Input should be {expected}"),
                value.clone(),
            )
            .with_ctx(json!({"expected": expected})),
        );
        None
    }

    pub fn list<'a>(&mut self, value: &'a Value, loc: Vec<Value>) -> Option<&'a Vec<Value>> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.push(Detail::new(
                    "list_type",
                    loc,
                    "Input should be a valid list",
                    other.clone(),
                ));
                None
            }
        }
    }

    /// Generic metadata of meters, products, customers and benefits (§0): at most 50 keys of
    /// 1–40 characters; values are strings of 1–500 characters, ints, floats or bools.
    pub fn metadata(&mut self, obj: &Obj, loc: &[Value]) -> Option<Obj> {
        let value = Self::optional(obj, "metadata")?;
        let loc = at(loc, "metadata");
        let Value::Object(map) = value else {
            self.push(Detail::new(
                "dict_type",
                loc,
                "Input should be a valid dictionary",
                value.clone(),
            ));
            return None;
        };
        if map.len() > 50 {
            self.push(
                Detail::new(
                    "too_long",
                    loc.clone(),
                    format!(
                        "Dictionary should have at most 50 items after validation, not {}",
                        map.len()
                    ),
                    value.clone(),
                )
                .with_ctx(json!({"field_type": "Dictionary", "max_length": 50, "actual_length": map.len()})),
            );
        }
        let before = self.errors.len();
        for (key, item) in map {
            let key_len = key.chars().count();
            if key_len == 0 || key_len > 40 {
                let (kind, msg, ctx) = if key_len == 0 {
                    (
                        "string_too_short",
                        "String should have at least 1 character".to_owned(),
                        json!({"min_length": 1}),
                    )
                } else {
                    (
                        "string_too_long",
                        "String should have at most 40 characters".to_owned(),
                        json!({"max_length": 40}),
                    )
                };
                self.push(
                    Detail::new(kind, at(&at(&loc, key.as_str()), "[key]"), msg, json!(key))
                        .with_ctx(ctx),
                );
            }
            self.metadata_value(item, at(&loc, key.as_str()), false);
        }
        (self.errors.len() == before && map.len() <= 50).then(|| map.clone())
    }

    /// One metadata value: string (1–500 chars), int, float or bool.
    pub fn metadata_value(&mut self, item: &Value, loc: Vec<Value>, event: bool) -> bool {
        match item {
            Value::String(s) => {
                let len = s.chars().count();
                if len == 0 || len > 500 {
                    let (kind, msg, ctx) = if len == 0 {
                        (
                            "string_too_short",
                            "String should have at least 1 character",
                            json!({"min_length": 1}),
                        )
                    } else {
                        (
                            "string_too_long",
                            "String should have at most 500 characters",
                            json!({"max_length": 500}),
                        )
                    };
                    self.push(Detail::new(kind, loc, msg, item.clone()).with_ctx(ctx));
                    return false;
                }
                true
            }
            Value::Number(_) | Value::Bool(_) => true,
            other => {
                let msg = if event {
                    "Input should be a valid string, a valid integer, a valid number or a valid boolean"
                } else {
                    "Input should be a valid string"
                };
                self.push(Detail::new("string_type", loc, msg, other.clone()));
                false
            }
        }
    }
}

fn quoted_alternatives(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

pub enum DateProblem {
    Naive,
    Invalid,
}

/// ISO-8601 with an offset, or Unix seconds; naive values are a distinct problem because
/// pydantic reports them as `timezone_aware`.
pub fn parse_datetime(value: &Value) -> Result<DateTime<Utc>, DateProblem> {
    match value {
        Value::Number(n) => {
            let seconds = n.as_f64().ok_or(DateProblem::Invalid)?;
            let micros = (seconds * 1_000_000.0).round() as i64;
            DateTime::from_timestamp_micros(micros).ok_or(DateProblem::Invalid)
        }
        Value::String(text) => parse_datetime_str(text),
        _ => Err(DateProblem::Invalid),
    }
}

pub fn parse_datetime_str(text: &str) -> Result<DateTime<Utc>, DateProblem> {
    let text = text.trim();
    let normalized = if text.len() > 10 && text.as_bytes()[10] == b' ' {
        format!("{}T{}", &text[..10], &text[11..])
    } else {
        text.to_owned()
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(&normalized) {
        return Ok(dt.with_timezone(&Utc));
    }
    // Offsets without a colon (`+0000`) are ISO-8601 too.
    if let Ok(dt) = DateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(dt.with_timezone(&Utc));
    }
    if NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M").is_ok()
        || NaiveDate::parse_from_str(&normalized, "%Y-%m-%d").is_ok()
    {
        return Err(DateProblem::Naive);
    }
    Err(DateProblem::Invalid)
}

/// Parses the JSON body; a syntax error is the 422 `json_invalid` FastAPI sends.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::validation(Detail::new(
            "missing",
            crate::loc!["body"],
            "Field required",
            Value::Null,
        )));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        ApiError::validation(
            Detail::new(
                "json_invalid",
                crate::loc!["body", err.column()],
                "JSON decode error",
                json!({}),
            )
            .with_ctx(json!({"error": err.to_string()})),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_datetimes_are_told_apart_from_garbage() {
        assert!(parse_datetime_str("2026-01-01T00:00:00Z").is_ok());
        assert!(parse_datetime_str("2026-01-01T00:00:00.5+02:00").is_ok());
        assert!(matches!(
            parse_datetime_str("2026-01-01T00:00:00"),
            Err(DateProblem::Naive)
        ));
        assert!(matches!(
            parse_datetime_str("yesterday"),
            Err(DateProblem::Invalid)
        ));
    }

    #[test]
    fn ints_follow_pydantic_lax_mode() {
        let mut c = Checker::new();
        assert_eq!(c.int(&json!(2.0), vec![], None, None), Some(2));
        assert_eq!(c.int(&json!("7"), vec![], None, None), Some(7));
        assert_eq!(c.int(&json!(1.5), vec![], None, None), None);
        assert_eq!(c.int(&json!(0), vec![], Some(1), None), None);
        let kinds: Vec<&str> = c.errors.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["int_from_float", "greater_than_equal"]);
    }
}
