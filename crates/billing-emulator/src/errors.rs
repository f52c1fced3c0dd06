//! Error responses with exactly the server's status codes, bodies and headers
//! (api-reference §1): two 401 formats, 403 `insufficient_scope`, 404 `ResourceNotFound`,
//! 422 `{error, detail:[…]}`, Starlette's bare 404/405, 500 and empty-bodied 429.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const INVALID_TOKEN_DESCRIPTION: &str =
    "The access token provided is expired, revoked, malformed, or invalid for other reasons.";
const INSUFFICIENT_SCOPE_DESCRIPTION: &str =
    "The request requires higher privileges than provided by the access token.";

/// One pydantic-style validation error entry.
#[derive(Debug, Clone)]
pub struct Detail {
    pub kind: String,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    pub ctx: Option<Value>,
}

impl Detail {
    pub fn new(kind: &str, loc: Vec<Value>, msg: impl Into<String>, input: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    fn to_json(&self) -> Value {
        let mut value = json!({
            "type": self.kind,
            "loc": self.loc,
            "msg": self.msg,
            "input": self.input,
        });
        if let Some(ctx) = &self.ctx {
            value["ctx"] = ctx.clone();
        }
        value
    }
}

/// Builds a `loc` array from mixed string / index parts.
#[macro_export]
macro_rules! loc {
    ($($part:expr),* $(,)?) => {
        vec![$(serde_json::Value::from($part)),*]
    };
}

#[derive(Debug)]
pub enum ApiError {
    /// No token, or a token of a subject type the endpoint does not accept.
    Unauthorized,
    /// Unknown, expired or revoked token (authlib's format).
    InvalidToken,
    /// The token lacks every scope that would allow the operation.
    InsufficientScope(&'static [&'static str]),
    /// `ResourceNotFound` (also used for other organizations' objects).
    NotFound,
    /// Schema-level validation (`RequestValidationError`).
    Validation(Vec<Detail>),
    /// Service-level validation (`SpaireRequestValidationError`).
    ServiceValidation(Vec<Detail>),
    /// A domain error with its class name, e.g. `EventError` (500).
    Domain {
        status: StatusCode,
        error: &'static str,
        detail: String,
    },
    /// Unhandled failure: the server's generic 500 (the cause is logged, never sent).
    Internal(String),
    /// Rate limited: empty body and `retry-after` in seconds.
    RateLimited { retry_after: u64 },
}

impl ApiError {
    pub fn validation(detail: Detail) -> Self {
        Self::Validation(vec![detail])
    }

    pub fn service(detail: Detail) -> Self {
        Self::ServiceValidation(vec![detail])
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Internal(format!("database: {err}"))
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        Self::Internal(format!("json: {err}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => {
                let mut response = json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "Unauthorized", "detail": "Unauthorized"}),
                );
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"spaire\""),
                );
                response
            }
            Self::InvalidToken => {
                let mut response = json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "invalid_token", "error_description": INVALID_TOKEN_DESCRIPTION}),
                );
                let headers = response.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
                let challenge = format!(
                    "Bearer realm=\"spaire\", error=\"invalid_token\", error_description=\"{INVALID_TOKEN_DESCRIPTION}\""
                );
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            Self::InsufficientScope(scopes) => {
                let mut response = json_response(
                    StatusCode::FORBIDDEN,
                    json!({"error": "insufficient_scope", "error_description": INSUFFICIENT_SCOPE_DESCRIPTION}),
                );
                let mut required: Vec<&str> = scopes.to_vec();
                required.push("web:write");
                let challenge = format!(
                    "Bearer realm=\"spaire\", error=\"insufficient_scope\", error_description=\"{INSUFFICIENT_SCOPE_DESCRIPTION}\", scope=\"{}\"",
                    required.join(" ")
                );
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            Self::NotFound => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "ResourceNotFound", "detail": "Not found"}),
            ),
            Self::Validation(details) => validation_response("RequestValidationError", &details),
            Self::ServiceValidation(details) => {
                validation_response("SpaireRequestValidationError", &details)
            }
            Self::Domain {
                status,
                error,
                detail,
            } => json_response(status, json!({"error": error, "detail": detail})),
            Self::Internal(cause) => {
                tracing::error!(%cause, "emulator internal error");
                internal_error_response()
            }
            Self::RateLimited { retry_after } => {
                let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
        }
    }
}

pub fn internal_error_response() -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": "InternalServerError", "detail": "An unexpected error occurred."}),
    )
}

fn validation_response(error: &str, details: &[Detail]) -> Response {
    let detail: Vec<Value> = details.iter().map(Detail::to_json).collect();
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": error, "detail": detail}),
    )
}

/// Starlette's answer for a path no route matches.
pub fn route_not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, json!({"detail": "Not Found"}))
}

/// Starlette's answer for a known path with the wrong method.
pub fn method_not_allowed() -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"detail": "Method Not Allowed"}),
    )
}
