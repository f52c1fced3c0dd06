//! Ingestion rules and balances: dedupe, lazy external customers, credit / reset / rollover
//! across renewals, and the metered amount of renewal orders.

use reqwest::Method;
use serde_json::{Value, json};

use super::Harness;

#[tokio::test]
async fn external_id_dedupes_within_and_across_batches() {
    let h = Harness::start().await;
    let first = h
        .ingest(json!([
            {"name": "d", "external_customer_id": "u", "external_id": "a"},
            {"name": "d", "external_customer_id": "u", "external_id": "a"},
            {"name": "d", "external_customer_id": "u"},
            {"name": "d", "external_customer_id": "u"},
        ]))
        .await;
    assert_eq!(first, json!({"inserted": 3, "duplicates": 1}));
    let second = h
        .ingest(json!([{"name": "d", "external_customer_id": "u", "external_id": "a"}]))
        .await;
    assert_eq!(second, json!({"inserted": 0, "duplicates": 1}));
    let empty = h.ingest(json!([])).await;
    assert_eq!(empty, json!({"inserted": 0, "duplicates": 0}));
}

#[tokio::test]
async fn a_batch_with_one_bad_event_inserts_nothing() {
    let h = Harness::start().await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let reply = h
        .request(
            Method::POST,
            "/v1/events/ingest",
            Some(json!({"events": [
                {"name": "ok", "external_customer_id": "u"},
                {"name": "late", "external_customer_id": "u", "timestamp": future},
                {"name": "bad", "customer_id": uuid::Uuid::new_v4().to_string()},
            ]})),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"], "RequestValidationError");
    // Every union member's errors, in the server's field order (issue 19, item 11).
    let locs: Vec<&Value> = reply.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert_eq!(
        locs,
        [
            &json!(["body", "events", 1, "EventCreateCustomer", "timestamp"]),
            &json!(["body", "events", 1, "EventCreateCustomer", "customer_id"]),
            &json!([
                "body",
                "events",
                1,
                "EventCreateExternalCustomer",
                "timestamp"
            ]),
        ]
    );
    assert_eq!(
        reply.body["detail"][0]["msg"],
        "Value error, Timestamp must be in the past."
    );
    let events = h.get("/v1/events/?source=user").await;
    assert_eq!(events["items"], json!([]));
    // Unknown customer ids are a service-level error for the whole batch.
    let reply = h
        .request(
            Method::POST,
            "/v1/events/ingest",
            Some(json!({"events": [
                {"name": "ok", "external_customer_id": "u"},
                {"name": "bad", "customer_id": uuid::Uuid::new_v4().to_string()},
            ]})),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"], "SpaireRequestValidationError");
    assert_eq!(reply.body["detail"][0]["msg"], "Customer not found.");
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "events", 1, "customer_id"])
    );
}

#[tokio::test]
async fn event_metadata_value_rules() {
    let h = Harness::start().await;
    let long_key = "k".repeat(60);
    let ok = h
        .request(Method::POST, "/v1/events/ingest", Some(json!({"events": [{"name": "m", "external_customer_id": "u", "metadata": {long_key: 1, "f": 0.5, "b": false, "s": "x"}}]})))
        .await;
    assert_eq!(
        ok.status, 200,
        "40-character key limit is not enforced for events: {}",
        ok.body
    );
    for bad in [
        json!(null),
        json!([1]),
        json!({"a": 1}),
        json!(""),
        json!("x".repeat(501)),
    ] {
        let reply = h
            .request(Method::POST, "/v1/events/ingest", Some(json!({"events": [{"name": "m", "external_customer_id": "u", "metadata": {"v": bad}}]})))
            .await;
        assert_eq!(reply.status, 422, "{bad} should be rejected");
    }
}

#[tokio::test]
async fn events_for_an_unknown_external_customer_count_once_the_customer_exists() {
    let h = Harness::start().await;
    let meter = h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "call"}]}), json!({"func": "count"})).await;
    h.ingest(json!([{"name": "call", "external_customer_id": "late"}, {"name": "call", "external_customer_id": "late"}])).await;
    let missing = h
        .request(Method::GET, "/v1/customers/external/late/state", None)
        .await;
    assert_eq!(missing.status, 404);
    let customer = h.customer("late@acme.io", Some("late")).await;
    let state = h.get("/v1/customers/external/late/state").await;
    let active = &state["active_meters"][0];
    assert_eq!(active["meter_id"], meter.as_str());
    assert_eq!(active["consumed_units"], json!(2.0));
    assert_eq!(active["balance"], json!(-2.0));
    // Events by customer id and by external id both count for the customer.
    h.ingest(json!([{"name": "call", "customer_id": customer["id"]}]))
        .await;
    let state = h
        .get(&format!(
            "/v1/customers/{}/state",
            customer["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(state["active_meters"][0]["consumed_units"], json!(3.0));
    // The event list links external-id events to the customer lazily.
    let events = h
        .get("/v1/events/?external_customer_id=late&source=user")
        .await;
    let items = events["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        3,
        "external_customer_id also matches the customer's id-based events"
    );
    let external = items
        .iter()
        .find(|e| e["external_customer_id"] == "late")
        .unwrap();
    assert_eq!(external["customer"]["id"], customer["id"]);
    assert_eq!(external["customer_id"], Value::Null);
}

struct Plan {
    meter: String,
    product: String,
}

async fn plan(h: &Harness, rollover: bool) -> Plan {
    let meter = h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "tok"}]}), json!({"func": "sum", "property": "n"})).await;
    let benefit = h
        .post("/v1/benefits/", json!({"type": "meter_credit", "description": "100 tokens", "properties": {"meter_id": meter, "units": 100, "rollover": rollover}}))
        .await;
    let product = h
        .post("/v1/products/", json!({"name": "Plan", "recurring_interval": "month", "prices": [
            {"amount_type": "fixed", "price_amount": 1000},
            {"amount_type": "metered_unit", "meter_id": meter, "unit_amount": "0.5", "cap_amount": 30}
        ]}))
        .await;
    let product = product["id"].as_str().unwrap().to_owned();
    h.post(
        &format!("/v1/products/{product}/benefits"),
        json!({"benefits": [benefit["id"]]}),
    )
    .await;
    Plan { meter, product }
}

async fn meter_state(h: &Harness, external_id: &str, meter: &str) -> (f64, i64, f64) {
    let state = h
        .get(&format!("/v1/customers/external/{external_id}/state"))
        .await;
    let row = state["active_meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["meter_id"] == meter)
        .cloned()
        .unwrap_or(Value::Null);
    (
        row["consumed_units"].as_f64().unwrap(),
        row["credited_units"].as_i64().unwrap(),
        row["balance"].as_f64().unwrap(),
    )
}

async fn advance_month(h: &Harness) -> Value {
    h.admin_post("/_emulator/clock/advance", json!({"days": 31}))
        .await
}

#[tokio::test]
async fn credits_reset_and_rollover_across_renewals() {
    let h = Harness::start().await;
    let p = plan(&h, true).await;
    h.customer("roll@acme.io", Some("roll")).await;
    h.post(
        "/_emulator/subscriptions",
        json!({"external_customer_id": "roll", "product_id": p.product}),
    )
    .await;
    assert_eq!(meter_state(&h, "roll", &p.meter).await, (0.0, 100, 100.0));
    h.ingest(json!([{"name": "tok", "external_customer_id": "roll", "metadata": {"n": 30}}]))
        .await;
    assert_eq!(meter_state(&h, "roll", &p.meter).await, (30.0, 100, 70.0));

    // Renewal: carry min(int(100 − 30), rollover credits 100) = 70, reset, credit 100 again.
    let renewal = advance_month(&h).await;
    let orders = renewal["renewal_orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["billing_reason"], "subscription_cycle");
    assert_eq!(orders[0]["total_amount"], 1000, "no overage: {}", orders[0]);
    assert_eq!(meter_state(&h, "roll", &p.meter).await, (0.0, 170, 170.0));

    // Overage: 200 consumed against 170 credited → 30 units × 0.5 = 15 cents (cap 30).
    h.ingest(json!([{"name": "tok", "external_customer_id": "roll", "metadata": {"n": 200}}]))
        .await;
    assert_eq!(meter_state(&h, "roll", &p.meter).await, (200.0, 170, -30.0));
    let renewal = advance_month(&h).await;
    assert_eq!(renewal["renewal_orders"][0]["total_amount"], 1015);
    // A negative balance carries nothing over.
    assert_eq!(meter_state(&h, "roll", &p.meter).await, (0.0, 100, 100.0));

    // The cap limits the metered amount.
    h.ingest(json!([{"name": "tok", "external_customer_id": "roll", "metadata": {"n": 1000}}]))
        .await;
    let renewal = advance_month(&h).await;
    assert_eq!(renewal["renewal_orders"][0]["total_amount"], 1030);
}

#[tokio::test]
async fn without_rollover_unused_credits_expire_at_renewal() {
    let h = Harness::start().await;
    let p = plan(&h, false).await;
    h.customer("norol@acme.io", Some("norol")).await;
    h.post(
        "/_emulator/subscriptions",
        json!({"external_customer_id": "norol", "product_id": p.product}),
    )
    .await;
    h.ingest(json!([{"name": "tok", "external_customer_id": "norol", "metadata": {"n": 10}}]))
        .await;
    advance_month(&h).await;
    assert_eq!(meter_state(&h, "norol", &p.meter).await, (0.0, 100, 100.0));
}

#[tokio::test]
async fn negative_usage_raises_the_balance_and_credits_clamp_at_zero() {
    let h = Harness::start().await;
    let p = plan(&h, false).await;
    h.customer("neg@acme.io", Some("neg")).await;
    h.post(
        "/_emulator/subscriptions",
        json!({"external_customer_id": "neg", "product_id": p.product}),
    )
    .await;
    h.ingest(json!([{"name": "tok", "external_customer_id": "neg", "metadata": {"n": 40}}, {"name": "tok", "external_customer_id": "neg", "metadata": {"n": -15}}])).await;
    assert_eq!(meter_state(&h, "neg", &p.meter).await, (25.0, 100, 75.0));
    // Removing the benefit revokes the grant: −100 credits, clamped at 0.
    h.post(
        &format!("/v1/products/{}/benefits", p.product),
        json!({"benefits": []}),
    )
    .await;
    assert_eq!(meter_state(&h, "neg", &p.meter).await, (25.0, 0, -25.0));
}

#[tokio::test]
async fn price_list_updates_are_full_replacements() {
    let h = Harness::start().await;
    let p = plan(&h, false).await;
    let product = h.get(&format!("/v1/products/{}", p.product)).await;
    let prices = product["prices"].as_array().unwrap();
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[0]["amount_type"], "fixed", "static prices first");
    assert_eq!(prices[1]["unit_amount"], "0.500000000000");
    // Keep the metered price by sending the whole GET object back; drop the fixed one.
    let reply = h
        .patch(
            &format!("/v1/products/{}", p.product),
            json!({"prices": [prices[1].clone()]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let kept = reply.body["prices"].as_array().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["id"], prices[1]["id"]);
    // An unknown id and a second price for the same meter are rejected.
    let reply = h
        .patch(
            &format!("/v1/products/{}", p.product),
            json!({"prices": [{"id": uuid::Uuid::new_v4().to_string()}]}),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["detail"][0]["msg"], "Price does not exist.");
    let reply = h
        .patch(&format!("/v1/products/{}", p.product), json!({"prices": [{"id": prices[1]["id"]}, {"amount_type": "metered_unit", "meter_id": p.meter, "unit_amount": 1}]}))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    // Metered prices need a recurring product.
    let reply = h
        .request(Method::POST, "/v1/products/", Some(json!({"name": "Once", "prices": [{"amount_type": "metered_unit", "meter_id": p.meter, "unit_amount": 1}]})))
        .await;
    assert_eq!(
        reply.body["detail"][0]["msg"],
        "Metered pricing is not supported on one-time products."
    );
}

#[tokio::test]
async fn balance_delay_holds_back_fresh_usage_but_not_credits() {
    let h = Harness::with_config(crate::EmulatorConfig {
        balance_delay_ms: 400,
        ..crate::EmulatorConfig::default()
    })
    .await;
    let p = plan(&h, false).await;
    h.customer("slow@acme.io", Some("slow")).await;
    h.post(
        "/_emulator/subscriptions",
        json!({"external_customer_id": "slow", "product_id": p.product}),
    )
    .await;
    h.ingest(json!([{"name": "tok", "external_customer_id": "slow", "metadata": {"n": 10}}]))
        .await;
    assert_eq!(
        meter_state(&h, "slow", &p.meter).await,
        (0.0, 100, 100.0),
        "usage not settled yet"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(meter_state(&h, "slow", &p.meter).await, (10.0, 100, 90.0));
}

#[tokio::test]
async fn a_benefit_can_be_updated_and_deleted_which_revokes_its_credits() {
    let h = Harness::start().await;
    let p = plan(&h, false).await;
    h.customer("del@acme.io", Some("del")).await;
    h.post(
        "/_emulator/subscriptions",
        json!({"external_customer_id": "del", "product_id": p.product}),
    )
    .await;
    assert_eq!(meter_state(&h, "del", &p.meter).await, (0.0, 100, 100.0));
    let product = h.get(&format!("/v1/products/{}", p.product)).await;
    let benefit = product["benefits"][0]["id"].as_str().unwrap().to_owned();

    let updated = h
        .patch(
            &format!("/v1/benefits/{benefit}"),
            json!({"type": "meter_credit", "description": "250 tokens", "properties": {"meter_id": p.meter, "units": 250, "rollover": true}}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["properties"]["units"], 250);
    let changing_type = h
        .patch(
            &format!("/v1/benefits/{benefit}"),
            json!({"type": "custom"}),
        )
        .await;
    assert_eq!(changing_type.status, 422);

    // The meter is used by the benefit (and the metered price): it cannot be archived yet.
    let archive = json!({"is_archived": true});
    assert_eq!(
        h.patch(&format!("/v1/meters/{}", p.meter), archive.clone())
            .await
            .status,
        422
    );

    let deleted = h
        .request(Method::DELETE, &format!("/v1/benefits/{benefit}"), None)
        .await;
    assert_eq!(deleted.status, 204);
    let gone = h
        .request(Method::GET, &format!("/v1/benefits/{benefit}"), None)
        .await;
    assert_eq!(gone.status, 404);
    let product = h.get(&format!("/v1/products/{}", p.product)).await;
    assert_eq!(product["benefits"], json!([]), "detached from the product");
    // Revoking takes the granted credits back.
    assert_eq!(meter_state(&h, "del", &p.meter).await.1, 0);

    // Once the metered price is gone too, the meter can be archived.
    let fixed = product["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|price| price["amount_type"] == "fixed")
        .unwrap()["id"]
        .clone();
    let kept = h
        .patch(
            &format!("/v1/products/{}", p.product),
            json!({"prices": [{"id": fixed}]}),
        )
        .await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert_eq!(
        h.patch(&format!("/v1/meters/{}", p.meter), archive)
            .await
            .status,
        200
    );
}
