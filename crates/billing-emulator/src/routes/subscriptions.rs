//! `POST /v1/subscriptions/` (free products only, no order), `GET /v1/subscriptions/`,
//! `GET /v1/subscriptions/{id}` and `GET /v1/orders/` (issue 19, item 7), with the server's
//! validation (`subscription/service.py::create`). Paid subscriptions still start through
//! `/_emulator/subscriptions`, the stand-in for checkout.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::auth::{Auth, scopes};
use crate::billing::{self, Start};
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::loc;
use crate::query::{Page, Params};
use crate::resources::{metadata_matches, path_uuid, public, sort_docs};
use crate::routes::{customers, products};
use crate::state::AppState;
use crate::validate::{Checker, at, body_object, parse_body};
use crate::webhooks;

const CUSTOMER_SHAPE: &str = "SubscriptionCreateCustomer";
const EXTERNAL_SHAPE: &str = "SubscriptionCreateExternalCustomer";

/// The product's default price is free (`PriceSet.get_default_price` then `is_free_price`):
/// its first static price, or its first price when it has only metered ones.
fn has_free_default_price(product: &Value) -> bool {
    let prices: Vec<&Value> = product["_all_prices"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|p| p["is_archived"] != json!(true))
                .collect()
        })
        .unwrap_or_default();
    let default = prices
        .iter()
        .find(|p| p["amount_type"] != "metered_unit")
        .or(prices.first());
    default.is_some_and(|p| p["amount_type"] == "free")
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = auth.require(scopes::SUBSCRIPTIONS_WRITE)?.to_owned();
    let body = parse_body(&body)?;
    let obj = body_object(&body)?;
    // A union of two shapes: the customer-id one when `customer_id` is sent.
    let shape = if obj.contains_key("customer_id") || !obj.contains_key("external_customer_id") {
        CUSTOMER_SHAPE
    } else {
        EXTERNAL_SHAPE
    };
    let base = loc!["body", shape];
    let mut c = Checker::new();
    let product_id = c
        .required(obj, "product_id", &base)
        .and_then(|v| c.uuid4(v, at(&base, "product_id")));
    let customer_ref = if shape == CUSTOMER_SHAPE {
        c.required(obj, "customer_id", &base)
            .and_then(|v| c.uuid4(v, at(&base, "customer_id")))
            .map(|id| id.to_string())
    } else {
        c.required(obj, "external_customer_id", &base)
            .and_then(|v| c.string(v, at(&base, "external_customer_id"), 0, None))
    };
    let metadata = c.metadata(obj, &base);
    c.finish()?;
    let (Some(product_id), Some(customer_ref)) = (product_id, customer_ref) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let mut conn = state.db();
    let mut errors = Vec::new();
    let product = products::load(&conn, &org, &product_id.to_string()).ok();
    let product_error = match &product {
        None => Some("Product does not exist."),
        Some(p) if p["recurring_interval"].is_null() => Some("Product is not a recurring product."),
        Some(p) if !has_free_default_price(p) => Some(
            "Product is not free. The customer should go through a checkout to create a paid subscription.",
        ),
        Some(_) => None,
    };
    if let Some(msg) = product_error {
        errors.push(Detail::new(
            "value_error",
            loc!["body", "product_id"],
            msg,
            json!(product_id.to_string()),
        ));
    }
    let (field, customer) = if shape == CUSTOMER_SHAPE {
        (
            "customer_id",
            customers::load(&conn, &org, &customer_ref).ok(),
        )
    } else {
        (
            "external_customer_id",
            customers::load_external(&conn, &org, &customer_ref).ok(),
        )
    };
    if customer.is_none() {
        errors.push(Detail::new(
            "value_error",
            loc!["body", field],
            "Customer does not exist.",
            json!(customer_ref),
        ));
    }
    let (Some(product), Some(customer)) = (product, customer) else {
        return Err(ApiError::ServiceValidation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::ServiceValidation(errors));
    }
    let tx = conn.transaction()?;
    let (subscription, jobs) = billing::start_subscription(
        &tx,
        &state,
        &org,
        &customer,
        &product,
        Start::FreeWithoutOrder,
        json!(metadata.unwrap_or_default()),
    )?;
    tx.commit()?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok((StatusCode::CREATED, Json(subscription)))
}

fn payload(conn: &Connection, org: &str, sub: &Value) -> ApiResult<Value> {
    let customer_id = sub["customer_id"].as_str().unwrap_or_default();
    let customer = db::get_doc(conn, Kind::Customer, org, customer_id)?
        .ok_or_else(|| ApiError::Internal("subscription customer vanished".into()))?;
    billing::subscription_payload(conn, org, &customer, sub)
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::SUBSCRIPTIONS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let sub = db::get_doc(&conn, Kind::Subscription, &org, &id)?.ok_or(ApiError::NotFound)?;
    Ok(Json(payload(&conn, &org, &sub)?))
}

/// Keeps documents whose `field` is one of the repeated query values (all when none sent).
fn any_of(params: &Params, key: &str, doc: &Value, field: &str) -> bool {
    let wanted = params.all(key);
    wanted.is_empty() || wanted.iter().any(|w| doc[field] == *w)
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::SUBSCRIPTIONS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(
        &["started_at", "current_period_end", "status"],
        "-started_at",
    )?;
    params.uuids("customer_id")?;
    params.uuids("product_id")?;
    let active = params.bool("active")?;
    let conn = state.db();
    let mut docs = Vec::new();
    for sub in db::list_docs(&conn, Kind::Subscription, &org)? {
        let is_active = matches!(sub["status"].as_str(), Some("active" | "trialing"));
        if any_of(&params, "customer_id", &sub, "customer_id")
            && any_of(&params, "product_id", &sub, "product_id")
            && active.is_none_or(|wanted| wanted == is_active)
            && metadata_matches(&sub, &params)
        {
            docs.push(payload(&conn, &org, &sub)?);
        }
    }
    sort_docs(&mut docs, &sorting, |name| name);
    Ok(Json(page.slice(docs)))
}

pub async fn list_orders(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::ORDERS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(
        &[
            "created_at",
            "status",
            "invoice_number",
            "amount",
            "net_amount",
        ],
        "-created_at",
    )?;
    params.uuids("customer_id")?;
    params.uuids("product_id")?;
    let externals = params.all("external_customer_id");
    let conn = state.db();
    let mut docs: Vec<Value> = db::list_docs(&conn, Kind::Order, &org)?
        .into_iter()
        .filter(|o| any_of(&params, "customer_id", o, "customer_id"))
        .filter(|o| any_of(&params, "product_id", o, "product_id"))
        .filter(|o| {
            externals.is_empty() || externals.iter().any(|e| o["customer"]["external_id"] == *e)
        })
        .filter(|o| metadata_matches(o, &params))
        .map(|o| public(&o))
        .collect();
    sort_docs(&mut docs, &sorting, |name| match name {
        "amount" => "total_amount",
        other => other,
    });
    Ok(Json(page.slice(docs)))
}
