//! `spaire-billing setup`: the whole conversation in a real pseudo-terminal, keystroke by
//! keystroke, against the built-in emulator; and the scripted (flag-only) form without one.

use std::path::Path;
use std::process::Command;

use billing_api::{Client, ProductListQuery};
use billing_emulator::EmulatorConfig;
use rexpect::session::PtySession;

use crate::common::account::{background_with_pro, block_on};
use crate::common::{billing, copy_fixture, transcript, tree};

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";

fn client(emulator: &billing_emulator::BackgroundEmulator) -> Client {
    crate::common::account::client(&emulator.base_url(), emulator.token())
}

/// An emulator with one monthly product "Pro" (a fixed $20 price), as a user would have.
fn emulator_with_product() -> billing_emulator::BackgroundEmulator {
    background_with_pro(EmulatorConfig::default()).0
}

/// `setup` in a pseudo-terminal. `server` is the emulator's URL (environment `local`) or
/// `None` for a sandbox run without a token.
fn spawn_setup(dir: &Path, server: Option<&str>, extra: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
    cmd.arg("setup")
        .arg(dir)
        .args(["--no-install"])
        .args(extra)
        .env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_ACCESS_TOKEN")
        .env_remove("SPAIRE_SERVER_URL")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    match server {
        Some(url) => cmd.args(["--environment", "local", "--server-url", url]),
        // Named, so the question a tokenless run asks first (emulator or sandbox) is not.
        None => cmd.args(["--environment", "sandbox"]),
    };
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

/// Types keys and flushes after each (rexpect buffers writes; inquire reads raw keys).
fn keys(session: &mut PtySession, sequence: &[&str]) {
    for key in sequence {
        session.send(key).unwrap();
        session.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(60));
    }
}

fn answer(session: &mut PtySession, prompt: &str, sequence: &[&str]) {
    session
        .exp_string(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    keys(session, sequence);
}

/// Reads everything up to the end of the process; the report sections must all be there.
fn finish_with_report(session: &mut PtySession) -> String {
    let rest = session.exp_eof().unwrap();
    for section in [
        "Checks",
        " completed\r\n",
        " pending\r\n",
        "Rollback steps",
        "Testing checklist",
    ] {
        assert!(
            rest.contains(section),
            "missing section {section:?} in:\n{rest}"
        );
    }
    rest
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn meter_names(client: &Client) -> Vec<String> {
    block_on(client.meters(&Default::default()).collect_all())
        .unwrap()
        .into_iter()
        .filter(|m| !m.is_archived())
        .map(|m| m.name)
        .collect()
}

#[cfg(unix)]
#[test]
fn nextjs_with_the_ai_sdk_sold_as_credits() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "nextjs-app");
    let original = tree(dir.path());
    let mut s = spawn_setup(dir.path(), Some(&emulator.base_url()), &[]);
    s.exp_string("Found Next.js").unwrap();
    answer(&mut s, "What do you want to meter?", &[" ", ENTER]);
    answer(
        &mut s,
        "prompt and completion tokens separately?",
        &["n", ENTER],
    );
    answer(&mut s, "or bill the model's cost?", &[ENTER]);
    answer(&mut s, "How do you want to price it?", &[DOWN, ENTER]);
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &[ENTER],
    );
    answer(&mut s, "credited per billing cycle", &["100000", ENTER]);
    answer(&mut s, "Roll unused", &["y", ENTER]);
    answer(&mut s, "which customer it serves?", &[DOWN, DOWN, ENTER]);
    answer(&mut s, "Header name:", &[ENTER]);
    answer(&mut s, "Generate a webhook handler", &[ENTER]);
    answer(&mut s, "Public https URL of the webhook handler", &[ENTER]);
    answer(&mut s, "Plan hash:", &[]);
    answer(
        &mut s,
        "Apply these changes (local environment)?",
        &["y", ENTER],
    );
    let report = finish_with_report(&mut s);
    assert!(report.contains("created meter-credit benefit"), "{report}");

    let plan = read(dir.path(), "spaire-billing.toml");
    assert!(plan.contains("preset = \"llm-tokens\""), "{plan}");
    assert!(plan.contains("units = 100000"), "{plan}");
    assert!(plan.contains("rollover = true"), "{plan}");
    assert!(plan.contains("header = \"x-customer-id\""), "{plan}");
    assert!(dir.path().join(".spaire-billing/lock.json").is_file());
    let client = client(&emulator);
    assert_eq!(meter_names(&client), ["llm-token-usage"]);
    let benefits = block_on(client.benefits(Some("meter_credit")).collect_all()).unwrap();
    assert_eq!(benefits.len(), 1);

    // Undo on request: the project is byte-identical again and the account as it was.
    let undo = billing()
        .args(["undo", "--server-url"])
        .arg(emulator.base_url())
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(undo.status.success(), "{}", transcript(&undo, &[]));
    assert_eq!(tree(dir.path()), original);
    assert!(meter_names(&client).is_empty(), "the meter is archived");
    let benefits = block_on(client.benefits(Some("meter_credit")).collect_all()).unwrap();
    assert!(benefits.is_empty(), "the credit benefit is deleted");
}

#[cfg(unix)]
#[test]
fn express_counting_api_calls_per_unit() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "express");
    let mut s = spawn_setup(dir.path(), Some(&emulator.base_url()), &[]);
    answer(&mut s, "What do you want to meter?", &[DOWN, " ", ENTER]);
    answer(&mut s, "How do you want to price it?", &[ENTER]);
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &[ENTER],
    );
    // A price that is not a number is refused in words, and asked again.
    answer(
        &mut s,
        "Price per call for `api-calls`, in dollars:",
        &["abc", ENTER],
    );
    s.exp_string("not a plain decimal number of dollars")
        .unwrap();
    answer(
        &mut s,
        "Price per call for `api-calls`, in dollars:",
        &["0.001", ENTER],
    );
    answer(&mut s, "Maximum metered charge", &["50", ENTER]);
    answer(&mut s, "which customer it serves?", &[DOWN, DOWN, ENTER]);
    // A header the client sets is said to be unsafe where it is chosen.
    s.exp_string("the caller controls").unwrap();
    answer(&mut s, "Header name:", &[ENTER]);
    answer(&mut s, "Generate a webhook handler", &["n", ENTER]);
    answer(
        &mut s,
        "Apply these changes (local environment)?",
        &["y", ENTER],
    );
    finish_with_report(&mut s);

    let plan = read(dir.path(), "spaire-billing.toml");
    // $0.001 per call is 0.1 cents, exactly.
    assert!(plan.contains("unit_amount = \"0.1\""), "{plan}");
    // The seed's optional cap, asked after the price: $50 is 5000 cents.
    assert!(plan.contains("cap_amount = 5000"), "{plan}");
    assert!(!plan.contains("[webhooks]"), "{plan}");
    assert!(read(dir.path(), "src/index.js").contains("spaire"));
    let client = client(&emulator);
    assert_eq!(meter_names(&client), ["api-calls"]);
    let products = block_on(client.products(&ProductListQuery::default()).collect_all()).unwrap();
    let active: Vec<_> = products[0]
        .prices
        .iter()
        .filter(|p| !p.is_archived)
        .collect();
    assert_eq!(
        active.len(),
        2,
        "the fixed price stays and the metered one is added"
    );
    assert!(active.iter().any(|p| p.amount_type == "metered_unit"));
}

#[cfg(unix)]
#[test]
fn fastapi_with_pydantic_ai_sold_as_credits_with_overage() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "fastapi-pydantic-ai");
    let mut s = spawn_setup(dir.path(), Some(&emulator.base_url()), &[]);
    s.exp_string("FastAPI").unwrap();
    answer(&mut s, "What do you want to meter?", &[" ", ENTER]);
    answer(&mut s, "prompt and completion tokens separately?", &[ENTER]);
    answer(&mut s, "or bill the model's cost?", &[ENTER]);
    answer(&mut s, "How do you want to price it?", &[DOWN, DOWN, ENTER]);
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &[ENTER],
    );
    answer(&mut s, "Price per token", &["0.00001", ENTER]);
    answer(&mut s, "credited per billing cycle", &["50000", ENTER]);
    answer(&mut s, "Roll unused", &[ENTER]);
    answer(&mut s, "Maximum metered charge", &[ENTER]);
    answer(
        &mut s,
        "which customer it serves?",
        &[DOWN, DOWN, DOWN, ENTER],
    );
    answer(&mut s, "Body field:", &[ENTER]);
    answer(&mut s, "Generate a webhook handler", &[ENTER]);
    answer(&mut s, "Public https URL of the webhook handler", &[ENTER]);
    answer(
        &mut s,
        "Apply these changes (local environment)?",
        &["y", ENTER],
    );
    finish_with_report(&mut s);

    let plan = read(dir.path(), "spaire-billing.toml");
    assert!(plan.contains("unit_amount = \"0.001\""), "{plan}");
    assert!(plan.contains("units = 50000"), "{plan}");
    assert!(plan.contains("rollover = false"), "{plan}");
    assert!(plan.contains("field = \"customerId\""), "{plan}");
    let client = client(&emulator);
    assert_eq!(meter_names(&client), ["llm-token-usage"]);
    let products = block_on(client.products(&ProductListQuery::default()).collect_all()).unwrap();
    assert!(
        products[0]
            .prices
            .iter()
            .any(|p| p.amount_type == "metered_unit" && !p.is_archived)
    );
    assert_eq!(products[0].benefits.len(), 1);
}

#[cfg(unix)]
#[test]
fn a_monorepo_asks_which_package() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "pnpm-turbo-monorepo");
    let mut s = spawn_setup(dir.path(), Some(&emulator.base_url()), &[]);
    s.exp_string("Which package should record usage?").unwrap();
    let menu = s.exp_string("apps/web").unwrap();
    assert!(menu.contains("apps/api"), "both apps are offered: {menu}");
    // The menu lists apps/api first (sorted by path); pick it.
    keys(&mut s, &[ENTER]);
    answer(&mut s, "What do you want to meter?", &[DOWN, " ", ENTER]);
    answer(&mut s, "How do you want to price it?", &[ENTER]);
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &[ENTER],
    );
    answer(&mut s, "Price per call", &["0.002", ENTER]);
    answer(&mut s, "Maximum metered charge", &[ENTER]);
    answer(&mut s, "which customer it serves?", &[DOWN, DOWN, ENTER]);
    answer(&mut s, "Header name:", &["x-team-id", ENTER]);
    answer(&mut s, "Generate a webhook handler", &["n", ENTER]);
    answer(
        &mut s,
        "Apply these changes (local environment)?",
        &["y", ENTER],
    );
    finish_with_report(&mut s);

    let plan = read(dir.path(), "spaire-billing.toml");
    assert!(plan.contains("path = \"apps/api\""), "{plan}");
    assert!(plan.contains("header = \"x-team-id\""), "{plan}");
    assert!(
        dir.path().join("apps/api/src/lib/spaire").is_dir(),
        "generated code goes into the chosen package"
    );
    assert!(!dir.path().join("apps/web/lib/spaire").exists());
}

#[cfg(unix)]
#[test]
fn without_a_token_the_remote_steps_become_pending_dashboard_steps() {
    let dir = copy_fixture("detect", "express");
    let mut s = spawn_setup(dir.path(), None, &[]);
    answer(&mut s, "What do you want to meter?", &[DOWN, " ", ENTER]);
    answer(&mut s, "How do you want to price it?", &[ENTER]);
    s.exp_string("SPAIRE_ACCESS_TOKEN is not set").unwrap();
    // No token: no product list, the product is typed.
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &["Pro", ENTER],
    );
    answer(&mut s, "Price per call", &["0.001", ENTER]);
    answer(&mut s, "Maximum metered charge", &[ENTER]);
    answer(&mut s, "which customer it serves?", &[DOWN, DOWN, ENTER]);
    answer(&mut s, "Header name:", &[ENTER]);
    answer(&mut s, "Generate a webhook handler", &["n", ENTER]);
    answer(
        &mut s,
        "Apply these changes (sandbox environment)?",
        &["y", ENTER],
    );
    let report = finish_with_report(&mut s);
    let pending = report
        .split(" pending\r\n")
        .nth(1)
        .and_then(|rest| rest.split("Rollback steps").next())
        .unwrap();
    assert!(pending.contains("sandbox.spairehq.com"), "{pending}");
    assert!(pending.contains("api-calls"), "{pending}");
    assert!(report.contains("Set SPAIRE_ACCESS_TOKEN"), "{report}");
    let lock = read(dir.path(), ".spaire-billing/lock.json");
    assert!(lock.contains("pending"), "{lock}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_at_a_question_leaves_the_project_unchanged() {
    let dir = copy_fixture("detect", "express");
    let before = tree(dir.path());
    let mut s = spawn_setup(dir.path(), None, &[]);
    answer(&mut s, "What do you want to meter?", &[DOWN, " "]);
    s.send_control('c').unwrap();
    s.flush().unwrap();
    s.exp_string("setup interrupted (Ctrl-C); your code and your Spaire account were not changed")
        .unwrap();
    s.exp_eof().unwrap();
    assert_exit(&s, 130);
    assert_eq!(
        tree(dir.path()),
        before,
        "no answer was given, none is kept"
    );
}

#[cfg(unix)]
fn assert_exit(session: &PtySession, code: i32) {
    match session.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, got) => assert_eq!(got, code),
        other => panic!("expected exit {code}, got {other:?}"),
    }
}

/// Ctrl-C at the install prompt comes after the files were written: the message says so,
/// and `undo` puts them back.
#[cfg(unix)]
#[test]
fn ctrl_c_at_the_install_prompt_says_the_files_were_written() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "express");
    let before = tree(dir.path());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
    cmd.arg("setup")
        .arg(dir.path())
        .args(["--environment", "local", "--server-url"])
        .arg(emulator.base_url())
        .args([
            "--meter",
            "api-calls",
            "--pricing",
            "unit",
            "--unit-price",
            "0.001",
        ])
        .args(["--product", "Pro", "--customer", "header:x-customer-id"])
        // Every answer as a flag: no typed answer is kept, so undo leaves nothing behind.
        .args(["--webhooks", "false", "--no-checks", "--cap", "50"])
        .env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_ACCESS_TOKEN")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut s = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    answer(
        &mut s,
        "Apply these changes (local environment)?",
        &["y", ENTER],
    );
    answer(&mut s, "now?", &[]);
    s.send_control('c').unwrap();
    s.flush().unwrap();
    s.exp_string("setup stopped at the install prompt;")
        .unwrap();
    let rest = s.exp_eof().unwrap();
    assert!(rest.contains("were already written"), "{rest}");
    assert!(!rest.contains("nothing was changed"), "{rest}");
    assert_exit(&s, 130);
    assert!(dir.path().join("spaire-billing.toml").is_file());

    let undo = billing()
        .args(["undo", "--server-url"])
        .arg(emulator.base_url())
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(undo.status.success(), "{}", transcript(&undo, &[]));
    assert_eq!(tree(dir.path()), before);
}

/// `setup --dry-run` with every answer as a flag previews without a terminal and writes
/// nothing; `--json` makes the preview the output.
#[test]
fn a_dry_run_previews_without_a_terminal() {
    let dir = copy_fixture("detect", "express");
    let before = tree(dir.path());
    let run = |json: bool| {
        let mut cmd = billing();
        cmd.args([
            "setup",
            "--dry-run",
            "--meter",
            "api-calls",
            "--pricing",
            "unit",
        ])
        .args(["--unit-price", "0.001", "--product", "Pro"])
        .args(["--customer", "header:x-customer-id", "--webhooks", "false"])
        .arg(dir.path());
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let text = run(false);
    let shown = transcript(&text, &[]);
    assert!(text.status.success(), "{shown}");
    assert!(shown.contains("Dry run: nothing was written"), "{shown}");
    assert!(shown.contains("Plan hash:"), "{shown}");
    let json = run(true);
    assert!(json.status.success(), "{}", transcript(&json, &[]));
    let preview: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(preview["schema_version"], 1);
    assert!(preview["hash"].is_string(), "{preview}");
    assert_eq!(tree(dir.path()), before, "a dry run writes nothing");
}

/// Each invalid answer the plan file would refuse is refused where it is typed, with the
/// plan's reason, and asked again; the conversation then completes.
#[cfg(unix)]
#[test]
fn an_invalid_answer_is_asked_again_with_the_reason() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "express");
    let mut s = spawn_setup(dir.path(), Some(&emulator.base_url()), &[]);
    // The custom meter is the last entry of the menu.
    answer(
        &mut s,
        "What do you want to meter?",
        &[DOWN, DOWN, DOWN, DOWN, " ", ENTER],
    );
    let refused = |s: &mut PtySession, prompt: &str, typed: &str, reason: &str, then: &[&str]| {
        answer(s, prompt, &[typed, ENTER]);
        s.exp_string(reason)
            .unwrap_or_else(|e| panic!("{typed:?} at {prompt:?}: no {reason:?}: {e}"));
        answer(s, prompt, then);
    };
    refused(
        &mut s,
        "Meter name:",
        "ab",
        "expected a meter name of 3 to 100 characters",
        &["images", ENTER],
    );
    answer(
        &mut s,
        "Event name your code will send:",
        &["image-generated", ENTER],
    );
    answer(&mut s, "Aggregation:", &[ENTER]);
    refused(
        &mut s,
        "Metadata property to aggregate:",
        "image-generations",
        "expected a metadata key",
        &["pixels", ENTER],
    );
    answer(&mut s, "How do you want to price it?", &[DOWN, ENTER]);
    refused(
        &mut s,
        "Which product should these prices attach to?",
        "Nope",
        "no recurring product named `Nope` in your local organization",
        &[ENTER],
    );
    refused(
        &mut s,
        "credited per billing cycle:",
        "9223372036854775807",
        "from 1 to 2147483647",
        &["100000", ENTER],
    );
    answer(&mut s, "Roll unused", &[ENTER]);
    answer(&mut s, "which customer it serves?", &[DOWN, DOWN, ENTER]);
    refused(
        &mut s,
        "Header name:",
        "1,5",
        "expected an HTTP header name",
        &[ENTER],
    );
    answer(&mut s, "Generate a webhook handler", &["n", ENTER]);
    answer(
        &mut s,
        "Apply these changes (local environment)?",
        &["y", ENTER],
    );
    finish_with_report(&mut s);

    let plan = read(dir.path(), "spaire-billing.toml");
    for expected in [
        "name = \"images\"",
        "event = \"image-generated\"",
        "property = \"pixels\"",
        "units = 100000",
        "header = \"x-customer-id\"",
        // Kept by name, so the plan moves to another environment as it is.
        "product = \"Pro\"",
    ] {
        assert!(plan.contains(expected), "{expected} in:\n{plan}");
    }
    assert!(
        !dir.path().join(".spaire-billing/answers.toml").exists(),
        "the draft goes once applied"
    );
}

/// Ctrl-C halfway keeps the answers given so far; the next run offers each as its default.
#[cfg(unix)]
#[test]
fn answers_given_before_ctrl_c_are_offered_again() {
    let dir = copy_fixture("detect", "express");
    let mut s = spawn_setup(dir.path(), None, &[]);
    answer(&mut s, "What do you want to meter?", &[DOWN, " ", ENTER]);
    answer(&mut s, "How do you want to price it?", &[DOWN, ENTER]);
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &["Pro", ENTER],
    );
    answer(&mut s, "credited per billing cycle", &[]);
    s.send_control('c').unwrap();
    s.flush().unwrap();
    s.exp_string("kept in `.spaire-billing/answers.toml`")
        .unwrap();
    s.exp_eof().unwrap();
    let draft = read(dir.path(), ".spaire-billing/answers.toml");
    assert!(draft.contains("\"Pro\""), "{draft}");
    let ignore = read(dir.path(), ".spaire-billing/.gitignore");
    assert!(ignore.lines().any(|l| l == "answers.toml"), "{ignore}");

    // Enter keeps each earlier answer: api-calls, credits (not the first choice), Pro.
    let mut s = spawn_setup(dir.path(), None, &[]);
    s.exp_string("Offering the 3 answer(s)").unwrap();
    answer(&mut s, "What do you want to meter?", &[ENTER]);
    answer(&mut s, "How do you want to price it?", &[ENTER]);
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &[ENTER],
    );
    answer(&mut s, "credited per billing cycle", &["250", ENTER]);
    answer(&mut s, "Roll unused", &[ENTER]);
    answer(&mut s, "which customer it serves?", &[DOWN, DOWN, ENTER]);
    answer(&mut s, "Header name:", &[ENTER]);
    answer(&mut s, "Generate a webhook handler", &["n", ENTER]);
    answer(
        &mut s,
        "Apply these changes (sandbox environment)?",
        &["y", ENTER],
    );
    finish_with_report(&mut s);
    let plan = read(dir.path(), "spaire-billing.toml");
    assert!(plan.contains("preset = \"api-calls\""), "{plan}");
    assert!(plan.contains("units = 250"), "{plan}");
    assert!(plan.contains("product = \"Pro\""), "{plan}");
    assert!(!dir.path().join(".spaire-billing/answers.toml").exists());
    assert!(!dir.path().join(".spaire-billing/.gitignore").exists());
}

#[test]
fn without_a_terminal_a_missing_answer_names_its_flag() {
    let dir = copy_fixture("detect", "express");
    let before = tree(dir.path());
    let output = billing()
        .args(["setup", "--meter", "api-calls"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[(&dir.path().display().to_string(), "[PROJECT]")]);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("hint: pass `--pricing unit|credits|both`"),
        "{text}"
    );
    assert_eq!(tree(dir.path()), before, "nothing is written");
}

#[test]
fn scripted_setup_prints_one_json_report_and_a_rerun_changes_nothing() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "express");
    let run = || {
        billing()
            .args(["setup", "--environment", "local", "--server-url"])
            .arg(emulator.base_url())
            .args([
                "--meter",
                "api-calls",
                "--pricing",
                "unit",
                "--unit-price",
                "0.001",
                "--product",
                "Pro",
                "--customer",
                "header:x-customer-id",
                "--webhooks",
                "false",
                "--no-install",
                "--yes",
                "--json",
            ])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", transcript(&first, &[]));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["environment"], "local");
    assert!(report["files"].as_array().unwrap().len() > 3);
    assert_eq!(report["dashboard_pending"].as_array().unwrap().len(), 0);
    assert!(!report["dashboard_completed"].as_array().unwrap().is_empty());

    let applied = tree(dir.path());
    let second = run();
    assert!(second.status.success(), "{}", transcript(&second, &[]));
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["files"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(
        report["dashboard_completed"].as_array().unwrap().len(),
        0,
        "{report}"
    );
    let mut after = tree(dir.path());
    // Only the journal of the no-op run may differ.
    after.retain(|k, _| !k.starts_with(".spaire-billing/journal"));
    let mut applied_files = applied;
    applied_files.retain(|k, _| !k.starts_with(".spaire-billing/journal"));
    assert_eq!(after, applied_files);
}

/// `[customer] expression` / `job_field` are never asked; a re-run with the saved answers
/// must keep them (the plan file is merged key by key, and a key the answers lack was dropped).
#[test]
fn a_rerun_keeps_the_team_expression_and_job_field_and_flags_set_them() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "express");
    let setup = |extra: &[&str]| {
        billing()
            .args(["setup", "--environment", "local", "--server-url"])
            .arg(emulator.base_url())
            .args([
                "--meter",
                "api-calls",
                "--pricing",
                "unit",
                "--unit-price",
                "0.001",
                "--product",
                "Pro",
                "--customer",
                "session",
                "--webhooks",
                "false",
                "--no-install",
                "--no-checks",
                "--yes",
            ])
            .args(extra)
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let first = setup(&[
        "--customer-expression",
        "teamId",
        "--customer-job-field",
        "teamId",
    ]);
    assert!(first.status.success(), "{}", transcript(&first, &[]));
    let plan = read(dir.path(), "spaire-billing.toml");
    assert!(plan.contains("expression = \"teamId\""), "{plan}");
    assert!(plan.contains("job_field = \"teamId\""), "{plan}");

    let second = setup(&[]);
    assert!(second.status.success(), "{}", transcript(&second, &[]));
    assert_eq!(
        read(dir.path(), "spaire-billing.toml"),
        plan,
        "nothing dropped"
    );

    // The flag is pasted into code: anything but a property path is a usage error (exit 2).
    let bad = setup(&["--customer-expression", "teamId); drop()"]);
    assert_eq!(bad.status.code(), Some(2), "{}", transcript(&bad, &[]));
    assert_eq!(read(dir.path(), "spaire-billing.toml"), plan);
}

/// Pre-flight asks about a dirty tree once; the preview must not repeat the warning.
#[test]
fn a_dirty_git_tree_is_warned_about_once() {
    let dir = copy_fixture("detect", "express");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !git(&["init", "-q"]) {
        assert!(!crate::common::in_ci(), "git is needed in CI");
        eprintln!("skipped: git is not installed");
        return;
    }
    std::fs::write(dir.path().join("notes.txt"), "uncommitted\n").unwrap();
    let output = billing()
        .args([
            "setup",
            "--meter",
            "api-calls",
            "--pricing",
            "unit",
            "--unit-price",
            "0.001",
        ])
        .args([
            "--product",
            "Pro",
            "--customer",
            "header:x-customer-id",
            "--webhooks",
            "false",
        ])
        .args(["--no-install", "--no-checks", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[]);
    assert!(output.status.success(), "{text}");
    let dirty_lines = text
        .lines()
        .filter(|l| l.starts_with("warning:") && l.contains("uncommitted"))
        .count();
    assert_eq!(dirty_lines, 1, "{text}");
}

/// The preview before the confirm prompt fits on two screens for a Next.js app: generated
/// files are listed with their length, the edits of the user's files are shown in full, and
/// `--diff` shows everything.
#[test]
fn the_nextjs_preview_fits_on_two_screens() {
    let dir = copy_fixture("detect", "nextjs-app");
    let preview = |extra: &[&str]| {
        let output = billing()
            .args(["setup", "--dry-run", "--meter", "llm-tokens"])
            .args([
                "--pricing",
                "credits",
                "--credits",
                "100000",
                "--rollover",
                "false",
            ])
            .args(["--product", "Pro", "--customer", "header:x-customer-id"])
            .args(["--webhooks", "true"])
            .args(extra)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", transcript(&output, &[]));
        String::from_utf8(output.stdout).unwrap()
    };
    let short = preview(&[]);
    let lines = short.lines().count();
    assert!(lines <= 100, "{lines} lines:\n{short}");
    assert!(
        short.contains("+    onFinish: (event) => {"),
        "the edit of the route is shown in full:\n{short}"
    );
    // The hash changes with every generator change; the layout is what is reviewed here.
    let redacted: String = short
        .lines()
        .map(|l| match l.strip_prefix("Plan hash: ") {
            Some(_) => "Plan hash: [HASH]\n".to_owned(),
            None => format!("{l}\n"),
        })
        .collect();
    insta::assert_snapshot!(redacted);
    let full = preview(&["--diff"]);
    assert!(
        full.contains("+++ b/src/lib/spaire/recorder.ts"),
        "--diff shows generated files"
    );
    assert!(full.lines().count() > 4 * lines);
}

/// On a terminal `undo` shows what it reverts, warns about the credits subscribers hold, and
/// reverts nothing unless the answer is yes.
#[cfg(unix)]
#[test]
fn undo_on_a_terminal_shows_what_it_reverts_and_asks() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "express");
    let before = tree(dir.path());
    let applied = billing()
        .args(["setup", "--environment", "local", "--server-url"])
        .arg(emulator.base_url())
        .args([
            "--meter",
            "api-calls",
            "--pricing",
            "credits",
            "--credits",
            "1000",
        ])
        .args(["--rollover", "false", "--product", "Pro"])
        .args(["--customer", "header:x-customer-id", "--webhooks", "false"])
        .args(["--no-install", "--no-checks", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", transcript(&applied, &[]));
    let after_apply = tree(dir.path());
    let undo = |answer: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
        cmd.args(["undo", "--server-url"])
            .arg(emulator.base_url())
            .arg(dir.path())
            .env_remove("RUST_BACKTRACE")
            .env_remove("SPAIRE_ACCESS_TOKEN")
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        let mut s = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
        s.exp_string("will revert the latest apply (local environment)")
            .unwrap();
        s.exp_string("remove  src/lib/spaire/client.js").unwrap();
        s.exp_string("delete the `api-calls` credit benefit of `Pro`")
            .unwrap();
        s.exp_string("active subscription").unwrap();
        answer_prompt(&mut s, answer);
        s
    };
    let mut s = undo("n");
    s.exp_string("nothing was reverted").unwrap();
    s.exp_eof().unwrap();
    assert_exit(&s, 1);
    assert_eq!(tree(dir.path()), after_apply, "a no reverts nothing");
    let mut s = undo("y");
    s.exp_string("Undid plan").unwrap();
    s.exp_eof().unwrap();
    assert_exit(&s, 0);
    assert_eq!(tree(dir.path()), before);
}

#[cfg(unix)]
fn answer_prompt(s: &mut PtySession, reply: &str) {
    answer(s, "Revert all of this?", &[reply, ENTER]);
}

/// Ctrl-C while the remote steps run stops after the request in flight, says what exists
/// in the account, and exits 130.
#[cfg(unix)]
#[test]
fn ctrl_c_during_the_remote_steps_stops_and_says_what_exists() {
    let (emulator, _) = background_with_pro(EmulatorConfig {
        latency_ms: 400,
        ..EmulatorConfig::default()
    });
    let dir = copy_fixture("detect", "express");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
    cmd.arg("setup")
        .arg(dir.path())
        .args(["--environment", "local", "--server-url"])
        .arg(emulator.base_url())
        .args([
            "--meter",
            "api-calls",
            "--pricing",
            "both",
            "--unit-price",
            "0.001",
        ])
        .args([
            "--credits",
            "1000",
            "--rollover",
            "false",
            "--product",
            "Pro",
        ])
        .args(["--customer", "header:x-customer-id", "--webhooks", "false"])
        .args(["--no-install", "--no-checks", "--yes"])
        .env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_ACCESS_TOKEN")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut s = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    answer(&mut s, "Maximum metered charge", &[ENTER]);
    s.exp_string("remote step(s) in local").unwrap();
    s.send_control('c').unwrap();
    s.flush().unwrap();
    s.exp_string("interrupted (Ctrl-C) during the remote setup in local")
        .unwrap();
    let rest = s.exp_eof().unwrap();
    assert!(rest.contains("spaire-billing undo"), "{rest}");
    assert!(
        !rest.contains("nothing was changed"),
        "the files were written: {rest}"
    );
    assert_exit(&s, 130);
    // What the message says exists is what exists.
    let meters = meter_names(&client(&emulator));
    if rest.contains("no remote object was created") {
        assert!(meters.is_empty(), "{meters:?}: {rest}");
    } else {
        assert!(rest.contains("api-calls"), "{meters:?}: {rest}");
    }
}

/// A fresh emulator has no product: setup offers an obviously local demo product and uses it.
#[cfg(unix)]
#[test]
fn a_fresh_local_organization_is_offered_a_demo_product() {
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let dir = copy_fixture("detect", "express");
    let mut s = spawn_setup(dir.path(), Some(&emulator.base_url()), &[]);
    answer(&mut s, "What do you want to meter?", &[DOWN, " ", ENTER]);
    answer(&mut s, "How do you want to price it?", &[ENTER]);
    answer(
        &mut s,
        "Your local organization has no product yet. Create `Local demo plan`",
        &[ENTER],
    );
    answer(
        &mut s,
        "Which product should these prices attach to?",
        &[ENTER],
    );
    answer(&mut s, "Price per call", &["0.001", ENTER]);
    answer(&mut s, "Maximum metered charge", &[ENTER]);
    answer(&mut s, "which customer it serves?", &[DOWN, DOWN, ENTER]);
    answer(&mut s, "Header name:", &[ENTER]);
    answer(&mut s, "Generate a webhook handler", &["n", ENTER]);
    answer(
        &mut s,
        "Apply these changes (local environment)?",
        &["y", ENTER],
    );
    let report = finish_with_report(&mut s);
    // The report says what the app needs exported to reach the emulator.
    let export = format!(
        "SPAIRE_ACCESS_TOKEN=spaire_oat_local-emulator-token SPAIRE_SERVER_URL={}",
        emulator.base_url()
    );
    assert!(report.contains(&export), "{export} in:\n{report}");
    assert!(report.contains("The emulator has no dashboard"), "{report}");
    let plan = read(dir.path(), "spaire-billing.toml");
    assert!(plan.contains("product = \"Local demo plan\""), "{plan}");
    let products = block_on(
        client(&emulator)
            .products(&ProductListQuery::default())
            .collect_all(),
    )
    .unwrap();
    assert_eq!(products.len(), 1);
    assert!(
        products[0]
            .prices
            .iter()
            .any(|p| !p.is_archived && p.amount_type == "metered_unit"),
        "the metered price is on the demo product"
    );
}

/// Real-world idiom (albinbenny99/Weather-django): a Django app with no requirements file nor
/// pyproject at all. Scripted setup (`--yes`, no `--package`) finds the app at the root from
/// manage.py and the settings module it names, and sets it up.
#[test]
fn a_django_app_without_a_requirements_file_is_set_up_without_package() {
    let emulator = emulator_with_product();
    let dir = copy_fixture("detect", "django-no-manifest");
    let output = billing()
        .args(["setup", "--environment", "local", "--server-url"])
        .arg(emulator.base_url())
        .args([
            "--meter",
            "llm-tokens",
            "--pricing",
            "unit",
            "--unit-price",
            "0.0001",
            "--product",
            "Pro",
            "--customer",
            "session",
            "--webhooks",
            "true",
            "--no-install",
            "--no-checks",
            "--yes",
            "--json",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[(&dir.path().display().to_string(), "[PROJECT]")]);
    assert!(output.status.success(), "{text}");
    let plan = read(dir.path(), "spaire-billing.toml");
    assert!(plan.contains("[project]\npath = \".\""), "{plan}");
    let settings = read(dir.path(), "forecast/settings.py");
    assert!(
        settings.contains("spaire_billing.middleware.ApiCallMiddleware"),
        "{settings}"
    );
    assert!(
        dir.path().join("spaire_billing/usage.py").exists(),
        "{text}"
    );
}
