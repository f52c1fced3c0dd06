//! `GET /v1/meters/{id}/quantities`: calendar buckets, time zones, totals, range limits.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Harness, enc};

async fn quantities(h: &Harness, meter: &str, query: &str) -> Value {
    h.get(&format!("/v1/meters/{meter}/quantities?{query}"))
        .await
}

fn values(body: &Value) -> Vec<f64> {
    body["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["quantity"].as_f64().unwrap())
        .collect()
}

async fn seeded(h: &Harness, aggregation: Value) -> String {
    h.ingest(json!([
        {"name": "q", "external_customer_id": "a", "timestamp": "2026-03-01T10:00:00Z", "metadata": {"v": 2}},
        {"name": "q", "external_customer_id": "a", "timestamp": "2026-03-01T23:30:00Z", "metadata": {"v": 4}},
        {"name": "q", "external_customer_id": "b", "timestamp": "2026-03-02T08:00:00Z", "metadata": {"v": 8}},
        {"name": "q", "external_customer_id": "b", "timestamp": "2026-03-04T08:00:00Z", "metadata": {"v": 1}},
    ]))
    .await;
    h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "q"}]}), aggregation).await
}

const RANGE: &str =
    "start_timestamp=2026-03-01T12%3A00%3A00Z&end_timestamp=2026-03-03T12%3A00%3A00Z";

#[tokio::test]
async fn buckets_are_whole_days_and_points_are_not_truncated() {
    let h = Harness::start().await;
    let meter = seeded(&h, json!({"func": "sum", "property": "v"})).await;
    let body = quantities(&h, &meter, &format!("{RANGE}&interval=day")).await;
    // The first point is 12:00 but its bucket is the whole of March 1st (2 + 4).
    assert_eq!(body["quantities"][0]["timestamp"], "2026-03-01T12:00:00Z");
    assert_eq!(values(&body), [6.0, 8.0, 0.0]);
    assert_eq!(body["total"], json!(14.0));
}

#[tokio::test]
async fn time_zone_moves_events_between_buckets() {
    let h = Harness::start().await;
    let meter = seeded(&h, json!({"func": "sum", "property": "v"})).await;
    // 23:30 UTC on March 1st is March 2nd in Berlin.
    let body = quantities(
        &h,
        &meter,
        &format!("{RANGE}&interval=day&timezone=Europe%2FBerlin"),
    )
    .await;
    assert_eq!(values(&body), [2.0, 12.0, 0.0]);
}

#[tokio::test]
async fn totals_follow_the_aggregation() {
    let h = Harness::start().await;
    let max = seeded(&h, json!({"func": "max", "property": "v"})).await;
    let body = quantities(&h, &max, &format!("{RANGE}&interval=day")).await;
    assert_eq!(values(&body), [4.0, 8.0, 0.0]);
    assert_eq!(body["total"], json!(8.0), "max over non-empty buckets");
    let min = h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "q"}]}), json!({"func": "min", "property": "v"})).await;
    let body = quantities(&h, &min, &format!("{RANGE}&interval=day")).await;
    assert_eq!(
        body["total"],
        json!(2.0),
        "an empty bucket's 0 is not a minimum"
    );
    // avg and unique ignore the time range entirely (the March 4th event counts).
    let avg = h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "q"}]}), json!({"func": "avg", "property": "v"})).await;
    let body = quantities(&h, &avg, &format!("{RANGE}&interval=day")).await;
    assert_eq!(body["total"], json!(3.75));
    let count = h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "q"}]}), json!({"func": "count"})).await;
    let body = quantities(&h, &count, &format!("{RANGE}&interval=day")).await;
    assert_eq!(body["total"], json!(3.0));
}

#[tokio::test]
async fn customer_filters_and_per_customer_aggregation() {
    let h = Harness::start().await;
    let meter = seeded(&h, json!({"func": "sum", "property": "v"})).await;
    let body = quantities(
        &h,
        &meter,
        &format!("{RANGE}&interval=day&external_customer_id=b"),
    )
    .await;
    assert_eq!(values(&body), [0.0, 8.0, 0.0]);
    // metadata[...] filters read the events' JSON instead of the materialised values.
    let body = quantities(
        &h,
        &meter,
        &format!("{RANGE}&interval=day&metadata%5Bv%5D=4"),
    )
    .await;
    assert_eq!(values(&body), [4.0, 0.0, 0.0]);
    let customer = h.customer("a@acme.io", Some("a")).await;
    // customer_id also matches events sent with the customer's external id.
    let body = quantities(
        &h,
        &meter,
        &format!(
            "{RANGE}&interval=day&customer_id={}",
            customer["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(values(&body), [6.0, 0.0, 0.0]);
    let range = "start_timestamp=2026-03-01T00%3A00%3A00Z&end_timestamp=2026-03-02T00%3A00%3A00Z";
    let body = quantities(
        &h,
        &meter,
        &format!("{range}&interval=month&customer_aggregation_function=max"),
    )
    .await;
    // Per customer: a = 6, b = 9 → max 9.
    assert_eq!(values(&body), [9.0]);
    let body = quantities(
        &h,
        &meter,
        &format!("{range}&interval=month&customer_aggregation_function=count"),
    )
    .await;
    assert_eq!(values(&body), [2.0]);
}

#[tokio::test]
async fn range_limits_and_empty_ranges() {
    let h = Harness::start().await;
    let meter = seeded(&h, json!({"func": "count"})).await;
    let too_big = h
        .request(Method::GET, &format!("/v1/meters/{meter}/quantities?start_timestamp=2026-03-01T00%3A00%3A00Z&end_timestamp=2026-03-09T00%3A00%3A00Z&interval=hour"), None)
        .await;
    assert_eq!(too_big.status, 422);
    assert_eq!(too_big.body["detail"][0]["loc"], json!(["query"]));
    let early = h
        .request(Method::GET, &format!("/v1/meters/{meter}/quantities?start_timestamp=2022-12-31T00%3A00%3A00Z&end_timestamp=2023-01-02T00%3A00%3A00Z&interval=day"), None)
        .await;
    assert_eq!(early.status, 422);
    let missing = h
        .request(
            Method::GET,
            &format!("/v1/meters/{meter}/quantities?interval=day"),
            None,
        )
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["detail"][0]["type"], "missing");
    let reversed = quantities(&h, &meter, "start_timestamp=2026-03-03T00%3A00%3A00Z&end_timestamp=2026-03-01T00%3A00%3A00Z&interval=day").await;
    assert_eq!(reversed, json!({"quantities": [], "total": 0.0}));
    let start = enc("2026-03-01T00:00:00+05:30");
    let body = quantities(
        &h,
        &meter,
        &format!("start_timestamp={start}&end_timestamp=2026-03-01T06%3A00%3A00Z&interval=hour"),
    )
    .await;
    assert_eq!(
        body["quantities"][0]["timestamp"], "2026-02-28T18:30:00Z",
        "points are returned in UTC"
    );
}
