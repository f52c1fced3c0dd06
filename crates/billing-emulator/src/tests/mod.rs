//! Table-driven semantics tests over real HTTP against an in-process emulator: every filter
//! operator and type rule, every aggregation, dedupe, lazy external customers, balances
//! across credit / reset / rollover, quantities buckets and totals, auth and error shapes,
//! fault injection and webhook delivery.

mod admin;
mod balances;
mod errors;
mod faults;
mod filters;
mod quantities;
mod server_parity;
mod webhooks;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::{EmulatorConfig, RunningEmulator, TokenSpec, serve};

pub struct Harness {
    pub emulator: RunningEmulator,
    pub client: Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(EmulatorConfig::default()).await
    }

    pub async fn with_config(config: EmulatorConfig) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emulator = serve(config).await.expect("emulator starts");
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { emulator, client }
    }

    pub async fn request_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.emulator.base_url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the emulator");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let token = self.emulator.token().to_owned();
        self.request_as(Some(&token), method, path, body).await
    }

    pub async fn get(&self, path: &str) -> Value {
        let reply = self.request(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
        reply.body
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let reply = self.request(Method::POST, path, Some(body)).await;
        assert!(
            reply.status.is_success(),
            "POST {path}: {} {}",
            reply.status,
            reply.body
        );
        reply.body
    }

    /// A POST with the admin token (reset, moving the clock).
    pub async fn admin_post(&self, path: &str, body: Value) -> Value {
        let token = self.emulator.admin_token().to_owned();
        let reply = self
            .request_as(Some(&token), Method::POST, path, Some(body))
            .await;
        assert!(
            reply.status.is_success(),
            "POST {path}: {} {}",
            reply.status,
            reply.body
        );
        reply.body
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn ingest(&self, events: Value) -> Value {
        self.post("/v1/events/ingest", json!({ "events": events }))
            .await
    }

    pub async fn meter(&self, filter: Value, aggregation: Value) -> String {
        let meter = self
            .post(
                "/v1/meters/",
                json!({"name": "Test meter", "filter": filter, "aggregation": aggregation}),
            )
            .await;
        meter["id"].as_str().unwrap().to_owned()
    }

    pub async fn customer(&self, email: &str, external_id: Option<&str>) -> Value {
        self.post(
            "/v1/customers/",
            json!({"email": email, "external_id": external_id}),
        )
        .await
    }

    /// The meter total over the last two days (covers events ingested "now").
    pub async fn total(&self, meter_id: &str) -> f64 {
        let now = chrono::Utc::now();
        let start =
            (now - chrono::Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let end =
            (now + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let body = self
            .get(&format!(
                "/v1/meters/{meter_id}/quantities?start_timestamp={}&end_timestamp={}&interval=day",
                enc(&start),
                enc(&end)
            ))
            .await;
        body["total"].as_f64().unwrap()
    }
}

/// Percent-encodes what matters in our query values (`+` and `:` in timestamps, JSON).
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub fn token_spec(spec: &str) -> TokenSpec {
    TokenSpec::parse(spec).unwrap()
}
