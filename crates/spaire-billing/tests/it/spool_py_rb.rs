//! The local spool of the Python and Ruby recorders (issue 16, `/notes/spool-spec.md`): what a
//! shutdown could not deliver is saved to `SPAIRE_USAGE_SPOOL_DIR/<token hash>/` and sent by the
//! app's next process.
//!
//! 1. The driver records 20 events (10 keyed, 10 unkeyed) with nobody listening at the server
//!    URL and is stopped by SIGTERM through the app's own handler: it must exit 0 leaving one
//!    spool file (0600, in a 0700 directory) with the 20 wire events, and say so on stderr.
//! 2. Run again against a live emulator, recording 5 new events: the running recorder (not its
//!    shutdown flush: the emulator has them before SIGTERM) sends the 20 plus the 5, once each,
//!    and no spool file is left.
//! 3. The same file put back (its events already stored) and replayed by a third run: still
//!    exactly 25 stored (Spaire deduplicates on the events' external_id, kept in the file).
//!
//! A spool directory that cannot be created (a path under a regular file) is warned about once,
//! and the exit falls back to the old behaviour (the events are reported undelivered).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::codegen;
use crate::delivery::{CUSTOMER, plan_for, spool_listing, stored_by_endpoint, write_spool_file};

const PYTHON_DRIVER: &str = r#"import signal
import sys
import time

from PACKAGE.usage import record_api_call

customer, phase = sys.argv[1], sys.argv[2]
if phase == "first":
    for i in range(10):
        record_api_call(customer, "/spooled-keyed", "GET", idempotency_key=f"spool-{i}")
    for i in range(10):
        record_api_call(customer, "/spooled-plain", "GET")
else:
    for i in range(5):
        record_api_call(customer, "/fresh", "GET", idempotency_key=f"fresh-{i}")


def on_term(signum, frame):
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(1)
"#;

const RUBY_DRIVER: &str = r#"require_relative "lib/spaire_billing"

$stdout.sync = true
customer, phase = ARGV
if phase == "first"
  10.times { |i| SpaireBilling::Usage.record_api_call(customer, "/spooled-keyed", "GET", idempotency_key: "spool-#{i}") }
  10.times { SpaireBilling::Usage.record_api_call(customer, "/spooled-plain", "GET") }
else
  5.times { |i| SpaireBilling::Usage.record_api_call(customer, "/fresh", "GET", idempotency_key: "fresh-#{i}") }
end
trap("TERM") { exit 0 }
puts "ready"
loop { sleep 1 }
"#;

/// What the emulator must hold after the second and third runs, per `endpoint` metadata.
const EXPECTED: [(&str, usize); 3] = [
    ("/spooled-keyed", 10),
    ("/spooled-plain", 10),
    ("/fresh", 5),
];

/// One driver: how to start it for a phase ("first" records the 20, anything else the 5).
type Driver<'a> = &'a dyn Fn(&str) -> Command;

/// Starts the driver, waits for "ready", runs `until_ready` (what must happen before SIGTERM),
/// stops it through the app's own handler and returns its stderr (it must exit 0).
fn run(
    language: &str,
    mut command: Command,
    server_url: &str,
    token: &str,
    spool: &Path,
    until_ready: &dyn Fn() -> bool,
) -> String {
    let mut child = command
        .env("SPAIRE_ACCESS_TOKEN", token)
        .env("SPAIRE_SERVER_URL", server_url)
        .env("SPAIRE_USAGE_SPOOL_DIR", spool)
        .env("SPAIRE_REQUEST_TIMEOUT_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{language}: cannot start the driver: {e}"));
    let mut line = String::new();
    let read = BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    if read == 0 || line.trim() != "ready" {
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!(
            "{language}: the driver did not get ready ({line:?}):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut condition_met = until_ready();
    while !condition_met && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        condition_met = until_ready();
    }
    let output = codegen::stop(&mut child, "TERM", 60);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        condition_met,
        "{language}: what the run must do before SIGTERM did not happen in 60 s:\n{logs}"
    );
    assert!(
        output.status.success(),
        "{language}: the app's own handler exits 0, got {:?}:\n{logs}",
        output.status
    );
    logs
}

/// Stored events per endpoint, in `EXPECTED`'s order, and their total.
fn stored(api: &codegen::Api<'_>) -> (usize, Vec<(&'static str, usize)>) {
    let (total, by_endpoint) = stored_by_endpoint(api);
    let counts = EXPECTED
        .iter()
        .map(|(endpoint, _)| (*endpoint, by_endpoint.get(*endpoint).copied().unwrap_or(0)))
        .collect();
    (total, counts)
}

fn check_spool_round_trip(language: &str, driver: Driver<'_>) {
    let emulator = billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
        .expect("emulator");
    let base_url = emulator.base_url();
    // The emulator's own made-up token: the first run must use the same one to share the spool.
    let token = emulator.token();
    let api = codegen::Api {
        base: &base_url,
        token,
    };
    let spool = tempfile::tempdir().unwrap();
    let sub: PathBuf = spool
        .path()
        .join(&billing_apply::sha256_hex(token.as_bytes())[..16]);

    // 1. Nobody listening: the shutdown flush gives up, the queue goes to the spool.
    let closed = format!("http://127.0.0.1:{}", codegen::free_port());
    let logs = run(
        language,
        driver("first"),
        &closed,
        token,
        spool.path(),
        &|| true,
    );
    let files = spool_listing(&sub);
    assert!(
        files.len() == 1 && files[0].ends_with(".json"),
        "{language}: one spool file in {}, found {files:?}:\n{logs}",
        sub.display()
    );
    let file = sub.join(&files[0]);
    let said = format!(
        "[spaire] saved 20 undelivered usage event(s) to {}; the app's next start sends them",
        file.display()
    );
    assert!(
        logs.contains(&said),
        "{language}: stderr says {said:?}:\n{logs}"
    );
    assert!(
        !logs.contains("could not be delivered"),
        "{language}: saved events are not reported lost:\n{logs}"
    );
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        (mode(&sub), mode(&file)),
        (0o700, 0o600),
        "{language}: the spool holds customer ids: directory 0700, file 0600"
    );
    let saved = std::fs::read(&file).unwrap();
    let wire: serde_json::Value = serde_json::from_slice(&saved).unwrap();
    let events = wire["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 20, "{language}: {wire}");
    for event in &events {
        assert!(
            event["external_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
                && event["timestamp"].as_str().is_some_and(|t| !t.is_empty())
                && event["external_customer_id"] == CUSTOMER,
            "{language}: a wire event as sent, with its external_id and timestamp: {event}"
        );
    }
    for i in 0..10 {
        let key = format!("spool-{i}:");
        assert!(
            events.iter().any(|e| e["external_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&key))),
            "{language}: the keyed event {key} keeps its id: {wire}"
        );
    }
    assert_eq!(
        stored(&api).0,
        0,
        "{language}: nothing reached the emulator"
    );

    // 2. The next start sends them while it runs (before SIGTERM), with its own 5.
    let delivered = || stored(&api).0 >= 25;
    let logs = run(
        language,
        driver("second"),
        &base_url,
        token,
        spool.path(),
        &delivered,
    );
    let expected = (25, EXPECTED.to_vec());
    assert_eq!(
        stored(&api),
        expected,
        "{language}: the 20 spooled and 5 new events stored once each:\n{logs}"
    );
    assert!(
        spool_listing(&sub).is_empty(),
        "{language}: nothing left in the spool: {:?}\n{logs}",
        spool_listing(&sub)
    );
    assert!(!logs.contains("[spaire] saved"), "{language}: {logs}");

    // 3. The same file again (as if a claim had been replayed twice): deduplicated.
    std::fs::write(sub.join("1-1-replayed.json"), &saved).unwrap();
    let claimed = || spool_listing(&sub).is_empty();
    let logs = run(
        language,
        driver("second"),
        &base_url,
        token,
        spool.path(),
        &claimed,
    );
    assert_eq!(
        stored(&api),
        expected,
        "{language}: a replayed file whose events are stored counts nothing twice:\n{logs}"
    );
    assert!(
        spool_listing(&sub).is_empty(),
        "{language}: {:?}\n{logs}",
        spool_listing(&sub)
    );
}

/// A spool bigger than the queue (10,003 events next to the run's 5): what does not fit goes
/// back to the spool and is sent by a later round of the same process; nothing is dropped.
fn check_put_back(language: &str, driver: Driver<'_>) {
    let emulator = billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
        .expect("emulator");
    let base_url = emulator.base_url();
    let token = emulator.token();
    let api = codegen::Api {
        base: &base_url,
        token,
    };
    let spool = tempfile::tempdir().unwrap();
    let sub: PathBuf = spool
        .path()
        .join(&billing_apply::sha256_hex(token.as_bytes())[..16]);
    std::fs::create_dir(&sub).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
    write_spool_file(&sub, "1-1-00000000.json", 10_003, "/bulk");
    let delivered = || stored(&api).0 >= 10_008;
    let logs = run(
        language,
        driver("second"),
        &base_url,
        token,
        spool.path(),
        &delivered,
    );
    let (total, by_endpoint) = stored_by_endpoint(&api);
    assert_eq!(
        (total, by_endpoint.get("/bulk").copied().unwrap_or(0)),
        (10_008, 10_003),
        "{language}: every spooled event and the run's own 5, once:\n{logs}"
    );
    assert!(
        !logs.contains("dropped"),
        "{language}: nothing dropped:\n{logs}"
    );
    assert!(
        spool_listing(&sub).is_empty(),
        "{language}: {:?}\n{logs}",
        spool_listing(&sub)
    );
}

/// A spool that cannot be created: one warning, then the old behaviour at exit.
fn check_unusable_spool(language: &str, driver: Driver<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let closed = format!("http://127.0.0.1:{}", codegen::free_port());
    let logs = run(
        language,
        driver("first"),
        &closed,
        "token-for-a-spool-test",
        &not_a_dir.join("spool"),
        &|| true,
    );
    assert_eq!(
        logs.matches("[spaire] usage spool unavailable").count(),
        1,
        "{language}: one warning:\n{logs}"
    );
    assert!(
        logs.contains("20 usage events could not be delivered before exit"),
        "{language}: the old behaviour:\n{logs}"
    );
}

fn python_driver(base_url: &str) -> Option<codegen::DriverApp> {
    codegen::python_driver_app(&plan_for(base_url), PYTHON_DRIVER)
}

fn ruby_driver(base_url: &str) -> Option<codegen::DriverApp> {
    codegen::ruby_driver_app(&plan_for(base_url), RUBY_DRIVER)
}

/// `program <script> CUSTOMER <phase>` in the app's directory.
fn command(app: &codegen::DriverApp, script: &str, phase: &str) -> Command {
    let mut command = Command::new(&app.program);
    command
        .arg(script)
        .arg(CUSTOMER)
        .arg(phase)
        .current_dir(app.dir.path());
    command
}

#[test]
fn python_recorder_spools_undelivered_events_and_the_next_start_sends_them() {
    // The plan's URL is overridden by SPAIRE_SERVER_URL in every run.
    let Some(app) = python_driver("http://127.0.0.1:9") else {
        return;
    };
    check_spool_round_trip("python", &|phase| command(&app, "driver.py", phase));
}

#[test]
fn python_recorder_without_a_usable_spool_warns_once_and_reports_the_loss() {
    let Some(app) = python_driver("http://127.0.0.1:9") else {
        return;
    };
    check_unusable_spool("python", &|phase| command(&app, "driver.py", phase));
}

#[test]
fn ruby_recorder_spools_undelivered_events_and_the_next_start_sends_them() {
    let Some(app) = ruby_driver("http://127.0.0.1:9") else {
        return;
    };
    check_spool_round_trip("ruby", &|phase| command(&app, "driver.rb", phase));
}

#[test]
fn ruby_recorder_without_a_usable_spool_warns_once_and_reports_the_loss() {
    let Some(app) = ruby_driver("http://127.0.0.1:9") else {
        return;
    };
    check_unusable_spool("ruby", &|phase| command(&app, "driver.rb", phase));
}

#[test]
fn python_recorder_puts_back_what_does_not_fit_its_queue() {
    let Some(app) = python_driver("http://127.0.0.1:9") else {
        return;
    };
    check_put_back("python", &|phase| command(&app, "driver.py", phase));
}

#[test]
fn ruby_recorder_puts_back_what_does_not_fit_its_queue() {
    let Some(app) = ruby_driver("http://127.0.0.1:9") else {
        return;
    };
    check_put_back("ruby", &|phase| command(&app, "driver.rb", phase));
}

/// Under pytest and no explicit directory, nothing is spooled: a test run's events are not
/// usage, and the next run's mocked API would see them.
#[test]
fn python_recorder_spools_nothing_under_pytest() {
    let driver = format!(
        "import sys\nimport types\n\nsys.modules.setdefault(\"pytest\", types.ModuleType(\"pytest\"))\n{PYTHON_DRIVER}"
    );
    let Some(app) = codegen::python_driver_app(&plan_for("http://127.0.0.1:9"), &driver) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut child = command(&app, "driver.py", "first")
        .env_remove("SPAIRE_USAGE_SPOOL_DIR")
        .env("TMPDIR", tmp.path())
        .env("SPAIRE_ACCESS_TOKEN", "token-for-a-test-run")
        .env(
            "SPAIRE_SERVER_URL",
            format!("http://127.0.0.1:{}", codegen::free_port()),
        )
        .env("SPAIRE_REQUEST_TIMEOUT_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let output = codegen::stop(&mut child, "TERM", 60);
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.contains("20 usage events could not be delivered before exit"),
        "{logs}"
    );
    assert!(
        !tmp.path().join("spaire-usage-spool").exists(),
        "nothing written to the temp dir: {logs}"
    );
}
