//! Subscriptions, orders and meter-credit grants, driven by the emulator-only endpoints
//! (`/_emulator/subscriptions`, `/_emulator/clock/advance`) because checkout and payment
//! cannot happen offline. The balance effects follow api-reference §5 and §10:
//!
//! * subscribing resets each metered meter (after a rollover computation), then grants every
//!   meter-credit benefit (`meter.credited` with the benefit's `rollover` flag);
//! * a renewal bills the ending period (`unit_amount × max(0, consumed − credited)`, capped),
//!   resets each metered meter with the rollover carry-over
//!   `max(0, min(int(credited − consumed), rollover-flagged credits))`, then credits again.

use billing_vocab::webhook::types as webhook_types;
use std::str::FromStr;

use chrono::{DateTime, Months, Utc};
use rusqlite::Connection;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use crate::balance::{self, customer_output};
use crate::billing_job;
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult};
use crate::resources::{iso, new_id, public};
use crate::routes::customers::state_json;
use crate::routes::events::insert_system_event;
use crate::routes::products::product_json;
use crate::state::AppState;
use crate::system_events;
use crate::webhooks::{self, Job};

fn parse_iso(text: &Value) -> Option<DateTime<Utc>> {
    text.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|dt| dt.with_timezone(&Utc))
}

/// The end of a billing period that starts at `start`.
pub fn period_end(start: DateTime<Utc>, interval: &str, count: u32) -> Option<DateTime<Utc>> {
    match interval {
        "day" => Some(start + chrono::Duration::days(i64::from(count))),
        "week" => Some(start + chrono::Duration::weeks(i64::from(count))),
        "month" => start.checked_add_months(Months::new(count)),
        _ => start.checked_add_months(Months::new(count * 12)),
    }
}

/// Metered amount in cents: `round_half_away(unit_amount × max(0, consumed − credited))`,
/// limited to `cap_amount`.
pub fn metered_amount(unit_amount: &str, consumed: f64, credited: i64, cap: Option<i64>) -> i64 {
    let unit = Decimal::from_str(unit_amount).unwrap_or_default();
    let billable = (consumed - credited as f64).max(0.0);
    let units = Decimal::from_f64(billable).unwrap_or_default();
    let amount = (unit * units)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .unwrap_or(i64::MAX);
    match cap {
        Some(cap) => amount.min(cap),
        None => amount,
    }
}

fn static_amount(prices: &[Value]) -> i64 {
    prices
        .iter()
        .map(|p| match p["amount_type"].as_str() {
            Some("fixed") => p["price_amount"].as_i64().unwrap_or(0),
            Some("custom") => p["preset_amount"]
                .as_i64()
                .or(p["minimum_amount"].as_i64())
                .unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn metered_prices(sub: &Value) -> Vec<Value> {
    sub["_prices"]
        .as_array()
        .map(|prices| {
            prices
                .iter()
                .filter(|p| p["amount_type"] == "metered_unit")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the rollover carry-over and a `meter.reset` for one customer and meter.
fn reset_meter(
    conn: &Connection,
    org: &str,
    customer: &Value,
    meter: &Value,
    ts: i64,
) -> ApiResult<()> {
    let b = balance::compute(conn, org, customer, meter)?;
    let carry = ((b.credited as f64 - b.consumed).trunc() as i64)
        .min(b.rollover_credits)
        .max(0);
    let customer_id = customer["id"].as_str().unwrap_or_default();
    let meter_id = meter["id"].as_str().unwrap_or_default();
    insert_system_event(
        conn,
        org,
        "meter.reset",
        customer_id,
        &json!({"meter_id": meter_id}),
        ts,
    )?;
    if carry > 0 {
        insert_system_event(
            conn,
            org,
            "meter.credited",
            customer_id,
            &json!({"meter_id": meter_id, "units": carry, "rollover": true}),
            ts,
        )?;
    }
    Ok(())
}

fn credit(
    conn: &Connection,
    org: &str,
    customer_id: &str,
    benefit: &Value,
    units: i64,
    ts: i64,
) -> ApiResult<()> {
    let props = &benefit["properties"];
    insert_system_event(
        conn,
        org,
        "meter.credited",
        customer_id,
        &json!({"meter_id": props["meter_id"], "units": units, "rollover": props["rollover"]}),
        ts,
    )?;
    Ok(())
}

/// `customer.state_changed`, which the server queues after every benefit-grant webhook and
/// every subscription creation or update (`benefit/grant/service.py::_send_webhook`,
/// `subscription/service.py`), so receivers get it several times per flow.
fn state_changed(
    conn: &Connection,
    state: &AppState,
    org: &str,
    customer: &Value,
    jobs: &mut Vec<Job>,
) -> ApiResult<()> {
    if webhooks::subscribed(conn, org, webhook_types::CUSTOMER_STATE_CHANGED)? {
        jobs.extend(webhooks::emit(
            conn,
            state,
            org,
            webhook_types::CUSTOMER_STATE_CHANGED,
            state_json(conn, org, customer)?,
        )?);
    }
    Ok(())
}

/// `BenefitGrant` webhook payload (with customer and benefit), including the deprecated
/// `user_id` and the `member` the server still sends.
fn grant_payload(grant: &Value, customer: &Value) -> Value {
    let mut out = public(grant);
    out["customer"] = customer_output(customer);
    out["member"] = Value::Null;
    out["user_id"] = customer["id"].clone();
    out
}

#[allow(clippy::too_many_arguments)]
fn grant_benefit(
    conn: &Connection,
    state: &AppState,
    org: &str,
    customer: &Value,
    benefit: &Value,
    subscription_id: Option<&str>,
    order_id: Option<&str>,
    jobs: &mut Vec<Job>,
) -> ApiResult<()> {
    let now = state.now();
    let customer_id = customer["id"].as_str().unwrap_or_default();
    let units = benefit["properties"]["units"].as_i64().unwrap_or(0);
    credit(
        conn,
        org,
        customer_id,
        benefit,
        units,
        now.timestamp_micros(),
    )?;
    let grant = json!({
        "id": new_id(),
        "created_at": iso(now),
        "modified_at": null,
        "granted_at": iso(now),
        "revoked_at": null,
        "is_granted": true,
        "is_revoked": false,
        "subscription_id": subscription_id,
        "order_id": order_id,
        "customer_id": customer_id,
        "member_id": null,
        "benefit_id": benefit["id"],
        "error": null,
        "benefit": public(benefit),
        "properties": {
            "last_credited_meter_id": benefit["properties"]["meter_id"],
            "last_credited_units": units,
            "last_credited_at": iso(now),
        },
        // A new grant's properties were `{}` before it was granted.
        "previous_properties": {},
    });
    db::insert_doc(conn, Kind::BenefitGrant, org, subscription_id, &grant)?;
    system_events::benefit_grant(conn, org, "benefit.granted", &grant, now.timestamp_micros())?;
    jobs.extend(webhooks::emit(
        conn,
        state,
        org,
        webhook_types::BENEFIT_GRANT_CREATED,
        grant_payload(&grant, customer),
    )?);
    state_changed(conn, state, org, customer, jobs)
}

fn revoke_grant(
    conn: &Connection,
    state: &AppState,
    org: &str,
    customer: &Value,
    mut grant: Value,
    jobs: &mut Vec<Job>,
) -> ApiResult<()> {
    let now = state.now();
    let units = grant["properties"]["last_credited_units"]
        .as_i64()
        .unwrap_or(0);
    let customer_id = customer["id"].as_str().unwrap_or_default();
    credit(
        conn,
        org,
        customer_id,
        &grant["benefit"],
        -units,
        now.timestamp_micros(),
    )?;
    grant["previous_properties"] = grant["properties"].clone();
    grant["revoked_at"] = json!(iso(now));
    grant["is_granted"] = json!(false);
    grant["is_revoked"] = json!(true);
    grant["modified_at"] = json!(iso(now));
    db::update_doc(conn, &grant, grant["subscription_id"].as_str())?;
    system_events::benefit_grant(conn, org, "benefit.revoked", &grant, now.timestamp_micros())?;
    jobs.extend(webhooks::emit(
        conn,
        state,
        org,
        webhook_types::BENEFIT_GRANT_REVOKED,
        grant_payload(&grant, customer),
    )?);
    state_changed(conn, state, org, customer, jobs)
}

/// Fields of `OrderSubscription` (the subscription without nested objects).
fn subscription_core(sub: &Value) -> Value {
    let mut out = public(sub);
    if let Value::Object(map) = &mut out {
        for nested in ["customer", "product", "discount", "prices", "meters"] {
            map.remove(nested);
        }
    }
    out
}

fn meters_of(
    conn: &Connection,
    org: &str,
    customer: &Value,
    sub: &Value,
) -> ApiResult<Vec<(Value, Value, balance::Balance)>> {
    let mut out = Vec::new();
    let from_billing_job = billing_job::enabled(conn)?;
    if from_billing_job {
        billing_job::catch_up(conn)?;
    }
    for price in metered_prices(sub) {
        let meter_id = price["meter_id"].as_str().unwrap_or_default();
        if let Some(meter) = db::get_doc(conn, Kind::Meter, org, meter_id)? {
            let mut b = balance::compute(conn, org, customer, &meter)?;
            if from_billing_job {
                let sub_id = sub["id"].as_str().unwrap_or_default();
                b.consumed = billing_job::pending_units(conn, sub_id, &meter)?;
            }
            out.push((price, meter, b));
        }
    }
    Ok(out)
}

fn subscription_meter_json(sub: &Value, price: &Value, b: &balance::Balance) -> Value {
    let cap = price["cap_amount"].as_i64();
    json!({
        "id": price["_subscription_meter_id"].as_str().map(str::to_owned).unwrap_or_else(new_id),
        "created_at": sub["created_at"],
        "modified_at": sub["modified_at"],
        "meter_id": price["meter_id"],
        "consumed_units": b.consumed,
        "credited_units": b.credited,
        "amount": metered_amount(price["unit_amount"].as_str().unwrap_or("0"), b.consumed, b.credited, cap),
    })
}

/// `CustomerStateSubscription`.
pub fn state_subscription_json(
    conn: &Connection,
    org: &str,
    customer: &Value,
    sub: &Value,
    _meters: &[Value],
) -> ApiResult<Value> {
    let mut out = json!({});
    for key in [
        "id",
        "created_at",
        "modified_at",
        "custom_field_data",
        "metadata",
        "status",
        "amount",
        "currency",
        "recurring_interval",
        "current_period_start",
        "current_period_end",
        "trial_start",
        "trial_end",
        "cancel_at_period_end",
        "canceled_at",
        "started_at",
        "ends_at",
        "product_id",
        "discount_id",
    ] {
        out[key] = sub[key].clone();
    }
    let meters: Vec<Value> = meters_of(conn, org, customer, sub)?
        .iter()
        .map(|(price, _, b)| subscription_meter_json(sub, price, b))
        .collect();
    out["meters"] = json!(meters);
    // Deprecated on the server, still sent: the subscription's first price.
    out["price_id"] = sub["_prices"][0]["id"].clone();
    Ok(out)
}

/// The deprecated `SubscriptionUser` built from the customer (`legacy_user_*` on the
/// server: the customer's id, and the first letter of its name or email as public name).
fn legacy_user(customer: &Value) -> Value {
    let public_name: String = customer["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or(customer["email"].as_str())
        .and_then(|text| text.chars().next())
        .map(String::from)
        .unwrap_or_default();
    json!({
        "id": customer["id"],
        "email": customer["email"],
        "public_name": public_name,
        // The server's deprecated `user` object has no avatar for a customer.
        "avatar_url": null,
        "github_username": null,
    })
}

/// The full `Subscription` webhook payload (also the `GET /v1/subscriptions/{id}` body).
pub fn subscription_payload(
    conn: &Connection,
    org: &str,
    customer: &Value,
    sub: &Value,
) -> ApiResult<Value> {
    let mut out = subscription_core(sub);
    out["customer"] = customer_output(customer);
    let product = db::get_doc(
        conn,
        Kind::Product,
        org,
        sub["product_id"].as_str().unwrap_or_default(),
    )?
    .ok_or_else(|| ApiError::Internal("subscription product vanished".into()))?;
    out["product"] = product_json(conn, org, &product)?;
    out["discount"] = Value::Null;
    let prices: Vec<Value> = sub["_prices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(public)
        .collect();
    // Deprecated fields the server still sends: the first price, and the customer as the
    // legacy `user`.
    out["price_id"] = prices
        .first()
        .map(|p| p["id"].clone())
        .unwrap_or(Value::Null);
    out["price"] = prices.first().cloned().unwrap_or(Value::Null);
    out["user_id"] = customer["id"].clone();
    out["user"] = legacy_user(customer);
    out["prices"] = json!(prices);
    let meters: Vec<Value> = meters_of(conn, org, customer, sub)?
        .iter()
        .map(|(price, meter, b)| {
            let mut m = subscription_meter_json(sub, price, b);
            m["meter"] = public(meter);
            m
        })
        .collect();
    out["meters"] = json!(meters);
    Ok(out)
}

struct OrderLine {
    label: String,
    amount: i64,
    price_id: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn create_order(
    conn: &Connection,
    state: &AppState,
    org: &str,
    customer: &Value,
    product: &Value,
    sub: Option<&Value>,
    billing_reason: &str,
    lines: Vec<OrderLine>,
    jobs: &mut Vec<Job>,
) -> ApiResult<Value> {
    let now = iso(state.now());
    let total: i64 = lines.iter().map(|l| l.amount).sum();
    let count = db::list_docs(conn, Kind::Order, org)?.len() + 1;
    let items: Vec<Value> = lines
        .iter()
        .map(|l| json!({"created_at": now, "modified_at": null, "id": new_id(), "label": l.label, "amount": l.amount, "tax_amount": 0, "proration": false, "product_price_id": l.price_id}))
        .collect();
    let mut product_out = public(product);
    if let Value::Object(map) = &mut product_out {
        for key in [
            "_all_prices",
            "_benefit_ids",
            "prices",
            "benefits",
            "medias",
            "attached_custom_fields",
        ] {
            map.remove(key);
        }
    }
    let order = json!({
        "id": new_id(),
        "created_at": now,
        "modified_at": null,
        "status": "paid",
        "paid": true,
        "subtotal_amount": total,
        "discount_amount": 0,
        "net_amount": total,
        "tax_amount": 0,
        "total_amount": total,
        "applied_balance_amount": 0,
        "due_amount": 0,
        "refunded_amount": 0,
        "refunded_tax_amount": 0,
        "currency": "usd",
        "billing_reason": billing_reason,
        "billing_name": customer["name"],
        "billing_address": customer["billing_address"],
        "invoice_number": format!("EMULATOR-{count:04}"),
        "is_invoice_generated": false,
        "customer_id": customer["id"],
        "product_id": product["id"],
        "discount_id": null,
        "subscription_id": sub.map(|s| s["id"].clone()),
        "checkout_id": null,
        "metadata": {},
        "custom_field_data": {},
        "platform_fee_amount": 0,
        "platform_fee_currency": null,
        "customer": customer_output(customer),
        "user_id": customer["id"],
        "product": product_out,
        "discount": null,
        "subscription": sub.map(subscription_core),
        "items": items,
        "description": product["name"],
        "seats": null,
    });
    db::insert_doc(conn, Kind::Order, org, customer["id"].as_str(), &order)?;
    system_events::order_paid(
        conn,
        org,
        &order,
        product,
        sub,
        state.now().timestamp_micros(),
    )?;
    jobs.extend(webhooks::emit(
        conn,
        state,
        org,
        webhook_types::ORDER_CREATED,
        order.clone(),
    )?);
    jobs.extend(webhooks::emit(
        conn,
        state,
        org,
        webhook_types::ORDER_PAID,
        order.clone(),
    )?);
    Ok(order)
}

fn product_benefits(conn: &Connection, org: &str, product: &Value) -> ApiResult<Vec<Value>> {
    let mut out = Vec::new();
    for id in product["_benefit_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if let Some(b) = db::get_doc(conn, Kind::Benefit, org, id.as_str().unwrap_or_default())?
            && b["type"] == "meter_credit"
        {
            out.push(b);
        }
    }
    Ok(out)
}

/// How a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `/_emulator/subscriptions`: what a paid checkout does (an order, then the grants).
    Checkout,
    /// `POST /v1/subscriptions/` for a free product: no order, as on the server.
    FreeWithoutOrder,
}

/// Subscribes (recurring product) or sells once (one-time product) and grants the
/// product's meter-credit benefits. Returns the subscription or order and webhook jobs.
pub fn subscribe(
    conn: &Connection,
    state: &AppState,
    org: &str,
    customer: &Value,
    product: &Value,
) -> ApiResult<(Value, Vec<Job>)> {
    start_subscription(
        conn,
        state,
        org,
        customer,
        product,
        Start::Checkout,
        json!({}),
    )
}

/// [`subscribe`] with the way it starts and the subscription's metadata.
pub fn start_subscription(
    conn: &Connection,
    state: &AppState,
    org: &str,
    customer: &Value,
    product: &Value,
    start: Start,
    metadata: Value,
) -> ApiResult<(Value, Vec<Job>)> {
    let mut jobs = Vec::new();
    let now = state.now();
    let ts = now.timestamp_micros();
    let customer_id = customer["id"].as_str().unwrap_or_default();
    let prices: Vec<Value> = product["_all_prices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["is_archived"] != json!(true))
        .map(|mut p| {
            p["_subscription_meter_id"] = json!(new_id());
            // Deprecated fields the server still sends on prices.
            p["type"] = json!(if product["recurring_interval"].is_null() {
                "one_time"
            } else {
                "recurring"
            });
            p["recurring_interval"] = product["recurring_interval"].clone();
            p
        })
        .collect();
    let amount = static_amount(&prices);
    let static_lines = |label: &str| -> Vec<OrderLine> {
        prices
            .iter()
            .filter(|p| p["amount_type"] != "metered_unit")
            .map(|p| OrderLine {
                label: label.to_owned(),
                amount: static_amount(std::slice::from_ref(p)),
                price_id: p["id"].as_str().map(str::to_owned),
            })
            .collect()
    };
    let name = product["name"].as_str().unwrap_or_default().to_owned();
    let Some(interval) = product["recurring_interval"].as_str() else {
        let order = create_order(
            conn,
            state,
            org,
            customer,
            product,
            None,
            "purchase",
            static_lines(&name),
            &mut jobs,
        )?;
        for benefit in product_benefits(conn, org, product)? {
            grant_benefit(
                conn,
                state,
                org,
                customer,
                &benefit,
                None,
                order["id"].as_str(),
                &mut jobs,
            )?;
        }
        balance::touch_customer(conn, org, customer_id, ts)?;
        state_changed(conn, state, org, customer, &mut jobs)?;
        return Ok((order, jobs));
    };
    let count = product["recurring_interval_count"].as_u64().unwrap_or(1) as u32;
    let end = period_end(now, interval, count)
        .ok_or_else(|| ApiError::Internal("period overflow".into()))?;
    let mut sub = json!({
        "id": new_id(),
        "created_at": iso(now),
        "modified_at": null,
        "amount": amount,
        "currency": "usd",
        "recurring_interval": interval,
        "recurring_interval_count": count,
        "status": "active",
        "current_period_start": iso(now),
        "current_period_end": iso(end),
        "trial_start": null,
        "trial_end": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "started_at": iso(now),
        "ends_at": null,
        "ended_at": null,
        "customer_id": customer_id,
        "product_id": product["id"],
        "discount_id": null,
        "checkout_id": null,
        "customer_cancellation_reason": null,
        "customer_cancellation_comment": null,
        "metadata": metadata,
        "custom_field_data": {},
        "seats": null,
        "_prices": prices,
    });
    db::insert_doc(conn, Kind::Subscription, org, Some(customer_id), &sub)?;
    system_events::subscription_created(conn, org, &sub, ts)?;
    for (_, meter, _) in meters_of(conn, org, customer, &sub)? {
        reset_meter(conn, org, customer, &meter, ts)?;
    }
    let order_id = match start {
        Start::Checkout => create_order(
            conn,
            state,
            org,
            customer,
            product,
            Some(&sub),
            "subscription_create",
            static_lines(&name),
            &mut jobs,
        )?["id"]
            .as_str()
            .map(str::to_owned),
        Start::FreeWithoutOrder => None,
    };
    for benefit in product_benefits(conn, org, product)? {
        grant_benefit(
            conn,
            state,
            org,
            customer,
            &benefit,
            sub["id"].as_str(),
            order_id.as_deref(),
            &mut jobs,
        )?;
    }
    balance::touch_customer(conn, org, customer_id, ts)?;
    sub["modified_at"] = json!(iso(now));
    db::update_doc(conn, &sub, Some(customer_id))?;
    let payload = subscription_payload(conn, org, customer, &sub)?;
    for kind in [
        webhook_types::SUBSCRIPTION_CREATED,
        webhook_types::SUBSCRIPTION_ACTIVE,
        webhook_types::SUBSCRIPTION_UPDATED,
    ] {
        jobs.extend(webhooks::emit(conn, state, org, kind, payload.clone())?);
        if kind == webhook_types::SUBSCRIPTION_CREATED {
            state_changed(conn, state, org, customer, &mut jobs)?;
        }
    }
    jobs.extend(webhooks::emit(
        conn,
        state,
        org,
        webhook_types::CUSTOMER_STATE_CHANGED,
        state_json(conn, org, customer)?,
    )?);
    Ok((payload, jobs))
}

/// Renews one subscription whose period has ended: bill, reset (with rollover), re-credit.
fn cycle(
    conn: &Connection,
    state: &AppState,
    org: &str,
    mut sub: Value,
    jobs: &mut Vec<Job>,
) -> ApiResult<Value> {
    let customer_id = sub["customer_id"].as_str().unwrap_or_default().to_owned();
    let customer = db::get_doc(conn, Kind::Customer, org, &customer_id)?
        .ok_or_else(|| ApiError::Internal("subscription customer vanished".into()))?;
    let product = db::get_doc(
        conn,
        Kind::Product,
        org,
        sub["product_id"].as_str().unwrap_or_default(),
    )?
    .ok_or_else(|| ApiError::Internal("subscription product vanished".into()))?;
    let period_start = parse_iso(&sub["current_period_end"])
        .ok_or_else(|| ApiError::Internal("bad period".into()))?;
    let ts = period_start.timestamp_micros();
    let name = product["name"].as_str().unwrap_or_default().to_owned();
    let prices: Vec<Value> = sub["_prices"].as_array().cloned().unwrap_or_default();
    let mut lines: Vec<OrderLine> = prices
        .iter()
        .filter(|p| p["amount_type"] != "metered_unit")
        .map(|p| OrderLine {
            label: name.clone(),
            amount: static_amount(std::slice::from_ref(p)),
            price_id: p["id"].as_str().map(str::to_owned),
        })
        .collect();
    let metered = meters_of(conn, org, &customer, &sub)?;
    for (price, meter, b) in &metered {
        lines.push(OrderLine {
            label: format!("{} usage", meter["name"].as_str().unwrap_or("Meter")),
            amount: metered_amount(
                price["unit_amount"].as_str().unwrap_or("0"),
                b.consumed,
                b.credited,
                price["cap_amount"].as_i64(),
            ),
            price_id: price["id"].as_str().map(str::to_owned),
        });
    }
    let interval = sub["recurring_interval"]
        .as_str()
        .unwrap_or("month")
        .to_owned();
    let count = sub["recurring_interval_count"].as_u64().unwrap_or(1) as u32;
    let end = period_end(period_start, &interval, count)
        .ok_or_else(|| ApiError::Internal("period overflow".into()))?;
    sub["current_period_start"] = json!(iso(period_start));
    sub["current_period_end"] = json!(iso(end));
    sub["modified_at"] = json!(iso(state.now()));
    db::update_doc(conn, &sub, Some(&customer_id))?;
    let order = create_order(
        conn,
        state,
        org,
        &customer,
        &product,
        Some(&sub),
        "subscription_cycle",
        lines,
        jobs,
    )?;
    billing_job::mark_invoiced(
        conn,
        sub["id"].as_str().unwrap_or_default(),
        order["id"].as_str().unwrap_or_default(),
    )?;
    let mut reset_meters: Vec<String> = Vec::new();
    for (_, meter, _) in &metered {
        reset_meter(conn, org, &customer, meter, ts)?;
        reset_meters.push(meter["id"].as_str().unwrap_or_default().to_owned());
    }
    system_events::subscription_cycled(conn, org, &sub, ts)?;
    let grants: Vec<Value> = db::list_docs(conn, Kind::BenefitGrant, org)?
        .into_iter()
        .filter(|g| g["subscription_id"] == sub["id"] && g["revoked_at"].is_null())
        .collect();
    for mut grant in grants {
        let benefit = grant["benefit"].clone();
        let meter_id = benefit["properties"]["meter_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // A benefit cycle resets the meter itself when the order did not.
        if !reset_meters.contains(&meter_id)
            && let Some(meter) = db::get_doc(conn, Kind::Meter, org, &meter_id)?
        {
            reset_meter(conn, org, &customer, &meter, ts)?;
            reset_meters.push(meter_id.clone());
        }
        let units = benefit["properties"]["units"].as_i64().unwrap_or(0);
        credit(conn, org, &customer_id, &benefit, units, ts)?;
        grant["previous_properties"] = grant["properties"].clone();
        grant["properties"] = json!({"last_credited_meter_id": meter_id, "last_credited_units": units, "last_credited_at": iso(period_start)});
        grant["modified_at"] = json!(iso(state.now()));
        db::update_doc(conn, &grant, grant["subscription_id"].as_str())?;
        system_events::benefit_grant(conn, org, "benefit.cycled", &grant, ts)?;
        jobs.extend(webhooks::emit(
            conn,
            state,
            org,
            webhook_types::BENEFIT_GRANT_CYCLED,
            grant_payload(&grant, &customer),
        )?);
        state_changed(conn, state, org, &customer, jobs)?;
    }
    balance::touch_customer(conn, org, &customer_id, state.now().timestamp_micros())?;
    jobs.extend(webhooks::emit(
        conn,
        state,
        org,
        webhook_types::SUBSCRIPTION_UPDATED,
        subscription_payload(conn, org, &customer, &sub)?,
    )?);
    jobs.extend(webhooks::emit(
        conn,
        state,
        org,
        webhook_types::CUSTOMER_STATE_CHANGED,
        state_json(conn, org, &customer)?,
    )?);
    Ok(order)
}

/// Renews every active subscription whose period ended at or before the clock's `now`
/// (several times if the clock jumped over several periods). Returns the renewal orders.
pub fn renew_due(
    conn: &Connection,
    state: &AppState,
    jobs: &mut Vec<Job>,
) -> ApiResult<Vec<Value>> {
    let now = state.now();
    let mut orders = Vec::new();
    for _ in 0..10_000 {
        let due: Vec<(String, Value)> = db::list_all_docs(conn, Kind::Subscription)?
            .into_iter()
            .filter(|(_, s)| {
                s["status"] == "active"
                    && parse_iso(&s["current_period_end"]).is_some_and(|end| end <= now)
            })
            .collect();
        if due.is_empty() {
            break;
        }
        for (org, sub) in due {
            orders.push(cycle(conn, state, &org, sub, jobs)?);
        }
    }
    Ok(orders)
}

/// After `POST /v1/products/{id}/benefits`: grant added benefits and revoke removed ones on
/// the product's active subscriptions.
pub fn sync_product_benefits(
    conn: &Connection,
    state: &AppState,
    org: &str,
    product: &Value,
    previous: &[String],
) -> ApiResult<Vec<Job>> {
    let mut jobs = Vec::new();
    let current: Vec<String> = product["_benefit_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let subs: Vec<Value> = db::list_docs(conn, Kind::Subscription, org)?
        .into_iter()
        .filter(|s| s["product_id"] == product["id"] && s["status"] == "active")
        .collect();
    for sub in subs {
        let customer_id = sub["customer_id"].as_str().unwrap_or_default();
        let Some(customer) = db::get_doc(conn, Kind::Customer, org, customer_id)? else {
            continue;
        };
        for added in current.iter().filter(|id| !previous.contains(id)) {
            if let Some(benefit) = db::get_doc(conn, Kind::Benefit, org, added)? {
                grant_benefit(
                    conn,
                    state,
                    org,
                    &customer,
                    &benefit,
                    sub["id"].as_str(),
                    None,
                    &mut jobs,
                )?;
            }
        }
        let grants: Vec<Value> = db::list_docs(conn, Kind::BenefitGrant, org)?
            .into_iter()
            .filter(|g| g["subscription_id"] == sub["id"] && g["revoked_at"].is_null())
            .collect();
        for grant in grants {
            let benefit_id = grant["benefit_id"].as_str().unwrap_or_default().to_owned();
            if previous.contains(&benefit_id) && !current.contains(&benefit_id) {
                revoke_grant(conn, state, org, &customer, grant, &mut jobs)?;
            }
        }
        balance::touch_customer(conn, org, customer_id, state.now().timestamp_micros())?;
        jobs.extend(webhooks::emit(
            conn,
            state,
            org,
            webhook_types::CUSTOMER_STATE_CHANGED,
            state_json(conn, org, &customer)?,
        )?);
    }
    Ok(jobs)
}

/// Stored clock offset survives restarts of a `--db` emulator.
pub fn save_clock(conn: &Connection, offset_micros: i64) -> ApiResult<()> {
    db::set_setting(conn, "clock_offset_micros", &offset_micros.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metered_amount_rounds_half_away_and_caps() {
        assert_eq!(metered_amount("0.500000000000", 5.0, 0, None), 3);
        assert_eq!(metered_amount("0.5", 5.0, 10, None), 0);
        assert_eq!(metered_amount("2", 100.0, 0, Some(150)), 150);
        assert_eq!(metered_amount("1.25", 2.0, 0, None), 3);
    }

    #[test]
    fn periods_follow_the_calendar() {
        let start = DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            iso(period_end(start, "month", 1).unwrap()),
            "2026-02-28T00:00:00Z"
        );
        assert_eq!(
            iso(period_end(start, "year", 1).unwrap()),
            "2027-01-31T00:00:00Z"
        );
        assert_eq!(
            iso(period_end(start, "week", 2).unwrap()),
            "2026-02-14T00:00:00Z"
        );
    }
}
