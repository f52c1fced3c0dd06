//! One module per API resource: its request/response types and its `Client` methods.
//! Types carry the fields spaire-billing uses; unknown fields in responses are ignored so
//! that server additions do not break the client.

pub mod benefits;
pub mod customers;
pub mod events;
pub mod meters;
pub mod products;
pub mod webhooks;

/// Builds repeated query pairs (`?customer_id=a&customer_id=b`).
pub(crate) fn repeated(key: &str, values: &[String]) -> Vec<(String, String)> {
    values.iter().map(|v| (key.to_owned(), v.clone())).collect()
}

pub(crate) fn to_body<T: serde::Serialize>(value: &T) -> Option<serde_json::Value> {
    // Serialising our own plain structs cannot fail (no maps with non-string keys).
    Some(serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
}
