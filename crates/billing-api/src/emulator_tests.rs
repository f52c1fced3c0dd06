//! The client against the real emulator with fault injection (`--fail-rate`) and rate
//! limiting (`--rate-limit`): idempotent requests come through, nothing is counted twice.

use std::time::Duration;

use billing_emulator::EmulatorConfig;
use billing_plan::AggregationFunc;

use crate::*;

fn client(base: &str, token: &str) -> Client {
    let mut config = ClientConfig::new(ServerUrl::parse(base).unwrap(), Secret::new(token));
    config.retry = RetryPolicy {
        max_retries: 6,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
    };
    Client::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_keyed_ingest_survive_a_30_percent_fail_rate_without_double_counting() {
    let emulator = billing_emulator::serve(EmulatorConfig {
        fail_rate: 0.3,
        seed: 42,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let c = client(&emulator.base_url(), emulator.token());

    // A create is not retried on 5xx, so the caller looks before creating again.
    let meter = loop {
        match c.meters_named("calls").await {
            Ok(mut found) if !found.is_empty() => break found.remove(0),
            Ok(_) => {
                let _ = c
                    .create_meter(&MeterCreate {
                        name: "calls".into(),
                        filter: Filter::event_name("call"),
                        aggregation: Aggregation {
                            func: AggregationFunc::Count,
                            property: None,
                        },
                        metadata: Default::default(),
                    })
                    .await;
            }
            Err(e) => panic!("a read failed despite retries: {e}"),
        }
    };

    let events: Vec<EventCreate> = (0..100)
        .map(|i| {
            EventCreate::for_external_customer("call", "user_1")
                .with_external_id(format!("evt-{i}"))
        })
        .collect();
    let mut stored = 0;
    for batch in events.chunks(5) {
        let r = c
            .ingest_events(batch)
            .await
            .expect("keyed ingest is retried until it succeeds");
        stored += r.inserted + r.duplicates;
    }
    assert_eq!(stored, 100);
    // Sending everything again only produces duplicates: the retries were safe.
    let again = c.ingest_events(&events).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 100));

    let now = chrono::Utc::now();
    let quantities = c
        .meter_quantities(
            &meter.id,
            &QuantitiesQuery {
                start: now - chrono::Duration::days(1),
                end: now + chrono::Duration::days(1),
                interval: TimeInterval::Day,
                customer_id: vec![],
                external_customer_id: vec!["user_1".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(quantities.total, 100.0, "each event counted exactly once");
    let stats = c.stats();
    assert!(
        stats.retries >= 5,
        "faults were injected and retried: {stats:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_longer_than_we_wait_is_reported_with_its_retry_after() {
    let emulator = billing_emulator::serve(EmulatorConfig {
        rate_limit: true,
        rate_limit_per_minute: 2,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let c = client(&emulator.base_url(), emulator.token());
    c.meters(&MeterListQuery::default())
        .collect_all()
        .await
        .unwrap();
    c.meters(&MeterListQuery::default())
        .collect_all()
        .await
        .unwrap();
    let err = c
        .meters(&MeterListQuery::default())
        .collect_all()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v1/meters/ failed: 429 rate limited (retry after 60 s)"
    );
    assert_eq!(
        c.stats().retries,
        0,
        "a 60 s retry-after is beyond the 2 s we accept to wait"
    );
    emulator.shutdown().await;
}
