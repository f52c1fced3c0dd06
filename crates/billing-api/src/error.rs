//! API errors that say what happened and what to do about it.
//!
//! Every error names the request (`POST /v1/meters/`), never the token, and carries a hint
//! line that the CLI prints after `hint:`. Callers that want the hint rendered wrap the error
//! with [`ApiError::into_hinted`] or [`billing_errors::Hinted::with_source`].

use std::fmt;
use std::time::Duration;

use billing_plan::Environment;

/// Scopes an organization access token needs for everything spaire-billing does.
/// A write scope also grants read, so no `:read` scope is listed except for customer meters,
/// which have no write scope.
pub const REQUIRED_SCOPES: &[&str] = &[
    "meters:write",
    "products:write",
    "benefits:write",
    "events:write",
    "customers:write",
    "customer_meters:read",
];

/// Needed only when a webhook endpoint is registered.
pub const WEBHOOK_SCOPE: &str = "webhooks:write";

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// 401 `invalid_token`: unknown, expired or revoked token (or one of another environment).
    InvalidToken,
    /// 401 `Unauthorized`: no token, or a customer/member session token.
    Unauthenticated,
    /// 403 `insufficient_scope`: the scopes that would have been accepted (any one suffices).
    MissingScope {
        accepted: Vec<String>,
    },
    /// 403 for another reason (`NotPermitted`).
    Forbidden {
        detail: String,
    },
    NotFound,
    Conflict {
        detail: String,
    },
    /// 422: each problem names a field and says why.
    Validation {
        problems: Vec<FieldProblem>,
    },
    /// 429 after the retries ran out.
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// 5xx after the retries ran out (or on a request that must not be retried).
    Server {
        status: u16,
        detail: String,
    },
    /// Any other unexpected status.
    Status {
        status: u16,
        detail: String,
    },
    Timeout,
    Connection {
        detail: String,
    },
    /// The response did not have the expected shape.
    Decode {
        detail: String,
    },
    /// A bad configuration (URL, missing token) detected before any request.
    Config {
        message: String,
    },
}

/// One entry of a 422 `detail` list, with `loc` turned into a readable field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// e.g. `prices[1].unit_amount` (the leading `body`/`query` is dropped).
    pub field: String,
    pub message: String,
    /// pydantic's error `type`, e.g. `greater_than`, `missing`, `forbidden`.
    pub kind: String,
}

#[derive(Debug)]
pub struct ApiError {
    /// `METHOD /path`; empty for configuration errors.
    request: String,
    /// Where the request went, for the 401 explanation.
    environment: Option<Environment>,
    pub kind: ErrorKind,
    /// Set when the caller knows better than the generic hint.
    hint_override: Option<String>,
}

impl ApiError {
    pub(crate) fn new(request: String, environment: Option<Environment>, kind: ErrorKind) -> Self {
        Self {
            request,
            environment,
            kind,
            hint_override: None,
        }
    }

    pub fn config(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            request: String::new(),
            environment: None,
            kind: ErrorKind::Config {
                message: message.into(),
            },
            hint_override: Some(hint.into()),
        }
    }

    /// Replaces the generic hint with a more specific one.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint_override = Some(hint.into());
        self
    }

    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::InvalidToken | ErrorKind::Unauthenticated => Some(401),
            ErrorKind::MissingScope { .. } | ErrorKind::Forbidden { .. } => Some(403),
            ErrorKind::NotFound => Some(404),
            ErrorKind::Conflict { .. } => Some(409),
            ErrorKind::Validation { .. } => Some(422),
            ErrorKind::RateLimited { .. } => Some(429),
            ErrorKind::Server { status, .. } | ErrorKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ErrorKind::NotFound)
    }

    /// Errors where the outcome of a write is unknown: the request may or may not have been
    /// applied by the server (the connection dropped, a timeout, a 5xx).
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout | ErrorKind::Connection { .. } | ErrorKind::Server { .. }
        )
    }

    pub fn request(&self) -> &str {
        &self.request
    }

    /// What the user should do next.
    pub fn hint(&self) -> String {
        if let Some(h) = &self.hint_override {
            return h.clone();
        }
        let env = self.environment;
        match &self.kind {
            ErrorKind::InvalidToken => invalid_token_hint(env),
            ErrorKind::Unauthenticated => format!(
                "set SPAIRE_ACCESS_TOKEN to an organization access token (customer and member \
                 session tokens are not accepted){}",
                token_page(env)
            ),
            ErrorKind::MissingScope { .. } => format!(
                "create an organization access token{} with the scopes spaire-billing needs ({}), \
                 set SPAIRE_ACCESS_TOKEN to it and run the command again",
                token_page(env),
                REQUIRED_SCOPES.join(", ")
            ),
            ErrorKind::Forbidden { .. } => {
                "the organization or token is not allowed to do this; check the organization's \
                 status in the dashboard"
                    .to_owned()
            }
            ErrorKind::NotFound => "the object does not exist in this organization and environment \
                 (ids from another organization or environment are not visible); re-run `spaire-billing plan` \
                 to look it up again"
                .to_owned(),
            ErrorKind::Conflict { .. } => {
                "the object already exists; re-run `spaire-billing plan` to reuse it".to_owned()
            }
            ErrorKind::Validation { problems } => validation_hint(problems),
            ErrorKind::RateLimited { .. } => {
                "the organization's API rate limit is exhausted (sandbox: 100 requests/min); wait a \
                 minute and run the command again"
                    .to_owned()
            }
            ErrorKind::Server { .. } => {
                "Spaire had an internal error; run the command again in a moment (it is safe to \
                 re-run: completed steps are skipped)"
                    .to_owned()
            }
            ErrorKind::Status { status: 405, .. } => {
                "this server does not offer this operation; if it is the local emulator, it \
                 implements a subset of Spaire's API (see docs/emulator.md): do this step in \
                 Spaire's dashboard, or against sandbox"
                    .to_owned()
            }
            ErrorKind::Status { .. } => {
                "unexpected response; check that the API URL points at a Spaire API".to_owned()
            }
            ErrorKind::Timeout => "the API did not answer in time; check the network and run the \
                 command again (completed steps are skipped)"
                .to_owned(),
            ErrorKind::Connection { .. } => "could not reach the API; check the network, a proxy, \
                 or the URL given with --server-url / SPAIRE_SERVER_URL"
                .to_owned(),
            ErrorKind::Decode { .. } => "the API answered with an unexpected body; check that the \
                 URL points at a Spaire API (not a web page or proxy)"
                .to_owned(),
            ErrorKind::Config { .. } => "check the configuration".to_owned(),
        }
    }

    /// The error as a [`billing_errors::Hinted`], so the CLI prints its hint.
    pub fn into_hinted(self) -> billing_errors::Hinted {
        let hint = self.hint();
        billing_errors::Hinted::new(self.to_string(), hint)
    }
}

fn scope_list(accepted: &[String]) -> String {
    let useful: Vec<&str> = accepted
        .iter()
        .map(String::as_str)
        .filter(|s| !s.starts_with("web:"))
        .collect();
    match useful.as_slice() {
        [] => "the required scope".to_owned(),
        [one] => format!("the `{one}` scope"),
        many => format!(
            "a scope for this request (any one of {})",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn token_page(env: Option<Environment>) -> String {
    match env.and_then(crate::server::dashboard_base) {
        Some(base) => format!(" at {base}/<organization>/settings (Access Tokens)"),
        None => String::new(),
    }
}

fn invalid_token_hint(env: Option<Environment>) -> String {
    match env {
        Some(Environment::Sandbox) => format!(
            "this request went to the sandbox API; sandbox and production tokens are separate, so a \
             production token is rejected here. Create a sandbox token{} and set SPAIRE_ACCESS_TOKEN, \
             or pass `--environment production` if the token is a production one",
            token_page(env)
        ),
        Some(Environment::Production) => format!(
            "this request went to the production API; a sandbox token is rejected here. Create a \
             production token{} and set SPAIRE_ACCESS_TOKEN, or use `--environment sandbox` if the \
             token is a sandbox one",
            token_page(env)
        ),
        Some(Environment::Local) => "the emulator only accepts the tokens it was started with \
             (it prints one at start; see `spaire-billing emulator --token`)"
            .to_owned(),
        None => "the token is invalid, expired or revoked, or belongs to another environment than \
             the API URL; check SPAIRE_ACCESS_TOKEN and --server-url"
            .to_owned(),
    }
}

fn validation_hint(problems: &[FieldProblem]) -> String {
    let touches_plan = problems.iter().any(|p| {
        [
            "unit_amount",
            "cap_amount",
            "units",
            "filter",
            "aggregation",
            "name",
            "meter_id",
        ]
        .iter()
        .any(|f| p.field.contains(f))
    });
    if problems
        .iter()
        .any(|p| p.kind == "forbidden" && p.field.contains("filter"))
        || problems
            .iter()
            .any(|p| p.kind == "forbidden" && p.field.contains("aggregation"))
    {
        "the meter already aggregates events, so its filter and aggregation are locked; create a \
         meter with a new name in spaire-billing.toml instead"
            .to_owned()
    } else if touches_plan {
        "fix the value in spaire-billing.toml and run `spaire-billing plan` again".to_owned()
    } else {
        "the request was rejected as invalid; fix the field named above".to_owned()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.request.is_empty() {
            write!(f, "{} failed: ", self.request)?;
        }
        match &self.kind {
            ErrorKind::InvalidToken => f.write_str(
                "401 the access token was rejected (invalid, expired, revoked, or from another environment)",
            ),
            ErrorKind::Unauthenticated => f.write_str("401 no usable access token was sent"),
            ErrorKind::MissingScope { accepted } => {
                write!(f, "403 the access token lacks {}", scope_list(accepted))
            }
            ErrorKind::Forbidden { detail } => write!(f, "403 not permitted: {detail}"),
            ErrorKind::NotFound => f.write_str("404 not found"),
            ErrorKind::Conflict { detail } => write!(f, "409 conflict: {detail}"),
            ErrorKind::Validation { problems } => {
                f.write_str("422 invalid request")?;
                for (i, p) in problems.iter().enumerate() {
                    let sep = if i == 0 { ": " } else { "; " };
                    if p.field.is_empty() {
                        write!(f, "{sep}{}", p.message)?;
                    } else {
                        write!(f, "{sep}`{}`: {}", p.field, p.message)?;
                    }
                }
                Ok(())
            }
            ErrorKind::RateLimited { retry_after } => match retry_after {
                Some(d) => write!(f, "429 rate limited (retry after {} s)", d.as_secs()),
                None => f.write_str("429 rate limited"),
            },
            ErrorKind::Server { status, detail } => write!(f, "{status} server error: {detail}"),
            ErrorKind::Status { status, detail } => {
                write!(f, "unexpected status {status}: {detail}")
            }
            ErrorKind::Timeout => f.write_str("timed out"),
            ErrorKind::Connection { detail } => write!(f, "connection failed: {detail}"),
            ErrorKind::Decode { detail } => write!(f, "unexpected response body: {detail}"),
            ErrorKind::Config { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for ApiError {}

/// Turns a pydantic `loc` (`["body","prices",1,"unit_amount"]`) into `prices[1].unit_amount`.
/// Union member names (`EventCreateExternalCustomer`) are dropped: they are not fields.
pub(crate) fn field_path(loc: &[serde_json::Value]) -> String {
    let mut out = String::new();
    for (i, part) in loc.iter().enumerate() {
        match part {
            serde_json::Value::String(s)
                if i == 0 && (s == "body" || s == "query" || s == "path") => {}
            serde_json::Value::String(s) if looks_like_type_name(s) => {}
            serde_json::Value::String(s) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(s);
            }
            serde_json::Value::Number(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

fn looks_like_type_name(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_uppercase)
        && s.chars().all(char::is_alphanumeric)
        && s.chars().skip(1).any(char::is_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loc_becomes_a_readable_path() {
        let loc = [
            json!("body"),
            json!("prices"),
            json!(1),
            json!("unit_amount"),
        ];
        assert_eq!(field_path(&loc), "prices[1].unit_amount");
        let union = [
            json!("body"),
            json!("events"),
            json!(0),
            json!("EventCreateExternalCustomer"),
            json!("metadata"),
            json!("x"),
        ];
        assert_eq!(field_path(&union), "events[0].metadata.x");
        assert_eq!(field_path(&[json!("query")]), "");
    }

    #[test]
    fn missing_scope_names_the_scope_not_web_scopes() {
        let err = ApiError::new(
            "POST /v1/meters/".into(),
            Some(Environment::Sandbox),
            ErrorKind::MissingScope {
                accepted: vec!["web:write".into(), "meters:write".into()],
            },
        );
        assert_eq!(
            err.to_string(),
            "POST /v1/meters/ failed: 403 the access token lacks the `meters:write` scope"
        );
        assert!(
            err.hint().contains("sandbox.spairehq.com/dashboard"),
            "{}",
            err.hint()
        );
    }

    #[test]
    fn method_not_allowed_points_at_the_emulator_subset() {
        let err = ApiError::new(
            "DELETE /v1/benefits/x".into(),
            Some(Environment::Local),
            ErrorKind::Status {
                status: 405,
                detail: "Method Not Allowed".into(),
            },
        );
        assert!(
            err.hint().contains("subset of Spaire's API"),
            "{}",
            err.hint()
        );
    }

    #[test]
    fn invalid_token_hint_names_the_other_environment() {
        let err = ApiError::new(
            "GET /v1/meters/".into(),
            Some(Environment::Production),
            ErrorKind::InvalidToken,
        );
        assert!(err.hint().contains("a sandbox token is rejected here"));
    }
}
