//! The run-time rule of the `api-calls` meter, as every generator renders it: which path
//! prefixes are billed (`paths` of the meter, else the framework's default) and which path
//! segments never are (`billing_vocab::api_calls::NEVER_BILLED`, the one definition the
//! TypeScript module, the Python, Go, Ruby and PHP usage modules and Next.js route wrapping all
//! read). The templates add the rest of the rule in their language: a 2xx status only (never a
//! redirect or an error), no HTML page, no static file, no segment starting with `_`, not the
//! webhook route.

use billing_plan::{BillingPlan, MeterKind};
use serde::Serialize;

/// What a generated `is_billed_api_call` / `IsBilledAPICall` compares a request with.
#[derive(Debug, Clone, Serialize)]
pub struct ApiCallRule {
    /// URL path prefixes whose successful requests are billed.
    pub paths: Vec<String>,
    /// Whole segments (lower-cased) that are never billed.
    pub never_segments: Vec<&'static str>,
    /// How a never-billed segment may start.
    pub never_prefixes: Vec<&'static str>,
    /// Text inside a segment that makes it never billed.
    pub never_parts: Vec<&'static str>,
}

impl ApiCallRule {
    /// The rule for `plan`, with `default_prefix` when the meter sets no `paths`.
    pub fn new(plan: &BillingPlan, default_prefix: &str) -> Self {
        let [never_segments, never_prefixes, never_parts] =
            billing_vocab::api_calls::never_billed_lists();
        ApiCallRule {
            paths: api_paths(plan, default_prefix),
            never_segments,
            never_prefixes,
            never_parts,
        }
    }
}

/// `paths` of the plan's `api-calls` meter, else `[default_prefix]`.
pub fn api_paths(plan: &BillingPlan, default_prefix: &str) -> Vec<String> {
    plan.meters
        .iter()
        .find(|m| m.kind == MeterKind::ApiCalls)
        .and_then(|m| m.paths.clone())
        .unwrap_or_else(|| vec![default_prefix.to_owned()])
}

/// The default prefix of the Python, Go, Ruby and PHP middleware: every path (one middleware
/// sees pages and API requests alike; pages are told apart by their HTML content type).
pub const SERVER_DEFAULT_PREFIX: &str = "/";
