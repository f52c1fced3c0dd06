//! The HTTP surface: `/v1` routes with the server's paths (trailing slashes included),
//! FastAPI's 307 slash redirects, Starlette's 404/405 bodies, and the fault-injection /
//! rate-limit layer in front of `/v1`.

pub mod benefits;
pub mod customers;
pub mod emulator;
pub mod events;
pub mod meters;
pub mod products;
pub mod subscriptions;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::bearer_token;
use crate::errors::{self, ApiError};
use crate::faults::{Fault, LostAnswer};
use crate::listener::ConnHandle;
use crate::state::AppState;

/// Large enough for batches far over the server's ingest ceiling (40,000+ events).
const INGEST_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// Every route pattern, used to answer a path that only differs by its trailing slash.
const ROUTES: &[&str] = &[
    "/v1/events/ingest",
    "/v1/events/",
    "/v1/events/{id}",
    "/v1/meters/",
    "/v1/meters/{id}",
    "/v1/meters/{id}/quantities",
    "/v1/products/",
    "/v1/products/{id}",
    "/v1/products/{id}/benefits",
    "/v1/benefits/",
    "/v1/benefits/{id}",
    "/v1/customers/",
    "/v1/customers/{id}",
    "/v1/customers/{id}/state",
    "/v1/customers/external/{external_id}",
    "/v1/customers/external/{external_id}/state",
    "/v1/customer-meters/",
    "/v1/customer-meters/{id}",
    "/v1/webhooks/endpoints",
    "/v1/webhooks/endpoints/{id}",
    "/v1/webhooks/endpoints/{id}/secret",
    "/v1/webhooks/deliveries",
    "/v1/subscriptions/",
    "/v1/subscriptions/{id}",
    "/v1/orders/",
];

pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        // The server (uvicorn) has no body limit; axum's default 2 MB would answer 413 to
        // batches that reach the server's 500 ceiling instead.
        .route(
            "/v1/events/ingest",
            post(events::ingest).layer(DefaultBodyLimit::max(INGEST_BODY_LIMIT)),
        )
        .route("/v1/events/", get(events::list))
        .route("/v1/events/{id}", get(events::get))
        .route("/v1/meters/", get(meters::list).post(meters::create))
        .route("/v1/meters/{id}", get(meters::get).patch(meters::update))
        .route("/v1/meters/{id}/quantities", get(meters::get_quantities))
        .route("/v1/products/", get(products::list).post(products::create))
        .route(
            "/v1/products/{id}",
            get(products::get).patch(products::update),
        )
        .route(
            "/v1/products/{id}/benefits",
            post(products::update_benefits),
        )
        .route("/v1/benefits/", get(benefits::list).post(benefits::create))
        .route(
            "/v1/benefits/{id}",
            get(benefits::get)
                .patch(benefits::update)
                .delete(benefits::delete),
        )
        .route(
            "/v1/customers/",
            get(customers::list).post(customers::create),
        )
        .route("/v1/customers/{id}", get(customers::get))
        .route("/v1/customers/{id}/state", get(customers::get_state))
        .route(
            "/v1/customers/external/{external_id}",
            get(customers::get_external),
        )
        .route(
            "/v1/customers/external/{external_id}/state",
            get(customers::get_state_external),
        )
        .route("/v1/customer-meters/", get(customers::list_customer_meters))
        .route(
            "/v1/customer-meters/{id}",
            get(customers::get_customer_meter),
        )
        .route(
            "/v1/webhooks/endpoints",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/v1/webhooks/endpoints/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/v1/webhooks/endpoints/{id}/secret",
            axum::routing::patch(webhooks::rotate_secret),
        )
        .route("/v1/webhooks/deliveries", get(webhooks::deliveries))
        .route(
            "/v1/subscriptions/",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route("/v1/subscriptions/{id}", get(subscriptions::get))
        .route("/v1/orders/", get(subscriptions::list_orders))
        .layer(middleware::from_fn_with_state(state.clone(), faults));
    let admin = Router::new()
        .route("/_emulator/health", get(emulator::health))
        .route("/_emulator/faults", get(emulator::faults))
        .route("/_emulator/subscriptions", post(emulator::subscribe))
        .route("/_emulator/clock", get(emulator::clock))
        .route("/_emulator/clock/advance", post(emulator::advance_clock))
        .route("/_emulator/webhooks/wait", post(emulator::wait_webhooks))
        .route("/_emulator/reset", post(emulator::reset));
    let app = v1
        .merge(admin)
        .fallback(fallback)
        .method_not_allowed_fallback(|| async { errors::method_not_allowed() })
        .with_state(state);
    // The prefix rewrite must happen before routing, so it wraps the whole app.
    Router::new()
        .fallback_service(app)
        .layer(middleware::from_fn(rewrite_api_prefix))
}

fn matches_pattern(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    p.len() == s.len()
        && p.iter()
            .zip(&s)
            .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
}

/// FastAPI's `redirect_slashes`: a path that matches a route only with (or without) a
/// trailing slash gets a 307 to that route, before any authentication.
async fn fallback(method: Method, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    let path = uri.path();
    let alternative = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed.to_owned(),
        _ => format!("{path}/"),
    };
    if ROUTES
        .iter()
        .any(|route| matches_pattern(route, &alternative))
    {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        let location = format!("http://{host}{alternative}{query}");
        let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        return response;
    }
    let _ = method;
    errors::route_not_found()
}

/// `/api/v1/...` is rewritten to `/v1/...` with a deprecation header, as on the server.
async fn rewrite_api_prefix(mut request: Request, next: Next) -> Response {
    let rewritten = request.uri().path().starts_with("/api/v1/");
    if rewritten {
        let path_and_query = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().trim_start_matches("/api").to_owned())
            .unwrap_or_default();
        if let Ok(uri) = path_and_query.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    let mut response = next.run(request).await;
    if rewritten {
        response.headers_mut().insert(
            "x-polar-deprecation-notice",
            HeaderValue::from_static("The /api/v1 prefix is deprecated. Use /v1 instead."),
        );
    }
    response
}

/// What the client gets for a request that was already committed (`--commit-fail-rate`).
async fn lose_answer(lost: LostAnswer, handle: Option<ConnHandle>, hang_ms: u64) -> Response {
    match lost {
        LostAnswer::ServerError(500) => errors::internal_error_response(),
        LostAnswer::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, status.canonical_reason().unwrap_or("error")).into_response()
        }
        LostAnswer::Hang | LostAnswer::DropConnection => {
            if lost == LostAnswer::Hang {
                tokio::time::sleep(Duration::from_millis(hang_ms)).await;
            }
            if let Some(handle) = handle {
                handle.kill();
            }
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Rate limit (per organization, like the server's `organization:{id}` key; anonymous
/// requests share one key), then injected latency, then injected faults.
async fn faults(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let key = bearer_token(request.headers())
        .and_then(|t| {
            state
                .tokens
                .get(&t)
                .map(|g| format!("organization:{}", g.org))
        })
        .unwrap_or_else(|| "anonymous".to_owned());
    if let Some(retry_after) = state
        .faults
        .rate_limited(&key, chrono::Utc::now().timestamp())
    {
        return ApiError::RateLimited { retry_after }.into_response();
    }
    if state.faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(state.faults.latency_ms)).await;
    }
    match state.faults.next_fault() {
        None => next.run(request).await,
        Some(Fault::AfterCommit(lost)) => {
            let handle = request
                .extensions()
                .get::<ConnectInfo<ConnHandle>>()
                .map(|ConnectInfo(handle)| handle.clone());
            // Served in full first: the handler has committed whatever it changes.
            let served = next.run(request).await;
            tracing::info!(
                status = %served.status(),
                ?lost,
                "fault injection: request committed, answer lost"
            );
            lose_answer(lost, handle, state.faults.hang_ms).await
        }
        Some(Fault::ServerError(500)) => errors::internal_error_response(),
        Some(Fault::ServerError(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, status.canonical_reason().unwrap_or("error")).into_response()
        }
        Some(Fault::TooManyRequests) => ApiError::RateLimited { retry_after: 1 }.into_response(),
        Some(Fault::DropConnection) => {
            if let Some(ConnectInfo(handle)) = request.extensions().get::<ConnectInfo<ConnHandle>>()
            {
                handle.kill();
            }
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
