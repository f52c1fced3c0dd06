//! Real webhook delivery: Standard Webhooks signatures, retries, delivery records.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use super::Harness;
use crate::EmulatorConfig;

pub(super) type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver that fails the first `failures` attempts with a 500.
pub(super) async fn receiver(failures: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            async move {
                let mut all = store.lock().unwrap();
                all.push((headers, body));
                if all.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::ACCEPTED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn deliveries_are_signed_retried_and_recorded() {
    let h = Harness::with_config(EmulatorConfig {
        webhook_retry_base_ms: 20,
        ..EmulatorConfig::default()
    })
    .await;
    let (url, received) = receiver(2).await;
    let endpoint = h
        .post(
            "/v1/webhooks/endpoints",
            json!({"url": url, "format": "raw", "events": ["customer.created"]}),
        )
        .await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    h.customer("hook@acme.io", Some("hook")).await;
    h.post("/_emulator/webhooks/wait", json!({"timeout_ms": 10000}))
        .await;

    let attempts = received.lock().unwrap().clone();
    assert_eq!(attempts.len(), 3, "two failures then a success");
    let ids: Vec<&str> = attempts
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "webhook-id is stable across retries"
    );
    let (headers, body) = &attempts[2];
    let timestamp: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = crate::sign_webhook(
        &secret,
        ids[0],
        timestamp,
        std::str::from_utf8(body).unwrap(),
    );
    assert_eq!(
        headers["webhook-signature"].to_str().unwrap(),
        format!("v1,{expected}")
    );
    assert_eq!(headers["user-agent"], "spairehq.com webhooks");
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["type"], "customer.created");
    assert_eq!(payload["data"]["external_id"], "hook");

    let deliveries = h.get("/v1/webhooks/deliveries").await;
    let delivery = &deliveries["items"][0];
    assert_eq!(delivery["succeeded"], true);
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["http_code"], 202);
}

#[tokio::test]
async fn endpoints_only_get_their_event_types_and_must_be_https_or_loopback() {
    let h = Harness::start().await;
    let (url, received) = receiver(0).await;
    h.post(
        "/v1/webhooks/endpoints",
        json!({"url": url, "format": "raw", "events": ["benefit.created"]}),
    )
    .await;
    h.customer("quiet@acme.io", None).await;
    h.post("/_emulator/webhooks/wait", json!({})).await;
    assert!(received.lock().unwrap().is_empty());
    let reply = h
        .request(
            reqwest::Method::POST,
            "/v1/webhooks/endpoints",
            Some(json!({"url": "http://example.org/x", "format": "raw", "events": []})),
        )
        .await;
    assert_eq!(reply.status, 422);
    let reply = h.request(reqwest::Method::POST, "/v1/webhooks/endpoints", Some(json!({"url": "https://example.org/x", "format": "raw", "events": ["meter.updated"]}))).await;
    assert_eq!(reply.status, 422, "not a webhook event type");
}

#[tokio::test]
async fn ingesting_usage_sends_customer_state_changed_with_the_new_balance() {
    let h = Harness::start().await;
    let (url, received) = receiver(0).await;
    h.post(
        "/v1/webhooks/endpoints",
        json!({"url": url, "format": "raw", "events": ["customer.state_changed"]}),
    )
    .await;
    let meter = h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "use"}]}), json!({"func": "count"})).await;
    h.customer("state@acme.io", Some("state")).await;
    h.ingest(json!([{"name": "use", "external_customer_id": "state"}]))
        .await;
    h.post("/_emulator/webhooks/wait", json!({})).await;
    let bodies: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "one on create, one after usage");
    let last = bodies
        .iter()
        .find(|b| !b["data"]["active_meters"].as_array().unwrap().is_empty())
        .expect("a state with meters");
    assert_eq!(last["data"]["active_meters"][0]["meter_id"], meter.as_str());
    assert_eq!(last["data"]["active_meters"][0]["balance"], json!(-1.0));
}
