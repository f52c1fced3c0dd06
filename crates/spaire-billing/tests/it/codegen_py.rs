//! Proof that the generated Python code is correct: one strict mypy run over every fixture
//! × preset × pricing × webhooks case (plus customer-source variants), and runtime tests of
//! FastAPI and Flask apps against the emulator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use billing_detect::{FrameworkDetails, FrameworkId, Language, ProjectProfile};
use billing_plan::{BillingPlan, CustomerSource};

use crate::codegen::{self, PRESETS, PRICINGS, Pricing};
use crate::common;

pub fn venv_python() -> Option<PathBuf> {
    codegen::toolchain(
        common::repo_root().join("tests/toolchains/python/.venv/bin/python"),
        "the Python test venv",
    )
}

/// The Python fixtures, with the profile `detect` gives for each.
pub fn fixture_profile(name: &str, root: &Path) -> ProjectProfile {
    let entry = |file: &str, var: &str| FrameworkDetails {
        entry_file: Some(file.to_owned()),
        app_variable: Some(var.to_owned()),
        ..FrameworkDetails::default()
    };
    let frameworks = match name {
        "fastapi" => vec![codegen::framework(
            FrameworkId::Fastapi,
            entry("app/main.py", "app"),
        )],
        "flask" => vec![codegen::framework(
            FrameworkId::Flask,
            entry("shop/__init__.py", "app"),
        )],
        "django" => vec![codegen::framework(
            FrameworkId::Django,
            FrameworkDetails {
                settings_module: Some("mysite.settings".to_owned()),
                ..FrameworkDetails::default()
            },
        )],
        "pydantic-ai" => vec![codegen::framework(
            FrameworkId::PydanticAi,
            FrameworkDetails::default(),
        )],
        "fastapi-pydantic-ai" => vec![
            codegen::framework(FrameworkId::PydanticAi, FrameworkDetails::default()),
            codegen::framework(FrameworkId::Fastapi, entry("service/api.py", "api")),
        ],
        other => panic!("unknown fixture {other}"),
    };
    codegen::profile(root, Language::Python, frameworks)
}

pub const FIXTURES: &[&str] = &[
    "fastapi",
    "flask",
    "django",
    "pydantic-ai",
    "fastapi-pydantic-ai",
];

/// A file that calls every generated helper the way wired call sites do, so mypy checks the
/// contract with the call-site wiring (names, parameters, PydanticAI result types).
fn contract_check(helpers: &[String], package: &str) -> String {
    let mut text = String::from(
        "from __future__ import annotations\n\nfrom pydantic_ai import Agent\nfrom pydantic_ai.models.test import TestModel\n\n",
    );
    let names: Vec<&str> = helpers.iter().map(String::as_str).collect();
    text.push_str(&format!(
        "from .{package}.usage import {}\n",
        names.join(", ")
    ));
    text.push_str(&format!(
        "from .{package}.balance import get_customer_balances, has_credits_remaining\n\n\n"
    ));
    text.push_str("def exercise() -> None:\n");
    text.push_str("    record_event(\"u1\", \"custom\", {\"n\": 1})\n");
    // Call sites with no user id of their own pass the request's customer.
    text.push_str("    record_event(current_customer_id(), \"custom\", {\"n\": 1})\n");
    if names.contains(&"record_llm_usage") {
        text.push_str("    result = Agent(TestModel()).run_sync(\"hi\")\n");
        text.push_str("    record_agent_run(\"u1\", result)\n");
        text.push_str("    record_llm_usage(\"u1\", result.usage, model=\"test\")\n");
        text.push_str(
            "    record_llm_usage(\"u1\", {\"input_tokens\": 1, \"output_tokens\": 2})\n",
        );
        text.push_str("    record_llm_response(\"u1\", {\"model\": \"gpt-4o\", \"usage\": {\"prompt_tokens\": 1}})\n");
        text.push_str("    counts = llm_token_counts(result.usage)\n    total: int = counts.total_tokens\n    del total\n");
    }
    if names.contains(&"record_storage_upload") {
        text.push_str("    record_storage_upload(\"u1\", 1024, bucket=\"b\", key=\"k\")\n");
    }
    if names.contains(&"record_image_generation") {
        // As wiring writes it: the response's `data` list and the call's `model=`.
        text.push_str("    record_image_generation(\"u1\", [object()], model=\"dall-e-3\")\n");
    }
    if names.contains(&"record_api_call") {
        text.push_str("    record_api_call(\"u1\", \"/x\")\n");
    }
    if names.contains(&"start_compute_timer") {
        text.push_str("    elapsed: float = start_compute_timer(\"u1\").stop()\n    del elapsed\n");
    }
    text.push_str(
        "    balances: dict[str, float] = get_customer_balances(\"u1\")\n    del balances\n",
    );
    text.push_str("    ok: bool = has_credits_remaining(\"u1\")\n    del ok\n");
    text
}

fn extra_plans() -> Vec<(String, BillingPlan)> {
    let all = codegen::plan(PRESETS, Pricing::Both, true, None);
    let mut body = all.clone();
    body.customer = CustomerSource::Body {
        field: "customerId".to_owned(),
    };
    let mut session = all.clone();
    session.customer = CustomerSource::Session;
    let mut custom = codegen::plan(&["api-calls"], Pricing::Unit, false, None);
    custom.meters.push(billing_plan::Meter {
        name: "Image generations".to_owned(),
        event: "image-generated".to_owned(),
        aggregation: billing_plan::Aggregation {
            func: billing_plan::AggregationFunc::Sum,
            property: Some("pixels".to_owned()),
        },
        kind: billing_plan::MeterKind::Custom,
        preset: None,
        markup: None,
        paths: None,
    });
    // Every documented webhook type: the ones spaire-sdk has models for are dispatched by
    // class, the others (member.*, checkout.expired) from the raw JSON; both must type-check.
    let mut every_event = all.clone();
    every_event.webhooks = Some(billing_plan::Webhooks {
        events: billing_vocab::WEBHOOK_EVENT_NAMES
            .iter()
            .map(|e| (*e).to_owned())
            .collect(),
        url: None,
    });
    // The LLM cost helpers import genai-prices; strict mypy must accept them too.
    let mut cost = codegen::plan(&["llm-tokens", "llm-cost"], Pricing::Unit, false, None);
    for meter in cost.meters.iter_mut().filter(|m| m.bills_llm_cost()) {
        meter.markup = Some("1.25".to_owned());
    }
    vec![
        ("llm-cost".to_owned(), cost),
        ("all-presets".to_owned(), all),
        ("every-event".to_owned(), every_event),
        ("body-customer".to_owned(), body),
        ("session-customer".to_owned(), session),
        ("custom-meter".to_owned(), custom),
    ]
}

#[test]
fn generated_python_type_checks_under_strict_mypy() {
    let Some(python) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut plans: Vec<(String, BillingPlan)> = Vec::new();
    for preset in PRESETS {
        for pricing in PRICINGS {
            for webhooks in [false, true] {
                plans.push((
                    format!(
                        "{preset}-{pricing:?}-{}",
                        if webhooks { "wh" } else { "nowh" }
                    ),
                    codegen::plan(&[preset], *pricing, webhooks, None),
                ));
            }
        }
    }
    plans.extend(extra_plans());
    let mut variants: Vec<(String, BillingPlan, bool)> =
        plans.into_iter().map(|(n, p)| (n, p, false)).collect();
    // Without spaire-sdk (pins block it): the standard library and `standardwebhooks`.
    for (name, plan) in extra_plans() {
        if matches!(name.as_str(), "every-event" | "all-presets") {
            variants.push((format!("{name}-without-sdk"), plan, true));
        }
    }

    // Identical outputs are checked once: pricing often does not change the code.
    let mut unique: BTreeMap<String, String> = BTreeMap::new();
    let mut cases = Vec::new();
    let mut django_case = None;
    for fixture in FIXTURES {
        for (name, plan, without_sdk) in &variants {
            let staging = tempfile::tempdir().unwrap();
            codegen::copy_dir(&codegen::codegen_fixture("py", fixture), staging.path());
            let profile = fixture_profile(fixture, staging.path());
            let changes = codegen::generate_into_with(staging.path(), &profile, plan, *without_sdk);
            let key: String = changes
                .files
                .iter()
                .map(|f| format!("{}\n{}\n", f.path, f.after))
                .collect();
            if unique.contains_key(&key) {
                continue;
            }
            let case = format!("c{:03}", cases.len());
            unique.insert(key, case.clone());
            let case_dir = root.join(&case);
            codegen::copy_dir(staging.path(), &case_dir);
            std::fs::write(case_dir.join("__init__.py"), "").unwrap();
            let helpers = billing_generate::python::usage_helpers(plan);
            let target = billing_generate::Target {
                root: &case_dir,
                profile: &profile,
                package: &profile.packages[0],
                plan,
                without_sdk: *without_sdk,
            };
            let module = billing_generate::python::usage_module_import(&target).unwrap();
            let package = module.trim_end_matches(".usage");
            std::fs::write(
                case_dir.join("contract_check.py"),
                contract_check(&helpers, package),
            )
            .unwrap();
            if *fixture == "django" && django_case.is_none() {
                django_case = Some(case.clone());
            }
            cases.push(format!("{case} = {fixture} / {name}"));
        }
    }
    let django_case = django_case.expect("a django case");
    std::fs::write(
        root.join("mypy.ini"),
        format!(
            "[mypy]\nstrict = True\nplugins = mypy_django_plugin.main\ncache_dir = {}\n\n[mypy.plugins.django-stubs]\ndjango_settings_module = {django_case}.mysite.settings\n",
            common::repo_root().join("target/mypy-cache").display()
        ),
    )
    .unwrap();
    let dirs: Vec<String> = cases.iter().map(|c| c[..4].to_owned()).collect();
    let output = Command::new(&python)
        .args(["-m", "mypy", "--config-file", "mypy.ini"])
        .args(&dirs)
        .current_dir(root)
        .env("PYTHONPATH", root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "mypy --strict failed on generated code:\n{text}\ncases:\n{}",
        cases.join("\n")
    );
    assert!(
        cases.len() >= FIXTURES.len() * 5,
        "too few distinct cases: {}",
        cases.len()
    );
}

const WEBHOOK_SECRET: &str = "spaire_whs_TestSecretForGeneratedCode0123456789abcdef";

/// Extra endpoints the runtime tests call, added next to the fixture's app: a PydanticAI run
/// recorded with `record_agent_run`, as wired call sites do.
const FASTAPI_HARNESS: &str = r#"from fastapi import Header
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel

from .main import app
from .spaire_billing.usage import record_agent_run

agent = Agent(TestModel())


@app.post("/agent")
async def run_agent(x_customer_id: str = Header()) -> dict[str, int]:
    result = await agent.run("hello there")
    record_agent_run(x_customer_id, result)
    usage = result.usage if hasattr(result.usage, "total_tokens") else result.usage()
    return {"total": usage.total_tokens}


@app.get("/api/items")
async def items() -> list[str]:
    return []


@app.get("/api/auth/session")
async def session() -> dict[str, str]:
    return {}


@app.get("/page", response_class=HTMLResponse)
async def page() -> str:
    return "<html>page</html>"


@app.get("/old")
async def old() -> RedirectResponse:
    return RedirectResponse("/page", status_code=302)
"#;

const FLASK_HARNESS: &str = r#"from flask import Flask, Response, jsonify, redirect, request
from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel

from . import create_app
from .spaire_billing.usage import record_agent_run

agent = Agent(TestModel())


def harness_app() -> Flask:
    app = create_app()

    @app.post("/agent")
    def run_agent() -> dict[str, int]:
        result = agent.run_sync("hello there")
        record_agent_run(request.headers["x-customer-id"], result)
        usage = result.usage if hasattr(result.usage, "total_tokens") else result.usage()
        return {"total": usage.total_tokens}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("handler failure")

    @app.get("/api/items")
    def items() -> Response:
        return jsonify([])

    @app.get("/api/auth/session")
    def session() -> Response:
        return jsonify({})

    @app.get("/page")
    def page() -> str:
        return "<html>page</html>"

    @app.get("/old")
    def old() -> Response:
        return redirect("/page")

    return app
"#;

struct PyApp {
    fixture: &'static str,
    harness_file: &'static str,
    harness: &'static str,
    /// argv after `python -m`, with `{port}` replaced.
    command: &'static [&'static str],
    /// Signal that makes the server shut down gracefully.
    signal: &'static str,
}

const FASTAPI: PyApp = PyApp {
    fixture: "fastapi",
    harness_file: "app/harness.py",
    harness: FASTAPI_HARNESS,
    command: &[
        "uvicorn",
        "app.harness:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ],
    signal: "TERM",
};

const FLASK: PyApp = PyApp {
    fixture: "flask",
    harness_file: "shop/harness.py",
    harness: FLASK_HARNESS,
    command: &[
        "flask",
        "--app",
        "shop.harness:harness_app",
        "run",
        "--port",
        "{port}",
    ],
    signal: "INT",
};

fn start(
    app: &PyApp,
    python: &Path,
    dir: &Path,
    server_url: &str,
    token: &str,
) -> (std::process::Child, String) {
    let port = codegen::free_port().to_string();
    let args: Vec<String> = app
        .command
        .iter()
        .map(|a| a.replace("{port}", &port))
        .collect();
    let mut child = Command::new(python)
        .arg("-m")
        .args(&args)
        .current_dir(dir)
        .env("SPAIRE_ACCESS_TOKEN", token)
        .env("SPAIRE_SERVER_URL", server_url)
        .env("SPAIRE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        // The app's own spool: not the machine's temp dir, where another test's (or another
        // run's) undelivered events with the same token would be replayed here.
        .env("SPAIRE_USAGE_SPOOL_DIR", dir.join(".spaire-usage-spool"))
        .env("PYTHONUNBUFFERED", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    codegen::wait_until_up(&format!("{base}/health"), 30, &mut child);
    (child, base)
}

fn prepare(app: &PyApp, server_url: &str, without_sdk: bool) -> (tempfile::TempDir, BillingPlan) {
    prepare_with(
        app,
        server_url,
        CustomerSource::Header {
            header: "x-customer-id".to_owned(),
        },
        without_sdk,
    )
}

fn prepare_with(
    app: &PyApp,
    server_url: &str,
    customer: CustomerSource,
    without_sdk: bool,
) -> (tempfile::TempDir, BillingPlan) {
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", app.fixture), dir.path());
    let mut plan = codegen::plan(
        &["llm-tokens", "api-calls"],
        Pricing::Unit,
        true,
        Some(server_url),
    );
    plan.customer = customer;
    let profile = fixture_profile(app.fixture, dir.path());
    let changes = codegen::generate_into_with(dir.path(), &profile, &plan, without_sdk);
    if without_sdk {
        shadow_the_sdk(dir.path(), &changes);
    }
    std::fs::write(dir.path().join(app.harness_file), app.harness).unwrap();
    (dir, plan)
}

/// The test venv has spaire-sdk; a module of that name first on `sys.path` (the app's own
/// directory) makes any import of it fail, as on a machine where the pins kept it out. The
/// generated files must not even name it.
fn shadow_the_sdk(dir: &Path, changes: &billing_changeset::ChangeSet) {
    for file in &changes.files {
        assert!(
            !file.after.contains("spaire_sdk"),
            "{} imports spaire_sdk:\n{}",
            file.path,
            file.after
        );
    }
    std::fs::write(
        dir.join("spaire_sdk.py"),
        "raise ImportError(\"spaire-sdk is not installed here (its pins conflict)\")\n",
    )
    .unwrap();
}

/// `get_customer_balances` reads the same balances with spaire-sdk and without it (the
/// standard-library variant written where the project's pins block the SDK): a meter with
/// usage and none of credits has a negative balance, an unused meter 0.
#[test]
fn balances_read_the_same_with_and_without_the_sdk() {
    let Some(python) = venv_python() else { return };
    let (emulator, base_url) = codegen::emulator();
    let api = codegen::Api::of(&emulator, &base_url);
    let plan = codegen::plan(
        &["llm-tokens", "api-calls"],
        Pricing::Unit,
        false,
        Some(&base_url),
    );
    for meter in &plan.meters {
        api.create_meter(meter);
    }
    let customer = "cust-balance";
    api.call(
        "POST",
        "/v1/customers/",
        &serde_json::json!({"email": "balance@spaire-billing.dev", "external_id": customer})
            .to_string(),
    );
    let events: Vec<serde_json::Value> = (0..3)
        .map(|i| {
            serde_json::json!({
                "name": "api-call",
                "external_customer_id": customer,
                "external_id": format!("balance-test-{i}"),
                "metadata": {"endpoint": "/api/items", "method": "GET"},
            })
        })
        .collect();
    api.call(
        "POST",
        "/v1/events/ingest",
        &serde_json::json!({ "events": events }).to_string(),
    );
    let mut answers = Vec::new();
    for without_sdk in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        codegen::copy_dir(&codegen::codegen_fixture("py", "flask"), dir.path());
        let profile = fixture_profile("flask", dir.path());
        let changes = codegen::generate_into_with(dir.path(), &profile, &plan, without_sdk);
        if without_sdk {
            shadow_the_sdk(dir.path(), &changes);
        }
        let target = billing_generate::Target {
            root: dir.path(),
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk,
        };
        let module = billing_generate::python::usage_module_import(&target).unwrap();
        let package = module.trim_end_matches(".usage");
        let script = format!(
            "import json\nfrom {package}.balance import get_customer_balances, has_credits_remaining\n\
             print(json.dumps([get_customer_balances({customer:?}), has_credits_remaining({customer:?})], sort_keys=True))\n"
        );
        let output = Command::new(&python)
            .args(["-c", &script])
            .current_dir(dir.path())
            .env("SPAIRE_ACCESS_TOKEN", emulator.token())
            .env("SPAIRE_SERVER_URL", &base_url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "without_sdk={without_sdk}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        answers.push(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    assert_eq!(answers[0], answers[1], "with and without the SDK");
    let value: serde_json::Value = serde_json::from_str(&answers[0]).unwrap();
    assert_eq!(value[0]["api-calls"], -3.0, "{value}");
    assert_eq!(value[0]["llm-token-usage"], 0.0, "{value}");
    assert_eq!(value[1], false, "{value}");
}

/// Meter counts equal the usage sent, webhooks verify, and SIG{TERM,INT} flushes the queue.
fn usage_reaches_the_meters(app: &PyApp, without_sdk: bool) {
    let Some(python) = venv_python() else { return };
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let (dir, plan) = prepare(app, &base_url, without_sdk);
    let meters: Vec<(String, String)> = plan
        .meters
        .iter()
        .map(|m| (m.name.clone(), api.create_meter(m)))
        .collect();
    let (mut child, base) = start(app, &python, dir.path(), &base_url, emulator.token());
    let customer = format!("cust-{}", app.fixture);

    for _ in 0..5 {
        let (status, _) = codegen::http(
            "GET",
            &format!("{base}/api/items"),
            &[("x-customer-id", &customer)],
            "",
        )
        .unwrap();
        assert_eq!(status, 200);
    }
    // Issue #14, not counted: a health check, a page (HTML), a redirect, the auth library's
    // session poll (JSON under a never-billed `auth` segment).
    for (path, expected) in [
        ("/health", 200),
        ("/page", 200),
        ("/old", 302),
        ("/api/auth/session", 200),
    ] {
        let (status, _) = codegen::http(
            "GET",
            &format!("{base}{path}"),
            &[("x-customer-id", &customer)],
            "",
        )
        .unwrap();
        assert_eq!(status, expected, "{path}");
    }
    // Not counted: no customer id, and a failing handler.
    assert_eq!(
        codegen::http("GET", &format!("{base}/health"), &[], "")
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        codegen::http(
            "GET",
            &format!("{base}/boom"),
            &[("x-customer-id", &customer)],
            ""
        )
        .unwrap()
        .0,
        500
    );
    let mut tokens = 0.0;
    for _ in 0..3 {
        let (status, body) = codegen::http(
            "POST",
            &format!("{base}/agent"),
            &[("x-customer-id", &customer)],
            "",
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        tokens += value["total"].as_f64().unwrap();
    }
    assert!(tokens > 0.0);

    let webhook = format!("{base}{}", billing_generate::python::WEBHOOK_PATH);
    let body = codegen::order_paid_body();
    let headers = codegen::signed_headers(WEBHOOK_SECRET, &body);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        codegen::http("POST", &webhook, &pairs, &body).unwrap().0,
        202,
        "signed order.paid"
    );
    // The same delivery again (same webhook-id): acknowledged, not dispatched (200, not 202).
    assert_eq!(
        codegen::http("POST", &webhook, &pairs, &body).unwrap().0,
        200,
        "replayed order.paid"
    );
    assert_eq!(
        codegen::declared_oversize_status(&webhook),
        413,
        "a 300 MB Content-Length is refused before the body is sent"
    );
    let tampered = body.replacen("order.paid", "order.paie", 1);
    assert_eq!(
        codegen::http("POST", &webhook, &pairs, &tampered)
            .unwrap()
            .0,
        403,
        "tampered body"
    );
    let unknown = r#"{"type":"future.event","timestamp":"2026-11-23T10:00:00Z","data":{}}"#;
    let unknown_headers = codegen::signed_headers(WEBHOOK_SECRET, unknown);
    let pairs: Vec<(&str, &str)> = unknown_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        codegen::http("POST", &webhook, &pairs, unknown).unwrap().0,
        202,
        "unknown type"
    );

    // Graceful shutdown right away: the 2 s batch interval has not passed, so the exit flush
    // must deliver what is still queued.
    let output = codegen::stop(&mut child, app.signal, 30);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    // uvicorn re-raises SIGTERM after its graceful shutdown, and Flask's dev server ends on
    // KeyboardInterrupt: both are clean exits; the meter totals below prove the flush.
    use std::os::unix::process::ExitStatusExt;
    let graceful = output.status.success()
        || output.status.signal() == Some(15)
        || (app.signal == "INT" && !logs.contains("spaire: flushing usage events failed"));
    assert!(graceful, "exit {:?}: {logs}", output.status);
    let total = |name: &str| {
        let id = &meters.iter().find(|(n, _)| n == name).unwrap().1;
        api.meter_total(id, &customer)
    };
    assert_eq!(
        total("api-calls"),
        8.0,
        "5 /api/items + 3 agent calls; logs:\n{logs}"
    );
    assert_eq!(total("llm-token-usage"), tokens, "logs:\n{logs}");
    for event in api.events(&customer) {
        let metadata = &event["metadata"];
        match event["name"].as_str().unwrap() {
            "llm-usage" => {
                assert!(metadata["totalTokens"].is_number() && metadata["inputTokens"].is_number())
            }
            "api-call" => {
                assert!(metadata["endpoint"].is_string() && metadata["method"].is_string())
            }
            other => panic!("unexpected event {other}"),
        }
    }
}

/// With the API unreachable every request still succeeds, and shutdown ends cleanly, saving
/// what it could not deliver to the spool.
fn app_keeps_answering_when_the_api_is_down(app: &PyApp) {
    let Some(python) = venv_python() else { return };
    let dead = format!("http://127.0.0.1:{}", codegen::free_port());
    let (dir, _) = prepare(app, &dead, false);
    let (mut child, base) = start(app, &python, dir.path(), &dead, "token-for-a-dead-api");
    for _ in 0..20 {
        let started = std::time::Instant::now();
        let (status, _) = codegen::http(
            "GET",
            &format!("{base}/health"),
            &[("x-customer-id", "cust-down")],
            "",
        )
        .unwrap();
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "request blocked on the API"
        );
    }
    let (status, _) = codegen::http(
        "POST",
        &format!("{base}/agent"),
        &[("x-customer-id", "cust-down")],
        "",
    )
    .unwrap();
    assert_eq!(status, 200);
    let output = codegen::stop(&mut child, app.signal, 30);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        !logs.contains("Traceback") || logs.contains("KeyboardInterrupt"),
        "crash:\n{logs}"
    );
    assert!(
        logs.contains("[spaire] saved ") && logs.contains(" undelivered usage event(s) to "),
        "the undelivered events are saved to the spool, and said so:\n{logs}"
    );
}

#[test]
fn fastapi_usage_reaches_the_meters_and_webhooks_verify() {
    usage_reaches_the_meters(&FASTAPI, false);
}

#[test]
fn flask_usage_reaches_the_meters_and_webhooks_verify() {
    usage_reaches_the_meters(&FLASK, false);
}

/// Where the project's pins block spaire-sdk: the same counts, and webhooks verified by
/// `standardwebhooks` alone (good 202, tampered 403, replay 200, unknown type 202).
#[test]
fn flask_without_the_sdk_records_usage_and_verifies_webhooks() {
    usage_reaches_the_meters(&FLASK, true);
}

#[test]
fn fastapi_keeps_answering_when_the_api_is_down() {
    app_keeps_answering_when_the_api_is_down(&FASTAPI);
}

#[test]
fn flask_keeps_answering_when_the_api_is_down() {
    app_keeps_answering_when_the_api_is_down(&FLASK);
}

/// With `[customer] from = "body"` the ASGI middleware reads the JSON body to find the id
/// and replays it, so the endpoint still receives the whole body.
#[test]
fn fastapi_body_customer_is_read_without_consuming_the_body() {
    let Some(python) = venv_python() else { return };
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let customer = CustomerSource::Body {
        field: "customerId".to_owned(),
    };
    let (dir, plan) = prepare_with(&FASTAPI, &base_url, customer, false);
    let meter = api.create_meter(plan.meter("api-calls").unwrap());
    let (mut child, base) = start(&FASTAPI, &python, dir.path(), &base_url, emulator.token());
    for i in 0..3 {
        let body = format!(r#"{{"text":"hello {i}","customerId":"cust-body"}}"#);
        let (status, answer) = codegen::http(
            "POST",
            &format!("{base}/echo"),
            &[("content-type", "application/json")],
            &body,
        )
        .unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, format!(r#"{{"text":"hello {i}"}}"#));
    }
    let output = codegen::stop(&mut child, FASTAPI.signal, 30);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(api.meter_total(&meter, "cust-body"), 3.0, "{logs}");
}

/// What generation changes in each Python fixture (files, wiring edits, env names).
#[test]
fn python_generation_per_framework_snapshot() {
    let plan = codegen::plan(PRESETS, Pricing::Both, true, None);
    let mut out = String::new();
    for fixture in FIXTURES {
        let dir = tempfile::tempdir().unwrap();
        codegen::copy_dir(&codegen::codegen_fixture("py", fixture), dir.path());
        let profile = fixture_profile(fixture, dir.path());
        let changes = codegen::generate_into(dir.path(), &profile, &plan);
        out.push_str(&format!(
            "===== {fixture}\n{}\n",
            codegen::describe(&changes)
        ));
    }
    insta::assert_snapshot!(out);
}

/// Django through its test client (CSRF checks on): the appended middleware counts calls,
/// the webhook view is reachable without a CSRF token and verifies signatures, and the
/// usage queue is flushed when the process exits.
const DJANGO_DRIVER: &str = r#"import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django.setup()

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.test import Client
from django.urls import clear_url_caches, path

import mysite.urls

mysite.urls.urlpatterns += [
    path("api/items", lambda request: JsonResponse([], safe=False)),
    path("api/auth/session", lambda request: JsonResponse({})),
    path("page", lambda request: HttpResponse("<html>page</html>")),
    path("old", lambda request: HttpResponseRedirect("/page")),
]
clear_url_caches()

client = Client(enforce_csrf_checks=True)
customer = {"x-customer-id": "cust-django"}
for _ in range(4):
    assert client.get("/api/items", headers=customer).status_code == 200
assert client.get("/api/items").status_code == 200
# Issue #14, not counted: a health check, a page, a redirect, the auth session poll.
assert client.get("/health", headers=customer).status_code == 200
assert client.get("/page", headers=customer).status_code == 200
assert client.get("/old", headers=customer).status_code == 302
assert client.get("/api/auth/session", headers=customer).status_code == 200

body = open("body.json", "rb").read()
headers = json.load(open("headers.json"))
statuses = [
    client.post("/api/webhooks/spaire", body, content_type="application/json", headers=headers).status_code,
    client.post("/api/webhooks/spaire", body.replace(b"order.paid", b"order.paie", 1), content_type="application/json", headers=headers).status_code,
    # Replayed webhook-id: acknowledged without dispatching again.
    client.post("/api/webhooks/spaire", body, content_type="application/json", headers=headers).status_code,
    # A declared 300 MB body is refused before it is read.
    client.generic("POST", "/api/webhooks/spaire", b"", content_type="application/json", CONTENT_LENGTH="300000000").status_code,
]
print(json.dumps(statuses))
"#;

#[test]
fn django_middleware_and_csrf_exempt_webhook_work() {
    let Some(python) = venv_python() else { return };
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", "django"), dir.path());
    let plan = codegen::plan(&["api-calls"], Pricing::Unit, true, Some(&base_url));
    let meter = api.create_meter(&plan.meters[0]);
    codegen::generate_into(dir.path(), &fixture_profile("django", dir.path()), &plan);
    std::fs::write(dir.path().join("driver.py"), DJANGO_DRIVER).unwrap();
    let body = codegen::order_paid_body();
    std::fs::write(dir.path().join("body.json"), &body).unwrap();
    let headers: serde_json::Map<String, serde_json::Value> =
        codegen::signed_headers(WEBHOOK_SECRET, &body)
            .into_iter()
            .filter(|(k, _)| k.starts_with("webhook-"))
            .map(|(k, v)| (k, serde_json::json!(v)))
            .collect();
    std::fs::write(
        dir.path().join("headers.json"),
        serde_json::Value::Object(headers).to_string(),
    )
    .unwrap();
    let output = Command::new(&python)
        .arg("driver.py")
        .current_dir(dir.path())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .env("SPAIRE_SERVER_URL", &base_url)
        .env("SPAIRE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{logs}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "[202, 403, 200, 413]",
        "{logs}"
    );
    assert_eq!(api.meter_total(&meter, "cust-django"), 4.0, "{logs}");
}

/// Issue #18: the generated Python LLM helpers record every token kind, `_llm` and the
/// `llm-cost` `_cost` for PydanticAI (`TestModel`, and an OpenAI model over a stub
/// OpenAI-compatible server on 127.0.0.1 reporting cached and reasoning tokens), OpenAI usage
/// objects and Anthropic messages; the emulator accepts every event, and its `billedCost`
/// meter totals exactly genai-prices' figures times the markup. One Python process.
#[test]
fn llm_events_carry_every_token_kind_and_their_cost() {
    let Some(python) = venv_python() else { return };
    let emulator = billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
        .expect("emulator");
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", "pydantic-ai"), dir.path());
    let profile = fixture_profile("pydantic-ai", dir.path());
    let mut plan = codegen::plan(
        &[
            "llm-tokens-split",
            "llm-cached-tokens",
            "llm-reasoning-tokens",
            "llm-cost",
        ],
        Pricing::Unit,
        false,
        Some(&emulator.base_url()),
    );
    for meter in plan.meters.iter_mut().filter(|m| m.bills_llm_cost()) {
        meter.markup = Some("1.2".to_owned());
    }
    codegen::generate_into(dir.path(), &profile, &plan);
    let target = billing_generate::Target {
        root: dir.path(),
        profile: &profile,
        package: &profile.packages[0],
        plan: &plan,
        without_sdk: false,
    };
    let module = billing_generate::python::usage_module_import(&target).unwrap();
    let check = |url: &str, token: &str| {
        let output = Command::new(&python)
            .arg(codegen::codegen_fixture("py-llm", "llm_usage_check.py"))
            .arg(&module)
            .current_dir(dir.path())
            .env("PYTHONPATH", dir.path())
            .env("SPAIRE_SERVER_URL", url)
            .env("SPAIRE_ACCESS_TOKEN", token)
            .output()
            .expect("run python");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stdout}\n{stderr}");
        let report: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        (report, stderr)
    };
    let (report, stderr) = check(&emulator.base_url(), emulator.token());
    codegen::same_as_real_server(&report, |url, token| check(url, token).0);
    assert_eq!(report["events"], 8, "{report}");
    assert!(report["costSum"].as_f64().unwrap() > 0.0, "{report}");
    // The unknown model is named in a warning, not billed as 0 silently.
    assert!(stderr.contains("my-finetune-xyz-123"), "{stderr}");
    // So is a call that reported no tokens at all (fastapi-pydantic-ai-agent: its agent streams
    // through pydantic-ai-litellm, which never asks LiteLLM for stream usage).
    assert!(
        stderr.contains("reported no token usage (model openai/gpt-4o)"),
        "{stderr}"
    );
}

/// Issue #14: a call site with no user id of its own (`current_customer_id()`, as wiring
/// writes it) bills the requester: two interleaved async requests each bill their own
/// customer, an anonymous request and code outside any request bill nobody (logged once). The
/// plan has no api-call meter: the customer middleware is registered anyway.
const REQUEST_CUSTOMER_DRIVER: &str = r#"import asyncio
import json

import httpx

from app.main import app
from app.spaire_billing.usage import current_customer_id, flush_usage, record_storage_upload

started = asyncio.Event()
release = asyncio.Event()


def store(size: int) -> None:
    # A helper deep in the app: no request, no user id in scope.
    record_storage_upload(current_customer_id(), size)


@app.post("/first")
async def first() -> dict[str, str]:
    started.set()
    await release.wait()  # the second request runs entirely while this one waits
    store(100)
    return {"customer": current_customer_id()}


@app.post("/second")
async def second() -> dict[str, str]:
    await started.wait()
    store(7)
    release.set()
    return {"customer": current_customer_id()}


@app.post("/anonymous")
async def anonymous() -> dict[str, str]:
    store(5)
    return {"customer": current_customer_id()}


async def main() -> list[str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        a, b = await asyncio.gather(
            client.post("/first", headers={"x-customer-id": "cust-a"}),
            client.post("/second", headers={"x-customer-id": "cust-b"}),
        )
        anon = await client.post("/anonymous")
    return [r.json()["customer"] for r in (a, b, anon)]


print(json.dumps(asyncio.run(main())))
store(3)  # outside any request
flush_usage()
"#;

#[test]
fn fastapi_request_customer_is_the_requesters_and_never_mixed() {
    let Some(python) = venv_python() else { return };
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", "fastapi"), dir.path());
    let mut plan = codegen::plan(&["storage"], Pricing::Unit, false, Some(&base_url));
    plan.customer = CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    };
    let meter = api.create_meter(&plan.meters[0]);
    codegen::generate_into(dir.path(), &fixture_profile("fastapi", dir.path()), &plan);
    std::fs::write(dir.path().join("driver.py"), REQUEST_CUSTOMER_DRIVER).unwrap();
    let output = Command::new(&python)
        .arg("driver.py")
        .current_dir(dir.path())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .env("SPAIRE_SERVER_URL", &base_url)
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{logs}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        r#"["cust-a", "cust-b", ""]"#,
        "{logs}"
    );
    assert_eq!(api.meter_total(&meter, "cust-a"), 100.0, "{logs}");
    assert_eq!(api.meter_total(&meter, "cust-b"), 7.0, "{logs}");
    let all = api.call("GET", "/v1/events/?limit=100", "");
    let customers: Vec<&str> = all["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["external_customer_id"].as_str())
        .collect();
    assert_eq!(
        customers.len(),
        2,
        "only the two signed requests bill: {all}"
    );
    assert_eq!(
        logs.matches("had no customer id").count(),
        1,
        "the anonymous event is logged once: {logs}"
    );
    assert_eq!(
        logs.matches("recorded outside a request").count(),
        1,
        "{logs}"
    );
}

/// Issue #14 (pydantic-ai-examples' `realtime_camera`): a model call inside a FastAPI
/// WebSocket handler bills the user who opened the socket. The middleware names the customer
/// from the handshake's headers, for as long as the socket is open; two sockets never mix,
/// and a socket without the header bills nobody.
const WEBSOCKET_CUSTOMER_DRIVER: &str = r#"import json

from fastapi import WebSocket
from starlette.testclient import TestClient

from app.main import app
from app.spaire_billing.usage import current_customer_id, flush_usage, record_storage_upload


@app.websocket("/ws")
async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        size = int(await websocket.receive_text())
        if size == 0:
            break
        # Deep in the handler: no user id in scope, as wiring writes it.
        record_storage_upload(current_customer_id(), size)
        await websocket.send_text(current_customer_id())
    await websocket.close()


seen = []
with TestClient(app) as client:
    with client.websocket_connect("/ws", headers={"x-customer-id": "cust-ws-a"}) as a:
        with client.websocket_connect("/ws", headers={"x-customer-id": "cust-ws-b"}) as b:
            for size, ws in ((40, a), (2, b), (3, b)):
                ws.send_text(str(size))
                seen.append(ws.receive_text())
            a.send_text("0")
            b.send_text("0")
    with client.websocket_connect("/ws") as anonymous:
        anonymous.send_text("5")
        seen.append(anonymous.receive_text())
        anonymous.send_text("0")
print(json.dumps(seen))
flush_usage()
"#;

#[test]
fn fastapi_websocket_customer_is_the_sockets_user() {
    let Some(python) = venv_python() else { return };
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", "fastapi"), dir.path());
    // api-calls too: a socket is not an API call, and must not be counted as one.
    let mut plan = codegen::plan(
        &["storage", "api-calls"],
        Pricing::Unit,
        false,
        Some(&base_url),
    );
    plan.customer = CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    };
    let of_kind = |kind: billing_plan::MeterKind| {
        plan.meters
            .iter()
            .find(|m| m.kind == kind)
            .expect("meter of the plan")
    };
    let storage = api.create_meter(of_kind(billing_plan::MeterKind::Storage));
    let calls = api.create_meter(of_kind(billing_plan::MeterKind::ApiCalls));
    codegen::generate_into(dir.path(), &fixture_profile("fastapi", dir.path()), &plan);
    std::fs::write(dir.path().join("driver.py"), WEBSOCKET_CUSTOMER_DRIVER).unwrap();
    let output = Command::new(&python)
        .arg("driver.py")
        .current_dir(dir.path())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .env("SPAIRE_SERVER_URL", &base_url)
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{logs}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        r#"["cust-ws-a", "cust-ws-b", "cust-ws-b", ""]"#,
        "{logs}"
    );
    assert_eq!(api.meter_total(&storage, "cust-ws-a"), 40.0, "{logs}");
    assert_eq!(api.meter_total(&storage, "cust-ws-b"), 5.0, "{logs}");
    assert_eq!(api.meter_total(&calls, "cust-ws-a"), 0.0, "{logs}");
    assert_eq!(
        logs.matches("had no customer id").count(),
        1,
        "the anonymous socket's event is logged once: {logs}"
    );
}

/// Issue #14 (ayataka0nk/gpt-tools): the app's own `get_user` dependency (a bearer token and
/// a database session as sub-dependencies; the user model is keyed `user_id`, no `id`) names
/// the customer, and a sync generator behind `StreamingResponse` (where the model stream is
/// read, two calls away from the route) still sees it.
const GET_USER_STREAM_DRIVER: &str = r#"import json
from typing import Annotated

from fastapi import Depends
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from svc.auths import User, get_user
from svc.main import app
from svc.spaire_billing.usage import current_customer_id, flush_usage, record_storage_upload


def words():
    for size in (3, 4):
        # As wiring writes it inside the service's stream: no user id in scope.
        record_storage_upload(current_customer_id(), size)
        yield current_customer_id() + ";"


@app.get("/stream")
def stream(user: Annotated[User, Depends(get_user)]) -> StreamingResponse:
    return StreamingResponse(words())


with TestClient(app) as client:
    seen = client.get("/stream", headers={"Authorization": "Bearer jwt-for-42"}).text
    refused = client.get("/stream", headers={"Authorization": "Bearer forged"}).status_code
print(json.dumps([seen, refused]))
flush_usage()
"#;

#[test]
fn fastapi_get_user_dependency_bills_a_streamed_generator() {
    let Some(python) = venv_python() else { return };
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(
        &codegen::codegen_fixture("py", "fastapi-get-user"),
        dir.path(),
    );
    let mut plan = codegen::plan(&["storage"], Pricing::Unit, false, Some(&base_url));
    plan.customer = CustomerSource::Session;
    let meter = api.create_meter(&plan.meters[0]);
    let profile = codegen::profile(
        dir.path(),
        Language::Python,
        vec![codegen::framework(
            FrameworkId::Fastapi,
            FrameworkDetails {
                entry_file: Some("svc/main.py".to_owned()),
                app_variable: Some("app".to_owned()),
                ..FrameworkDetails::default()
            },
        )],
    );
    let changes = codegen::generate_into(dir.path(), &profile, &plan);
    let integration = changes
        .files
        .iter()
        .find(|f| f.path == "svc/spaire_billing/integration.py")
        .expect("integration.py");
    assert!(
        integration.after.contains("from svc.auths import get_user"),
        "{}",
        integration.after
    );
    std::fs::write(dir.path().join("driver.py"), GET_USER_STREAM_DRIVER).unwrap();
    let output = Command::new(&python)
        .arg("driver.py")
        .current_dir(dir.path())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .env("SPAIRE_SERVER_URL", &base_url)
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{logs}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        r#"["42;42;", 401]"#,
        "{logs}"
    );
    assert_eq!(api.meter_total(&meter, "42"), 7.0, "{logs}");
}

/// The top-level import block of a generated Python file (after the header and docstring),
/// for black to check on its own: black would reflow the rest of the file, which the project's
/// formatter does at plan time when it is installed; the imports must be right without it.
fn import_block(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("import ") || l.starts_with("from "))
        .unwrap_or(lines.len());
    let mut end = start;
    let mut open = false;
    for (i, line) in lines.iter().enumerate().skip(start) {
        let import = line.starts_with("import ") || line.starts_with("from ");
        if open || import {
            end = i + 1;
            open = (open || line.ends_with('(')) && !line.starts_with(')');
        } else if !line.is_empty() {
            break;
        }
    }
    lines[start..end].join("\n") + "\n"
}

/// Issue #15: every generated Python file's imports pass the real isort (profile black), ruff's
/// `I` rules and black, at the default line length (88) and at the one a project configures
/// (`[tool.ruff] line-length = 100`): wrapped in black's parenthesised form only when too long,
/// sections and names in isort's order, one statement per module.
#[test]
fn generated_python_imports_pass_isort_ruff_and_black() {
    let Some(python) = venv_python() else { return };
    let bin = python.parent().unwrap().to_path_buf();
    let mut plans: Vec<(String, BillingPlan)> = extra_plans();
    for preset in PRESETS {
        plans.push((
            (*preset).to_owned(),
            codegen::plan(&[preset], Pricing::Unit, true, None),
        ));
    }
    for line_length in [88usize, 100] {
        let dir = tempfile::tempdir().unwrap();
        let files_dir = dir.path().join("files");
        let blocks_dir = dir.path().join("blocks");
        std::fs::create_dir_all(&files_dir).unwrap();
        std::fs::create_dir_all(&blocks_dir).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut wrapped = 0;
        for fixture in FIXTURES {
            for (_, plan) in &plans {
                let staging = tempfile::tempdir().unwrap();
                codegen::copy_dir(&codegen::codegen_fixture("py", fixture), staging.path());
                if line_length != 88 {
                    let pyproject = staging.path().join("pyproject.toml");
                    let before = std::fs::read_to_string(&pyproject).unwrap_or_default();
                    std::fs::write(
                        &pyproject,
                        format!("{before}\n[tool.ruff]\nline-length = {line_length}\n"),
                    )
                    .unwrap();
                }
                let profile = fixture_profile(fixture, staging.path());
                let changes = codegen::generate_into(staging.path(), &profile, plan);
                for file in changes
                    .files
                    .iter()
                    .filter(|f| f.path.ends_with(".py") && f.path.contains("spaire_billing/"))
                {
                    if !seen.insert(file.after.clone()) {
                        continue;
                    }
                    let n = seen.len();
                    let name = file.path.rsplit('/').next().unwrap();
                    std::fs::write(files_dir.join(format!("f{n:03}_{name}")), &file.after).unwrap();
                    let block = import_block(&file.after);
                    wrapped += usize::from(block.contains("import (\n"));
                    std::fs::write(blocks_dir.join(format!("f{n:03}_{name}")), block).unwrap();
                }
            }
        }
        assert!(seen.len() > 30, "{} distinct files", seen.len());
        if line_length == 88 {
            assert!(wrapped > 0, "no long import to wrap was generated");
        }
        let length = line_length.to_string();
        let checks: [(&str, Vec<&str>, &Path); 3] = [
            (
                "isort",
                vec![
                    "--profile",
                    "black",
                    "--line-length",
                    &length,
                    "--check-only",
                    "--diff",
                    ".",
                ],
                &files_dir,
            ),
            (
                "ruff",
                vec![
                    "check",
                    "--isolated",
                    "--no-cache",
                    "--select",
                    "I",
                    "--line-length",
                    &length,
                    "--diff",
                    ".",
                ],
                &files_dir,
            ),
            (
                "black",
                vec!["--check", "--diff", "--line-length", &length, "."],
                &blocks_dir,
            ),
        ];
        for (tool, args, cwd) in checks {
            let output = Command::new(bin.join(tool))
                .args(&args)
                .current_dir(cwd)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{tool} (line length {line_length}) rejects generated imports:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
