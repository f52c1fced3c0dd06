//! Unit tests of the client against a tiny scripted axum server: retries, error messages, pagination.
//! (The full round trip against the emulator lives in the spaire-billing integration tests.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

const TOKEN: &str = "spaire_oat_mock_token_never_printed";

/// A scripted answer: status, extra headers, body.
#[derive(Clone)]
struct Answer(u16, Vec<(&'static str, String)>, serde_json::Value);

#[derive(Default)]
struct Script {
    answers: VecDeque<Answer>,
    seen: Vec<(String, String, Option<String>, String)>,
}

async fn handler(
    State(script): State<Arc<Mutex<Script>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = script.lock().unwrap();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.seen.push((
        method.to_string(),
        uri.to_string(),
        auth,
        String::from_utf8_lossy(&body).into_owned(),
    ));
    let Answer(status, extra, body) =
        s.answers
            .pop_front()
            .unwrap_or(Answer(500, vec![], json!({"detail": "script exhausted"})));
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        if body.is_null() {
            String::new()
        } else {
            body.to_string()
        },
    )
        .into_response();
    for (k, v) in extra {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

async fn serve(answers: Vec<Answer>) -> (String, Arc<Mutex<Script>>) {
    let script = Arc::new(Mutex::new(Script {
        answers: answers.into(),
        seen: Vec::new(),
    }));
    let app = Router::new().fallback(handler).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), script)
}

fn client(base: &str) -> Client {
    let mut config = ClientConfig::new(ServerUrl::parse(base).unwrap(), Secret::new(TOKEN));
    config.retry = RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
    };
    config.environment = Some(billing_plan::Environment::Sandbox);
    Client::new(config).unwrap()
}

fn meter_json(id: &str, name: &str) -> serde_json::Value {
    json!({"id": id, "name": name, "created_at": "2026-01-01T00:00:00Z", "modified_at": null,
           "organization_id": "o", "metadata": {}, "archived_at": null,
           "filter": {"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "api-call"}]},
           "aggregation": {"func": "count"}})
}

#[tokio::test]
async fn get_is_retried_after_5xx_and_sends_the_bearer_token() {
    let (base, script) = serve(vec![
        Answer(503, vec![], json!({"detail": "busy"})),
        Answer(502, vec![], json!(null)),
        Answer(200, vec![], meter_json("m1", "api-calls")),
    ])
    .await;
    let c = client(&base);
    let meter = c.meter("m1").await.unwrap();
    assert_eq!(meter.name, "api-calls");
    let seen = &script.lock().unwrap().seen;
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].1, "/v1/meters/m1");
    assert_eq!(
        seen[0].2.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(c.stats().retries, 2);
    assert_eq!(c.stats().reads, 3);
}

#[tokio::test]
async fn a_create_is_not_retried_after_5xx() {
    let (base, script) = serve(vec![
        Answer(
            500,
            vec![],
            json!({"error": "InternalServerError", "detail": "An unexpected error occurred."}),
        ),
        Answer(201, vec![], meter_json("m1", "api-calls")),
    ])
    .await;
    let c = client(&base);
    let err = c
        .create_meter(&MeterCreate {
            name: "api-calls".into(),
            filter: Filter::event_name("api-call"),
            aggregation: Aggregation {
                func: billing_plan::AggregationFunc::Count,
                property: None,
            },
            metadata: Default::default(),
        })
        .await
        .unwrap_err();
    assert!(err.outcome_unknown());
    assert_eq!(
        err.to_string(),
        "POST /v1/meters/ failed: 500 server error: An unexpected error occurred."
    );
    assert_eq!(
        script.lock().unwrap().seen.len(),
        1,
        "must not resend a create"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_even_for_a_create() {
    let (base, script) = serve(vec![
        Answer(429, vec![("retry-after", "1".into())], json!(null)),
        Answer(201, vec![], meter_json("m1", "api-calls")),
    ])
    .await;
    let c = client(&base);
    let started = std::time::Instant::now();
    let meter = c
        .create_meter(&MeterCreate {
            name: "api-calls".into(),
            filter: Filter::event_name("api-call"),
            aggregation: Aggregation {
                func: billing_plan::AggregationFunc::Count,
                property: None,
            },
            metadata: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(meter.id, "m1");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after was not honoured"
    );
    assert_eq!(script.lock().unwrap().seen.len(), 2);
    assert_eq!(c.stats().writes, 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_ends_with_a_rate_limit_error() {
    let (base, _script) = serve(vec![Answer(
        429,
        vec![("retry-after", "60".into())],
        json!(null),
    )])
    .await;
    let err = client(&base).meter("m1").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v1/meters/m1 failed: 429 rate limited (retry after 60 s)"
    );
    assert!(err.hint().contains("wait a minute"));
}

#[tokio::test]
async fn ingest_is_retried_only_when_every_event_has_an_external_id() {
    let (base, script) = serve(vec![
        Answer(500, vec![], json!({"detail": "x"})),
        Answer(200, vec![], json!({"inserted": 0, "duplicates": 1})),
        Answer(500, vec![], json!({"detail": "x"})),
    ])
    .await;
    let c = client(&base);
    let keyed = EventCreate::for_external_customer("api-call", "u1").with_external_id("e1");
    let r = c.ingest_events(&[keyed]).await.unwrap();
    assert_eq!(r.duplicates, 1);
    let unkeyed = EventCreate::for_external_customer("api-call", "u1");
    assert!(c.ingest_events(&[unkeyed]).await.is_err());
    assert_eq!(script.lock().unwrap().seen.len(), 3);
}

#[tokio::test]
async fn errors_say_what_to_do_and_never_contain_the_token() {
    let (base, _script) = serve(vec![
        Answer(401, vec![("www-authenticate", r#"Bearer realm="spaire", error="invalid_token""#.into())],
            json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed, or invalid for other reasons."})),
        Answer(403, vec![("www-authenticate", r#"Bearer realm="spaire", error="insufficient_scope", scope="web:write meters:write""#.into())],
            json!({"error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the access token."})),
        Answer(422, vec![], json!({"error": "RequestValidationError", "detail": [
            {"type": "greater_than", "loc": ["body", "prices", 1, "ProductPriceMeteredUnitCreate", "unit_amount"], "msg": "Input should be greater than 0", "input": "0"}]})),
        Answer(404, vec![], json!({"error": "ResourceNotFound", "detail": "Not found"})),
    ])
    .await;
    let c = client(&base);
    let mut rendered = Vec::new();
    for _ in 0..4 {
        let err = c.meter("m1").await.unwrap_err();
        let text = format!("{err}\nhint: {}\n{err:?}", err.hint());
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        rendered.push(format!("{err}\nhint: {}", err.hint()));
    }
    assert_eq!(
        rendered[0].lines().next().unwrap(),
        "GET /v1/meters/m1 failed: 401 the access token was rejected (invalid, expired, revoked, or from another environment)"
    );
    assert!(
        rendered[0].contains("sandbox and production tokens are separate"),
        "{}",
        rendered[0]
    );
    assert!(
        rendered[1].starts_with(
            "GET /v1/meters/m1 failed: 403 the access token lacks the `meters:write` scope"
        ),
        "{}",
        rendered[1]
    );
    assert!(rendered[2].starts_with("GET /v1/meters/m1 failed: 422 invalid request: `prices[1].unit_amount`: Input should be greater than 0"), "{}", rendered[2]);
    assert!(rendered[3].starts_with("GET /v1/meters/m1 failed: 404 not found"));
    assert!(format!("{c:?}").contains("[redacted]"));
    assert!(!format!("{c:?}").contains(TOKEN));
}

#[tokio::test]
async fn pagination_walks_every_page_until_max_page() {
    let page = |ids: &[&str], total: u64, max: u64| {
        Answer(
            200,
            vec![],
            json!({
            "items": ids.iter().map(|i| meter_json(i, i)).collect::<Vec<_>>(),
            "pagination": {"total_count": total, "max_page": max}}),
        )
    };
    let (base, script) = serve(vec![page(&["a", "b"], 3, 2), page(&["c"], 3, 2)]).await;
    let c = client(&base);
    let all = c
        .meters(&MeterListQuery::default())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let seen = &script.lock().unwrap().seen;
    assert_eq!(seen[0].1, "/v1/meters/?page=1&limit=100");
    assert_eq!(seen[1].1, "/v1/meters/?page=2&limit=100");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_explained() {
    // Bind then drop to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"));
    let err = c.meter("m1").await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Connection { .. }), "{err}");
    assert_eq!(c.stats().retries, 3);
    assert!(err.hint().contains("could not reach the API"));
}
