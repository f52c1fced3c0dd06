//! Fault injection and rate limiting as a client sees them.

use reqwest::Method;

use super::Harness;
use crate::EmulatorConfig;

#[tokio::test]
async fn fail_rate_one_fails_every_request_with_all_three_kinds() {
    let h = Harness::with_config(EmulatorConfig {
        fail_rate: 1.0,
        seed: 42,
        ..EmulatorConfig::default()
    })
    .await;
    let (mut server_errors, mut throttled, mut dropped) = (0, 0, 0);
    for _ in 0..40 {
        let result = h
            .client
            .get(format!("{}/v1/meters/", h.emulator.base_url()))
            .bearer_auth(h.emulator.token())
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_server_error() => server_errors += 1,
            Ok(response) if response.status() == 429 => {
                assert_eq!(response.headers()["retry-after"], "1");
                throttled += 1;
            }
            Ok(response) => panic!("unexpected success {}", response.status()),
            Err(err) => {
                assert!(!err.is_timeout(), "{err}");
                dropped += 1;
            }
        }
    }
    assert!(
        server_errors > 0 && throttled > 0 && dropped > 0,
        "{server_errors}/{throttled}/{dropped}"
    );
    // The emulator-only endpoints are never faulted.
    let health = h
        .request_as(None, Method::GET, "/_emulator/health", None)
        .await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn rate_limit_answers_429_with_an_empty_body_and_retry_after() {
    let h = Harness::with_config(EmulatorConfig {
        rate_limit: true,
        rate_limit_per_minute: 3,
        ..EmulatorConfig::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            h.request(Method::GET, "/v1/meters/", None).await.status,
            200
        );
    }
    let limited = h.request(Method::GET, "/v1/meters/", None).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "60");
    assert_eq!(limited.body, serde_json::Value::Null);
}

#[tokio::test]
async fn latency_delays_responses() {
    let h = Harness::with_config(EmulatorConfig {
        latency_ms: 150,
        ..EmulatorConfig::default()
    })
    .await;
    let started = std::time::Instant::now();
    h.request(Method::GET, "/v1/meters/", None).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
}

/// `--commit-fail-rate`: an ingest whose answer is lost (5xx, dropped, timed out) was
/// stored all the same, so a retry with the same `external_id` is a duplicate (issue 16).
#[tokio::test]
async fn commit_faults_store_the_batch_then_lose_the_answer() {
    let h = Harness::with_config(EmulatorConfig {
        commit_fail_rate: 0.5,
        fault_hang_ms: 300,
        seed: 11,
        ..EmulatorConfig::default()
    })
    .await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(150))
        .build()
        .unwrap();
    let (mut ok, mut server_errors, mut dropped, mut timed_out) = (0, 0, 0, 0);
    let (mut inserted, mut duplicates) = (0, 0);
    for i in 0..40 {
        let body = serde_json::json!({"events": [
            {"name": "call", "external_customer_id": "u1", "external_id": format!("e{i}")}
        ]});
        // The recorder's behaviour: retry the same event until an answer arrives.
        for attempt in 0.. {
            assert!(attempt < 50, "event e{i} never got an answer");
            let result = client
                .post(format!("{}/v1/events/ingest", h.emulator.base_url()))
                .bearer_auth(h.emulator.token())
                .json(&body)
                .send()
                .await;
            match result {
                Ok(response) if response.status() == 200 => {
                    let answer: serde_json::Value = response.json().await.unwrap();
                    inserted += answer["inserted"].as_i64().unwrap();
                    duplicates += answer["duplicates"].as_i64().unwrap();
                    ok += 1;
                    break;
                }
                Ok(response) if response.status().is_server_error() => server_errors += 1,
                Ok(response) => panic!("unexpected answer {}", response.status()),
                Err(err) if err.is_timeout() => timed_out += 1,
                Err(_) => dropped += 1,
            }
        }
    }
    assert_eq!(ok, 40);
    assert!(
        server_errors > 0 && dropped > 0 && timed_out > 0,
        "{server_errors}/{dropped}/{timed_out}"
    );
    // The emulator reports what it injected: every lost answer, and nothing before processing.
    let injected = h
        .request_as(
            Some(h.emulator.token()),
            Method::GET,
            "/_emulator/faults",
            None,
        )
        .await;
    assert_eq!(injected.status, 200);
    assert_eq!(injected.body["before_processing"], 0);
    assert_eq!(
        injected.body["after_commit"],
        server_errors + dropped + timed_out,
        "{}",
        injected.body
    );
    // Every lost answer was a committed insert: the retries that answered saw duplicates.
    assert!(
        duplicates > 0 && inserted + duplicates == 40,
        "{inserted}/{duplicates}"
    );
    let mut stored = None;
    for _ in 0..50 {
        let reply = client
            .get(format!("{}/v1/events/?limit=100", h.emulator.base_url()))
            .bearer_auth(h.emulator.token())
            .send()
            .await;
        if let Ok(response) = reply
            && response.status() == 200
        {
            let body: serde_json::Value = response.json().await.unwrap();
            stored = body["pagination"]["total_count"].as_i64();
            break;
        }
    }
    assert_eq!(stored, Some(40));
}
