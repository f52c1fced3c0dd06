//! Webhook delivery exactly as the server signs it (api-reference §7): Standard Webhooks,
//! HMAC-SHA256 keyed with the UTF-8 bytes of the whole `spaire_whs_…` secret, a stable
//! `webhook-id` per event and a fresh `webhook-timestamp` per attempt; non-2xx and redirects
//! are failures, retried with exponential backoff; an endpoint is disabled after 10
//! consecutive failed events. Every attempt is recorded and listed by
//! `GET /v1/webhooks/deliveries`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::db::{self, Kind};
use crate::resources::{iso, new_id};
use crate::state::AppState;

/// Consecutive failed events after which an endpoint is disabled (`WEBHOOK_FAILURE_THRESHOLD`).
const FAILURE_THRESHOLD: i64 = 10;

/// Webhook event types the server accepts on an endpoint: one list, shared with plan
/// validation, so the emulator and `spaire-billing.toml` can never disagree.
pub use billing_plan::WEBHOOK_EVENT_TYPES as EVENT_TYPES;

/// `base64(HMAC-SHA256(utf8(secret), "{id}.{timestamp}.{body}"))`.
pub fn sign(secret: &str, webhook_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(format!("{webhook_id}.{timestamp}.{body}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `spaire_whs_` + 37 alphanumerics + a 6-character base62 CRC32, like the server's secrets.
pub fn generate_secret() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut random = Vec::with_capacity(37);
    while random.len() < 37 {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            // Rejection sampling keeps the alphabet uniform.
            if (*byte as usize) < 62 * 4 && random.len() < 37 {
                random.push(ALPHABET[*byte as usize % 62]);
            }
        }
    }
    let body = String::from_utf8(random).unwrap_or_default();
    let mut crc = crc32(body.as_bytes());
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = ALPHABET[(crc % 62) as usize];
        crc /= 62;
    }
    format!(
        "spaire_whs_{body}{}",
        String::from_utf8(check.to_vec()).unwrap_or_default()
    )
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Sends queued deliveries in the background and lets tests wait until none are in flight.
pub struct Dispatcher {
    client: Option<reqwest::Client>,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Dispatcher {
    pub fn new() -> Self {
        // reqwest is built without a bundled crypto provider; install ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("spairehq.com webhooks")
            .build()
            .map_err(|err| tracing::error!(%err, "webhook HTTP client unavailable"))
            .ok();
        Self {
            client,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no delivery is pending (or `timeout` passes); true when idle.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            if self.in_flight() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.in_flight() == 0;
            }
        }
    }
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new()
    }
}

/// A delivery to start once the database lock is released.
#[derive(Debug)]
pub struct Job {
    delivery_id: String,
    webhook_id: String,
    url: String,
    secret: String,
    body: String,
}

/// True when an enabled endpoint of `org` listens to `kind` (skip building payloads otherwise).
pub fn subscribed(conn: &Connection, org: &str, kind: &str) -> rusqlite::Result<bool> {
    Ok(db::list_docs(conn, Kind::WebhookEndpoint, org)?
        .iter()
        .any(|endpoint| {
            endpoint["enabled"] == json!(true)
                && endpoint["events"]
                    .as_array()
                    .is_some_and(|events| events.iter().any(|e| e == kind))
        }))
}

/// Records one webhook event for every enabled endpoint of `org` subscribed to `kind`;
/// returns the deliveries to start with [`spawn`].
pub fn emit(
    conn: &Connection,
    state: &AppState,
    org: &str,
    kind: &str,
    data: Value,
) -> rusqlite::Result<Vec<Job>> {
    let endpoints = db::list_docs(conn, Kind::WebhookEndpoint, org)?;
    let mut jobs = Vec::new();
    for endpoint in endpoints {
        let subscribed = endpoint["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e == kind));
        if !subscribed || endpoint["enabled"] != json!(true) {
            continue;
        }
        let webhook_id = new_id();
        let body = json!({"type": kind, "timestamp": iso(state.now()), "data": data}).to_string();
        let delivery = json!({
            "id": new_id(),
            "created_at": iso(state.now()),
            "modified_at": null,
            "succeeded": false,
            "http_code": null,
            "response": null,
            "attempts": 0,
            "webhook_endpoint_id": endpoint["id"],
            "webhook_event": {"id": webhook_id, "type": kind, "payload": body},
            "_pending": true,
        });
        db::insert_doc(
            conn,
            Kind::WebhookDelivery,
            org,
            endpoint["id"].as_str(),
            &delivery,
        )?;
        jobs.push(Job {
            delivery_id: delivery["id"].as_str().unwrap_or_default().to_owned(),
            webhook_id,
            url: endpoint["url"].as_str().unwrap_or_default().to_owned(),
            secret: endpoint["secret"].as_str().unwrap_or_default().to_owned(),
            body,
        });
    }
    Ok(jobs)
}

/// Starts the deliveries (call after releasing the database lock).
pub fn spawn(state: &Arc<AppState>, jobs: Vec<Job>) {
    for job in jobs {
        state.dispatcher.in_flight.fetch_add(1, Ordering::SeqCst);
        let state = state.clone();
        tokio::spawn(async move {
            deliver(&state, job).await;
            if state.dispatcher.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                state.dispatcher.idle.notify_waiters();
            }
        });
    }
}

async fn deliver(state: &Arc<AppState>, job: Job) {
    let Some(client) = state.dispatcher.client.clone() else {
        return;
    };
    let max_attempts = state.config.webhook_max_retries + 1;
    let mut succeeded = false;
    for attempt in 0..max_attempts {
        if attempt > 0 {
            let backoff = state
                .config
                .webhook_retry_base_ms
                .saturating_mul(1 << (attempt - 1).min(16));
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
        // Real time, not the test clock: receivers check it against their own clock.
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&job.secret, &job.webhook_id, timestamp, &job.body);
        let result = client
            .post(&job.url)
            .header("content-type", "application/json")
            .header("webhook-id", &job.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", format!("v1,{signature}"))
            .body(job.body.clone())
            .send()
            .await;
        let (code, response, ok) = match result {
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                (Some(status.as_u16()), text, status.is_success())
            }
            Err(err) => (None, format!("delivery failed: {err}"), false),
        };
        let last = ok || attempt + 1 == max_attempts;
        record_attempt(state, &job, attempt + 1, code, &response, ok, last);
        if ok {
            succeeded = true;
            break;
        }
    }
    record_outcome(state, &job, succeeded);
}

fn record_attempt(
    state: &AppState,
    job: &Job,
    attempts: u32,
    code: Option<u16>,
    response: &str,
    ok: bool,
    last: bool,
) {
    let conn = state.db();
    let Ok(Some((org, mut doc))) = find_delivery(&conn, &job.delivery_id) else {
        return;
    };
    let _ = org;
    doc["attempts"] = json!(attempts);
    doc["http_code"] = json!(code);
    doc["response"] = json!(response.chars().take(2048).collect::<String>());
    doc["succeeded"] = json!(ok);
    doc["modified_at"] = json!(iso(state.now()));
    doc["_pending"] = json!(!last);
    let ext = doc["webhook_endpoint_id"].as_str().map(str::to_owned);
    let _ = db::update_doc(&conn, &doc, ext.as_deref());
}

fn find_delivery(conn: &Connection, id: &str) -> rusqlite::Result<Option<(String, Value)>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT org, doc FROM docs WHERE id = ?1", [id], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })
    .optional()
    .map(|found| found.and_then(|(org, doc)| Some((org, serde_json::from_str(&doc).ok()?))))
}

/// Tracks consecutive failed events per endpoint and disables it at the threshold.
fn record_outcome(state: &AppState, job: &Job, succeeded: bool) {
    let conn = state.db();
    let Ok(Some((_, delivery))) = find_delivery(&conn, &job.delivery_id) else {
        return;
    };
    let Some(endpoint_id) = delivery["webhook_endpoint_id"].as_str() else {
        return;
    };
    let Ok(Some((_, mut endpoint))) = find_delivery(&conn, endpoint_id) else {
        return;
    };
    let failures = if succeeded {
        0
    } else {
        endpoint["_failures"].as_i64().unwrap_or(0) + 1
    };
    endpoint["_failures"] = json!(failures);
    if failures >= FAILURE_THRESHOLD {
        endpoint["enabled"] = json!(false);
        tracing::warn!(
            endpoint = endpoint_id,
            "webhook endpoint disabled after repeated failures"
        );
    }
    let _ = db::update_doc(&conn, &endpoint, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_standard_webhooks_with_the_raw_secret_as_key() {
        // Standard Webhooks verifies with base64(secret) as its key; it decodes it back to
        // the secret bytes, so this is the value a receiver computes.
        let sig = sign("spaire_whs_test", "msg_1", 1_700_000_000, "{\"a\":1}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"spaire_whs_test").unwrap();
        mac.update(b"msg_1.1700000000.{\"a\":1}");
        assert_eq!(sig, STANDARD.encode(mac.finalize().into_bytes()));
    }

    #[test]
    fn generated_secrets_have_the_server_shape() {
        let secret = generate_secret();
        let body = secret.strip_prefix("spaire_whs_").unwrap();
        assert_eq!(body.len(), 43);
        assert!(body.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(secret, generate_secret());
    }

    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
