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
