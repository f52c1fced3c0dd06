//! `/v1/products/`: create, list, get, update with the full-replacement price list, and
//! `POST /v1/products/{id}/benefits` (api-reference §4, §5).

use billing_vocab::webhook::types as webhook_types;
use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::auth::{Auth, scopes};
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::loc;
use crate::query::{Page, Params};
use crate::resources::{
    iso, metadata_matches, new_id, path_uuid, public, reject_organization_id, sort_docs,
};
use crate::state::AppState;
use crate::validate::{Checker, Obj, at, body_object, parse_body};
use crate::{billing, webhooks};

const RECURRING_INTERVALS: &[&str] = &["day", "week", "month", "year"];
const VISIBILITIES: &[&str] = &["draft", "private", "public"];
const STATIC_TYPES: &[&str] = &["fixed", "custom", "free"];
const AMOUNT_TYPES: &[&str] = &["fixed", "custom", "free", "seat_based", "metered_unit"];

pub fn load(conn: &Connection, org: &str, id: &str) -> ApiResult<Value> {
    db::get_doc(conn, Kind::Product, org, id)?.ok_or(ApiError::NotFound)
}

/// The decimal rules of `unit_amount`: > 0, at most 5 integer digits and 12 decimals.
fn parse_unit_amount(c: &mut Checker, value: &Value, loc: Vec<Value>) -> Option<Decimal> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => {
            c.push(Detail::new(
                "decimal_type",
                loc,
                "Decimal input should be an integer, float, string or Decimal object",
                value.clone(),
            ));
            return None;
        }
    };
    let Ok(amount) = Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)) else {
        c.push(Detail::new(
            "decimal_parsing",
            loc,
            "Input should be a valid decimal",
            value.clone(),
        ));
        return None;
    };
    let amount = amount.normalize();
    if amount <= Decimal::ZERO {
        c.push(
            Detail::new(
                "greater_than",
                loc,
                "Input should be greater than 0",
                value.clone(),
            )
            .with_ctx(json!({"gt": 0})),
        );
        return None;
    }
    if amount.trunc().to_string().len() > 5 {
        c.push(
            Detail::new(
                "decimal_whole_digits",
                loc,
                "Decimal input should have no more than 5 digits before the decimal point",
                value.clone(),
            )
            .with_ctx(json!({"whole_digits": 5})),
        );
        return None;
    }
    if amount.scale() > 12 {
        c.push(
            Detail::new(
                "decimal_max_places",
                loc,
                "Decimal input should have no more than 12 decimal places",
                value.clone(),
            )
            .with_ctx(json!({"decimal_places": 12})),
        );
        return None;
    }
    Some(amount)
}

/// Validates one new price (discriminated by `amount_type`) and returns its stored form.
fn parse_new_price(
    c: &mut Checker,
    conn: &Connection,
    org: &str,
    value: &Value,
    loc: Vec<Value>,
    service: &mut Vec<Detail>,
) -> ApiResult<Option<Value>> {
    let Some(obj) = c.object(value, &loc) else {
        return Ok(None);
    };
    let Some(amount_type) = obj
        .get("amount_type")
        .and_then(Value::as_str)
        .filter(|t| AMOUNT_TYPES.contains(t))
    else {
        c.push(Detail::new(
            "union_tag_invalid",
            loc,
            "Input tag found using 'amount_type' does not match any of the expected tags: 'fixed', 'custom', 'free', 'seat_based', 'metered_unit'",
            value.clone(),
        ).with_ctx(json!({"discriminator": "'amount_type'", "expected_tags": "'fixed', 'custom', 'free', 'seat_based', 'metered_unit'"})));
        return Ok(None);
    };
    let loc = at(&loc, amount_type);
    let before = c.errors.len();
    let currency = match Checker::optional(obj, "price_currency") {
        Some(v) => c
            .string(v, at(&loc, "price_currency"), 3, Some(3))
            .map(|s| s.to_lowercase()),
        None => Some("usd".to_owned()),
    };
    let tax_behavior = Checker::optional(obj, "tax_behavior").and_then(|v| {
        c.enumeration(
            v,
            at(&loc, "tax_behavior"),
            &["location", "inclusive", "exclusive"],
        )
    });
    let mut price = json!({
        "id": new_id(),
        "source": "catalog",
        "amount_type": amount_type,
        "price_currency": currency,
        "tax_behavior": tax_behavior,
        "is_archived": false,
    });
    match amount_type {
        "fixed" => {
            let amount = c
                .required(obj, "price_amount", &loc)
                .and_then(|v| c.int(v, at(&loc, "price_amount"), Some(50), Some(99_999_999)));
            price["price_amount"] = json!(amount);
        }
        "custom" => {
            let minimum = match Checker::optional(obj, "minimum_amount") {
                Some(v) => c.int(v, at(&loc, "minimum_amount"), Some(0), Some(99_999_999)),
                None => Some(50),
            };
            if let Some(m) = minimum
                && (1..50).contains(&m)
            {
                c.push(Detail::new(
                    "value_error",
                    at(&loc, "minimum_amount"),
                    "Value error, Amount must be 0 or at least 50 cents.",
                    json!(m),
                ));
            }
            let maximum = Checker::optional(obj, "maximum_amount")
                .and_then(|v| c.int(v, at(&loc, "maximum_amount"), Some(50), Some(99_999_999)));
            let preset = Checker::optional(obj, "preset_amount")
                .and_then(|v| c.int(v, at(&loc, "preset_amount"), Some(0), Some(99_999_999)));
            price["minimum_amount"] = json!(minimum);
            price["maximum_amount"] = json!(maximum);
            price["preset_amount"] = json!(preset);
        }
        "free" => {}
        "seat_based" => {
            service.push(Detail::new(
                "value_error",
                loc.clone(),
                "Seat-based pricing is not enabled for this organization.",
                value.clone(),
            ));
        }
        _ => {
            let meter_id = c
                .required(obj, "meter_id", &loc)
                .and_then(|v| c.uuid4(v, at(&loc, "meter_id")));
            let unit_amount = c
                .required(obj, "unit_amount", &loc)
                .and_then(|v| parse_unit_amount(c, v, at(&loc, "unit_amount")));
            let cap_amount = Checker::optional(obj, "cap_amount")
                .and_then(|v| c.int(v, at(&loc, "cap_amount"), Some(0), Some(2_147_483_647)));
            if let Some(meter_id) = meter_id {
                match db::get_doc(conn, Kind::Meter, org, &meter_id.to_string())? {
                    Some(meter) => {
                        price["meter"] = json!({"id": meter["id"], "name": meter["name"]})
                    }
                    None => service.push(Detail::new(
                        "value_error",
                        at(&loc[..loc.len() - 1], "meter_id"),
                        "Meter does not exist.",
                        json!(meter_id.to_string()),
                    )),
                }
                price["meter_id"] = json!(meter_id.to_string());
            }
            // The server stores NUMERIC and returns the decimal string with 12 places.
            price["unit_amount"] = json!(unit_amount.map(|a| format!("{:.12}", a)));
            price["cap_amount"] = json!(cap_amount);
        }
    }
    Ok((c.errors.len() == before).then_some(price))
}

/// Price-set rules (create and update): one static price and one price per meter per
/// currency, the same structure in every currency, `usd` present, no metered prices on
/// one-time products.
fn check_price_set(prices: &[Value], recurring: bool) -> Vec<Detail> {
    let mut details = Vec::new();
    let loc = loc!["body", "prices"];
    let mut per_currency: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for price in prices {
        let currency = price["price_currency"].as_str().unwrap_or("usd").to_owned();
        let entry = per_currency.entry(currency).or_default();
        let kind = price["amount_type"].as_str().unwrap_or_default();
        if STATIC_TYPES.contains(&kind) {
            entry.0 += 1;
        }
        if kind == "metered_unit" {
            entry
                .1
                .push(price["meter_id"].as_str().unwrap_or_default().to_owned());
        }
    }
    let input = json!(prices.iter().map(public).collect::<Vec<_>>());
    let mut push = |msg: &str| {
        details.push(Detail::new(
            "value_error",
            loc.clone(),
            msg.to_owned(),
            input.clone(),
        ))
    };
    if per_currency.values().any(|(statics, _)| *statics > 1) {
        push("Only one static price is allowed per currency.");
    }
    if per_currency
        .values()
        .any(|(_, meters)| meters.iter().collect::<HashSet<_>>().len() != meters.len())
    {
        push("Only one metered price is allowed per meter and currency.");
    }
    let shapes: HashSet<(usize, usize)> =
        per_currency.values().map(|(s, m)| (*s, m.len())).collect();
    if shapes.len() > 1 {
        push("All currencies must have the same price structure.");
    }
    if !per_currency.contains_key("usd") {
        push("The organization's default presentment currency (usd) must have a price.");
    }
    if !recurring && per_currency.values().any(|(_, meters)| !meters.is_empty()) {
        push("Metered pricing is not supported on one-time products.");
    }
    details
}

/// The `Product` output: live prices (static first, then metered) and full benefits.
pub fn product_json(conn: &Connection, org: &str, doc: &Value) -> ApiResult<Value> {
    let mut out = public(doc);
    let recurring_interval = doc["recurring_interval"].clone();
    let all: Vec<Value> = doc["_all_prices"].as_array().cloned().unwrap_or_default();
    let live = all.iter().filter(|p| p["is_archived"] != json!(true));
    let (statics, metered): (Vec<&Value>, Vec<&Value>) =
        live.partition(|p| p["amount_type"] != "metered_unit");
    let prices: Vec<Value> = statics
        .into_iter()
        .chain(metered)
        .map(|p| {
            let mut p = p.clone();
            // Deprecated fields still sent by the server.
            p["type"] = json!(if recurring_interval.is_null() {
                "one_time"
            } else {
                "recurring"
            });
            p["recurring_interval"] = recurring_interval.clone();
            p
        })
        .collect();
    out["prices"] = json!(prices);
    let mut benefits = Vec::new();
    for id in doc["_benefit_ids"].as_array().cloned().unwrap_or_default() {
        if let Some(benefit) =
            db::get_doc(conn, Kind::Benefit, org, id.as_str().unwrap_or_default())?
        {
            benefits.push(public(&benefit));
        }
    }
    out["benefits"] = json!(benefits);
    Ok(out)
}

fn parse_common(c: &mut Checker, obj: &Obj, base: &[Value], out: &mut Value, creating: bool) {
    let name = if creating {
        c.required(obj, "name", base)
            .and_then(|v| c.string(v, at(base, "name"), 3, None))
    } else {
        Checker::optional(obj, "name").and_then(|v| c.string(v, at(base, "name"), 3, None))
    };
    if let Some(name) = name {
        out["name"] = json!(name);
    }
    if obj.contains_key("description") {
        let description = Checker::optional(obj, "description")
            .and_then(|v| c.string(v, at(base, "description"), 0, None));
        out["description"] = json!(description);
    }
    if let Some(v) = Checker::optional(obj, "visibility")
        && let Some(visibility) = c.enumeration(v, at(base, "visibility"), VISIBILITIES)
    {
        out["visibility"] = json!(visibility);
    }
    if let Some(metadata) = c.metadata(obj, base) {
        out["metadata"] = Value::Object(metadata);
    }
    for key in ["medias", "attached_custom_fields"] {
        if let Some(v) = Checker::optional(obj, key)
            && let Some(list) = c.list(v, at(base, key))
            && !list.is_empty()
        {
            c.push(Detail::new(
                "value_error",
                at(base, key),
                format!("Value error, the emulator does not store {key}; send an empty list"),
                v.clone(),
            ));
        }
    }
    let trial_interval = Checker::optional(obj, "trial_interval")
        .and_then(|v| c.enumeration(v, at(base, "trial_interval"), RECURRING_INTERVALS));
    let trial_count = Checker::optional(obj, "trial_interval_count")
        .and_then(|v| c.int(v, at(base, "trial_interval_count"), Some(1), Some(1000)));
    if trial_interval.is_some() != trial_count.is_some()
        && (obj.contains_key("trial_interval") || obj.contains_key("trial_interval_count"))
    {
        c.push(Detail::new(
            "value_error",
            base.to_vec(),
            "Value error, trial_interval and trial_interval_count must be set together.",
            Value::Object(obj.clone()),
        ));
    }
    if trial_interval.is_some() {
        out["trial_interval"] = json!(trial_interval);
        out["trial_interval_count"] = json!(trial_count);
    }
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = auth.require(scopes::PRODUCTS_WRITE)?.to_owned();
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let now = iso(state.now());
    let product_id = new_id();
    let mut doc = json!({
        "id": product_id,
        "created_at": now,
        "modified_at": null,
        "trial_interval": null,
        "trial_interval_count": null,
        "name": null,
        "description": null,
        "visibility": "public",
        "recurring_interval": null,
        "recurring_interval_count": null,
        "is_recurring": false,
        "is_archived": false,
        "organization_id": org,
        "metadata": {},
        "medias": [],
        "attached_custom_fields": [],
        "category": null,
        "product_type": "digital",
        "_all_prices": [],
        "_benefit_ids": [],
    });
    parse_common(&mut c, obj, &base, &mut doc, true);
    let recurring = Checker::optional(obj, "recurring_interval")
        .and_then(|v| c.enumeration(v, at(&base, "recurring_interval"), RECURRING_INTERVALS));
    if let Some(interval) = &recurring {
        let count = match Checker::optional(obj, "recurring_interval_count") {
            Some(v) => c.int(v, at(&base, "recurring_interval_count"), Some(1), Some(999)),
            None => Some(1),
        };
        doc["recurring_interval"] = json!(interval);
        doc["recurring_interval_count"] = json!(count);
        doc["is_recurring"] = json!(true);
    } else if !doc["trial_interval"].is_null() {
        c.push(Detail::new(
            "value_error",
            at(&base, "trial_interval"),
            "Value error, Trial periods are only supported on recurring products.",
            doc["trial_interval"].clone(),
        ));
    }
    let conn = state.db();
    let mut service = Vec::new();
    let mut prices = Vec::new();
    if let Some(list) = c
        .required(obj, "prices", &base)
        .and_then(|v| c.list(v, at(&base, "prices")))
    {
        if list.is_empty() {
            c.push(
                Detail::new(
                    "too_short",
                    at(&base, "prices"),
                    "List should have at least 1 item after validation, not 0",
                    json!([]),
                )
                .with_ctx(json!({"field_type": "List", "min_length": 1, "actual_length": 0})),
            );
        }
        for (i, item) in list.iter().enumerate() {
            if let Some(mut price) = parse_new_price(
                &mut c,
                &conn,
                &org,
                item,
                loc!["body", "prices", i],
                &mut service,
            )? {
                price["created_at"] = json!(now);
                price["modified_at"] = Value::Null;
                price["product_id"] = json!(product_id);
                prices.push(price);
            }
        }
    }
    c.finish()?;
    reject_organization_id(obj, &base)?;
    service.extend(check_price_set(&prices, recurring.is_some()));
    if !service.is_empty() {
        return Err(ApiError::ServiceValidation(service));
    }
    doc["_all_prices"] = json!(prices);
    db::insert_doc(&conn, Kind::Product, &org, None, &doc)?;
    let out = product_json(&conn, &org, &doc)?;
    let jobs = webhooks::emit(
        &conn,
        &state,
        &org,
        webhook_types::PRODUCT_CREATED,
        out.clone(),
    )?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok((StatusCode::CREATED, Json(out)))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::PRODUCTS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(
        &["created_at", "name", "price_amount_type", "price_amount"],
        "-created_at",
    )?;
    let archived = params.bool("is_archived")?;
    let recurring = params.bool("is_recurring")?;
    let ids = params.uuids("id")?;
    let benefit_ids = params.uuids("benefit_id")?;
    let visibilities = params.all("visibility");
    let query = params.get("query").map(str::to_lowercase);
    let conn = state.db();
    let mut docs = Vec::new();
    for (seq, doc) in db::list_docs(&conn, Kind::Product, &org)?
        .into_iter()
        .enumerate()
    {
        // Archived products are included unless `is_archived=false`.
        if archived == Some(false) && doc["is_archived"] == json!(true) {
            continue;
        }
        if archived == Some(true) && doc["is_archived"] != json!(true) {
            continue;
        }
        if recurring.is_some_and(|r| doc["is_recurring"] != json!(r)) {
            continue;
        }
        if !ids.is_empty() && !ids.iter().any(|id| doc["id"] == id.as_str()) {
            continue;
        }
        if !benefit_ids.is_empty()
            && !doc["_benefit_ids"].as_array().is_some_and(|b| {
                b.iter()
                    .any(|x| benefit_ids.iter().any(|id| x == id.as_str()))
            })
        {
            continue;
        }
        if !visibilities.is_empty() && !visibilities.iter().any(|v| doc["visibility"] == *v) {
            continue;
        }
        if let Some(q) = &query
            && !doc["name"]
                .as_str()
                .is_some_and(|n| n.to_lowercase().contains(q))
        {
            continue;
        }
        if !metadata_matches(&doc, &params) {
            continue;
        }
        let mut out = product_json(&conn, &org, &doc)?;
        let first = out["prices"].get(0).cloned().unwrap_or(Value::Null);
        out["_price_amount_type"] = first["amount_type"].clone();
        out["_price_amount"] = first["price_amount"].clone();
        out["_seq"] = json!(seq);
        docs.push(out);
    }
    sort_docs(&mut docs, &sorting, |name| match name {
        "price_amount_type" => "_price_amount_type",
        "price_amount" => "_price_amount",
        "created_at" => "_seq",
        other => other,
    });
    let docs: Vec<Value> = docs.iter().map(public).collect();
    Ok(Json(page.slice(docs)))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::PRODUCTS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let doc = load(&conn, &org, &id)?;
    Ok(Json(product_json(&conn, &org, &doc)?))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::PRODUCTS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let conn = state.db();
    let mut doc = load(&conn, &org, &id)?;
    parse_common(&mut c, obj, &base, &mut doc, false);
    let archive =
        Checker::optional(obj, "is_archived").and_then(|v| c.bool(v, at(&base, "is_archived")));
    let mut service = Vec::new();
    if let Some(v) = Checker::optional(obj, "recurring_interval")
        && let Some(interval) =
            c.enumeration(v, at(&base, "recurring_interval"), RECURRING_INTERVALS)
        && doc["recurring_interval"] != json!(interval)
    {
        service.push(Detail::new(
            "value_error",
            loc!["body", "recurring_interval"],
            "Recurring interval cannot be changed.",
            v.clone(),
        ));
    }
    if doc["recurring_interval"].is_null() && (Checker::optional(obj, "trial_interval").is_some()) {
        service.push(Detail::new(
            "value_error",
            loc!["body", "trial_interval"],
            "Trial periods are only supported on recurring products.",
            obj["trial_interval"].clone(),
        ));
    }
    let now = iso(state.now());
    let mut all_prices: Vec<Value> = doc["_all_prices"].as_array().cloned().unwrap_or_default();
    if let Some(list) =
        Checker::optional(obj, "prices").and_then(|v| c.list(v, at(&base, "prices")))
    {
        let mut keep: Vec<String> = Vec::new();
        let mut added = Vec::new();
        for (i, item) in list.iter().enumerate() {
            // Any item carrying an `id` means "keep this existing price"; its other fields
            // are ignored, so full price objects copied from a GET can be sent back.
            if let Some(price_id) = item.get("id") {
                let Some(uuid) = c.uuid4(
                    price_id,
                    loc!["body", "prices", i, "ExistingProductPrice", "id"],
                ) else {
                    continue;
                };
                let uuid = uuid.to_string();
                if all_prices
                    .iter()
                    .any(|p| p["id"] == uuid.as_str() && p["is_archived"] != json!(true))
                {
                    keep.push(uuid);
                } else {
                    service.push(Detail::new(
                        "value_error",
                        loc!["body", "prices", i],
                        "Price does not exist.",
                        price_id.clone(),
                    ));
                }
                continue;
            }
            if let Some(mut price) = parse_new_price(
                &mut c,
                &conn,
                &org,
                item,
                loc!["body", "prices", i],
                &mut service,
            )? {
                price["created_at"] = json!(now);
                price["modified_at"] = Value::Null;
                price["product_id"] = json!(id);
                added.push(price);
            }
        }
        if c.is_ok() && service.is_empty() {
            let mut resulting: Vec<Value> = all_prices
                .iter()
                .filter(|p| {
                    p["is_archived"] != json!(true) && keep.iter().any(|k| p["id"] == k.as_str())
                })
                .cloned()
                .collect();
            resulting.extend(added.iter().cloned());
            service.extend(check_price_set(
                &resulting,
                !doc["recurring_interval"].is_null(),
            ));
            for price in all_prices.iter_mut() {
                if price["is_archived"] != json!(true)
                    && !keep.iter().any(|k| price["id"] == k.as_str())
                {
                    price["is_archived"] = json!(true);
                    price["modified_at"] = json!(now);
                }
            }
            all_prices.extend(added);
        }
    }
    c.finish()?;
    reject_organization_id(obj, &base)?;
    if !service.is_empty() {
        return Err(ApiError::ServiceValidation(service));
    }
    doc["_all_prices"] = json!(all_prices);
    if let Some(archive) = archive {
        doc["is_archived"] = json!(archive);
    }
    doc["modified_at"] = json!(now);
    db::update_doc(&conn, &doc, None)?;
    let out = product_json(&conn, &org, &doc)?;
    let jobs = webhooks::emit(
        &conn,
        &state,
        &org,
        webhook_types::PRODUCT_UPDATED,
        out.clone(),
    )?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok(Json(out))
}

pub async fn update_benefits(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::PRODUCTS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let mut ids = Vec::new();
    if let Some(list) = c
        .required(obj, "benefits", &base)
        .and_then(|v| c.list(v, at(&base, "benefits")))
    {
        for (i, item) in list.iter().enumerate() {
            if let Some(uuid) = c.uuid4(item, loc!["body", "benefits", i]) {
                ids.push(uuid.to_string());
            }
        }
    }
    c.finish()?;
    let mut conn = state.db();
    let mut doc = load(&conn, &org, &id)?;
    let current: Vec<String> = doc["_benefit_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let mut details = Vec::new();
    for (i, benefit_id) in ids.iter().enumerate() {
        match db::get_doc(&conn, Kind::Benefit, &org, benefit_id)? {
            None => details.push(Detail::new(
                "value_error",
                loc!["body", "benefits", i],
                "Benefit does not exist.",
                json!(benefit_id),
            )),
            Some(b) if b["selectable"] != json!(true) && !current.contains(benefit_id) => {
                details.push(Detail::new(
                    "value_error",
                    loc!["body", "benefits", i],
                    "Benefit is not selectable.",
                    json!(benefit_id),
                ));
            }
            Some(_) => {}
        }
    }
    if !details.is_empty() {
        return Err(ApiError::ServiceValidation(details));
    }
    let mut unique: Vec<String> = Vec::new();
    for benefit_id in ids {
        if !unique.contains(&benefit_id) {
            unique.push(benefit_id);
        }
    }
    let changed = unique != current;
    doc["_benefit_ids"] = json!(unique);
    doc["modified_at"] = json!(iso(state.now()));
    let tx = conn.transaction()?;
    db::update_doc(&tx, &doc, None)?;
    let mut jobs = Vec::new();
    if changed {
        // The server re-evaluates grants asynchronously; the emulator does it right away.
        jobs = billing::sync_product_benefits(&tx, &state, &org, &doc, &current)?;
    }
    let out = product_json(&tx, &org, &doc)?;
    jobs.extend(webhooks::emit(
        &tx,
        &state,
        &org,
        webhook_types::PRODUCT_UPDATED,
        out.clone(),
    )?);
    tx.commit()?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok(Json(out))
}
