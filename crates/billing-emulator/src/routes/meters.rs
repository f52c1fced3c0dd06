//! `/v1/meters/`: create, list, get, update (archive; filter/aggregation lock) and quantities.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::auth::{Auth, scopes};
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::filter::{Aggregation, Filter, parse_aggregation, parse_filter};
use crate::query::{Page, Params};
use crate::resources::{
    iso, metadata_matches, new_id, path_uuid, public, reject_organization_id, sort_docs,
};
use crate::state::AppState;
use crate::validate::{Checker, at, body_object, parse_body};
use crate::{loc, quantities};

/// A stored meter's compiled filter and aggregation.
pub struct MeterSql {
    pub filter: Filter,
    pub aggregation: Aggregation,
}

impl MeterSql {
    pub fn from_doc(doc: &Value) -> ApiResult<Self> {
        let filter = Filter::from_json(&doc["filter"])
            .ok_or_else(|| ApiError::Internal("stored meter filter is invalid".into()))?;
        let aggregation = Aggregation::from_json(&doc["aggregation"])
            .ok_or_else(|| ApiError::Internal("stored meter aggregation is invalid".into()))?;
        Ok(Self {
            filter,
            aggregation,
        })
    }

    /// The meter's SQL clause: filter AND the aggregation's type guard.
    pub fn clause(&self) -> String {
        format!(
            "({}) AND ({})",
            self.filter.to_sql(),
            self.aggregation.guard_sql()
        )
    }
}

pub fn load(conn: &Connection, org: &str, id: &str) -> ApiResult<Value> {
    db::get_doc(conn, Kind::Meter, org, id)?.ok_or(ApiError::NotFound)
}

/// True once any event matches: the emulator locks filter and aggregation immediately,
/// where the server waits for its next 15-minute billing run (documented difference).
fn has_matching_event(conn: &Connection, org: &str, meter: &MeterSql) -> ApiResult<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM events WHERE org = ?1 AND {})",
        meter.clause()
    );
    Ok(conn.query_row(&sql, [org], |row| row.get::<_, bool>(0))?)
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = auth.require(scopes::METERS_WRITE)?.to_owned();
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let name = c
        .required(obj, "name", &base)
        .and_then(|v| c.string(v, at(&base, "name"), 3, None));
    let filter = c
        .required(obj, "filter", &base)
        .and_then(|v| parse_filter(&mut c, v, &at(&base, "filter")));
    let aggregation = c
        .required(obj, "aggregation", &base)
        .and_then(|v| parse_aggregation(&mut c, v, &at(&base, "aggregation")));
    let metadata = c.metadata(obj, &base);
    c.finish()?;
    reject_organization_id(obj, &base)?;
    let (Some(name), Some(filter), Some(aggregation)) = (name, filter, aggregation) else {
        return Err(ApiError::Internal("validated meter fields missing".into()));
    };
    let now = iso(state.now());
    let meter = MeterSql {
        filter,
        aggregation,
    };
    let conn = state.db();
    let locked = has_matching_event(&conn, &org, &meter)?;
    let doc = json!({
        "id": new_id(),
        "created_at": now,
        // The server's create updates the new row (its `last_billed_event`) before
        // answering, so a new meter already has `modified_at`.
        "modified_at": now,
        "name": name,
        "filter": meter.filter.to_json(),
        "aggregation": meter.aggregation.to_json(),
        "organization_id": org,
        "archived_at": null,
        "metadata": metadata.unwrap_or_default(),
        "_locked": locked,
    });
    db::insert_doc(&conn, Kind::Meter, &org, None, &doc)?;
    Ok((StatusCode::CREATED, Json(public(&doc))))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::METERS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(&["name", "created_at"], "name")?;
    let archived = params.bool("is_archived")?;
    let query = params.get("query").map(str::to_lowercase);
    let conn = state.db();
    let mut docs: Vec<Value> = db::list_docs(&conn, Kind::Meter, &org)?
        .into_iter()
        .filter(|m| match archived {
            Some(wanted) => m["archived_at"].is_null() != wanted,
            None => true,
        })
        .filter(|m| match &query {
            Some(q) => m["name"]
                .as_str()
                .is_some_and(|n| n.to_lowercase().contains(q)),
            None => true,
        })
        .filter(|m| metadata_matches(m, &params))
        .map(|m| public(&m))
        .collect();
    sort_docs(&mut docs, &sorting, |name| name);
    Ok(Json(page.slice(docs)))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::METERS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    Ok(Json(public(&load(&conn, &org, &id)?)))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::METERS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let name = Checker::optional(obj, "name").and_then(|v| c.string(v, at(&base, "name"), 3, None));
    let filter = Checker::optional(obj, "filter")
        .and_then(|v| parse_filter(&mut c, v, &at(&base, "filter")));
    let aggregation = Checker::optional(obj, "aggregation")
        .and_then(|v| parse_aggregation(&mut c, v, &at(&base, "aggregation")));
    let metadata = c.metadata(obj, &base);
    let archive =
        Checker::optional(obj, "is_archived").and_then(|v| c.bool(v, at(&base, "is_archived")));
    c.finish()?;

    let conn = state.db();
    let mut doc = load(&conn, &org, &id)?;
    let current = MeterSql::from_doc(&doc)?;
    let changes_definition = filter.as_ref().is_some_and(|f| f != &current.filter)
        || aggregation
            .as_ref()
            .is_some_and(|a| a != &current.aggregation);
    if changes_definition
        && (doc["_locked"] == json!(true) || has_matching_event(&conn, &org, &current)?)
    {
        let mut details = Vec::new();
        for (field, sent) in [
            ("filter", filter.is_some()),
            ("aggregation", aggregation.is_some()),
        ] {
            if sent {
                details.push(Detail::new(
                    "forbidden",
                    loc!["body", field],
                    "This field can't be updated because the meter is already aggregating events.",
                    obj[field].clone(),
                ));
            }
        }
        return Err(ApiError::ServiceValidation(details));
    }
    if archive == Some(true) && doc["archived_at"].is_null() && meter_in_use(&conn, &org, &id)? {
        return Err(ApiError::service(Detail::new(
            "value_error",
            loc!["body", "is_archived"],
            "Meter is used by an active product price or meter credit benefit and can't be archived.",
            json!(true),
        )));
    }
    if let Some(name) = name {
        doc["name"] = json!(name);
    }
    if let Some(filter) = filter {
        doc["filter"] = filter.to_json();
    }
    if let Some(aggregation) = aggregation {
        doc["aggregation"] = aggregation.to_json();
    }
    if let Some(metadata) = metadata {
        doc["metadata"] = Value::Object(metadata);
    }
    if changes_definition {
        crate::meter_values::forget(&conn, &id)?;
    }
    match archive {
        Some(true) if doc["archived_at"].is_null() => doc["archived_at"] = json!(iso(state.now())),
        Some(false) => doc["archived_at"] = Value::Null,
        _ => {}
    }
    doc["modified_at"] = json!(iso(state.now()));
    db::update_doc(&conn, &doc, None)?;
    Ok(Json(public(&doc)))
}

/// Used by a non-archived metered price of a non-archived product, or by a benefit.
fn meter_in_use(conn: &Connection, org: &str, meter_id: &str) -> ApiResult<bool> {
    let in_price = db::list_docs(conn, Kind::Product, org)?.iter().any(|p| {
        p["is_archived"] != json!(true)
            && p["_all_prices"].as_array().is_some_and(|prices| {
                prices.iter().any(|price| {
                    price["is_archived"] != json!(true) && price["meter_id"] == meter_id
                })
            })
    });
    let in_benefit = db::list_docs(conn, Kind::Benefit, org)?
        .iter()
        .any(|b| b["properties"]["meter_id"] == meter_id && b["_deleted"] != json!(true));
    Ok(in_price || in_benefit)
}

pub async fn get_quantities(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::METERS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let params = Params::parse(raw.as_deref());
    let request = quantities::Request::from_params(&params)?;
    let conn = state.db();
    let doc = load(&conn, &org, &id)?;
    let meter = MeterSql::from_doc(&doc)?;
    Ok(Json(quantities::compute(
        &conn, &org, &id, &meter, &request,
    )?))
}
