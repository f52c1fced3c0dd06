//! One conformance test per difference the real server showed (issue 19): each was a case
//! where a local test passed and production failed. Numbers refer to the items.

use reqwest::Method;
use serde_json::{Value, json};

use super::Harness;
use super::webhooks::receiver;

fn events(count: usize, name: &str) -> Value {
    Value::Array(
        (0..count)
            .map(|_| json!({"name": name, "external_customer_id": "u"}))
            .collect(),
    )
}

async fn stored_user_events(h: &Harness) -> i64 {
    h.get("/v1/events/?source=user&limit=1").await["pagination"]["total_count"]
        .as_i64()
        .unwrap()
}

async fn ingest_reply(h: &Harness, events: Value) -> super::Reply {
    h.request(
        Method::POST,
        "/v1/events/ingest",
        Some(json!({ "events": events })),
    )
    .await
}

/// 1. events × matching meters × 7 > 32,767 is a 500 with nothing stored.
#[tokio::test]
async fn batch_ceiling_matches_the_server_exactly() {
    let h = Harness::start().await;
    h.meter(
        json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "call"}]}),
        json!({"func": "count"}),
    )
    .await;
    // Events the meter does not match cost nothing.
    let mut batch = events(4_682, "call");
    batch
        .as_array_mut()
        .unwrap()
        .extend(events(100, "other").as_array().unwrap().iter().cloned());
    let over = ingest_reply(&h, batch).await;
    assert_eq!(over.status, 500);
    assert_eq!(
        over.body,
        json!({"error": "InternalServerError", "detail": "An unexpected error occurred."})
    );
    assert_eq!(
        stored_user_events(&h).await,
        0,
        "nothing of the batch is stored"
    );
    let at_limit = ingest_reply(&h, events(4_681, "call")).await;
    assert_eq!(at_limit.status, 200, "{}", at_limit.body);
    assert_eq!(at_limit.body["inserted"], 4_681);

    // Two catch-all meters: 2,341 × 2 × 7 = 32,774.
    let h = Harness::start().await;
    for _ in 0..2 {
        h.meter(
            json!({"conjunction": "and", "clauses": []}),
            json!({"func": "count"}),
        )
        .await;
    }
    assert_eq!(ingest_reply(&h, events(2_341, "x")).await.status, 500);
    assert_eq!(ingest_reply(&h, events(2_340, "x")).await.status, 200);

    // No meter at all: the reload of more than 32,767 new events fails.
    let h = Harness::start().await;
    assert_eq!(ingest_reply(&h, events(32_768, "x")).await.status, 500);
    assert_eq!(stored_user_events(&h).await, 0);
}

/// 2. Both ids: stored under the external id; with `member_id` too, `customer_id` wins
///    (more fields set in that union member).
#[tokio::test]
async fn an_event_with_both_ids_is_stored_under_the_external_id() {
    let h = Harness::start().await;
    let a = h.customer("a@acme.io", Some("ext-a")).await;
    let a_id = a["id"].as_str().unwrap();
    h.ingest(json!([{"name": "both", "customer_id": a_id, "external_customer_id": "ext-b"}]))
        .await;
    let listed = h.get("/v1/events/?name=both").await;
    let event = &listed["items"][0];
    assert_eq!(event["customer_id"], Value::Null);
    assert_eq!(event["external_customer_id"], "ext-b");
    // An unknown customer_id is ignored too: the external member won.
    let unknown = uuid::Uuid::new_v4().to_string();
    let reply = ingest_reply(
        &h,
        json!([{"name": "both", "customer_id": unknown, "external_customer_id": "ext-b"}]),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // With member_id the customer member has more fields set and wins: the member is
    // checked (it is not this customer's), which proves the customer shape was chosen.
    let member = uuid::Uuid::new_v4().to_string();
    let reply = ingest_reply(
        &h,
        json!([{"name": "both", "customer_id": a_id, "member_id": member, "external_customer_id": "ext-b"}]),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "events", 0, "member_id"])
    );
}

/// 3. A name over 128 characters fails the whole batch with a 500.
#[tokio::test]
async fn an_event_name_over_128_characters_loses_the_batch() {
    let h = Harness::start().await;
    let long = "é".repeat(129);
    let reply = ingest_reply(
        &h,
        json!([{"name": "fine", "external_customer_id": "u"}, {"name": long, "external_customer_id": "u"}]),
    )
    .await;
    assert_eq!(reply.status, 500);
    assert_eq!(stored_user_events(&h).await, 0);
    let at_limit = ingest_reply(
        &h,
        json!([{"name": "é".repeat(128), "external_customer_id": "u"}]),
    )
    .await;
    assert_eq!(at_limit.status, 200);
}

/// A free recurring product with one meter-credit benefit, and a subscribed customer.
struct Free {
    customer: String,
    subscription: Value,
}

async fn free_subscription(h: &Harness) -> Free {
    let meter = h
        .meter(
            json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "tok"}]}),
            json!({"func": "count"}),
        )
        .await;
    let benefit = h
        .post("/v1/benefits/", json!({"type": "meter_credit", "description": "10 tokens", "properties": {"meter_id": meter, "units": 10, "rollover": false}}))
        .await;
    let product = h
        .post(
            "/v1/products/",
            json!({"name": "Free", "recurring_interval": "month", "prices": [
                {"amount_type": "free"},
                {"amount_type": "metered_unit", "meter_id": meter, "unit_amount": "1"}
            ]}),
        )
        .await;
    let product = product["id"].as_str().unwrap().to_owned();
    h.post(
        &format!("/v1/products/{product}/benefits"),
        json!({"benefits": [benefit["id"]]}),
    )
    .await;
    let customer = h.customer("free@acme.io", Some("free")).await;
    let subscription = h
        .post(
            "/v1/subscriptions/",
            json!({"external_customer_id": "free", "product_id": product}),
        )
        .await;
    Free {
        customer: customer["id"].as_str().unwrap().to_owned(),
        subscription,
    }
}

/// 5. `granted_benefits[].properties` is `{}` in customer state.
#[tokio::test]
async fn customer_state_grants_have_empty_properties() {
    let h = Harness::start().await;
    let free = free_subscription(&h).await;
    let state = h
        .get(&format!("/v1/customers/{}/state", free.customer))
        .await;
    let grants = state["granted_benefits"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["properties"], json!({}));
}

/// 6. The server's system events for subscriptions, orders and grants.
#[tokio::test]
async fn subscriptions_orders_and_grants_record_system_events() {
    let h = Harness::start().await;
    let plan_product = {
        let free = free_subscription(&h).await;
        free.subscription["product_id"].as_str().unwrap().to_owned()
    };
    let names = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let events = h
        .get("/v1/events/?source=system&limit=100&sorting=timestamp")
        .await;
    let first = names(&events);
    for expected in ["subscription.created", "benefit.granted", "meter.credited"] {
        assert!(
            first.contains(&expected.to_owned()),
            "{expected} in {first:?}"
        );
    }
    let granted = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "benefit.granted")
        .unwrap();
    assert_eq!(granted["label"], "Benefit Granted");
    assert_eq!(granted["metadata"]["benefit_type"], "meter_credit");
    // A checkout-style subscription writes an order: order.paid, and balance.credit_order
    // for an order with nothing due.
    let other = h.customer("paid@acme.io", Some("paid")).await;
    h.post(
        "/_emulator/subscriptions",
        json!({"customer_id": other["id"], "product_id": plan_product}),
    )
    .await;
    h.admin_post("/_emulator/clock/advance", json!({"days": 32}))
        .await;
    let all = names(&h.get("/v1/events/?source=system&limit=100").await);
    for expected in [
        "order.paid",
        "balance.credit_order",
        "subscription.cycled",
        "benefit.cycled",
    ] {
        assert!(all.contains(&expected.to_owned()), "{expected} in {all:?}");
    }
}

/// 7. `POST /v1/subscriptions/` (free products, no order), `GET /v1/subscriptions/{id}`,
///    `GET /v1/orders/`.
#[tokio::test]
async fn subscription_and_order_endpoints_exist() {
    let h = Harness::start().await;
    let free = free_subscription(&h).await;
    assert_eq!(free.subscription["status"], "active");
    let id = free.subscription["id"].as_str().unwrap();
    let fetched = h.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(fetched["id"], id);
    assert_eq!(fetched["customer"]["id"], free.customer);
    let orders = h.get("/v1/orders/").await;
    assert_eq!(
        orders["pagination"]["total_count"], 0,
        "no order for a free subscription"
    );

    // Paid products go through checkout, as on the server.
    let paid = h
        .post("/v1/products/", json!({"name": "Paid", "recurring_interval": "month", "prices": [{"amount_type": "fixed", "price_amount": 500}]}))
        .await;
    let refused = h
        .request(
            Method::POST,
            "/v1/subscriptions/",
            Some(json!({"customer_id": free.customer, "product_id": paid["id"]})),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(
        refused.body["detail"][0]["loc"],
        json!(["body", "product_id"])
    );
    assert!(
        refused.body["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .starts_with("Product is not free.")
    );
    h.post(
        "/_emulator/subscriptions",
        json!({"customer_id": free.customer, "product_id": paid["id"]}),
    )
    .await;
    let orders = h
        .get(&format!("/v1/orders/?customer_id={}", free.customer))
        .await;
    assert_eq!(orders["pagination"]["total_count"], 1);
    assert_eq!(orders["items"][0]["total_amount"], 500);
    let missing = h
        .request(
            Method::GET,
            &format!("/v1/subscriptions/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
}

/// 8. Deprecated fields the server still sends in webhooks and customer state.
#[tokio::test]
async fn webhook_payloads_carry_the_deprecated_fields() {
    let h = Harness::start().await;
    let (url, received) = receiver(0).await;
    h.post(
        "/v1/webhooks/endpoints",
        json!({"url": url, "format": "raw", "events": ["subscription.created", "benefit_grant.created", "customer.state_changed"]}),
    )
    .await;
    let free = free_subscription(&h).await;
    h.post("/_emulator/webhooks/wait", json!({"timeout_ms": 10000}))
        .await;
    let payloads: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect();
    let of_type = |kind: &str| -> Value {
        payloads
            .iter()
            .rev()
            .find(|p| p["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))["data"]
            .clone()
    };
    let sub = of_type("subscription.created");
    assert_eq!(sub["price_id"], sub["prices"][0]["id"]);
    assert_eq!(sub["price"], sub["prices"][0]);
    assert_eq!(sub["user_id"], free.customer);
    assert_eq!(sub["user"]["id"], free.customer);
    assert_eq!(sub["user"]["public_name"], "f");
    let grant = of_type("benefit_grant.created");
    assert_eq!(grant["previous_properties"], json!({}));
    assert_eq!(grant["user_id"], free.customer);
    assert!(grant.as_object().unwrap().contains_key("member"));
    let state = of_type("customer.state_changed");
    let active = &state["active_subscriptions"][0];
    assert_eq!(active["price_id"], sub["prices"][0]["id"]);

    // 12. The server queues customer.state_changed after the subscription's creation,
    //     after its update, and after each benefit-grant webhook: 3 for subscribing (it
    //     was 1), plus 1 for creating the customer.
    let state_changes = payloads
        .iter()
        .filter(|p| p["type"] == "customer.state_changed")
        .count();
    assert_eq!(state_changes, 4);
}

/// 9 and 11. A benefit PATCH without `type` is 422, listing every member of the union.
#[tokio::test]
async fn a_benefit_patch_without_type_lists_every_union_member() {
    let h = Harness::start().await;
    let meter = h
        .meter(
            json!({"conjunction": "and", "clauses": []}),
            json!({"func": "count"}),
        )
        .await;
    let benefit = h
        .post("/v1/benefits/", json!({"type": "meter_credit", "description": "Credits", "properties": {"meter_id": meter, "units": 1, "rollover": false}}))
        .await;
    let path = format!("/v1/benefits/{}", benefit["id"].as_str().unwrap());
    let reply = h.patch(&path, json!({"description": "More credits"})).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    let locs: Vec<Value> = reply.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["loc"].clone())
        .collect();
    assert_eq!(locs.len(), 6);
    assert_eq!(locs[0], json!(["body", "BenefitCustomUpdate", "type"]));
    assert_eq!(locs[5], json!(["body", "BenefitMeterCreditUpdate", "type"]));
    assert_eq!(reply.body["detail"][0]["type"], "missing");
    // With the type and a bad description, the other members' type errors come first.
    let reply = h
        .patch(&path, json!({"type": "meter_credit", "description": "x"}))
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["detail"][0]["type"], "literal_error");
    assert_eq!(
        reply.body["detail"][5]["loc"],
        json!(["body", "BenefitMeterCreditUpdate", "description"])
    );
    let ok = h
        .patch(
            &path,
            json!({"type": "meter_credit", "description": "More credits"}),
        )
        .await;
    assert_eq!(ok.status, 200);
}

/// 10. A path id that is a UUID of another version is 422 `uuid_version`, not 404.
#[tokio::test]
async fn a_non_v4_uuid_in_a_path_is_422() {
    let h = Harness::start().await;
    let v1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    for path in [
        format!("/v1/meters/{v1}"),
        format!("/v1/customers/{v1}"),
        format!("/v1/subscriptions/{v1}"),
    ] {
        let reply = h.request(Method::GET, &path, None).await;
        assert_eq!(reply.status, 422, "{path}");
        assert_eq!(reply.body["detail"][0]["type"], "uuid_version");
        assert_eq!(reply.body["detail"][0]["loc"], json!(["path", "id"]));
        assert_eq!(
            reply.body["detail"][0]["ctx"],
            json!({"expected_version": 4})
        );
    }
}

/// 4. With `--billing-job-interval`, subscription meters read 0 until the job runs, and the
///    first renewal bills usage ingested before the subscription started; by default the
///    emulator shows live meters and bills only usage after the subscription started.
#[tokio::test]
async fn the_billing_job_flag_reproduces_the_servers_delayed_billing() {
    async fn scenario(job: Option<u64>) -> (f64, f64, i64) {
        let h = Harness::with_config(crate::EmulatorConfig {
            billing_job_interval_secs: job,
            ..crate::EmulatorConfig::default()
        })
        .await;
        let meter = h
            .meter(
                json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "tok"}]}),
                json!({"func": "count"}),
            )
            .await;
        let product = h
            .post(
                "/v1/products/",
                json!({"name": "Usage", "recurring_interval": "month", "prices": [
                    {"amount_type": "metered_unit", "meter_id": meter, "unit_amount": "5"}
                ]}),
            )
            .await;
        let customer = h.customer("job@acme.io", Some("job")).await;
        let customer_id = customer["id"].as_str().unwrap().to_owned();
        h.ingest(
            events(10, "tok")
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e["external_customer_id"] = json!("job");
                    e
                })
                .collect::<Vec<_>>()
                .into(),
        )
        .await;
        h.post(
            "/_emulator/subscriptions",
            json!({"customer_id": customer_id, "product_id": product["id"]}),
        )
        .await;
        h.ingest(json!([{"name": "tok", "external_customer_id": "job"}]))
            .await;
        let consumed = |state: Value| {
            state["active_subscriptions"][0]["meters"][0]["consumed_units"]
                .as_f64()
                .unwrap()
        };
        let before_run = consumed(h.get(&format!("/v1/customers/{customer_id}/state")).await);
        h.admin_post("/_emulator/clock/advance", json!({"seconds": 901}))
            .await;
        let after_run = consumed(h.get(&format!("/v1/customers/{customer_id}/state")).await);
        let renewal = h
            .admin_post("/_emulator/clock/advance", json!({"days": 31}))
            .await;
        let billed = renewal["renewal_orders"][0]["total_amount"]
            .as_i64()
            .unwrap();
        (before_run, after_run, billed)
    }
    // Default: live meters, only the 1 event after subscribing is billed (5¢).
    assert_eq!(scenario(None).await, (1.0, 1.0, 5));
    // Server's job: 0 until a run, then all 11 events, all billed (55¢).
    assert_eq!(scenario(Some(900)).await, (0.0, 11.0, 55));
}

// Found by the differential run against the real server (2026-12-02, `docs/emulator.md`,
// `scripts/differential/`): each case below differed on that run.

/// Both ids, continued: the smart union picks the more exact member on equal field counts,
/// so a `timestamp` string (which the external member must also convert) hands the tie to
/// the first member, `EventCreateCustomer`; `external_member_id` tips it back.
#[tokio::test]
async fn both_ids_follow_the_smart_unions_exactness_rule() {
    let h = Harness::start().await;
    let a = h.customer("a@acme.io", Some("ext-a")).await;
    let a_id = a["id"].as_str().unwrap();
    let past = "2026-01-01T10:00:00Z";
    let cases = [
        (
            json!({"name": "e1", "customer_id": a_id, "external_customer_id": "ext-b"}),
            false,
        ),
        (
            json!({"name": "e2", "customer_id": a_id, "external_customer_id": "ext-b", "timestamp": past}),
            true,
        ),
        (
            json!({"name": "e3", "customer_id": a_id, "external_customer_id": "ext-b", "metadata": {"_cost": {"amount": 5, "currency": "usd"}}}),
            true,
        ),
        (
            json!({"name": "e4", "customer_id": a_id, "external_customer_id": "ext-b", "timestamp": past, "external_member_id": "m"}),
            false,
        ),
        (
            json!({"name": "e5", "customer_id": a_id, "external_customer_id": "ext-b", "metadata": {"n": 1, "s": "x"}}),
            false,
        ),
    ];
    for (event, stored_under_customer) in cases {
        let name = event["name"].as_str().unwrap().to_owned();
        h.ingest(json!([event])).await;
        let stored = &h.get(&format!("/v1/events/?name={name}")).await["items"][0];
        if stored_under_customer {
            assert_eq!(stored["customer_id"], a_id, "{name}");
            assert_eq!(stored["external_customer_id"], Value::Null, "{name}");
        } else {
            assert_eq!(stored["customer_id"], Value::Null, "{name}");
            assert_eq!(stored["external_customer_id"], "ext-b", "{name}");
        }
    }
}

fn detail_summary(body: &Value) -> Vec<(String, Value)> {
    body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["type"].as_str().unwrap().to_owned(), d["loc"].clone()))
        .collect()
}

/// 11, continued: a bad event metadata value lists one error per member of the value
/// union (`constrained-str | int | float | bool`), for each event member.
#[tokio::test]
async fn a_bad_event_metadata_value_lists_every_value_member() {
    let h = Harness::start().await;
    let reply = ingest_reply(
        &h,
        json!([{"name": "x", "external_customer_id": "e", "metadata": {"a": null, "c": ""}}]),
    )
    .await;
    assert_eq!(reply.status, 422);
    let details = detail_summary(&reply.body);
    let member = |shape: &str, key: &str, label: &str| {
        json!(["body", "events", 0, shape, "metadata", key, label])
    };
    let customer = "EventCreateCustomer";
    let external = "EventCreateExternalCustomer";
    assert_eq!(details.len(), 17, "{:#?}", reply.body);
    assert_eq!(
        details[0],
        (
            "string_type".into(),
            member(customer, "a", "constrained-str")
        )
    );
    assert_eq!(
        details[3],
        ("bool_type".into(), member(customer, "a", "bool"))
    );
    assert_eq!(
        details[4],
        (
            "string_too_short".into(),
            member(customer, "c", "constrained-str")
        )
    );
    assert_eq!(
        details[5],
        ("int_parsing".into(), member(customer, "c", "int"))
    );
    assert_eq!(
        details[7],
        ("bool_parsing".into(), member(customer, "c", "bool"))
    );
    assert_eq!(details[8].0, "missing");
    assert_eq!(
        details[9],
        (
            "string_type".into(),
            member(external, "a", "constrained-str")
        )
    );
    assert_eq!(
        reply.body["detail"][0]["msg"],
        "Input should be a valid string"
    );
}

/// 11, continued: a bad filter value lists the three value members, then the `Filter`
/// member of the clause union.
#[tokio::test]
async fn a_bad_filter_value_lists_every_union_member() {
    let h = Harness::start().await;
    let clause_at = |member: &str, rest: &[&str]| {
        let mut loc = vec![
            json!("body"),
            json!("filter"),
            json!("clauses"),
            json!(0),
            json!(member),
        ];
        loc.extend(rest.iter().map(|r| json!(r)));
        Value::Array(loc)
    };
    for (value, kinds) in [
        (json!(1.5), ["string_type", "int_from_float", "bool_type"]),
        (
            json!(3_000_000_000_i64),
            ["string_type", "less_than_equal", "bool_parsing"],
        ),
        (
            json!(-3_000_000_000_i64),
            ["string_type", "greater_than_equal", "bool_parsing"],
        ),
        (json!(null), ["string_type", "int_type", "bool_type"]),
        (
            json!("x".repeat(1001)),
            ["string_too_long", "int_parsing", "bool_parsing"],
        ),
    ] {
        let reply = h
            .request(
                Method::POST,
                "/v1/meters/",
                Some(json!({"name": "Bad", "filter": {"conjunction": "and", "clauses": [{"property": "x", "operator": "eq", "value": value}]}, "aggregation": {"func": "count"}})),
            )
            .await;
        assert_eq!(reply.status, 422);
        let details = detail_summary(&reply.body);
        let expected = vec![
            (
                kinds[0].to_owned(),
                clause_at("FilterClause", &["value", "constrained-str"]),
            ),
            (
                kinds[1].to_owned(),
                clause_at("FilterClause", &["value", "constrained-int"]),
            ),
            (
                kinds[2].to_owned(),
                clause_at("FilterClause", &["value", "bool"]),
            ),
            ("missing".to_owned(), clause_at("Filter", &["conjunction"])),
            ("missing".to_owned(), clause_at("Filter", &["clauses"])),
        ];
        assert_eq!(details, expected, "{value}");
    }
}

/// The quantities range limit is a service-level error whose input is the parsed range.
#[tokio::test]
async fn the_quantities_range_limit_is_a_service_error_with_the_parsed_range() {
    let h = Harness::start().await;
    let meter = h
        .meter(
            json!({"conjunction": "and", "clauses": []}),
            json!({"func": "count"}),
        )
        .await;
    let reply = h
        .request(
            Method::GET,
            &format!(
                "/v1/meters/{meter}/quantities?start_timestamp=2024-01-01T00:00:00%2B02:00&end_timestamp=2024-01-10T00:00:00Z&interval=hour"
            ),
            None,
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"], "SpaireRequestValidationError");
    assert_eq!(
        reply.body["detail"][0]["input"],
        json!([
            "2024-01-01T00:00:00+02:00",
            "2024-01-10T00:00:00+00:00",
            "hour"
        ])
    );
}

/// Benefit `units` is `gt=0` on the server (not `ge=1`); the subscription's deprecated
/// `user` has no avatar.
#[tokio::test]
async fn benefit_units_and_the_deprecated_user_match_the_server() {
    let h = Harness::start().await;
    let meter = h
        .meter(
            json!({"conjunction": "and", "clauses": []}),
            json!({"func": "count"}),
        )
        .await;
    let reply = h
        .request(
            Method::POST,
            "/v1/benefits/",
            Some(json!({"type": "meter_credit", "description": "Zero", "properties": {"meter_id": meter, "units": 0, "rollover": false}})),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.body["detail"][0],
        json!({"type": "greater_than", "loc": ["body", "meter_credit", "properties", "units"], "msg": "Input should be greater than 0", "input": 0, "ctx": {"gt": 0}})
    );
    let free = free_subscription(&h).await;
    assert_eq!(free.subscription["user"]["avatar_url"], Value::Null);
    assert!(free.subscription["user"]["email"].is_string());
}

/// A new meter already has `modified_at` (the server updates the row while creating it).
#[tokio::test]
async fn a_new_meter_has_modified_at() {
    let h = Harness::start().await;
    let meter = h
        .meter(
            json!({"conjunction": "and", "clauses": []}),
            json!({"func": "count"}),
        )
        .await;
    let read = h.get(&format!("/v1/meters/{meter}")).await;
    assert!(read["modified_at"].is_string(), "{read}");
}

/// 1, continued: the ceiling counts only the batch's own events, also when a meter's filter
/// is a top-level `or` that matches earlier events (the differential run found 4,681 events
/// refused here after such a meter had matched 5 earlier ones).
#[tokio::test]
async fn the_batch_ceiling_ignores_earlier_events_of_an_or_meter() {
    let h = Harness::start().await;
    h.meter(
        json!({"conjunction": "or", "clauses": [
            {"property": "name", "operator": "eq", "value": "old"},
            {"property": "name", "operator": "eq", "value": "older"}
        ]}),
        json!({"func": "count"}),
    )
    .await;
    // Earlier events matching the second clause: `A AND seq AND c1 OR c2` would count them.
    h.ingest(events(5, "older")).await;
    h.meter(
        json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "call"}]}),
        json!({"func": "count"}),
    )
    .await;
    let at_limit = ingest_reply(&h, events(4_681, "call")).await;
    assert_eq!(at_limit.status, 200, "{}", at_limit.body);
}

/// Issue 18: the event list and get return `_cost.amount` as the server's `Decimal` (a
/// string, of the float it stored) and `_llm.prompt` / `_llm.response` as `null` when the
/// event did not send them; a meter summing `_cost.amount` still counts the sent amounts.
#[tokio::test]
async fn event_answers_carry_cost_as_a_decimal_string_and_null_llm_texts() {
    let h = Harness::start().await;
    let cost = h
        .meter(
            json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "llm"}]}),
            json!({"func": "sum", "property": "_cost.amount"}),
        )
        .await;
    let llm = json!({"vendor": "openai", "model": "gpt-4o", "input_tokens": 1,
                     "output_tokens": 2, "total_tokens": 3});
    h.ingest(json!([
        {"name": "llm", "external_customer_id": "u",
         "metadata": {"_cost": {"amount": 5, "currency": "usd"}, "_llm": llm, "tokens": 3}},
        {"name": "llm", "external_customer_id": "u",
         "metadata": {"_cost": {"amount": "0.25", "currency": "usd"}}},
    ]))
    .await;
    let items = h.get("/v1/events/?name=llm").await["items"].clone();
    let by_tokens = |with: bool| {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["metadata"].get("tokens").is_some() == with)
            .unwrap()
            .clone()
    };
    let first = by_tokens(true);
    assert_eq!(
        first["metadata"],
        json!({
            "_cost": {"amount": "5.0", "currency": "usd"},
            "_llm": {"vendor": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 2,
                     "total_tokens": 3, "prompt": null, "response": null},
            "tokens": 3,
        })
    );
    assert_eq!(by_tokens(false)["metadata"]["_cost"]["amount"], "0.25");
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        h.get(&format!("/v1/events/{id}")).await["metadata"],
        first["metadata"],
        "get answers like the list"
    );
    assert_eq!(
        h.total(&cost).await,
        5.25,
        "the meter reads the sent amounts"
    );
}
