//! Exactly-once delivery of the generated recorders (issue 16), one process per language.
//!
//! The emulator commits 30% of requests and then loses the answer (drops the connection,
//! holds it past the client's timeout, or answers 5xx) and fails another 10% before
//! processing them. A driver records keyed, unkeyed and re-recorded (same key again: the app
//! retried its own handler) events, flushing as it goes; then it is sent SIGTERM while events
//! are still queued, and the *app's own* signal handler runs (Node: an async listener that
//! ends in `process.exit`, like close-with-grace; Python: `signal.signal` + `sys.exit`; Go:
//! `signal.Notify` then `spairebilling.Close`; PHP: `pcntl_signal` + `exit`; Ruby: `trap` +
//! `exit`). Every distinct event must be counted exactly once: none lost, none doubled.
//!
//! The second scenario is a shutdown inside a rate-limit pause: the emulator answers the first
//! ingest with 429 and `retry-after: 600`, the recorder holds its events, and the app is then
//! stopped the same way (Go: a program without graceful shutdown, using `FlushOnSignal`). The
//! shutdown flush must send regardless of the pause, and (Node, Python, Go, Ruby) keep trying
//! while the limit still refuses: the emulator answers the next two ingests 429 as well, as the
//! server does until its fixed one-minute window rolls over. 0 events lost.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use billing_detect::{FrameworkId, Language};
use billing_emulator::EmulatorConfig;

use crate::codegen::{self, Pricing};

/// Each driver records with this customer id.
pub(crate) const CUSTOMER: &str = "cust-once";

const NODE_DRIVER: &str = r#"const usage = require(process.argv[2]);
const customer = process.argv[3];
(async () => {
  for (let i = 0; i < 30; i += 1) {
    usage.recordApiCall(customer, "/keyed", "GET", `req-${i}`);
    if (i % 3 === 2) await usage.flushUsage();
  }
  for (let i = 0; i < 30; i += 1) {
    usage.recordApiCall(customer, "/plain", "GET");
    if (i % 3 === 2) await usage.flushUsage();
  }
  for (let i = 0; i < 10; i += 1) usage.recordApiCall(customer, "/keyed", "GET", `req-${i}`);
  for (let i = 0; i < 10; i += 1) usage.recordApiCall(customer, "/tail", "GET");
  // The app's own shutdown, as close-with-grace does it: async cleanup, then process.exit.
  process.on("SIGTERM", () => {
    setTimeout(() => process.exit(0), 20);
  });
  setInterval(() => {}, 1000);
  console.log("ready");
})();
"#;

const PYTHON_DRIVER: &str = r#"import signal
import sys
import time

from PACKAGE.usage import flush_usage, record_api_call

customer = sys.argv[1]
for i in range(30):
    record_api_call(customer, "/keyed", "GET", idempotency_key=f"req-{i}")
    if i % 3 == 2:
        flush_usage()
for i in range(30):
    record_api_call(customer, "/plain", "GET")
    if i % 3 == 2:
        flush_usage()
for i in range(10):
    record_api_call(customer, "/keyed", "GET", idempotency_key=f"req-{i}")
for i in range(10):
    record_api_call(customer, "/tail", "GET")


def on_term(signum, frame):
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(1)
"#;

const GO_DRIVER: &str = r#"package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	spairebilling "example.com/CASE/internal/spairebilling"
)

func main() {
	customer := os.Args[1]
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	flush := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = spairebilling.Flush(ctx)
	}
	for i := 0; i < 30; i++ {
		spairebilling.RecordAPICall(customer, "/keyed", "GET", fmt.Sprintf("req-%d", i))
		if i%3 == 2 {
			flush()
		}
	}
	for i := 0; i < 30; i++ {
		spairebilling.RecordAPICall(customer, "/plain", "GET")
		if i%3 == 2 {
			flush()
		}
	}
	for i := 0; i < 10; i++ {
		spairebilling.RecordAPICall(customer, "/keyed", "GET", fmt.Sprintf("req-%d", i))
	}
	for i := 0; i < 10; i++ {
		spairebilling.RecordAPICall(customer, "/tail", "GET")
	}
	fmt.Println("ready")
	<-signals
	// The app's graceful shutdown, with the documented hook.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := spairebilling.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "flush:", err)
		os.Exit(1)
	}
}
"#;

const PHP_DRIVER: &str = r#"<?php
foreach (['SpaireConfig', 'UsageRecorder', 'Usage'] as $class) {
    require __DIR__ . "/app/Spaire/{$class}.php";
}
use App\Spaire\Usage;
use App\Spaire\UsageRecorder;

$customer = $argv[1];
for ($i = 0; $i < 30; $i++) {
    Usage::recordApiCall($customer, '/keyed', 'GET', "req-{$i}");
    if ($i % 3 === 2) {
        UsageRecorder::instance()->flush();
    }
}
for ($i = 0; $i < 30; $i++) {
    Usage::recordApiCall($customer, '/plain', 'GET');
    if ($i % 3 === 2) {
        UsageRecorder::instance()->flush();
    }
}
for ($i = 0; $i < 10; $i++) {
    Usage::recordApiCall($customer, '/keyed', 'GET', "req-{$i}");
}
for ($i = 0; $i < 10; $i++) {
    Usage::recordApiCall($customer, '/tail', 'GET');
}
pcntl_async_signals(true);
pcntl_signal(SIGTERM, function (): void {
    exit(0);
});
echo "ready\n";
while (true) {
    usleep(100000);
}
"#;

const RUBY_DRIVER: &str = r#"require_relative "lib/spaire_billing"

$stdout.sync = true
customer = ARGV[0]
30.times do |i|
  SpaireBilling::Usage.record_api_call(customer, "/keyed", "GET", idempotency_key: "req-#{i}")
  SpaireBilling::UsageRecorder.flush if i % 3 == 2
end
30.times do |i|
  SpaireBilling::Usage.record_api_call(customer, "/plain", "GET")
  SpaireBilling::UsageRecorder.flush if i % 3 == 2
end
10.times { |i| SpaireBilling::Usage.record_api_call(customer, "/keyed", "GET", idempotency_key: "req-#{i}") }
10.times { SpaireBilling::Usage.record_api_call(customer, "/tail", "GET") }
trap("TERM") { exit 0 }
puts "ready"
loop { sleep 1 }
"#;

const NODE_PAUSE_DRIVER: &str = r#"const usage = require(process.argv[2]);
const customer = process.argv[3];
(async () => {
  for (let i = 0; i < 10; i += 1) usage.recordApiCall(customer, "/paused", "GET", `pause-${i}`);
  // Answered 429 + retry-after 600: this flush now waits out the pause, holding the batch.
  void usage.flushUsage();
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (let i = 0; i < 10; i += 1) usage.recordApiCall(customer, "/tail", "GET");
  process.on("SIGTERM", () => {
    setTimeout(() => process.exit(0), 20);
  });
  setInterval(() => {}, 1000);
  const stats = usage.usageRecorderStats();
  console.log(stats.delivered === 0 && stats.queued === 10 ? "ready" : `not paused: ${JSON.stringify(stats)}`);
})();
"#;

const PYTHON_PAUSE_DRIVER: &str = r#"import signal
import sys
import time

from PACKAGE import usage

customer = sys.argv[1]
for i in range(10):
    usage.record_api_call(customer, "/paused", "GET", idempotency_key=f"pause-{i}")
# The background sender's first flush (within 1-3 s) is answered 429 + retry-after 600.
recorder = usage._get_recorder()
give_up = time.monotonic() + 20
while recorder._not_before == 0.0 and time.monotonic() < give_up:
    time.sleep(0.05)
for i in range(10):
    usage.record_api_call(customer, "/tail", "GET")


def on_term(signum, frame):
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print("ready" if recorder._not_before > 0 else "not paused", flush=True)
while True:
    time.sleep(1)
"#;

/// A program without graceful shutdown: `FlushOnSignal` flushes and re-raises SIGTERM.
const GO_PAUSE_DRIVER: &str = r#"package main

import (
	"context"
	"fmt"
	"os"
	"time"

	spairebilling "example.com/CASE/internal/spairebilling"
)

func main() {
	customer := os.Args[1]
	spairebilling.FlushOnSignal(20 * time.Second)
	for i := 0; i < 10; i++ {
		spairebilling.RecordAPICall(customer, "/paused", "GET", fmt.Sprintf("pause-%d", i))
	}
	// Answered 429 + retry-after 600: the pause outlasts this flush, the batch stays queued.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = spairebilling.Flush(ctx)
	cancel()
	for i := 0; i < 10; i++ {
		spairebilling.RecordAPICall(customer, "/tail", "GET")
	}
	fmt.Println("ready")
	select {}
}
"#;

const PHP_PAUSE_DRIVER: &str = r#"<?php
foreach (['SpaireConfig', 'UsageRecorder', 'Usage'] as $class) {
    require __DIR__ . "/app/Spaire/{$class}.php";
}
use App\Spaire\Usage;
use App\Spaire\UsageRecorder;

$customer = $argv[1];
for ($i = 0; $i < 10; $i++) {
    Usage::recordApiCall($customer, '/paused', 'GET', "pause-{$i}");
}
// Answered 429 + retry-after 600, longer than the flush budget.
UsageRecorder::instance()->flush();
$held = UsageRecorder::instance()->pending();
for ($i = 0; $i < 10; $i++) {
    Usage::recordApiCall($customer, '/tail', 'GET');
}
pcntl_async_signals(true);
pcntl_signal(SIGTERM, function (): void {
    exit(0);
});
echo $held === 10 ? "ready\n" : "not paused: {$held} held\n";
while (true) {
    usleep(100000);
}
"#;

const RUBY_PAUSE_DRIVER: &str = r#"require_relative "lib/spaire_billing"

$stdout.sync = true
customer = ARGV[0]
10.times { |i| SpaireBilling::Usage.record_api_call(customer, "/paused", "GET", idempotency_key: "pause-#{i}") }
# The sender's first flush (within 1-3 s) is answered 429 + retry-after 600.
recorder = SpaireBilling::UsageRecorder.instance
paused = -> { recorder.instance_variable_get(:@not_before) > Process.clock_gettime(Process::CLOCK_MONOTONIC) }
give_up = Time.now + 20
sleep 0.05 until paused.call || Time.now > give_up
10.times { SpaireBilling::Usage.record_api_call(customer, "/tail", "GET") }
trap("TERM") { exit 0 }
puts(paused.call ? "ready" : "not paused")
loop { sleep 1 }
"#;

/// What a driver must leave behind, and how its process ends.
struct Scenario {
    /// Events stored per `endpoint` metadata value (every event is one of these).
    expected: &'static [(&'static str, usize)],
    /// How the driver ends after SIGTERM: `None` for exit 0 (the app's own handler),
    /// `Some(15)` when the recorder re-raises the signal (Go's `FlushOnSignal`).
    killed_by: Option<i32>,
    /// Whether the emulator injects faults: the run must then have met both kinds.
    faulted: bool,
}

/// Faults + the app's own SIGTERM handler. The drivers record 30 keyed, 30 unkeyed (both
/// flushed in small batches), then, left queued for the shutdown flush, 10 re-recordings of
/// keyed events and 10 new events.
const FAULTS: Scenario = Scenario {
    expected: &[("/keyed", 30), ("/plain", 30), ("/tail", 10)],
    killed_by: None,
    faulted: true,
};

/// The pause, then the shutdown's first two sends refused too (PHP sends once at exit: 1).
const SHUTDOWN_REFUSALS: u32 = 3;

/// SIGTERM inside a Retry-After pause.
const PAUSE: Scenario = Scenario {
    expected: &[("/paused", 10), ("/tail", 10)],
    killed_by: None,
    faulted: false,
};

/// An emulator whose first `refusals` ingests are answered 429 with `retry-after: 600`, then
/// serves.
fn throttled_emulator(refusals: u32) -> billing_emulator::BackgroundEmulator {
    billing_emulator::spawn_background(EmulatorConfig {
        throttle_first_requests: refusals,
        ..EmulatorConfig::default()
    })
    .expect("emulator")
}

/// An emulator that commits-then-fails 30% of requests and fails 10% before processing.
/// Hangs outlast the recorders' request timeout (set below), so all three ways of losing a
/// committed answer happen.
fn faulty_emulator(seed: u64) -> billing_emulator::BackgroundEmulator {
    billing_emulator::spawn_background(EmulatorConfig {
        seed,
        fail_rate: 0.1,
        commit_fail_rate: 0.3,
        fault_hang_ms: 1_500,
        ..EmulatorConfig::default()
    })
    .expect("emulator")
}

/// Client request timeout the drivers run with (below the emulator's hang).
const REQUEST_TIMEOUT_MS: &str = "1000";

/// Runs `command` (a driver), waits for "ready", sends SIGTERM, and checks that the emulator
/// counted every distinct event exactly once.
fn run_and_check(
    language: &str,
    mut command: Command,
    base_url: &str,
    token: &str,
    scenario: &Scenario,
) {
    let api = codegen::Api {
        base: base_url,
        token,
    };
    // Its own spool: every emulator has the same token, so events another test left in the
    // machine's temp dir would otherwise be replayed into this emulator (and this test's into
    // another's).
    let spool = tempfile::tempdir().unwrap();
    let mut child = command
        .env("SPAIRE_ACCESS_TOKEN", token)
        .env("SPAIRE_SERVER_URL", base_url)
        .env("SPAIRE_REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS)
        .env("SPAIRE_USAGE_SPOOL_DIR", spool.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{language}: cannot start the driver: {e}"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // The driver's first line: "ready", or what its own setup check found instead.
    let mut line = String::new();
    if stdout.read_line(&mut line).unwrap() == 0 {
        let output = child.wait_with_output().unwrap();
        panic!(
            "{language}: driver ended before it was ready ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    if line.trim() != "ready" {
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!(
            "{language}: the driver's setup check failed: {}\n{}",
            line.trim(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = codegen::stop(&mut child, "TERM", 60);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    use std::os::unix::process::ExitStatusExt;
    match scenario.killed_by {
        None => assert!(
            output.status.success(),
            "{language}: the app's own handler exits 0, got {:?}:\n{logs}",
            output.status
        ),
        Some(signal) => assert_eq!(
            output.status.signal(),
            Some(signal),
            "{language}: the process ends by the re-raised signal:\n{logs}"
        ),
    }
    if scenario.faulted {
        // A run the faults missed would prove nothing: it must have met both kinds.
        let auth = format!("Bearer {token}");
        let (status, text) = codegen::http(
            "GET",
            &format!("{base_url}/_emulator/faults"),
            &[("Authorization", &auth)],
            "",
        )
        .expect("the emulator answers /_emulator/faults");
        let injected: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert!(
            status == 200
                && injected["before_processing"].as_u64() > Some(0)
                && injected["after_commit"].as_u64() > Some(0),
            "{language}: the driver's batches met no fault of one kind ({status} {text})"
        );
    }
    // The API does not return external_id; what each event was recorded for tells them apart.
    let (total, by_endpoint) = stored_by_endpoint(&api);
    let counts: Vec<(&str, usize)> = scenario
        .expected
        .iter()
        .map(|(endpoint, _)| (*endpoint, by_endpoint.get(*endpoint).copied().unwrap_or(0)))
        .collect();
    let distinct: usize = scenario.expected.iter().map(|(_, n)| n).sum();
    assert_eq!(
        (total, counts),
        (distinct, scenario.expected.to_vec()),
        "{language}: every distinct event exactly once (keyed re-recordings are duplicates \
         of stored events); logs:\n{logs}"
    );
}

/// Every event the emulator stored, through the faults (a read may fail too, so retry).
pub(crate) fn all_events(api: &codegen::Api<'_>) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    for page in 1.. {
        let path = format!("/v1/events/?external_customer_id={CUSTOMER}&limit=100&page={page}");
        let auth = format!("Bearer {}", api.token);
        let body = (0..50)
            .find_map(|_| {
                let (status, text) = codegen::http(
                    "GET",
                    &format!("{}{path}", api.base),
                    &[("Authorization", &auth)],
                    "",
                )
                .ok()?;
                (status == 200).then(|| serde_json::from_str::<serde_json::Value>(&text).ok())?
            })
            .expect("the emulator answered a read within 50 tries");
        let page_items = body["items"].as_array().cloned().unwrap_or_default();
        if page_items.is_empty() {
            break;
        }
        items.extend(page_items);
    }
    items
}

/// The stored events of [`CUSTOMER`]: their total, and how many per `endpoint` metadata
/// value (every driver records its events under one; the API does not return external_id).
pub(crate) fn stored_by_endpoint(
    api: &codegen::Api<'_>,
) -> (usize, std::collections::BTreeMap<String, usize>) {
    let events = all_events(api);
    let mut counts = std::collections::BTreeMap::new();
    for event in &events {
        let endpoint = event["metadata"]["endpoint"].as_str().unwrap_or("?");
        *counts.entry(endpoint.to_owned()).or_insert(0) += 1;
    }
    (events.len(), counts)
}

/// The names in a spool directory, sorted (none when it does not exist).
pub(crate) fn spool_listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Writes a spool file `name` into `dir` holding `count` wire events for [`CUSTOMER`] with
/// the `endpoint` metadata and ids `bulk-0`, `bulk-1`, ...: what a process of the app (any
/// language) leaves behind at exit, for the spool tests.
pub(crate) fn write_spool_file(dir: &std::path::Path, name: &str, count: usize, endpoint: &str) {
    let events: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            serde_json::json!({
                "name": "api-call",
                "external_customer_id": CUSTOMER,
                "metadata": { "endpoint": endpoint },
                "timestamp": "2026-01-01T00:00:00Z",
                "external_id": format!("bulk-{i}"),
            })
        })
        .collect();
    std::fs::write(
        dir.join(name),
        serde_json::json!({ "events": events }).to_string(),
    )
    .unwrap();
}

/// The plan the drivers are generated from. Its meter is not created in the emulator: the
/// check counts stored events, and a create could itself be faulted.
pub(crate) fn plan_for(base_url: &str) -> billing_plan::BillingPlan {
    codegen::plan(&["api-calls"], Pricing::Unit, false, Some(base_url))
}

#[test]
fn node_recorder_counts_every_event_once_through_faults_and_sigterm() {
    run_node(&faulty_emulator(16), NODE_DRIVER, &FAULTS);
}

#[test]
fn node_recorder_delivers_at_sigterm_inside_a_retry_after_pause() {
    run_node(
        &throttled_emulator(SHUTDOWN_REFUSALS),
        NODE_PAUSE_DRIVER,
        &PAUSE,
    );
}

fn run_node(emulator: &billing_emulator::BackgroundEmulator, driver: &str, scenario: &Scenario) {
    let base_url = emulator.base_url();
    let Some(app) = codegen::node_driver_app(&plan_for(&base_url), driver) else {
        return;
    };
    let mut command = Command::new(app.program);
    command
        .arg("driver.cjs")
        .arg(&app.usage)
        .arg(CUSTOMER)
        .current_dir(app.dir.path());
    run_and_check("node", command, &base_url, emulator.token(), scenario);
}

#[test]
fn python_recorder_counts_every_event_once_through_faults_and_sigterm() {
    run_python(&faulty_emulator(17), PYTHON_DRIVER, &FAULTS);
}

#[test]
fn python_recorder_delivers_at_sigterm_inside_a_retry_after_pause() {
    run_python(
        &throttled_emulator(SHUTDOWN_REFUSALS),
        PYTHON_PAUSE_DRIVER,
        &PAUSE,
    );
}

fn run_python(emulator: &billing_emulator::BackgroundEmulator, driver: &str, scenario: &Scenario) {
    let base_url = emulator.base_url();
    let Some(app) = codegen::python_driver_app(&plan_for(&base_url), driver) else {
        return;
    };
    let mut command = Command::new(app.program);
    command
        .arg("driver.py")
        .arg(CUSTOMER)
        .current_dir(app.dir.path());
    run_and_check("python", command, &base_url, emulator.token(), scenario);
}

#[test]
fn go_recorder_counts_every_event_once_through_faults_and_sigterm() {
    run_go(&faulty_emulator(18), GO_DRIVER, &FAULTS);
}

#[test]
fn go_recorder_flush_on_signal_delivers_inside_a_retry_after_pause() {
    let scenario = Scenario {
        killed_by: Some(15),
        ..PAUSE
    };
    run_go(
        &throttled_emulator(SHUTDOWN_REFUSALS),
        GO_PAUSE_DRIVER,
        &scenario,
    );
}

fn run_go(emulator: &billing_emulator::BackgroundEmulator, driver: &str, scenario: &Scenario) {
    let base_url = emulator.base_url();
    let Some(app) = codegen::go_driver_app(&plan_for(&base_url), driver) else {
        return;
    };
    // Every emulator has the same token: a spool in the default directory (left by any other
    // run) would be replayed into this one's count.
    let spool = tempfile::tempdir().unwrap();
    let mut command = Command::new(&app.program);
    command
        .arg(CUSTOMER)
        .env("SPAIRE_USAGE_SPOOL_DIR", spool.path());
    run_and_check("go", command, &base_url, emulator.token(), scenario);
}

#[test]
fn php_recorder_counts_every_event_once_through_faults_and_sigterm() {
    run_php(&faulty_emulator(19), PHP_DRIVER, &FAULTS);
}

#[test]
fn php_recorder_delivers_at_sigterm_after_a_long_retry_after() {
    run_php(&throttled_emulator(1), PHP_PAUSE_DRIVER, &PAUSE);
}

fn run_php(emulator: &billing_emulator::BackgroundEmulator, driver: &str, scenario: &Scenario) {
    let Some(php) = codegen::program("php") else {
        return;
    };
    let base_url = emulator.base_url();
    let plan = plan_for(&base_url);
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("php", "laravel11"), dir.path());
    codegen::generate_into(
        dir.path(),
        &crate::codegen_other::profile(dir.path(), Language::Php, FrameworkId::Laravel),
        &plan,
    );
    std::fs::write(dir.path().join("driver.php"), driver).unwrap();
    // As in run_go: not the shared default spool directory.
    let spool = tempfile::tempdir().unwrap();
    let mut command = Command::new(php);
    command
        .arg("driver.php")
        .arg(CUSTOMER)
        .env("SPAIRE_USAGE_SPOOL_DIR", spool.path())
        .current_dir(dir.path());
    run_and_check("php", command, &base_url, emulator.token(), scenario);
}

#[test]
fn ruby_recorder_counts_every_event_once_through_faults_and_sigterm() {
    run_ruby(&faulty_emulator(20), RUBY_DRIVER, &FAULTS);
}

#[test]
fn ruby_recorder_delivers_at_sigterm_inside_a_retry_after_pause() {
    run_ruby(
        &throttled_emulator(SHUTDOWN_REFUSALS),
        RUBY_PAUSE_DRIVER,
        &PAUSE,
    );
}

fn run_ruby(emulator: &billing_emulator::BackgroundEmulator, driver: &str, scenario: &Scenario) {
    let base_url = emulator.base_url();
    let Some(app) = codegen::ruby_driver_app(&plan_for(&base_url), driver) else {
        return;
    };
    let mut command = Command::new(app.program);
    command
        .arg("driver.rb")
        .arg(CUSTOMER)
        .current_dir(app.dir.path());
    run_and_check("ruby", command, &base_url, emulator.token(), scenario);
}
