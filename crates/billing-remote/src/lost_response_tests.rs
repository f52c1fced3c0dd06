//! Creates whose response is lost: the server applied the write, the client saw a 502.
//!
//! The emulator injects its faults *before* handling a request, so it never produces this
//! case. A small proxy in front of it does: it forwards every request, and for the first
//! request of each listed kind it throws the real answer away and returns 502. Apply must
//! then find the object it already created instead of creating a second one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use billing_api::{Client, ClientConfig, NewPrice, ProductCreate, RetryPolicy, Secret, ServerUrl};
use billing_plan::{
    Aggregation, AggregationFunc, BillingPlan, CreditGrant, CustomerSource, Environment, Meter,
    MeterKind, MeteredPrice, ProductRef, ProjectSection,
};

use crate::RemoteState;

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    /// (method, path prefix) → answers still to lose.
    lose: Mutex<Vec<(Method, String)>>,
    lost: Mutex<Vec<String>>,
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!("{}{}", proxy.upstream, uri);
    let mut request = proxy.http.request(method.clone(), url).body(body);
    for (name, value) in &headers {
        if name == "authorization" || name == "content-type" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let upstream = request.send().await.expect("emulator reachable");
    let status = upstream.status().as_u16();
    let bytes = upstream.bytes().await.expect("emulator body");
    let lose = {
        let mut lose = proxy.lose.lock().unwrap();
        let hit = lose
            .iter()
            .position(|(m, prefix)| *m == method && uri.path().starts_with(prefix.as_str()));
        hit.map(|i| lose.remove(i))
    };
    if let Some((m, _)) = lose {
        proxy
            .lost
            .lock()
            .unwrap()
            .push(format!("{m} {} (was {status})", uri.path()));
        return (StatusCode::BAD_GATEWAY, "upstream connection reset").into_response();
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(bytes))
        .unwrap()
}

async fn start_proxy(upstream: String, lose: Vec<(Method, String)>) -> (Arc<Proxy>, String) {
    let proxy = Arc::new(Proxy {
        upstream,
        http: reqwest::Client::new(),
        lose: Mutex::new(lose),
        lost: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(forward).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (proxy, format!("http://{addr}"))
}

fn plan() -> BillingPlan {
    BillingPlan {
        call_site_customer: Default::default(),
        environment: Environment::Local,
        server_url: None,
        project: ProjectSection {
            path: ".".into(),
            framework: None,
        },
        customer: CustomerSource::Session,
        meters: vec![Meter {
            name: "api-calls".into(),
            event: "api-call".into(),
            aggregation: Aggregation {
                func: AggregationFunc::Count,
                property: None,
            },
            kind: MeterKind::ApiCalls,
            preset: None,
            markup: None,
            paths: None,
        }],
        prices: vec![MeteredPrice {
            meter: "api-calls".into(),
            product: ProductRef("Pro".into()),
            unit_amount: "0.5".into(),
            cap_amount: None,
        }],
        credits: vec![CreditGrant {
            meter: "api-calls".into(),
            product: ProductRef("Pro".into()),
            units: 10,
            rollover: true,
        }],
        webhooks: None,
    }
}

fn client(base: &str, token: &str) -> Client {
    let mut config = ClientConfig::new(ServerUrl::parse(base).unwrap(), Secret::new(token));
    config.retry = RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(1),
    };
    Client::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_whose_response_was_lost_are_found_not_duplicated() {
    let emulator = billing_emulator::serve(Default::default()).await.unwrap();
    let direct = client(&emulator.base_url(), emulator.token());
    direct
        .create_product(&ProductCreate {
            name: "Pro".into(),
            recurring_interval: Some("month".into()),
            prices: vec![NewPrice::Fixed {
                price_amount: 1000,
                price_currency: "usd".into(),
            }],
            description: None,
        })
        .await
        .unwrap();

    let (proxy, proxy_url) = start_proxy(
        emulator.base_url(),
        vec![
            (Method::POST, "/v1/meters/".into()),
            (Method::PATCH, "/v1/products/".into()),
            (Method::POST, "/v1/benefits/".into()),
        ],
    )
    .await;
    let via_proxy = client(&proxy_url, emulator.token());
    let mut state = RemoteState::default();
    let report = crate::apply(&plan(), &via_proxy, Environment::Local, &mut state)
        .await
        .expect("apply recovers from lost responses");
    let lost = proxy.lost.lock().unwrap().clone();
    assert_eq!(
        lost.len(),
        3,
        "every kind of create lost its response once: {lost:?}"
    );
    assert_eq!(lost[0], "POST /v1/meters/ (was 201)");
    assert!(
        lost[1].starts_with("PATCH /v1/products/") && lost[1].ends_with("(was 200)"),
        "{lost:?}"
    );
    assert_eq!(lost[2], "POST /v1/benefits/ (was 201)");

    let meters = direct
        .meters(&Default::default())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(meters.len(), 1, "no duplicate meter: {meters:#?}");
    let products = direct
        .products(&Default::default())
        .collect_all()
        .await
        .unwrap();
    let types: Vec<&str> = products[0]
        .prices
        .iter()
        .map(|p| p.amount_type.as_str())
        .collect();
    assert_eq!(
        types,
        ["fixed", "metered_unit"],
        "one metered price, fixed price kept"
    );
    let benefits = direct.benefits(None).collect_all().await.unwrap();
    assert_eq!(benefits.len(), 1, "no duplicate benefit");
    assert_eq!(products[0].benefit_ids(), vec![benefits[0].id.clone()]);

    // Everything found after a lost response is recorded as ours, so undo removes it.
    let objects: BTreeMap<_, _> = state.env(Environment::Local).unwrap().objects.clone();
    assert!(objects.values().all(|r| r.created_by_us), "{objects:#?}");
    assert!(report.changed_anything());
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_ingest_whose_response_was_lost_is_retried_and_counted_once() {
    let emulator = billing_emulator::serve(Default::default()).await.unwrap();
    let (proxy, proxy_url) = start_proxy(
        emulator.base_url(),
        vec![(Method::POST, "/v1/events/ingest".into())],
    )
    .await;
    let c = client(&proxy_url, emulator.token());
    let events: Vec<billing_api::EventCreate> = (0..3)
        .map(|i| {
            billing_api::EventCreate::for_external_customer("call", "u1")
                .with_external_id(format!("e{i}"))
        })
        .collect();
    // The first attempt is stored but its answer lost; the retry finds all three stored.
    let response = c.ingest_events(&events).await.unwrap();
    assert_eq!((response.inserted, response.duplicates), (0, 3));
    assert_eq!(proxy.lost.lock().unwrap().len(), 1);
    assert_eq!(c.stats().retries, 1);
    // Without external ids nothing deduplicates, so such a batch is never resent.
    proxy
        .lose
        .lock()
        .unwrap()
        .push((Method::POST, "/v1/events/ingest".into()));
    let unkeyed = [billing_api::EventCreate::for_external_customer(
        "call", "u1",
    )];
    let err = c.ingest_events(&unkeyed).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    assert_eq!(c.stats().retries, 1, "an unkeyed batch must not be retried");
    emulator.shutdown().await;
}
