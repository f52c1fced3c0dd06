//! Emulator benchmark (not run in CI): `cargo bench -p billing-emulator --bench emulator`.
//!
//! 1. Ingest throughput over HTTP with batches of 100 and 1000 events, against a raw SQLite
//!    bulk insert of the same rows into the same schema, measured in the same run
//!    (target: emulator ≥ 0.3 × raw).
//! 2. `GET /v1/meters/{id}/quantities` over 1,000,000 events (target: ≤ 250 ms).
//! 3. Peak resident memory of the whole process (emulator + client + data).
//!
//! `BENCH_EVENTS` sets the events per ingest run (default 100000); `BENCH_QUANTITY_EVENTS`
//! the events behind the quantities query (default 1000000).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use billing_emulator::{EmulatorConfig, serve};
use serde_json::json;
use tokio::sync::Semaphore;

const IN_FLIGHT: usize = 4;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Row {
    id: String,
    customer: String,
    timestamp: chrono::DateTime<chrono::Utc>,
    metadata: serde_json::Value,
}

fn rows(count: usize, spread: Duration) -> Vec<Row> {
    let now = chrono::Utc::now() - chrono::Duration::minutes(1);
    let step = spread.as_micros() as i64 / count.max(1) as i64;
    (0..count)
        .map(|i| Row {
            id: uuid::Uuid::new_v4().to_string(),
            customer: format!("user-{}", i % 500),
            timestamp: now - chrono::Duration::microseconds(step * i as i64),
            metadata: json!({"totalTokens": (i % 1000) as i64, "model": "gpt-4o", "route": "/api/chat"}),
        })
        .collect()
}

fn body(batch: &[Row]) -> String {
    let events: Vec<_> = batch
        .iter()
        .map(|r| {
            json!({
                "name": "llm-usage",
                "external_customer_id": r.customer,
                "timestamp": r.timestamp.to_rfc3339(),
                "metadata": r.metadata,
            })
        })
        .collect();
    json!({ "events": events }).to_string()
}

async fn ingest_over_http(base: &str, token: &str, bodies: Vec<String>) -> Duration {
    let client = reqwest::Client::new();
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for body in bodies {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let request = client
            .post(format!("{base}/v1/events/ingest"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.expect("ingest request");
            assert!(
                response.status().is_success(),
                "ingest failed: {}",
                response.status()
            );
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

/// The baseline: the same rows into the same `events` table with one prepared statement and
/// one transaction per batch, no HTTP, no JSON parsing, no validation.
fn raw_insert(rows: &[Row], batch: usize) -> Duration {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(billing_emulator::events_schema_sql())
        .unwrap();
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO events (id, org, external_customer_id, name, source, ts, ingested_at, metadata)
                     VALUES (?1, 'org', ?2, 'llm-usage', 'user', ?3, ?4, jsonb(?5))",
                )
                .unwrap();
            for row in chunk {
                stmt.execute(rusqlite::params![
                    row.id,
                    row.customer,
                    row.timestamp.timestamp_micros(),
                    row.timestamp.timestamp_micros(),
                    row.metadata.to_string()
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    started.elapsed()
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn create_meter(client: &reqwest::Client, base: &str, token: &str) -> String {
    let meter: serde_json::Value = client
        .post(format!("{base}/v1/meters/"))
        .bearer_auth(token)
        .json(&json!({
            "name": "Tokens",
            "filter": {"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "llm-usage"}]},
            "aggregation": {"func": "sum", "property": "totalTokens"}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    meter["id"].as_str().unwrap().to_owned()
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let events = env_usize("BENCH_EVENTS", 100_000);
        println!("ingest: {events} events per run, {IN_FLIGHT} requests in flight, 2 tokio workers");
        for batch in [100usize, 1000] {
            let data = rows(events, Duration::from_secs(3600));
            let bodies: Vec<String> = data.chunks(batch).map(body).collect();
            let emulator = serve(EmulatorConfig::default()).await.unwrap();
            let base = emulator.base_url();
            let token = emulator.token().to_owned();
            let client = reqwest::Client::new();
            create_meter(&client, &base, &token).await;
            let http = ingest_over_http(&base, &token, bodies).await;
            emulator.shutdown().await;
            let raw = raw_insert(&data, batch);
            let http_rate = events as f64 / http.as_secs_f64();
            let raw_rate = events as f64 / raw.as_secs_f64();
            println!(
                "  batch {batch:>4}: emulator {http_rate:>9.0} events/s ({:.2} s), raw SQLite {raw_rate:>9.0} events/s ({:.2} s), ratio {:.2} (target >= 0.30)",
                http.as_secs_f64(),
                raw.as_secs_f64(),
                http_rate / raw_rate
            );
        }

        let total = env_usize("BENCH_QUANTITY_EVENTS", 1_000_000);
        let emulator = serve(EmulatorConfig::default()).await.unwrap();
        let base = emulator.base_url();
        let token = emulator.token().to_owned();
        let client = reqwest::Client::new();
        let meter = create_meter(&client, &base, &token).await;
        let loaded = Instant::now();
        let mut remaining = total;
        while remaining > 0 {
            let chunk = remaining.min(100_000);
            let data = rows(chunk, Duration::from_secs(29 * 86_400));
            ingest_over_http(&base, &token, data.chunks(1000).map(body).collect()).await;
            remaining -= chunk;
        }
        println!("quantities: loaded {total} events in {:.1} s", loaded.elapsed().as_secs_f64());
        let end = chrono::Utc::now();
        let start = end - chrono::Duration::days(30);
        for (label, extra) in [("all customers", String::new()), ("one customer", "&external_customer_id=user-7".to_owned())] {
            let url = format!(
                "{base}/v1/meters/{meter}/quantities?start_timestamp={}&end_timestamp={}&interval=day{extra}",
                start.format("%Y-%m-%dT%H:%M:%SZ"),
                end.format("%Y-%m-%dT%H:%M:%SZ")
            );
            let mut timings = Vec::new();
            let mut last_total = 0.0;
            for _ in 0..5 {
                let started = Instant::now();
                let body: serde_json::Value = client.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
                timings.push(started.elapsed());
                last_total = body["total"].as_f64().unwrap_or(f64::NAN);
            }
            timings.sort();
            println!(
                "  30 daily buckets, {label}: median {:.0} ms, best {:.0} ms (target <= 250 ms), total = {last_total}",
                timings[2].as_secs_f64() * 1000.0,
                timings[0].as_secs_f64() * 1000.0
            );
        }
        emulator.shutdown().await;
        if let Some(mb) = peak_rss_mb() {
            println!("peak resident memory of the bench process: {mb:.0} MB");
        }
    });
}
