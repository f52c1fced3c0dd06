//! `/v1/webhooks/endpoints` (create, list, update, delete, rotate secret) and
//! `/v1/webhooks/deliveries`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::{Auth, scopes};
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::loc;
use crate::query::{Page, Params};
use crate::resources::{iso, new_id, path_uuid, public, reject_organization_id};
use crate::state::AppState;
use crate::validate::{Checker, Obj, at, body_object, parse_body};
use crate::webhooks::{EVENT_TYPES, generate_secret};

const FORMATS: &[&str] = &["raw", "discord", "slack"];

/// The server requires https; the emulator also accepts http to loopback hosts so a local
/// app or test listener can receive deliveries.
fn check_url(c: &mut Checker, value: &Value, loc: Vec<Value>) -> Option<String> {
    let url = c.string(value, loc.clone(), 1, Some(2083))?;
    let lower = url.to_ascii_lowercase();
    let loopback = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|prefix| {
            lower.starts_with(prefix)
                && matches!(lower.as_bytes().get(prefix.len()), None | Some(b':' | b'/'))
        });
    let https = lower.starts_with("https://") && lower.len() > "https://".len();
    if !https && !loopback {
        c.push(
            Detail::new(
                "url_scheme",
                loc,
                "URL scheme should be 'https'",
                value.clone(),
            )
            .with_ctx(json!({"expected_schemes": "'https'"})),
        );
        return None;
    }
    Some(url)
}

fn check_events(c: &mut Checker, obj: &Obj, base: &[Value], required: bool) -> Option<Vec<String>> {
    let value = if required {
        c.required(obj, "events", base)?
    } else {
        Checker::optional(obj, "events")?
    };
    let list = c.list(value, at(base, "events"))?;
    let mut events = Vec::new();
    for (i, item) in list.iter().enumerate() {
        if let Some(event) = c.enumeration(item, loc!["body", "events", i], EVENT_TYPES) {
            events.push(event);
        }
    }
    (events.len() == list.len()).then_some(events)
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = auth.require(scopes::WEBHOOKS_WRITE)?.to_owned();
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let url = c
        .required(obj, "url", &base)
        .and_then(|v| check_url(&mut c, v, at(&base, "url")));
    let format = c
        .required(obj, "format", &base)
        .and_then(|v| c.enumeration(v, at(&base, "format"), FORMATS));
    let events = check_events(&mut c, obj, &base, true);
    // Deprecated but honoured: a caller-chosen secret of at least 32 characters.
    let secret =
        Checker::optional(obj, "secret").and_then(|v| c.string(v, at(&base, "secret"), 32, None));
    c.finish()?;
    reject_organization_id(obj, &base)?;
    let doc = json!({
        "id": new_id(),
        "created_at": iso(state.now()),
        "modified_at": null,
        "url": url,
        "format": format,
        "secret": secret.unwrap_or_else(generate_secret),
        "organization_id": org,
        "events": events,
        "enabled": true,
        "_failures": 0,
    });
    let conn = state.db();
    db::insert_doc(&conn, Kind::WebhookEndpoint, &org, None, &doc)?;
    Ok((StatusCode::CREATED, Json(public(&doc))))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::WEBHOOKS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let conn = state.db();
    let mut docs: Vec<Value> = db::list_docs(&conn, Kind::WebhookEndpoint, &org)?
        .iter()
        .map(public)
        .collect();
    docs.reverse();
    Ok(Json(page.slice(docs)))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::WEBHOOKS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let doc = db::get_doc(&conn, Kind::WebhookEndpoint, &org, &id)?.ok_or(ApiError::NotFound)?;
    Ok(Json(public(&doc)))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::WEBHOOKS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let url = Checker::optional(obj, "url").and_then(|v| check_url(&mut c, v, at(&base, "url")));
    let format = Checker::optional(obj, "format")
        .and_then(|v| c.enumeration(v, at(&base, "format"), FORMATS));
    let events = check_events(&mut c, obj, &base, false);
    let enabled = Checker::optional(obj, "enabled").and_then(|v| c.bool(v, at(&base, "enabled")));
    c.finish()?;
    let conn = state.db();
    let mut doc =
        db::get_doc(&conn, Kind::WebhookEndpoint, &org, &id)?.ok_or(ApiError::NotFound)?;
    if let Some(url) = url {
        doc["url"] = json!(url);
    }
    if let Some(format) = format {
        doc["format"] = json!(format);
    }
    if let Some(events) = events {
        doc["events"] = json!(events);
    }
    if let Some(enabled) = enabled {
        doc["enabled"] = json!(enabled);
        if enabled {
            doc["_failures"] = json!(0);
        }
    }
    doc["modified_at"] = json!(iso(state.now()));
    db::update_doc(&conn, &doc, None)?;
    Ok(Json(public(&doc)))
}

pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::WEBHOOKS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let mut doc =
        db::get_doc(&conn, Kind::WebhookEndpoint, &org, &id)?.ok_or(ApiError::NotFound)?;
    doc["secret"] = json!(generate_secret());
    doc["modified_at"] = json!(iso(state.now()));
    db::update_doc(&conn, &doc, None)?;
    Ok(Json(public(&doc)))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let org = auth.require(scopes::WEBHOOKS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    db::get_doc(&conn, Kind::WebhookEndpoint, &org, &id)?.ok_or(ApiError::NotFound)?;
    db::delete_doc(&conn, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::WEBHOOKS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let endpoints = params.uuids("endpoint_id")?;
    let conn = state.db();
    let mut docs: Vec<Value> = db::list_docs(&conn, Kind::WebhookDelivery, &org)?
        .into_iter()
        .filter(|d| {
            endpoints.is_empty()
                || endpoints
                    .iter()
                    .any(|e| d["webhook_endpoint_id"] == e.as_str())
        })
        .map(|d| public(&d))
        .collect();
    docs.reverse();
    Ok(Json(page.slice(docs)))
}
