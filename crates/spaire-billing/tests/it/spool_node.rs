//! The Node recorder's spool (issue 16): events a shutdown could not deliver are saved at exit
//! and sent by the app's next start, once.
//!
//! First run: Spaire is unreachable (a closed port), the app records 20 events and is stopped
//! through its own SIGTERM handler; the events must be in one spool file, not lost. Second
//! run: Spaire is back; the app records 5 more and must deliver all 25, leaving no spool file.
//! A copy of the first file put back and replayed by a third run changes nothing (every event
//! kept its external_id).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::codegen;
use crate::delivery::{CUSTOMER, plan_for, stored_by_endpoint, write_spool_file};

const FIRST_RUN: &str = r#"const usage = require(process.argv[2]);
const customer = process.argv[3];
for (let i = 0; i < 10; i += 1) usage.recordApiCall(customer, "/keyed", "GET", `req-${i}`);
for (let i = 0; i < 10; i += 1) usage.recordApiCall(customer, "/plain", "GET");
// The app's own shutdown, as close-with-grace does it: async cleanup, then process.exit.
process.on("SIGTERM", () => {
  setTimeout(() => process.exit(0), 20);
});
setInterval(() => {}, 1000);
console.log("ready");
"#;

/// Records 5 events (or the fifth argument's number) and says "ready" once the recorder
/// delivered `expected` in all.
const NEXT_RUN: &str = r#"const usage = require(process.argv[2]);
const customer = process.argv[3];
const expected = Number(process.argv[4]);
const own = Number(process.argv[5] ?? 5);
for (let i = 0; i < own; i += 1) usage.recordApiCall(customer, "/second", "GET");
process.on("SIGTERM", () => {
  setTimeout(() => process.exit(0), 20);
});
const started = Date.now();
const poll = setInterval(() => {
  const stats = usage.usageRecorderStats();
  if (stats.delivered >= expected) {
    clearInterval(poll);
    console.log("ready");
  } else if (Date.now() - started > 60000) {
    clearInterval(poll);
    console.log(`not delivered: ${JSON.stringify(stats)}`);
  }
  // Spooled events are sent by the timer; ask for it now rather than in up to 7.5 s.
  if (stats.queued > 0) usage.flushUsage();
}, 200);
setInterval(() => {}, 1000);
"#;

/// A port nothing listens on: bound, then released.
fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", codegen::free_port())
}

/// Runs `driver.cjs` with `args` until it prints its first line, then stops it with SIGTERM;
/// returns that line and the process's stderr. The process must exit 0 (the app's handler).
fn run_driver(app: &codegen::DriverApp, env: &[(&str, &str)], args: &[&str]) -> (String, String) {
    let mut command = Command::new(&app.program);
    command
        .arg("driver.cjs")
        .arg(&app.usage)
        .arg(CUSTOMER)
        .args(args)
        .current_dir(app.dir.path())
        .env("SPAIRE_REQUEST_TIMEOUT_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("node starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let output = codegen::stop(&mut child, "TERM", 60);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "the app's own handler exits 0, got {:?}:\n{stderr}",
        output.status
    );
    (line.trim().to_string(), stderr)
}

/// Files in the spool's one account directory (there is one token), by name.
fn spool_files(spool: &Path) -> Vec<PathBuf> {
    let Ok(accounts) = std::fs::read_dir(spool) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = accounts
        .flatten()
        .flat_map(|account| std::fs::read_dir(account.path()).unwrap().flatten())
        .map(|entry| entry.path())
        .collect();
    files.sort();
    files
}

fn counts(api: &codegen::Api<'_>) -> Vec<(String, usize)> {
    stored_by_endpoint(api).1.into_iter().collect()
}

/// The first run every spool test starts from: `FIRST_RUN` records 20 events with Spaire
/// unreachable and is stopped through the app's own handler, which leaves one spool file.
/// Returns the spool directory, its files and the run's stderr; `None` without Node.
fn spool_a_first_run(
    emulator: &billing_emulator::BackgroundEmulator,
) -> Option<(tempfile::TempDir, Vec<PathBuf>, String)> {
    let first = codegen::node_driver_app(&plan_for(&emulator.base_url()), FIRST_RUN)?;
    let spool = tempfile::tempdir().unwrap();
    let unreachable = closed_port_url();
    let (line, stderr) = run_driver(
        &first,
        &[
            ("SPAIRE_ACCESS_TOKEN", emulator.token()),
            ("SPAIRE_SERVER_URL", unreachable.as_str()),
            ("SPAIRE_USAGE_SPOOL_DIR", spool.path().to_str().unwrap()),
        ],
        &[],
    );
    assert_eq!(line, "ready", "{stderr}");
    let files = spool_files(spool.path());
    assert!(
        files.len() == 1 && files[0].extension().is_some_and(|e| e == "json"),
        "one spool file after the first run, got {files:?}:\n{stderr}"
    );
    Some((spool, files, stderr))
}

#[test]
fn node_recorder_spools_what_shutdown_could_not_deliver_and_the_next_start_sends_it_once() {
    let emulator = billing_emulator::spawn_background(Default::default()).expect("emulator");
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let Some((spool, files, stderr)) = spool_a_first_run(&emulator) else {
        return;
    };
    let spool_dir = spool.path().to_str().unwrap();
    assert!(
        stderr.contains("saved 20 undelivered usage event(s)"),
        "the exit says where the events went:\n{stderr}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "spool files hold customer ids: owner only"
    );
    assert!(counts(&api).is_empty(), "nothing reached Spaire yet");
    let kept = std::fs::read(&files[0]).unwrap();

    // The next start, Spaire reachable again.
    let next = codegen::node_driver_app(&plan_for(&base_url), NEXT_RUN).unwrap();
    let env_up = [
        ("SPAIRE_ACCESS_TOKEN", emulator.token()),
        ("SPAIRE_SERVER_URL", base_url.as_str()),
        ("SPAIRE_USAGE_SPOOL_DIR", spool_dir),
    ];
    let (line, stderr) = run_driver(&next, &env_up, &["25"]);
    assert_eq!(line, "ready", "{stderr}");
    let expected = vec![
        ("/keyed".to_string(), 10),
        ("/plain".to_string(), 10),
        ("/second".to_string(), 5),
    ];
    assert_eq!(counts(&api), expected, "{stderr}");
    assert_eq!(spool_files(spool.path()), Vec::<PathBuf>::new(), "{stderr}");

    // The same file replayed again (say, two processes raced for it), once as a file and once
    // as a claim whose process died 11 minutes ago: counted once. A claim a live process made
    // a moment ago is left to it; a file that is not a spool is set aside.
    let account = files[0].parent().unwrap();
    std::fs::write(&files[0], &kept).unwrap();
    let stale = account.join("1-1-stale.json.claimed-999999");
    std::fs::write(&stale, &kept).unwrap();
    let eleven_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(660);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(eleven_minutes_ago)
        .unwrap();
    let fresh = account.join("2-1-fresh.json.claimed-999998");
    std::fs::write(&fresh, &kept).unwrap();
    std::fs::write(account.join("0-1-garbage.json"), "not json").unwrap();
    let (line, stderr) = run_driver(&next, &env_up, &["25"]);
    assert_eq!(line, "ready", "{stderr}");
    let expected_after = vec![
        ("/keyed".to_string(), 10),
        ("/plain".to_string(), 10),
        ("/second".to_string(), 10),
    ];
    assert_eq!(
        counts(&api),
        expected_after,
        "only the 5 new events: {stderr}"
    );
    assert_eq!(
        spool_files(spool.path()),
        vec![account.join("0-1-garbage.json.bad"), fresh],
        "{stderr}"
    );
    assert!(
        stderr.contains("ignored a spool file that is not a list of usage events"),
        "{stderr}"
    );
}

#[test]
fn node_recorder_says_what_was_lost_when_the_spool_cannot_be_written() {
    let emulator = billing_emulator::spawn_background(Default::default()).expect("emulator");
    let base_url = emulator.base_url();
    let Some(first) = codegen::node_driver_app(&plan_for(&base_url), FIRST_RUN) else {
        return;
    };
    // The spool directory's parent is a file: mkdir fails.
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let spool_dir = blocker.path().join("spool");
    let unreachable = closed_port_url();
    let env = [
        ("SPAIRE_ACCESS_TOKEN", emulator.token()),
        ("SPAIRE_SERVER_URL", unreachable.as_str()),
        ("SPAIRE_USAGE_SPOOL_DIR", spool_dir.to_str().unwrap()),
    ];
    let (line, stderr) = run_driver(&first, &env, &[]);
    assert_eq!(line, "ready", "{stderr}");
    assert!(
        stderr.contains("exiting with 20 undelivered usage event(s); could not save them to"),
        "the loss is said, with the reason:\n{stderr}"
    );
}

/// A spool bigger than the queue (10,020 events) in a process that records nothing itself:
/// what does not fit goes back to the spool and is sent at a later tick; nothing is dropped.
#[test]
fn node_recorder_puts_back_what_does_not_fit_its_queue() {
    let emulator = billing_emulator::spawn_background(Default::default()).expect("emulator");
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let Some((spool, files, _)) = spool_a_first_run(&emulator) else {
        return;
    };
    let spool_dir = spool.path().to_str().unwrap();
    // A second file, as full as a queue can be.
    let account = files[0].parent().unwrap();
    write_spool_file(account, "9999999999999-1-bulk.json", 10_000, "/bulk");

    let next = codegen::node_driver_app(&plan_for(&base_url), NEXT_RUN).unwrap();
    let (line, stderr) = run_driver(
        &next,
        &[
            ("SPAIRE_ACCESS_TOKEN", emulator.token()),
            ("SPAIRE_SERVER_URL", base_url.as_str()),
            ("SPAIRE_USAGE_SPOOL_DIR", spool_dir),
        ],
        // Records nothing: only the spool starts the recorder's work.
        &["10020", "0"],
    );
    assert_eq!(line, "ready", "{stderr}");
    let expected = vec![
        ("/bulk".to_string(), 10_000),
        ("/keyed".to_string(), 10),
        ("/plain".to_string(), 10),
    ];
    assert_eq!(counts(&api), expected, "{stderr}");
    assert_eq!(spool_files(spool.path()), Vec::<PathBuf>::new(), "{stderr}");
}

/// A spool directory other users can write to (a shared temp dir) is not replayed: its files
/// would become billed usage.
#[test]
fn node_recorder_ignores_a_spool_others_can_write_to() {
    let emulator = billing_emulator::spawn_background(Default::default()).expect("emulator");
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let Some((spool, files, _)) = spool_a_first_run(&emulator) else {
        return;
    };
    let spool_dir = spool.path().to_str().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        files[0].parent().unwrap(),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let next = codegen::node_driver_app(&plan_for(&base_url), NEXT_RUN).unwrap();
    let (line, stderr) = run_driver(
        &next,
        &[
            ("SPAIRE_ACCESS_TOKEN", emulator.token()),
            ("SPAIRE_SERVER_URL", base_url.as_str()),
            ("SPAIRE_USAGE_SPOOL_DIR", spool_dir),
        ],
        &["5"],
    );
    assert_eq!(line, "ready", "{stderr}");
    assert_eq!(counts(&api), vec![("/second".to_string(), 5)], "{stderr}");
    assert_eq!(spool_files(spool.path()), files, "left alone: {stderr}");
    assert!(
        stderr.contains("not using the usage spool") && stderr.contains("others can write to it"),
        "{stderr}"
    );
}

/// Under Jest or Vitest (NODE_ENV=test) and no explicit directory, nothing is spooled: a test
/// run's events are not usage, and the next run's mocks would see them.
#[test]
fn node_recorder_spools_nothing_in_a_test_run() {
    let Some(first) = codegen::node_driver_app(&plan_for("http://127.0.0.1:9"), FIRST_RUN) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut command = Command::new(&first.program);
    command
        .arg("driver.cjs")
        .arg(&first.usage)
        .arg(CUSTOMER)
        .current_dir(first.dir.path())
        .env_remove("SPAIRE_USAGE_SPOOL_DIR")
        .env("TMPDIR", tmp.path())
        .env("NODE_ENV", "test")
        .env("SPAIRE_ACCESS_TOKEN", "token-for-a-test-run")
        .env("SPAIRE_SERVER_URL", closed_port_url())
        .env("SPAIRE_REQUEST_TIMEOUT_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("node starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let output = codegen::stop(&mut child, "TERM", 60);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("exiting with 20 undelivered usage event(s)"),
        "{stderr}"
    );
    assert!(
        !tmp.path().join("spaire-usage-spool").exists(),
        "nothing written to the temp dir: {stderr}"
    );
}
