//! Turning library results into MCP tool results.
//!
//! A failed operation is a *tool error* (`isError: true`) with the same `error:` / `hint:`
//! text the CLI prints, so the agent can read it and tell the user what to do. JSON-RPC
//! errors are reserved for malformed requests, which rmcp produces itself.

use rmcp::model::CallToolResult;
use serde::Serialize;

/// A successful result: structured content plus the same JSON as text for older clients.
pub fn ok(value: &impl Serialize) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(json) => CallToolResult::structured(json),
        Err(err) => failed(&anyhow::Error::new(err).context("could not encode the result")),
    }
}

/// A tool error carrying the full cause chain and every hint found in it.
pub fn failed(err: &anyhow::Error) -> CallToolResult {
    let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
    let hints = billing_errors::hints_in_chain(err.as_ref());
    tracing::warn!(error = %err, "tool call failed");
    CallToolResult::structured_error(serde_json::json!({
        "error": err.to_string(),
        "causes": causes,
        "hints": hints,
    }))
}
