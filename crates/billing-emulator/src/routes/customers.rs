//! `/v1/customers/` (create, list, get, by external id, state) and `/v1/customer-meters/`.

use billing_vocab::webhook::types as webhook_types;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use rusqlite::Connection;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::{Auth, scopes};
use crate::balance::{self, customer_meter_json, customer_output, state_meter_json};
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::loc;
use crate::query::{Page, Params};
use crate::resources::{
    iso, metadata_matches, new_id, path_uuid, public, reject_organization_id, sort_docs,
};
use crate::routes::events::insert_system_event;
use crate::state::AppState;
use crate::validate::{Checker, at, body_object, parse_body};
use crate::webhooks;

/// Domains that cannot receive mail. The server checks deliverability over DNS; offline,
/// the emulator rejects the reserved names that check always rejects (e.g. `example.com`
/// publishes a null MX), so tests that pass here do not fail against Spaire.
const UNDELIVERABLE_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
const UNDELIVERABLE_SUFFIXES: &[&str] = &[".test", ".example", ".invalid", ".localhost", ".local"];

fn check_email(c: &mut Checker, value: &Value, loc: Vec<Value>) -> Option<String> {
    let email = c.string(value, loc.clone(), 0, None)?;
    let invalid = |c: &mut Checker, reason: String| {
        c.push(Detail::new(
            "value_error",
            loc.clone(),
            format!("value is not a valid email address: {reason}"),
            value.clone(),
        ));
    };
    let Some((local, domain)) = email.rsplit_once('@') else {
        invalid(c, "An email address must have an @-sign.".to_owned());
        return None;
    };
    if local.is_empty() || local.contains(char::is_whitespace) {
        invalid(c, "There must be something before the @-sign.".to_owned());
        return None;
    }
    let domain_lower = domain.to_ascii_lowercase();
    if !domain_lower.contains('.') || domain_lower.starts_with('.') || domain_lower.ends_with('.') {
        invalid(
            c,
            "The part after the @-sign is not valid. It should have a period.".to_owned(),
        );
        return None;
    }
    if UNDELIVERABLE_DOMAINS.contains(&domain_lower.as_str())
        || UNDELIVERABLE_SUFFIXES
            .iter()
            .any(|s| domain_lower.ends_with(s))
    {
        invalid(
            c,
            format!("The domain name {domain} does not accept email."),
        );
        return None;
    }
    Some(email)
}

fn avatar_url(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    format!(
        "https://www.gravatar.com/avatar/{}?d=404",
        hex_string(&digest)
    )
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn load(conn: &Connection, org: &str, id: &str) -> ApiResult<Value> {
    db::get_doc(conn, Kind::Customer, org, id)?
        .filter(|c| c["deleted_at"].is_null())
        .ok_or(ApiError::NotFound)
}

pub fn load_external(conn: &Connection, org: &str, external_id: &str) -> ApiResult<Value> {
    db::find_by_ext(conn, Kind::Customer, org, external_id)?
        .filter(|c| c["deleted_at"].is_null())
        .ok_or(ApiError::NotFound)
}

fn address(c: &mut Checker, value: &Value, loc: Vec<Value>) -> Option<Value> {
    let obj = c.object(value, &loc)?;
    let country = c
        .required(obj, "country", &loc)
        .and_then(|v| c.string(v, at(&loc, "country"), 2, Some(2)))?;
    let mut out = json!({"line1": null, "line2": null, "postal_code": null, "city": null, "state": null, "country": country.to_ascii_uppercase()});
    for key in ["line1", "line2", "postal_code", "city", "state"] {
        if let Some(v) = Checker::optional(obj, key) {
            out[key] = json!(c.string(v, at(&loc, key), 0, None)?);
        }
    }
    Some(out)
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = auth.require(scopes::CUSTOMERS_WRITE)?.to_owned();
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let email = c
        .required(obj, "email", &base)
        .and_then(|v| check_email(&mut c, v, at(&base, "email")));
    let external_id = Checker::optional(obj, "external_id")
        .and_then(|v| c.string(v, at(&base, "external_id"), 0, None))
        .filter(|e| !e.is_empty());
    let name =
        Checker::optional(obj, "name").and_then(|v| c.string(v, at(&base, "name"), 0, Some(256)));
    let kind = Checker::optional(obj, "type")
        .and_then(|v| c.enumeration(v, at(&base, "type"), &["individual", "team"]));
    let billing_address = Checker::optional(obj, "billing_address")
        .and_then(|v| address(&mut c, v, at(&base, "billing_address")));
    if let Some(tax_id) = Checker::optional(obj, "tax_id") {
        c.push(Detail::new(
            "value_error",
            at(&base, "tax_id"),
            "Value error, the emulator does not validate tax IDs; omit tax_id when testing locally",
            tax_id.clone(),
        ));
    }
    if let Some(owner) = Checker::optional(obj, "owner") {
        c.object(owner, &at(&base, "owner"));
    }
    let metadata = c.metadata(obj, &base);
    c.finish()?;
    reject_organization_id(obj, &base)?;
    let Some(email) = email else {
        return Err(ApiError::Internal("validated email missing".into()));
    };

    let conn = state.db();
    let existing = db::list_docs(&conn, Kind::Customer, &org)?;
    let live = existing.iter().filter(|c| c["deleted_at"].is_null());
    let mut details = Vec::new();
    if live.clone().any(|c| {
        c["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    }) {
        details.push(Detail::new(
            "value_error",
            loc!["body", "email"],
            "A customer with this email address already exists.",
            json!(email),
        ));
    }
    if let Some(ext) = &external_id
        && live
            .clone()
            .any(|c| c["external_id"].as_str() == Some(ext.as_str()))
    {
        details.push(Detail::new(
            "value_error",
            loc!["body", "external_id"],
            "A customer with this external ID already exists.",
            json!(ext),
        ));
    }
    if !details.is_empty() {
        return Err(ApiError::ServiceValidation(details));
    }
    let now = state.now();
    let doc = json!({
        "id": new_id(),
        "created_at": iso(now),
        "modified_at": null,
        "metadata": metadata.unwrap_or_default(),
        "external_id": external_id,
        "email": email,
        "email_verified": false,
        "type": kind.unwrap_or_else(|| "individual".to_owned()),
        "name": name,
        "billing_address": billing_address,
        "tax_id": null,
        "organization_id": org,
        "deleted_at": null,
        "avatar_url": avatar_url(&email),
        "members": [],
        "_owner_member_id": new_id(),
    });
    let customer_id = doc["id"].as_str().unwrap_or_default().to_owned();
    db::insert_doc(&conn, Kind::Customer, &org, external_id.as_deref(), &doc)?;
    insert_system_event(
        &conn,
        &org,
        "customer.created",
        &customer_id,
        &json!({
            "customer_id": customer_id,
            "customer_email": email,
            "customer_name": doc["name"],
            "customer_external_id": doc["external_id"],
        }),
        now.timestamp_micros(),
    )?;
    // Events ingested earlier under this external id start counting now.
    if let Some(ext) = &external_id {
        let has_events: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE org = ?1 AND external_customer_id = ?2)",
            rusqlite::params![org, ext],
            |row| row.get(0),
        )?;
        if has_events {
            balance::touch_customer(&conn, &org, &customer_id, now.timestamp_micros())?;
        }
    }
    let mut jobs = webhooks::emit(
        &conn,
        &state,
        &org,
        webhook_types::CUSTOMER_CREATED,
        customer_output(&doc),
    )?;
    let customer_state = state_json(&conn, &org, &doc)?;
    jobs.extend(webhooks::emit(
        &conn,
        &state,
        &org,
        webhook_types::CUSTOMER_STATE_CHANGED,
        customer_state,
    )?);
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok((StatusCode::CREATED, Json(public(&doc))))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::CUSTOMERS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(&["created_at", "email", "name"], "-created_at")?;
    let email = params.get("email").map(str::to_lowercase);
    let query = params.get("query").map(str::to_lowercase);
    let conn = state.db();
    let mut docs: Vec<Value> = db::list_docs(&conn, Kind::Customer, &org)?
        .into_iter()
        .filter(|c| c["deleted_at"].is_null())
        .filter(|c| {
            email
                .as_ref()
                .is_none_or(|e| c["email"].as_str().is_some_and(|x| x.to_lowercase() == *e))
        })
        .filter(|c| {
            query.as_ref().is_none_or(|q| {
                let has = |field: &str| {
                    c[field]
                        .as_str()
                        .is_some_and(|x| x.to_lowercase().contains(q))
                };
                has("email")
                    || has("name")
                    || c["external_id"]
                        .as_str()
                        .is_some_and(|x| x.to_lowercase().starts_with(q))
            })
        })
        .filter(|c| metadata_matches(c, &params))
        .map(|c| public(&c))
        .collect();
    sort_docs(&mut docs, &sorting, |name| name);
    Ok(Json(page.slice(docs)))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::CUSTOMERS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    Ok(Json(public(&load(&conn, &org, &id)?)))
}

pub async fn get_external(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(external_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::CUSTOMERS_READ)?.to_owned();
    let conn = state.db();
    Ok(Json(public(&load_external(&conn, &org, &external_id)?)))
}

pub async fn get_state(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::CUSTOMERS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let customer = load(&conn, &org, &id)?;
    Ok(Json(state_json(&conn, &org, &customer)?))
}

pub async fn get_state_external(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(external_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::CUSTOMERS_READ)?.to_owned();
    let conn = state.db();
    let customer = load_external(&conn, &org, &external_id)?;
    Ok(Json(state_json(&conn, &org, &customer)?))
}

/// `CustomerState`: the customer (without `members`) plus active subscriptions, granted
/// benefits and every customer-meter row with its balance.
pub fn state_json(conn: &Connection, org: &str, customer: &Value) -> ApiResult<Value> {
    let customer_id = customer["id"].as_str().unwrap_or_default();
    let mut value = customer_output(customer);
    let meters = db::list_docs(conn, Kind::Meter, org)?;
    let find_meter = |id: &str| meters.iter().find(|m| m["id"] == id);
    let mut active_meters = Vec::new();
    for row in balance::rows(conn, org, Some(customer_id))? {
        if let Some(meter) = find_meter(&row.meter_id) {
            let b = balance::compute(conn, org, customer, meter)?;
            active_meters.push(state_meter_json(&row, &b));
        }
    }
    let mut subscriptions = Vec::new();
    for sub in db::list_docs(conn, Kind::Subscription, org)? {
        if sub["customer_id"] != customer_id
            || !matches!(sub["status"].as_str(), Some("active" | "trialing"))
        {
            continue;
        }
        subscriptions.push(crate::billing::state_subscription_json(
            conn, org, customer, &sub, &meters,
        )?);
    }
    let grants: Vec<Value> = db::list_docs(conn, Kind::BenefitGrant, org)?
        .into_iter()
        .filter(|g| g["customer_id"] == customer_id && g["revoked_at"].is_null())
        .map(|g| {
            json!({
                "id": g["id"],
                "created_at": g["created_at"],
                "modified_at": g["modified_at"],
                "granted_at": g["granted_at"],
                "benefit_id": g["benefit_id"],
                "benefit_type": g["benefit"]["type"],
                "benefit_metadata": g["benefit"]["metadata"],
                // The server's `CustomerStateBenefitGrant` leaves these empty; the
                // `last_credited_*` fields are only in `benefit_grant.*` webhooks.
                "properties": {},
            })
        })
        .collect();
    value["active_subscriptions"] = json!(subscriptions);
    value["granted_benefits"] = json!(grants);
    value["active_meters"] = json!(active_meters);
    Ok(value)
}

const CUSTOMER_METER_SORTS: &[&str] = &[
    "created_at",
    "modified_at",
    "customer_id",
    "customer_name",
    "meter_id",
    "meter_name",
    "consumed_units",
    "credited_units",
    "balance",
];

pub async fn list_customer_meters(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::CUSTOMER_METERS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(CUSTOMER_METER_SORTS, "-modified_at")?;
    let customer_ids = params.uuids("customer_id")?;
    let meter_ids = params.uuids("meter_id")?;
    let external_ids = params.all("external_customer_id");
    let conn = state.db();
    let meters = db::list_docs(&conn, Kind::Meter, &org)?;
    let mut items = Vec::new();
    for row in balance::rows(&conn, &org, None)? {
        let Some(meter) = meters.iter().find(|m| m["id"] == row.meter_id.as_str()) else {
            continue;
        };
        // Archived meters are hidden unless asked for by id.
        if !meter_ids.is_empty() {
            if !meter_ids.contains(&row.meter_id) {
                continue;
            }
        } else if !meter["archived_at"].is_null() {
            continue;
        }
        if !customer_ids.is_empty() && !customer_ids.contains(&row.customer_id) {
            continue;
        }
        let Ok(customer) = load(&conn, &org, &row.customer_id) else {
            continue;
        };
        if !external_ids.is_empty()
            && !customer["external_id"]
                .as_str()
                .is_some_and(|e| external_ids.contains(&e))
        {
            continue;
        }
        let b = balance::compute(&conn, &org, &customer, meter)?;
        let mut item = customer_meter_json(&row, &b, &customer, meter);
        item["_modified"] = json!(row.modified_at.unwrap_or(row.created_at));
        item["_created"] = json!(row.created_at);
        item["_customer_name"] = customer["name"].clone();
        item["_meter_name"] = meter["name"].clone();
        items.push(item);
    }
    sort_docs(&mut items, &sorting, |name| match name {
        "created_at" => "_created",
        "modified_at" => "_modified",
        "customer_name" => "_customer_name",
        "meter_name" => "_meter_name",
        other => other,
    });
    let items: Vec<Value> = items.iter().map(public).collect();
    Ok(Json(page.slice(items)))
}

pub async fn get_customer_meter(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::CUSTOMER_METERS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let row = balance::row_by_id(&conn, &org, &id)?.ok_or(ApiError::NotFound)?;
    let customer = load(&conn, &org, &row.customer_id)?;
    let meter = crate::routes::meters::load(&conn, &org, &row.meter_id)?;
    let b = balance::compute(&conn, &org, &customer, &meter)?;
    Ok(Json(customer_meter_json(&row, &b, &customer, &meter)))
}
