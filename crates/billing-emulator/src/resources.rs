//! Small helpers shared by the resource handlers: ids, timestamps, output shaping, the
//! organization-token rule and `metadata[...]` list filters.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, ApiResult, Detail};
use crate::query::Params;
use crate::validate::{Obj, at};

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// pydantic's datetime output: ISO-8601, UTC as `Z`.
pub fn iso(dt: DateTime<Utc>) -> String {
    // Microsecond precision, like Python datetimes (and the database columns).
    let micros = DateTime::from_timestamp_micros(dt.timestamp_micros()).unwrap_or(dt);
    micros.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub fn iso_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(iso)
        .unwrap_or_default()
}

/// A stored document without its internal (`_`-prefixed) bookkeeping keys.
pub fn public(doc: &Value) -> Value {
    match doc {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// With an organization token, bodies must omit `organization_id` (§1), even when correct.
pub fn reject_organization_id(obj: &Obj, base: &[Value]) -> ApiResult<()> {
    match obj.get("organization_id") {
        None | Some(Value::Null) => Ok(()),
        Some(value) => Err(ApiError::service(Detail::new(
            "organization_token",
            at(base, "organization_id"),
            "Setting organization_id is disallowed when using an organization token.",
            value.clone(),
        ))),
    }
}

/// `metadata[key]=value` filters compare the stored value's text form.
pub fn metadata_matches(doc: &Value, params: &Params) -> bool {
    let wanted = params.metadata();
    if wanted.is_empty() {
        return true;
    }
    // Values for one key are alternatives (OR); different keys must all match (AND).
    let mut keys: Vec<&str> = wanted.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    keys.iter().all(|key| {
        let stored = &doc["metadata"][*key];
        wanted
            .iter()
            .filter(|(k, _)| k == key)
            .any(|(_, v)| text_form(stored).as_deref() == Some(v.as_str()))
    })
}

/// Text form of a JSON scalar as Postgres `->>` renders it.
pub fn text_form(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Sorts documents by `(field, descending)` criteria; strings compare case-insensitively.
pub fn sort_docs(docs: &mut [Value], criteria: &[(String, bool)], field_of: impl Fn(&str) -> &str) {
    docs.sort_by(|a, b| {
        for (name, descending) in criteria {
            let field = field_of(name);
            let ord = compare_json(&a[field], &b[field]);
            let ord = if *descending { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
}

fn compare_json(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Greater,
        (_, Value::Null) => std::cmp::Ordering::Less,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Path ids are `UUID4` on the server: not a UUID is 422 `uuid_parsing`, a UUID of another
/// version is 422 `uuid_version` (both at `["path","id"]`), never a 404.
pub fn path_uuid(raw: &str) -> ApiResult<String> {
    let mut c = crate::validate::Checker::new();
    match c.uuid4(&json!(raw), crate::loc!["path", "id"]) {
        Some(id) => Ok(id.to_string()),
        None => Err(ApiError::Validation(c.errors)),
    }
}
