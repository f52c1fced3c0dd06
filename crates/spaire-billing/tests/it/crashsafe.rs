//! Crash safety of `apply` and honesty of `undo` against the emulator:
//! - `undo` with a token of another organization, or against another server, fails with exit
//!   1, changes nothing and keeps its records;
//! - the kill harness: `apply` killed (SIGKILL or SIGINT) at seeded random moments, then one
//!   `undo` must restore the project byte for byte, leave no temp file and no live object.
//!   `CRASHSAFE_TRIALS=N` runs N trials (benches/crashsafe/run.sh runs several hundred).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use billing_api::{Client, MeterListQuery, ProductListQuery};
use billing_emulator::{BackgroundEmulator, EmulatorConfig, TokenSpec};

use crate::common::account::{block_on, client, monthly_product, pro};
use crate::common::{copy_fixture, transcript, tree};

const TOKEN_A: &str = "spaire_oat_crashsafe-org-a";
const TOKEN_B: &str = "spaire_oat_crashsafe-org-b";
/// Emulator latency in the kill trials: the remote phase (about ten requests) then lasts
/// long enough for a good share of kills to land in it.
const LATENCY_MS: u64 = 15;

/// The CLI as a plain process (spawned, so it can be killed mid-run).
fn cli(root: &Path, url: &str, token: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_SERVER_URL")
        .env_remove("SPAIRE_BILLING_LOG")
        .env("NO_COLOR", "1")
        .env("SPAIRE_ACCESS_TOKEN", token)
        .args(args)
        .args(["--server-url", url])
        .arg(root)
        .stdin(Stdio::null());
    cmd
}

fn run(root: &Path, url: &str, token: &str, args: &[&str]) -> Output {
    cli(root, url, token, args).output().unwrap()
}

fn apply_args() -> [&'static str; 6] {
    [
        "apply",
        "--environment",
        "local",
        "--yes",
        "--skip-installs",
        "--quiet",
    ]
}

/// An emulator with two organizations, a `Pro` subscription product in org-a.
fn emulator(latency_ms: u64) -> (BackgroundEmulator, Client) {
    let emulator = billing_emulator::spawn_background(EmulatorConfig {
        tokens: vec![
            TokenSpec::parse(&format!("{TOKEN_A}@org-a")).unwrap(),
            TokenSpec::parse(&format!("{TOKEN_B}@org-b")).unwrap(),
        ],
        latency_ms,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let client = client(&emulator.base_url(), TOKEN_A);
    block_on(client.create_product(&pro())).unwrap();
    // A second product in org-b, so that organization is not empty.
    let other = crate::common::account::client(&emulator.base_url(), TOKEN_B);
    block_on(other.create_product(&monthly_product("Other", 100))).unwrap();
    (emulator, client)
}

/// The express-app plan with a credit benefit too, so every kind of remote write happens.
fn project() -> tempfile::TempDir {
    let dir = copy_fixture("plan", "express-app");
    let plan = dir.path().join("spaire-billing.toml");
    let mut text = std::fs::read_to_string(&plan).unwrap();
    text.push_str("\n[[credits]]\nmeter = \"api-calls\"\nproduct = \"Pro\"\nunits = 1000\n");
    std::fs::write(&plan, text).unwrap();
    dir
}

/// Objects still live in org-a beyond the `Pro` product and its fixed price.
fn live_objects(client: &Client) -> Vec<String> {
    block_on(async {
        let mut live = Vec::new();
        for m in client
            .meters(&MeterListQuery::default())
            .collect_all()
            .await
            .unwrap()
        {
            if !m.is_archived() {
                live.push(format!("meter {} ({})", m.name, m.id));
            }
        }
        for b in client.benefits(None).collect_all().await.unwrap() {
            live.push(format!("benefit {} ({})", b.description, b.id));
        }
        for p in client
            .products(&ProductListQuery::default())
            .collect_all()
            .await
            .unwrap()
        {
            for price in p.active_prices().filter(|p| p.amount_type != "fixed") {
                live.push(format!("price {} on {}", price.id, p.name));
            }
            for b in &p.benefits {
                live.push(format!("benefit {} attached to {}", b.id, p.name));
            }
        }
        live
    })
}

fn temp_files(root: &Path) -> Vec<String> {
    tree(root)
        .keys()
        .filter(|p| p.rsplit('/').next().is_some_and(is_temp_name))
        .cloned()
        .collect()
}

/// `write_atomic`'s temporary files: `.spaire-billing-XXXXXX.tmp`.
fn is_temp_name(name: &str) -> bool {
    name.starts_with(".spaire-billing-") && name.ends_with(".tmp")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn undo_with_a_token_of_another_organization_fails_changes_nothing_and_keeps_its_records() {
    let (emulator, client) = emulator(0);
    let url = emulator.base_url();
    let dir = project();
    let original = tree(dir.path());
    let applied = run(dir.path(), &url, TOKEN_A, &apply_args());
    assert!(applied.status.success(), "{}", transcript(&applied, &[]));
    let after_apply = tree(dir.path());
    let live = live_objects(&client);
    assert_eq!(live.len(), 4, "{live:?}");

    let wrong = run(dir.path(), &url, TOKEN_B, &["undo"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", transcript(&wrong, &[]));
    let err = stderr(&wrong);
    assert!(err.contains("belongs to organization"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(!err.contains("archived meter"), "{err}");
    assert_eq!(
        tree(dir.path()),
        after_apply,
        "the journal and files are kept"
    );
    assert_eq!(live_objects(&client), live, "no object was touched");

    let right = run(dir.path(), &url, TOKEN_A, &["undo"]);
    assert!(right.status.success(), "{}", transcript(&right, &[]));
    assert_eq!(tree(dir.path()), original);
    assert_eq!(live_objects(&client), Vec::<String>::new());
}

#[test]
fn undo_against_another_server_fails_changes_nothing_and_keeps_its_records() {
    let (emulator, client) = emulator(0);
    let (elsewhere, _) = emulator_pair_other();
    let url = emulator.base_url();
    let dir = project();
    let original = tree(dir.path());
    let applied = run(dir.path(), &url, TOKEN_A, &apply_args());
    assert!(applied.status.success(), "{}", transcript(&applied, &[]));
    let after_apply = tree(dir.path());
    let live = live_objects(&client);

    let wrong = run(dir.path(), &elsewhere.base_url(), TOKEN_A, &["undo"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", transcript(&wrong, &[]));
    let err = stderr(&wrong);
    assert!(err.contains(&format!("were created on {url}")), "{err}");
    assert!(err.contains("undo --server-url"), "{err}");
    assert_eq!(tree(dir.path()), after_apply);
    assert_eq!(live_objects(&client), live);

    let right = run(dir.path(), &url, TOKEN_A, &["undo"]);
    assert!(right.status.success(), "{}", transcript(&right, &[]));
    assert_eq!(tree(dir.path()), original);
    assert!(live_objects(&client).is_empty());
}

/// Another emulator (another server) where the same token is valid.
fn emulator_pair_other() -> (BackgroundEmulator, Client) {
    emulator(0)
}

#[test]
fn a_404_for_a_recorded_object_is_an_error_with_the_fix_and_the_records_stay() {
    let (emulator, client) = emulator(0);
    let url = emulator.base_url();
    let dir = project();
    let original = tree(dir.path());
    let applied = run(dir.path(), &url, TOKEN_A, &apply_args());
    assert!(applied.status.success(), "{}", transcript(&applied, &[]));
    // Someone deletes the benefit by hand (detaching it first).
    block_on(async {
        let products = client
            .products(&ProductListQuery::default())
            .collect_all()
            .await
            .unwrap();
        let pro = products.iter().find(|p| p.name == "Pro").unwrap();
        let benefit = pro.benefits[0].id.clone();
        client.set_product_benefits(&pro.id, &[]).await.unwrap();
        client.delete_benefit(&benefit).await.unwrap();
    });

    let undo = run(dir.path(), &url, TOKEN_A, &["undo"]);
    assert_eq!(undo.status.code(), Some(1), "{}", transcript(&undo, &[]));
    let err = stderr(&undo);
    assert!(err.contains("FAILED delete meter-credit benefit"), "{err}");
    assert!(err.contains("--forget-missing"), "{err}");
    assert!(
        dir.path().join(".spaire-billing/journal").exists(),
        "records kept"
    );

    let forget = run(dir.path(), &url, TOKEN_A, &["undo", "--forget-missing"]);
    assert!(forget.status.success(), "{}", transcript(&forget, &[]));
    assert_eq!(tree(dir.path()), original);
    assert!(live_objects(&client).is_empty());
}

/// Spawns apply and waits until its journal shows the first remote write recorded ahead
/// (`needle` in the journal entry), so a signal lands in the remote phase.
/// The journal entries' text, read while apply may be renaming files in that directory.
fn journal_text(dir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir.join(".spaire-billing/journal")) else {
        return String::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

// The child is returned to the caller, which signals and waits on it.
#[allow(clippy::zombie_processes)]
fn apply_until(dir: &Path, url: &str, needle: &str) -> std::process::Child {
    let mut child = cli(dir, url, TOKEN_A, &apply_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if journal_text(dir).contains(needle) {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("apply never reached `{needle}`");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_in_the_remote_phase_stops_after_the_call_in_flight_and_says_what_exists() {
    // Slow enough that the remote phase has many more writes to go when Ctrl-C arrives.
    let (emulator, client) = emulator(150);
    let url = emulator.base_url();
    let dir = project();
    let original = tree(dir.path());
    let child = apply_until(dir.path(), &url, "\"op\": \"intent\"");
    let started = Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    // 130, like any command stopped by Ctrl-C.
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        transcript(&output, &[])
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it stopped promptly"
    );
    let err = stderr(&output);
    assert!(
        err.contains("interrupted (Ctrl-C) during the remote setup in local"),
        "{err}"
    );
    assert!(
        !err.contains("nothing was changed"),
        "the files were written: {err}"
    );
    assert!(
        err.contains("these objects exist and are recorded for undo: meter:api-calls (id "),
        "{err}"
    );
    let live = live_objects(&client);
    assert!(
        !live.is_empty() && live.len() < 4,
        "stopped midway: {live:?}"
    );

    let undo = run(dir.path(), &url, TOKEN_A, &["undo"]);
    assert!(undo.status.success(), "{}", transcript(&undo, &[]));
    assert_eq!(tree(dir.path()), original);
    assert!(live_objects(&client).is_empty());
}

#[cfg(unix)]
#[test]
fn an_apply_resumed_after_a_kill_in_the_remote_phase_owns_what_the_first_run_made() {
    let (emulator, client) = emulator(100);
    let url = emulator.base_url();
    let dir = project();
    let original = tree(dir.path());
    // Killed right after the meter's create was recorded as sent (its answer may be lost).
    let mut child = apply_until(dir.path(), &url, "\"op\": \"intent\"");
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();

    let resumed = run(dir.path(), &url, TOKEN_A, &apply_args());
    assert!(resumed.status.success(), "{}", transcript(&resumed, &[]));
    let live = live_objects(&client);
    assert_eq!(live.len(), 4, "one of each, nothing duplicated: {live:?}");

    // One undo reverts both runs: the meter of the first run is ours, not "reused".
    let undo = run(dir.path(), &url, TOKEN_A, &["undo"]);
    assert!(undo.status.success(), "{}", transcript(&undo, &[]));
    assert!(
        String::from_utf8_lossy(&undo.stdout).contains("archived meter `api-calls`"),
        "{}",
        transcript(&undo, &[])
    );
    assert_eq!(tree(dir.path()), original);
    assert!(live_objects(&client).is_empty());
}

/// The marker a create carries in metadata is what finds the object after a kill that lost
/// the answer, for every kind of object apply creates.
#[test]
fn interrupted_creates_are_found_by_their_marker() {
    use billing_remote::wal::{MARKER_KEY, ObjectKind, resolve};
    let (_emulator, client) = emulator(0);
    let marker = "20261202T000000.000Z-abcd credit:Pro:api-calls";
    let metadata: serde_json::Map<String, serde_json::Value> =
        [(MARKER_KEY.to_owned(), serde_json::json!(marker))]
            .into_iter()
            .collect();
    block_on(async {
        let meter = client
            .create_meter(&billing_api::MeterCreate {
                name: "api-calls".into(),
                filter: billing_api::Filter::event_name("api_call"),
                aggregation: billing_api::Aggregation {
                    func: billing_plan::AggregationFunc::Count,
                    property: None,
                },
                metadata: metadata.clone(),
            })
            .await
            .unwrap();
        let benefit = client
            .create_meter_credit_benefit(&billing_api::MeterCreditCreate {
                description: "1000 api-calls credits".into(),
                properties: billing_api::MeterCreditProperties {
                    meter_id: meter.id.clone(),
                    units: 1000,
                    rollover: false,
                },
                metadata,
            })
            .await
            .unwrap();
        let meter_found = resolve(&client, ObjectKind::Meter, "api-calls", marker)
            .await
            .unwrap();
        assert_eq!(meter_found, Some(meter.id));
        let benefit_found = resolve(&client, ObjectKind::Benefit, "api-calls", marker)
            .await
            .unwrap();
        assert_eq!(benefit_found, Some(benefit.id));
        let other = resolve(&client, ObjectKind::Benefit, "api-calls", "another apply")
            .await
            .unwrap();
        assert_eq!(other, None);
    });
}

/// A tiny seeded generator (no dependency): the same seed gives the same kill moments.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[derive(Debug, Default)]
struct Figures {
    trials: usize,
    sigkill: usize,
    sigint: usize,
    finished_before_the_signal: usize,
    killed_before_the_journal: usize,
    killed_in_file_phase: usize,
    killed_in_remote_phase: usize,
    killed_after_commit: usize,
    temp_files_after_kill: usize,
    torn_files: usize,
    temp_files_after_undo: usize,
    one_undo_restores: usize,
    orphaned_objects: usize,
    sigint_exit_zero_unfinished: usize,
}

/// Kills `apply` at random moments and checks what one `undo` leaves. Returns the figures and
/// one line per failed trial.
fn kill_trials(trials: usize, seed: u64) -> (Figures, Vec<String>) {
    let mut figures = Figures::default();
    let mut failures = Vec::new();
    let mut rng = Lcg(seed);
    // Reference: how long an uninterrupted apply takes, and what it writes.
    let (reference_emulator, reference_client) = emulator(LATENCY_MS);
    let reference = project();
    let original = tree(reference.path());
    let started = Instant::now();
    let full = run(
        reference.path(),
        &reference_emulator.base_url(),
        TOKEN_A,
        &apply_args(),
    );
    let full_ms = started.elapsed().as_millis() as u64;
    assert!(full.status.success(), "{}", transcript(&full, &[]));
    let applied: BTreeMap<String, Option<Vec<u8>>> = tree(reference.path());
    drop(reference_client);
    drop(reference_emulator);

    for trial in 0..trials {
        let (emulator, client) = emulator(LATENCY_MS);
        let url = emulator.base_url();
        let dir = project();
        let sigint = rng.next().is_multiple_of(3);
        // Half the kills anywhere in the run, half in its second part (files and remote
        // phase; the first part is planning, which writes nothing).
        let span = (full_ms + full_ms / 4).max(2);
        let delay = if trial % 2 == 0 {
            rng.next() % span
        } else {
            span / 2 + rng.next() % (span / 2)
        };
        let mut child = cli(dir.path(), &url, TOKEN_A, &apply_args())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        if sigint {
            figures.sigint += 1;
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        } else {
            figures.sigkill += 1;
            let _ = child.kill();
        }
        let output = child.wait_with_output().unwrap();
        figures.trials += 1;
        if finished {
            figures.finished_before_the_signal += 1;
        }
        let problem = |what: String| {
            format!(
                "trial {trial} (seed {seed}, delay {delay} ms, {}): {what}",
                if sigint { "SIGINT" } else { "SIGKILL" }
            )
        };
        let after_kill = tree(dir.path());
        if sigint && !finished && output.status.success() {
            // A Ctrl-C that arrived before the end must not end in exit 0 unless the apply
            // had in fact completed everything (the request in flight was the last one).
            let generated_all = applied
                .iter()
                .filter(|(p, _)| !p.starts_with(".spaire-billing"))
                .all(|(p, c)| after_kill.get(p) == Some(c));
            if !generated_all || live_objects(&client).len() != 4 {
                figures.sigint_exit_zero_unfinished += 1;
                failures.push(problem(
                    "SIGINT, exit 0, but the apply is not complete".into(),
                ));
            }
        }
        let journal_text: String = after_kill
            .iter()
            .filter(|(p, _)| p.starts_with(".spaire-billing/journal/") && p.ends_with(".json"))
            .filter_map(|(_, c)| c.as_ref())
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        if journal_text.is_empty() {
            figures.killed_before_the_journal += 1;
        } else if journal_text.contains("\"complete\": true") {
            figures.killed_after_commit += 1;
        } else if journal_text.contains("\"op\": \"target\"") {
            figures.killed_in_remote_phase += 1;
        } else {
            figures.killed_in_file_phase += 1;
        }
        figures.temp_files_after_kill += temp_files(dir.path()).len();
        for (path, content) in &after_kill {
            let Some(content) = content else { continue };
            if is_temp_name(path.rsplit('/').next().unwrap_or("")) {
                continue;
            }
            let torn = if path.starts_with(".spaire-billing/") {
                serde_json::from_slice::<serde_json::Value>(content).is_err()
            } else {
                original.get(path) != Some(&Some(content.clone()))
                    && applied.get(path) != Some(&Some(content.clone()))
            };
            if torn {
                figures.torn_files += 1;
                failures.push(problem(format!("torn file {path}")));
            }
        }

        let undo = run(dir.path(), &url, TOKEN_A, &["undo"]);
        let nothing = stderr(&undo).contains("nothing to undo");
        if !undo.status.success() && !nothing {
            failures.push(problem(format!("undo failed: {}", transcript(&undo, &[]))));
        }
        let leftovers = temp_files(dir.path());
        figures.temp_files_after_undo += leftovers.len();
        if !leftovers.is_empty() {
            failures.push(problem(format!("temp files after undo: {leftovers:?}")));
        }
        if tree(dir.path()) == original {
            figures.one_undo_restores += 1;
        } else {
            let now = tree(dir.path());
            let differing: Vec<&String> = now
                .keys()
                .chain(original.keys())
                .filter(|k| now.get(*k) != original.get(*k))
                .collect();
            failures.push(problem(format!("one undo did not restore: {differing:?}")));
        }
        let live = live_objects(&client);
        figures.orphaned_objects += live.len();
        if !live.is_empty() {
            failures.push(problem(format!("orphaned objects: {live:?}")));
        }
    }
    (figures, failures)
}

#[cfg(unix)]
#[test]
fn killed_applies_are_undone_by_one_undo_without_debris_or_orphans() {
    let trials: usize = std::env::var("CRASHSAFE_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASHSAFE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(17);
    let (figures, failures) = kill_trials(trials, seed);
    eprintln!("kill harness figures: {figures:#?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(figures.one_undo_restores, figures.trials);
    assert_eq!(figures.orphaned_objects, 0);
    assert_eq!(figures.temp_files_after_undo, 0);
}
