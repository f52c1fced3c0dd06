//! Emulator-only endpoints under `/_emulator/` (not part of Spaire's API): what a real
//! account does through checkout, payment and time passing.
//!
//! * `POST /_emulator/subscriptions` `{product_id, customer_id | external_customer_id}`
//!   (an organization token: it acts in that organization, like a checkout)
//! * `GET /_emulator/clock` (any token), `POST /_emulator/clock/advance` `{seconds | days | to}`
//!   (admin token: the clock is shared by every organization)
//! * `POST /_emulator/webhooks/wait` `{timeout_ms?}` — until no delivery is in flight (any token)
//! * `POST /_emulator/reset` — delete every object, event and delivery; clock back to now
//!   (admin token)
//! * `GET /_emulator/faults` — how many faults `--fail-rate` / `--commit-fail-rate` injected
//!   (any token)
//! * `GET /_emulator/health` (no token)

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::{AdminAuth, AnyAuth, Auth};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::resources::iso;
use crate::routes::{customers, products};
use crate::state::AppState;
use crate::validate::{Checker, at, body_object, parse_body};
use crate::{billing, db, loc, webhooks};

fn body_or_empty(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.is_empty() {
        Ok(json!({}))
    } else {
        parse_body(bytes)
    }
}

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Faults injected so far, so a retry test can tell that it met failures of both kinds.
pub async fn faults(State(state): State<Arc<AppState>>, _auth: AnyAuth) -> Json<Value> {
    let (before, after) = state.faults.injected();
    Json(json!({"before_processing": before, "after_commit": after}))
}

pub async fn subscribe(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = auth.org().to_owned();
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let product_id = c
        .required(obj, "product_id", &base)
        .and_then(|v| c.uuid4(v, at(&base, "product_id")));
    let customer_id =
        Checker::optional(obj, "customer_id").and_then(|v| c.uuid4(v, at(&base, "customer_id")));
    let external_id = Checker::optional(obj, "external_customer_id")
        .and_then(|v| c.string(v, at(&base, "external_customer_id"), 1, None));
    if customer_id.is_none() && external_id.is_none() && c.is_ok() {
        c.push(Detail::new(
            "missing",
            at(&base, "customer_id"),
            "Field required: customer_id or external_customer_id",
            body.clone(),
        ));
    }
    c.finish()?;
    let mut conn = state.db();
    let customer = match (customer_id, external_id) {
        (Some(id), _) => customers::load(&conn, &org, &id.to_string()),
        (None, Some(ext)) => customers::load_external(&conn, &org, &ext),
        _ => Err(ApiError::NotFound),
    }?;
    let product = products::load(
        &conn,
        &org,
        &product_id.map(|p| p.to_string()).unwrap_or_default(),
    )?;
    if product["is_archived"] == json!(true) {
        return Err(ApiError::service(Detail::new(
            "value_error",
            loc!["body", "product_id"],
            "Product is archived.",
            json!(product["id"]),
        )));
    }
    let tx = conn.transaction()?;
    let (result, jobs) = billing::subscribe(&tx, &state, &org, &customer, &product)?;
    tx.commit()?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok((StatusCode::CREATED, Json(result)))
}

fn clock_json(state: &AppState) -> Value {
    json!({"now": iso(state.now()), "offset_seconds": state.clock.offset_micros() / 1_000_000})
}

pub async fn clock(State(state): State<Arc<AppState>>, _auth: AnyAuth) -> ApiResult<Json<Value>> {
    Ok(Json(clock_json(&state)))
}

pub async fn advance_clock(
    State(state): State<Arc<AppState>>,
    _admin: AdminAuth,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = body_or_empty(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let seconds = Checker::optional(obj, "seconds")
        .and_then(|v| c.int(v, at(&base, "seconds"), Some(0), None));
    let days = Checker::optional(obj, "days")
        .and_then(|v| c.int(v, at(&base, "days"), Some(0), Some(36_500)));
    let to = Checker::optional(obj, "to").and_then(|v| c.aware_datetime(v, at(&base, "to")));
    c.finish()?;
    let now = state.now();
    let target = match (seconds, days, to) {
        (Some(s), None, None) => now + chrono::Duration::seconds(s),
        (None, Some(d), None) => now + chrono::Duration::days(d),
        (None, None, Some(to)) if to >= now => to,
        (None, None, Some(_)) => {
            return Err(ApiError::validation(Detail::new(
                "value_error",
                loc!["body", "to"],
                "Value error, the test clock only moves forward",
                obj["to"].clone(),
            )));
        }
        _ => {
            return Err(ApiError::validation(Detail::new(
                "value_error",
                base,
                "Value error, send exactly one of seconds, days or to",
                body.clone(),
            )));
        }
    };
    let offset = state.clock.offset_micros() + (target - now).num_microseconds().unwrap_or(0);
    state.clock.set_offset_micros(offset);
    let mut conn = state.db();
    let tx = conn.transaction()?;
    billing::save_clock(&tx, offset)?;
    let mut jobs = Vec::new();
    let orders = billing::renew_due(&tx, &state, &mut jobs)?;
    tx.commit()?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    let mut out = clock_json(&state);
    out["renewal_orders"] = json!(orders);
    Ok(Json(out))
}

pub async fn wait_webhooks(
    State(state): State<Arc<AppState>>,
    _auth: AnyAuth,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = body_or_empty(&body)?;
    let timeout = body["timeout_ms"].as_u64().unwrap_or(10_000).min(120_000);
    let idle = state
        .dispatcher
        .wait_idle(Duration::from_millis(timeout))
        .await;
    Ok(Json(
        json!({"idle": idle, "in_flight": state.dispatcher.in_flight()}),
    ))
}

pub async fn reset(State(state): State<Arc<AppState>>, _admin: AdminAuth) -> ApiResult<StatusCode> {
    let conn = state.db();
    db::reset(&conn)?;
    state.clock.set_offset_micros(0);
    Ok(StatusCode::NO_CONTENT)
}
