//! Remote setup, undo and `verify` against the built-in emulator: the real HTTP client, the
//! real planning/applying code, and the `verify` command as a user runs it.

use std::collections::BTreeMap;
use std::time::Duration;

use billing_api::{
    Aggregation, Client, ClientConfig, CustomerCreate, Filter, MeterCreate, NewPrice,
    ProductCreate, RetryPolicy, Secret, ServerUrl,
};
use billing_changeset::{RemoteAction, RemoteStep};
use billing_emulator::{EmulatorConfig, TokenSpec};
use billing_plan::{
    Aggregation as PlanAggregation, AggregationFunc, BillingPlan, CreditGrant, CustomerSource,
    Environment, Meter, MeterKind, MeteredPrice, ProductRef, ProjectSection,
};
use billing_remote::{Remote, RemoteState};

use crate::common::{billing, transcript};

// ── fixtures ────────────────────────────────────────────────────────────────────────────

fn meter(name: &str, event: &str, func: AggregationFunc, property: Option<&str>) -> Meter {
    Meter {
        name: name.into(),
        event: event.into(),
        aggregation: PlanAggregation {
            func,
            property: property.map(str::to_owned),
        },
        kind: MeterKind::Custom,
        preset: None,
        markup: None,
        paths: None,
    }
}

/// Two meters, a metered price on `Pro` for the token meter, credits on `Pro` for API calls.
fn full_plan() -> BillingPlan {
    BillingPlan {
        call_site_customer: Default::default(),
        environment: Environment::Local,
        server_url: None,
        project: ProjectSection {
            path: ".".into(),
            framework: None,
        },
        customer: CustomerSource::Header {
            header: "x-customer-id".into(),
        },
        meters: vec![
            meter("api-calls", "api-call", AggregationFunc::Count, None),
            meter(
                "llm-token-usage",
                "llm-usage",
                AggregationFunc::Sum,
                Some("totalTokens"),
            ),
        ],
        prices: vec![MeteredPrice {
            meter: "llm-token-usage".into(),
            product: ProductRef("Pro".into()),
            unit_amount: "0.0001".into(),
            cap_amount: Some(5000),
        }],
        credits: vec![CreditGrant {
            meter: "api-calls".into(),
            product: ProductRef("Pro".into()),
            units: 100,
            rollover: false,
        }],
        webhooks: None,
    }
}

const PLAN_TOML: &str = r#"environment = "local"
server_url = "SERVER_URL"

[project]
path = "."

[customer]
from = "header"
header = "x-customer-id"

[[meters]]
name = "api-calls"
event = "api-call"
aggregation = "count"

[[meters]]
name = "llm-token-usage"
event = "llm-usage"
aggregation = "sum"
property = "totalTokens"

[[prices]]
meter = "llm-token-usage"
product = "Pro"
unit_amount = "0.0001"

[[credits]]
meter = "api-calls"
product = "Pro"
units = 100
rollover = false
"#;

fn client(base_url: &str, token: &str) -> Client {
    let mut config = ClientConfig::new(ServerUrl::parse(base_url).unwrap(), Secret::new(token));
    config.environment = Some(Environment::Local);
    config.retry = RetryPolicy {
        max_retries: 6,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(2),
    };
    Client::new(config).unwrap()
}

fn remote(client: &Client) -> Remote {
    Remote {
        environment: Environment::Local,
        server_url: client.base_url().clone(),
        client: Some(client.clone()),
        token_source: None,
    }
}

/// A monthly product with one fixed price, created until it exists exactly once (the
/// emulator may be injecting faults).
async fn ensure_product(client: &Client, name: &str, recurring: bool) -> billing_api::Product {
    for _ in 0..20 {
        let listed = client
            .products(&billing_api::ProductListQuery::default())
            .collect_all()
            .await;
        if let Ok(products) = listed {
            if let Some(p) = products.into_iter().find(|p| p.name == name) {
                return p;
            }
            let _ = client
                .create_product(&ProductCreate {
                    name: name.into(),
                    recurring_interval: recurring.then(|| "month".to_owned()),
                    prices: vec![NewPrice::Fixed {
                        price_amount: 2000,
                        price_currency: "usd".into(),
                    }],
                    description: None,
                })
                .await;
        }
    }
    panic!("could not create product {name}");
}

fn summaries(steps: &[RemoteStep], ids: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for s in steps {
        let mut line = format!(
            "[{}] {:?} {}: {}",
            s.environment, s.action, s.key, s.summary
        );
        for (id, label) in ids {
            line = line.replace(id, label);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Ids in text replaced by stable labels, found by looking the objects up.
async fn id_labels(client: &Client) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    for m in client
        .meters(&Default::default())
        .collect_all()
        .await
        .unwrap()
    {
        labels.push((m.id, format!("<meter {}>", m.name)));
    }
    for p in client
        .products(&Default::default())
        .collect_all()
        .await
        .unwrap()
    {
        for price in &p.prices {
            labels.push((
                price.id.clone(),
                format!("<{} price of {}>", price.amount_type, p.name),
            ));
        }
        if let Some(org) = &p.organization_id {
            labels.push((org.clone(), "<organization>".to_owned()));
        }
        labels.push((p.id, format!("<product {}>", p.name)));
    }
    for b in client.benefits(None).collect_all().await.unwrap() {
        labels.push((b.id, format!("<benefit {}>", b.description)));
    }
    labels
}

fn relabel(text: &str, labels: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (id, label) in labels {
        out = out.replace(id.as_str(), label);
    }
    out
}

/// Full error chain with hints, through the CLI's own renderer.
fn render_error(err: &billing_errors::Hinted) -> String {
    billing_errors::render_report(err, "error", "hint")
}

// ── apply / re-run / undo ───────────────────────────────────────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_remote_flow_keeps_fixed_price_and_a_second_run_writes_nothing() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let product = ensure_product(&client, "Pro", true).await;
    let fixed_price = product.prices[0].id.clone();
    let plan = full_plan();
    let mut state = RemoteState::default();

    let preview = billing_remote::plan(&plan, &remote(&client), &state)
        .await
        .unwrap();
    assert_eq!(
        client.stats().writes,
        1,
        "planning must not write (1 = the product fixture)"
    );
    let labels = id_labels(&client).await;
    insta::assert_snapshot!(
        "fresh_plan",
        relabel(&summaries(&preview.steps, &[]), &labels)
    );

    let report = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    let actions: Vec<RemoteAction> = report.steps.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        preview.steps.iter().map(|s| s.action).collect::<Vec<_>>(),
        "apply did what the preview showed"
    );
    // meter ×2, product PATCH, benefit create, product benefits.
    assert_eq!(report.stats.writes, 5);

    let labels = id_labels(&client).await;
    insta::assert_snapshot!(
        "apply_report",
        relabel(&summaries(&report.steps, &[]), &labels)
    );

    let product = client.product(&product.id).await.unwrap();
    let price_ids: Vec<&str> = product.prices.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(price_ids.len(), 2, "{price_ids:?}");
    assert_eq!(
        price_ids[0], fixed_price,
        "the existing fixed price is kept"
    );
    let metered = &product.prices[1];
    assert_eq!(metered.amount_type, "metered_unit");
    assert_eq!(metered.cap_amount, Some(5000));
    assert_eq!(product.benefits.len(), 1);
    assert_eq!(product.benefits[0].meter_credit().unwrap().units, 100);

    let labels = id_labels(&client).await;
    insta::assert_snapshot!(
        "lock_state",
        relabel(&serde_json::to_string_pretty(&state).unwrap(), &labels)
    );

    // A second plan reuses everything; a second apply sends no write request at all.
    let again = billing_remote::plan(&plan, &remote(&client), &state)
        .await
        .unwrap();
    assert!(
        again.steps.iter().all(|s| s.action == RemoteAction::Reuse),
        "{:#?}",
        again.steps
    );
    insta::assert_snapshot!(
        "second_plan",
        relabel(&summaries(&again.steps, &[]), &labels)
    );
    let before = state.clone();
    let second = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    assert_eq!(second.stats.writes, 0);
    assert!(!second.changed_anything());
    assert_eq!(state, before);

    // Without a token, the lock file alone says everything is done.
    let offline = billing_remote::plan_offline(&plan, Environment::Local, &state);
    assert!(
        offline
            .steps
            .iter()
            .all(|s| s.action == RemoteAction::Reuse),
        "{:#?}",
        offline.steps
    );

    // A fresh lock file (e.g. another machine) still finds and reuses the objects.
    let mut fresh = RemoteState::default();
    let third = billing_remote::apply(&plan, &client, Environment::Local, &mut fresh)
        .await
        .unwrap();
    assert_eq!(third.stats.writes, 0);
    assert!(
        fresh
            .env(Environment::Local)
            .unwrap()
            .objects
            .values()
            .all(|r| !r.created_by_us)
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_made_by_hand_from_the_dashboard_steps_are_reused() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let product = ensure_product(&client, "Pro", true).await;
    let plan = full_plan();
    // What a user does by hand after a token-less plan (descriptions are their own).
    let mut meter_ids = BTreeMap::new();
    for m in &plan.meters {
        let created = client
            .create_meter(&MeterCreate {
                name: m.name.clone(),
                filter: Filter::event_name(&m.event),
                aggregation: Aggregation {
                    func: m.aggregation.func,
                    property: m.aggregation.property.clone(),
                },
                metadata: Default::default(),
            })
            .await
            .unwrap();
        meter_ids.insert(m.name.clone(), created.id);
    }
    client
        .update_product(
            &product.id,
            &billing_api::ProductUpdate {
                name: None,
                prices: Some(vec![
                    billing_api::PriceInput::Keep {
                        id: product.prices[0].id.clone(),
                    },
                    billing_api::PriceInput::New(NewPrice::MeteredUnit {
                        meter_id: meter_ids["llm-token-usage"].clone(),
                        unit_amount: "0.000100".into(),
                        cap_amount: Some(5000),
                        price_currency: "usd".into(),
                    }),
                ]),
            },
        )
        .await
        .unwrap();
    let benefit = client
        .create_meter_credit_benefit(&billing_api::MeterCreditCreate {
            description: "Monthly API credits".into(),
            properties: billing_api::MeterCreditProperties {
                meter_id: meter_ids["api-calls"].clone(),
                units: 100,
                rollover: false,
            },
            metadata: Default::default(),
        })
        .await
        .unwrap();
    client
        .set_product_benefits(&product.id, &[benefit.id])
        .await
        .unwrap();

    let writes_before = client.stats().writes;
    let mut state = RemoteState::default();
    let report = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    assert!(
        report.steps.iter().all(|s| s.action == RemoteAction::Reuse),
        "{:#?}",
        report.steps
    );
    assert_eq!(
        client.stats().writes,
        writes_before,
        "nothing is created twice"
    );
    let env = state.env(Environment::Local).unwrap();
    assert!(
        env.objects.values().all(|r| !r.created_by_us),
        "undo must leave hand-made objects alone"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_converges_under_injected_faults_without_duplicates() {
    let emulator = billing_emulator::serve(EmulatorConfig {
        fail_rate: 0.2,
        seed: 20261124,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let product = ensure_product(&client, "Pro", true).await;
    let plan = full_plan();
    let mut state = RemoteState::default();
    let mut runs = 0;
    loop {
        runs += 1;
        match billing_remote::apply(&plan, &client, Environment::Local, &mut state).await {
            Ok(_) => break,
            // The state keeps what was done; the next run picks up from there.
            Err(_) if runs < 6 => {}
            Err(e) => panic!(
                "apply did not converge in {runs} runs: {}",
                render_error(&e)
            ),
        }
    }
    assert!(
        client.stats().retries > 0,
        "the fault injection should have been exercised"
    );

    let meters = client
        .meters(&Default::default())
        .collect_all()
        .await
        .unwrap();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for m in meters.iter().filter(|m| !m.is_archived()) {
        *by_name.entry(m.name.clone()).or_default() += 1;
    }
    assert_eq!(
        by_name,
        BTreeMap::from([("api-calls".into(), 1), ("llm-token-usage".into(), 1)])
    );
    let product = client.product(&product.id).await.unwrap();
    let amount_types: Vec<&str> = product
        .prices
        .iter()
        .map(|p| p.amount_type.as_str())
        .collect();
    assert_eq!(amount_types, ["fixed", "metered_unit"]);
    let benefits = client
        .benefits(Some("meter_credit"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(benefits.len(), 1, "{benefits:#?}");
    assert_eq!(product.benefit_ids(), vec![benefits[0].id.clone()]);

    // Converged: one more run changes nothing.
    let last = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    assert!(!last.changed_anything());
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meter_with_the_same_name_and_another_filter_stops_the_plan() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    ensure_product(&client, "Pro", true).await;
    client
        .create_meter(&MeterCreate {
            name: "api-calls".into(),
            filter: Filter::event_name("api-request"),
            aggregation: Aggregation {
                func: AggregationFunc::Count,
                property: None,
            },
            metadata: Default::default(),
        })
        .await
        .unwrap();
    let err = billing_remote::plan(&full_plan(), &remote(&client), &RemoteState::default())
        .await
        .unwrap_err();
    let labels = id_labels(&client).await;
    insta::assert_snapshot!("conflicting_meter", relabel(&render_error(&err), &labels));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_and_missing_products_are_refused_clearly() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let mut plan = full_plan();
    let missing = billing_remote::plan(&plan, &remote(&client), &RemoteState::default())
        .await
        .unwrap_err();
    ensure_product(&client, "Lifetime", false).await;
    plan.prices[0].product = ProductRef("Lifetime".into());
    let one_time = billing_remote::plan(&plan, &remote(&client), &RemoteState::default())
        .await
        .unwrap_err();
    insta::assert_snapshot!(
        "refused_products",
        format!("{}\n{}", render_error(&missing), render_error(&one_time))
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_metered_price_at_another_amount_is_never_replaced() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let product = ensure_product(&client, "Pro", true).await;
    let mut plan = full_plan();
    plan.credits.clear();
    let mut state = RemoteState::default();
    billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    let before = client.product(&product.id).await.unwrap();
    // The plan now asks for another amount for the same meter.
    plan.prices[0].unit_amount = "0.0002".into();
    let err = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap_err();
    let labels = id_labels(&client).await;
    insta::assert_snapshot!(
        "metered_price_amount_conflict",
        relabel(&render_error(&err), &labels)
    );
    assert_eq!(
        client.product(&product.id).await.unwrap().prices,
        before.prices,
        "prices untouched"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_restores_the_product_and_archives_what_it_created() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let product = ensure_product(&client, "Pro", true).await;
    // An existing identical meter is reused, so undo must leave it alone.
    let reused = client
        .create_meter(&MeterCreate {
            name: "api-calls".into(),
            filter: Filter::event_name("api-call"),
            aggregation: Aggregation {
                func: AggregationFunc::Count,
                property: None,
            },
            metadata: Default::default(),
        })
        .await
        .unwrap();
    let mut plan = full_plan();
    plan.credits.clear();
    let mut state = RemoteState::default();
    billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();

    let report = billing_remote::undo(&client, Environment::Local, &mut state).await;
    assert!(report.all_ok(), "{report:#?}");
    let labels = id_labels(&client).await;
    let text: String = report
        .steps
        .iter()
        .map(|s| format!("{} ok={} {}\n", s.key, s.ok, s.description))
        .collect();
    insta::assert_snapshot!("undo_report", relabel(&text, &labels));

    let product = client.product(&product.id).await.unwrap();
    assert_eq!(product.prices.len(), 1);
    assert_eq!(product.prices[0].amount_type, "fixed");
    let meters = client
        .meters(&Default::default())
        .collect_all()
        .await
        .unwrap();
    let tokens = meters.iter().find(|m| m.name == "llm-token-usage").unwrap();
    assert!(tokens.is_archived(), "the meter we created is archived");
    assert!(
        !client.meter(&reused.id).await.unwrap().is_archived(),
        "a reused meter is left alone"
    );
    assert!(
        state.env(Environment::Local).unwrap().is_empty(),
        "{state:#?}"
    );

    // Applying again after undo brings everything back.
    let again = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    assert!(again.changed_anything());
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_restores_the_previous_benefit_list() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let product = ensure_product(&client, "Pro", true).await;
    let mut state = RemoteState::default();
    billing_remote::apply(&full_plan(), &client, Environment::Local, &mut state)
        .await
        .unwrap();
    assert_eq!(client.product(&product.id).await.unwrap().benefits.len(), 1);
    let report = billing_remote::undo(&client, Environment::Local, &mut state).await;
    let product_step = report
        .steps
        .iter()
        .find(|s| s.key == "product-benefits:Pro")
        .unwrap();
    assert!(product_step.ok, "{product_step:#?}");
    let product = client.product(&product.id).await.unwrap();
    assert!(product.benefits.is_empty());
    assert_eq!(product.prices.len(), 1);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_endpoint_is_registered_once_and_removed_by_undo() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    let mut plan = full_plan();
    plan.prices.clear();
    plan.credits.clear();
    plan.webhooks = Some(billing_plan::Webhooks {
        events: vec!["order.paid".into(), "customer.state_changed".into()],
        // The emulator delivers to local http URLs; Spaire itself would need public https.
        url: Some("http://127.0.0.1:9/api/webhook/spaire".into()),
    });
    let mut state = RemoteState::default();
    let first = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    let hook = first
        .steps
        .iter()
        .find(|s| s.key.starts_with("webhook:"))
        .unwrap();
    assert_eq!(hook.action, RemoteAction::Create);
    assert!(
        first
            .notes
            .iter()
            .any(|n| n.contains("SPAIRE_WEBHOOK_SECRET")),
        "{:?}",
        first.notes
    );
    let second = billing_remote::apply(&plan, &client, Environment::Local, &mut state)
        .await
        .unwrap();
    assert_eq!(second.stats.writes, 0);
    assert_eq!(
        client
            .webhook_endpoints()
            .collect_all()
            .await
            .unwrap()
            .len(),
        1
    );

    let report = billing_remote::undo(&client, Environment::Local, &mut state).await;
    assert!(report.all_ok(), "{report:#?}");
    assert!(
        client
            .webhook_endpoints()
            .collect_all()
            .await
            .unwrap()
            .is_empty()
    );
    emulator.shutdown().await;
}

// ── errors ──────────────────────────────────────────────────────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_name_the_field_and_the_fix() {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    ensure_product(&client, "Pro", true).await;
    // Built in memory, so the plan file's own validation does not catch it first.
    let mut plan = full_plan();
    plan.prices[0].unit_amount = "0".into();
    let err = billing_remote::apply(
        &plan,
        &client,
        Environment::Local,
        &mut RemoteState::default(),
    )
    .await
    .unwrap_err();
    let labels = id_labels(&client).await;
    insta::assert_snapshot!("error_422", relabel(&render_error(&err), &labels));
    emulator.shutdown().await;
}

// ── token-less plan ─────────────────────────────────────────────────────────────────────

#[test]
fn without_a_token_every_step_is_pending_with_dashboard_steps() {
    let mut plan = full_plan();
    plan.webhooks = Some(billing_plan::Webhooks {
        events: vec!["order.paid".into(), "customer.state_changed".into()],
        url: Some("https://example.com/api/webhook/spaire".into()),
    });
    let offline =
        billing_remote::plan_offline(&plan, Environment::Sandbox, &RemoteState::default());
    assert!(
        offline
            .steps
            .iter()
            .all(|s| s.action == RemoteAction::Pending)
    );
    let mut text = String::new();
    for step in &offline.steps {
        text.push_str(&format!("[{}] {}\n", step.environment, step.summary));
        for line in &step.dashboard_steps {
            text.push_str(&format!("    - {line}\n"));
        }
    }
    for note in &offline.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    insta::assert_snapshot!("dashboard_steps_sandbox", text);
    let production =
        billing_remote::plan_offline(&plan, Environment::Production, &RemoteState::default());
    assert!(production.steps[0].dashboard_steps[0].starts_with(
        "Open https://app.spairehq.com/dashboard/<organization>/products/meters/create"
    ));
    // A local-only URL is never registered, and the plan says why.
    plan.webhooks.as_mut().unwrap().url = Some("https://localhost:3000/hook".into());
    let local_url =
        billing_remote::plan_offline(&plan, Environment::Sandbox, &RemoteState::default());
    assert!(
        local_url
            .steps
            .iter()
            .all(|s| !s.key.starts_with("webhook:"))
    );
    assert!(
        local_url.notes[0].contains("not reachable from the internet"),
        "{:?}",
        local_url.notes
    );
}

#[test]
fn the_local_environment_defaults_to_the_emulators_token() {
    assert_eq!(
        billing_remote::EMULATOR_DEFAULT_TOKEN,
        billing_emulator::DEFAULT_TOKEN
    );
}

// ── verify (the command) ────────────────────────────────────────────────────────────────

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(base_url: &str, toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("spaire-billing.toml"),
            toml.replace("SERVER_URL", base_url),
        )
        .unwrap();
        Self { dir }
    }

    fn verify(&self, token: &str, extra: &[&str]) -> std::process::Output {
        billing()
            .current_dir(self.dir.path())
            .env("SPAIRE_ACCESS_TOKEN", token)
            .args(["verify", "--timeout", "3"])
            .args(extra)
            .output()
            .unwrap()
    }
}

/// Makes a verify transcript stable: the random test customer id and the emulator port.
fn stable(output: &std::process::Output, base_url: &str) -> String {
    let text = transcript(output, &[(base_url, "http://127.0.0.1:PORT")]);
    let marker = "spaire-billing-verify-";
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        rest = &rest[i + marker.len()..];
        let hex = rest.chars().take_while(char::is_ascii_hexdigit).count();
        out.push_str(if hex == 32 { "<random>" } else { "" });
        rest = &rest[if hex == 32 { 32 } else { 0 }..];
    }
    out.push_str(rest);
    out
}

fn apply_blocking(base_url: &str, token: &str, plan: &BillingPlan) -> RemoteState {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = client(base_url, token);
        ensure_product(&client, "Pro", true).await;
        let mut state = RemoteState::default();
        billing_remote::apply(plan, &client, Environment::Local, &mut state)
            .await
            .unwrap();
        state
    })
}

#[test]
fn verify_passes_when_every_meter_counts_its_test_event() {
    let emulator = billing_emulator::spawn_background(EmulatorConfig::default()).unwrap();
    let url = emulator.base_url();
    apply_blocking(&url, emulator.token(), &full_plan());
    let project = Project::new(&url, PLAN_TOML);
    let output = project.verify(emulator.token(), &[]);
    insta::assert_snapshot!("verify_pass", stable(&output, &url));
    assert_eq!(output.status.code(), Some(0));

    let json = project.verify(emulator.token(), &["--json"]);
    assert_eq!(json.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["meters"][1]["expected"], 3.0);
    assert_eq!(report["meters"][1]["observed"], 3.0);
}

#[test]
fn verify_fails_clearly_when_the_meter_filter_does_not_match_the_events() {
    let emulator = billing_emulator::spawn_background(EmulatorConfig::default()).unwrap();
    let url = emulator.base_url();
    apply_blocking(&url, emulator.token(), &full_plan());
    // The app now sends `api-request`, but the meter in Spaire still counts `api-call`.
    let project = Project::new(
        &url,
        &PLAN_TOML.replace("event = \"api-call\"", "event = \"api-request\""),
    );
    let output = project.verify(emulator.token(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let labels = rt.block_on(id_labels(&client(&url, emulator.token())));
    insta::assert_snapshot!(
        "verify_filter_mismatch",
        relabel(&stable(&output, &url), &labels)
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn verify_sends_one_event_per_event_name_so_meters_sharing_it_agree() {
    let emulator = billing_emulator::spawn_background(EmulatorConfig::default()).unwrap();
    let url = emulator.base_url();
    let mut plan = full_plan();
    plan.meters = vec![
        meter("api-calls", "api-call", AggregationFunc::Count, None),
        meter("api-bytes", "api-call", AggregationFunc::Sum, Some("bytes")),
        meter(
            "api-users",
            "api-call",
            AggregationFunc::Unique,
            Some("bytes"),
        ),
    ];
    plan.prices.clear();
    plan.credits.clear();
    apply_blocking(&url, emulator.token(), &plan);
    // In memory: the plan file rejects custom meters sharing an event, presets do share them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt
        .block_on(billing_remote::verify(
            &plan,
            &client(&url, emulator.token()),
            Environment::Local,
            &billing_remote::VerifyOptions {
                customer: None,
                timeout: Duration::from_secs(2),
                poll_interval: Duration::from_millis(50),
            },
        ))
        .unwrap();
    let observed: Vec<(&str, Option<f64>)> = report
        .meters
        .iter()
        .map(|m| (m.meter.as_str(), m.observed))
        .collect();
    assert_eq!(
        observed,
        [
            ("api-calls", Some(1.0)),
            ("api-bytes", Some(3.0)),
            ("api-users", Some(1.0))
        ]
    );
    assert!(report.passed, "{report:#?}");
}

#[test]
fn verify_passes_through_injected_faults() {
    // Objects are set up on a clean emulator state, then faults start with the verify run.
    let emulator = billing_emulator::spawn_background(EmulatorConfig {
        fail_rate: 0.4,
        seed: 3,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let url = emulator.base_url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = client(&url, emulator.token());
        ensure_product(&c, "Pro", true).await;
        let mut state = RemoteState::default();
        for _ in 0..5 {
            if billing_remote::apply(&full_plan(), &c, Environment::Local, &mut state)
                .await
                .is_ok()
            {
                return;
            }
        }
        panic!("apply did not converge");
    });
    let project = Project::new(&url, PLAN_TOML);
    let output = billing()
        .current_dir(project.dir.path())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .env("SPAIRE_BILLING_LOG", "billing_api=debug")
        .args(["verify", "--timeout", "3", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", stable(&output, &url)));
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(output.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.contains("retrying"),
        "the faults should have hit verify's requests:\n{logs}"
    );
    assert!(
        !logs.contains(emulator.token()),
        "debug logs must not contain the token"
    );
}

#[test]
fn credits_show_as_a_positive_balance_that_drops_with_usage() {
    let emulator = billing_emulator::spawn_background(EmulatorConfig::default()).unwrap();
    let url = emulator.base_url();
    let token = emulator.token().to_owned();
    apply_blocking(&url, &token, &full_plan());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let balance = rt.block_on(async {
        let c = client(&url, &token);
        c.create_customer(&CustomerCreate {
            email: "alice@acme-corp.io".into(),
            external_id: Some("user_alice".into()),
            name: None,
        })
        .await
        .unwrap();
        let product = c
            .products(&Default::default())
            .collect_all()
            .await
            .unwrap()
            .remove(0);
        let response = reqwest_free_post(
            &url,
            &token,
            "/_emulator/subscriptions",
            &serde_json::json!({"product_id": product.id, "external_customer_id": "user_alice"}),
        );
        assert!(response.starts_with("2"), "subscribe failed: {response}");
        let meter = c.meters_named("api-calls").await.unwrap().remove(0);
        let state = c.customer_state_by_external_id("user_alice").await.unwrap();
        state
            .active_meters
            .iter()
            .find(|m| m.meter_id == meter.id)
            .unwrap()
            .balance
    });
    assert_eq!(balance, 100.0, "credits are a positive balance");

    let project = Project::new(&url, PLAN_TOML);
    let output = project.verify(&token, &["--customer", "user_alice"]);
    insta::assert_snapshot!("verify_with_credits", stable(&output, &url));
    assert_eq!(output.status.code(), Some(0));
    let again = project.verify(&token, &["--customer", "user_alice", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["meters"][0]["balance"]["before"], 99.0);
    assert_eq!(report["meters"][0]["balance"]["observed"], 98.0);
}

#[test]
fn verify_explains_401_and_403() {
    let emulator = billing_emulator::spawn_background(EmulatorConfig {
        tokens: vec![
            TokenSpec::new("spaire_oat_full-access"),
            TokenSpec::parse("spaire_oat_events-only:events:write").unwrap(),
        ],
        ..EmulatorConfig::default()
    })
    .unwrap();
    let url = emulator.base_url();
    let project = Project::new(&url, PLAN_TOML);
    let unknown = project.verify("spaire_oat_not-a-real-token", &[]);
    assert_eq!(unknown.status.code(), Some(1));
    let scoped = project.verify("spaire_oat_events-only", &[]);
    assert_eq!(scoped.status.code(), Some(1));
    let text = format!("{}\n{}", stable(&unknown, &url), stable(&scoped, &url));
    assert!(
        !text.contains("not-a-real-token") && !text.contains("events-only"),
        "token leaked:\n{text}"
    );
    insta::assert_snapshot!("verify_401_403", text);
}

/// A raw POST for the emulator-only endpoints (not part of the API client). Returns
/// "<status> <body>".
fn reqwest_free_post(base: &str, token: &str, path: &str, body: &serde_json::Value) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let payload = body.to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap_or("").to_owned();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    format!("{status} {body}")
}
