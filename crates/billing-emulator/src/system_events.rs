//! The system events the server records when subscriptions, orders and benefit grants
//! change (`server/polar/event/system.py`), with its metadata shapes. They show in
//! `GET /v1/events/` and a catch-all meter counts them, so leaving them out made local
//! event lists and quantities differ from the server's (issue 19, item 6).

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::errors::ApiResult;
use crate::routes::events::insert_system_event;

fn customer_of(doc: &Value) -> &str {
    doc["customer_id"].as_str().unwrap_or_default()
}

/// `subscription.created` (`SubscriptionCreatedMetadata`).
pub fn subscription_created(conn: &Connection, org: &str, sub: &Value, ts: i64) -> ApiResult<()> {
    let metadata = json!({
        "subscription_id": sub["id"],
        "product_id": sub["product_id"],
        "amount": sub["amount"],
        "currency": sub["currency"],
        "recurring_interval": sub["recurring_interval"],
        "recurring_interval_count": sub["recurring_interval_count"],
        "started_at": sub["started_at"],
    });
    insert_system_event(
        conn,
        org,
        "subscription.created",
        customer_of(sub),
        &metadata,
        ts,
    )?;
    Ok(())
}

/// `subscription.cycled` (`SubscriptionCycledMetadata`).
pub fn subscription_cycled(conn: &Connection, org: &str, sub: &Value, ts: i64) -> ApiResult<()> {
    let metadata = json!({
        "subscription_id": sub["id"],
        "product_id": sub["product_id"],
        "amount": sub["amount"],
        "currency": sub["currency"],
        "recurring_interval": sub["recurring_interval"],
        "recurring_interval_count": sub["recurring_interval_count"],
    });
    insert_system_event(
        conn,
        org,
        "subscription.cycled",
        customer_of(sub),
        &metadata,
        ts,
    )?;
    Ok(())
}

/// `order.paid` (`OrderPaidMetadata`, optional keys only when they have a value) and, for
/// an order with nothing due, `balance.credit_order` (`BalanceCreditOrderMetadata`). The
/// emulator takes no payments, so paid orders record no `balance.order`.
pub fn order_paid(
    conn: &Connection,
    org: &str,
    order: &Value,
    product: &Value,
    sub: Option<&Value>,
    ts: i64,
) -> ApiResult<()> {
    let customer_id = customer_of(order);
    if order["due_amount"].as_i64().unwrap_or(0) <= 0 {
        let mut credit = Map::new();
        credit.insert("order_id".into(), order["id"].clone());
        credit.insert("amount".into(), order["net_amount"].clone());
        credit.insert("currency".into(), order["currency"].clone());
        credit.insert("tax_amount".into(), order["tax_amount"].clone());
        credit.insert("fee".into(), order["platform_fee_amount"].clone());
        if let Some(sub) = sub {
            credit.insert("subscription_id".into(), sub["id"].clone());
        }
        credit.insert("product_id".into(), product["id"].clone());
        insert_system_event(
            conn,
            org,
            "balance.credit_order",
            customer_id,
            &Value::Object(credit),
            ts,
        )?;
    }
    let billing_type = if product["recurring_interval"].is_null() {
        "one_time"
    } else {
        "recurring"
    };
    let mut metadata = json!({
        "order_id": order["id"],
        "product_id": product["id"],
        "billing_type": billing_type,
        "amount": order["total_amount"],
        "currency": order["currency"],
        "net_amount": order["net_amount"],
        "tax_amount": order["tax_amount"],
        "applied_balance_amount": order["applied_balance_amount"],
        "discount_amount": order["discount_amount"],
        "platform_fee": order["platform_fee_amount"],
    });
    if let Some(sub) = sub {
        metadata["subscription_id"] = sub["id"].clone();
        metadata["recurring_interval"] = sub["recurring_interval"].clone();
        metadata["recurring_interval_count"] = sub["recurring_interval_count"].clone();
    }
    insert_system_event(conn, org, "order.paid", customer_id, &metadata, ts)?;
    Ok(())
}

/// `benefit.granted`, `benefit.cycled` or `benefit.revoked` (`BenefitGrantMetadata`).
pub fn benefit_grant(
    conn: &Connection,
    org: &str,
    name: &str,
    grant: &Value,
    ts: i64,
) -> ApiResult<()> {
    let metadata = json!({
        "benefit_id": grant["benefit_id"],
        "benefit_grant_id": grant["id"],
        "benefit_type": grant["benefit"]["type"],
    });
    insert_system_event(conn, org, name, customer_of(grant), &metadata, ts)?;
    Ok(())
}

/// The server's `SYSTEM_EVENT_LABELS`: system event names are their own vocabulary (the
/// `events` table), though several are spelled like webhook event types.
pub fn label(name: &str) -> &str {
    match name {
        "benefit.granted" => "Benefit Granted",
        "benefit.cycled" => "Benefit Cycled",
        "benefit.updated" => "Benefit Updated",
        "benefit.revoked" => "Benefit Revoked",
        "subscription.created" => "Subscription Created",
        "subscription.canceled" => "Subscription Canceled",
        "subscription.cycled" => "Subscription Cycled",
        "subscription.revoked" => "Subscription Revoked",
        "order.paid" => "Order Paid",
        "order.refunded" => "Order Refunded",
        "customer.created" => "Customer Created",
        "customer.updated" => "Customer Updated",
        "customer.deleted" => "Customer Deleted",
        "meter.credited" => "Meter Credited",
        "meter.reset" => "Meter Reset",
        "balance.order" => "Balance Order",
        "balance.credit_order" => "Balance Credit Order",
        other => other,
    }
}
