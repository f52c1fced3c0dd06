//! Bearer-token resolution (api-reference §1): the token decides the organization and the
//! scopes; a request passes when the token holds any one of the endpoint's scopes.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::errors::{ApiError, ApiResult};
use crate::state::{AppState, Grant};

#[derive(Debug, Clone)]
pub struct Auth {
    grant: Grant,
}

impl Auth {
    /// The caller's organization, for emulator-only endpoints that need no scope.
    pub fn org(&self) -> &str {
        &self.grant.org
    }

    /// The caller's organization, if the token holds one of `scopes`; otherwise 403
    /// `insufficient_scope`.
    pub fn require(&self, scopes: &'static [&'static str]) -> ApiResult<&str> {
        match &self.grant.scopes {
            None => Ok(&self.grant.org),
            Some(held) if scopes.iter().any(|s| held.contains(*s)) => Ok(&self.grant.org),
            Some(_) => Err(ApiError::InsufficientScope(scopes)),
        }
    }
}

/// Extracts the bearer token the way the server's middleware does: case-insensitive scheme,
/// a non-ASCII token counts as no token, session-token prefixes are anonymous.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let header = headers.get(AUTHORIZATION)?;
    let value = std::str::from_utf8(header.as_bytes()).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && token.is_ascii()).then(|| token.to_owned())
}

impl FromRequestParts<Arc<AppState>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer_token(&parts.headers) else {
            return Err(ApiError::Unauthorized);
        };
        if token.starts_with("spaire_mst_") || token.starts_with("spaire_cst_") {
            return Err(ApiError::Unauthorized);
        }
        match state.tokens.get(&token) {
            Some(grant) => Ok(Self {
                grant: grant.clone(),
            }),
            None => Err(ApiError::InvalidToken),
        }
    }
}

/// The emulator's admin token, for `/_emulator/` endpoints that act on every organization
/// (reset, moving the shared test clock). An organization's token gets 403: with several
/// organizations configured, one of them must not be able to wipe the others.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuth;

impl FromRequestParts<Arc<AppState>> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        match bearer_token(&parts.headers) {
            Some(token) if token == state.admin_token => Ok(Self),
            Some(token) if state.tokens.contains_key(&token) => Err(ApiError::Domain {
                status: axum::http::StatusCode::FORBIDDEN,
                error: "EmulatorAdminRequired",
                detail: format!(
                    "`{}` acts on every organization, so an organization's token may not call it; send the emulator's admin token (printed at start as SPAIRE_EMULATOR_ADMIN_TOKEN, or chosen with `--admin-token`)",
                    parts.uri.path()
                ),
            }),
            Some(_) => Err(ApiError::InvalidToken),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// Either an organization token or the admin token, for emulator-only endpoints that only
/// read or wait.
#[derive(Debug, Clone, Copy)]
pub struct AnyAuth;

impl FromRequestParts<Arc<AppState>> for AnyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        if bearer_token(&parts.headers).is_some_and(|t| t == state.admin_token) {
            return Ok(Self);
        }
        Auth::from_request_parts(parts, state).await.map(|_| Self)
    }
}

/// Scope sets per endpoint group (any one suffices).
pub mod scopes {
    pub const EVENTS_READ: &[&str] = &["events:read", "events:write"];
    pub const EVENTS_WRITE: &[&str] = &["events:write"];
    pub const METERS_READ: &[&str] = &["meters:read", "meters:write"];
    pub const METERS_WRITE: &[&str] = &["meters:write"];
    pub const PRODUCTS_READ: &[&str] = &["products:read", "products:write"];
    pub const PRODUCTS_WRITE: &[&str] = &["products:write"];
    pub const BENEFITS_READ: &[&str] = &["benefits:read", "benefits:write"];
    pub const BENEFITS_WRITE: &[&str] = &["benefits:write"];
    pub const CUSTOMERS_READ: &[&str] = &["customers:read", "customers:write"];
    pub const CUSTOMERS_WRITE: &[&str] = &["customers:write"];
    pub const CUSTOMER_METERS_READ: &[&str] = &["customer_meters:read"];
    pub const WEBHOOKS_READ: &[&str] = &["webhooks:read", "webhooks:write"];
    pub const WEBHOOKS_WRITE: &[&str] = &["webhooks:write"];
    pub const SUBSCRIPTIONS_READ: &[&str] = &["subscriptions:read", "subscriptions:write"];
    pub const SUBSCRIPTIONS_WRITE: &[&str] = &["subscriptions:write"];
    pub const ORDERS_READ: &[&str] = &["orders:read"];
}
