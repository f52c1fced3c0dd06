//! The local spool of the Go and PHP recorders (issue 16; /work/notes/spool-spec.md, the same
//! behaviour in every language): what a shutdown could not deliver is written to
//! `$SPAIRE_USAGE_SPOOL_DIR/<sha256(token)[..16]>/*.json`, and the app's next process sends it.
//!
//! Each test runs the driver a first time against a closed port (the shutdown flush gives up
//! and spools), then again against a live emulator with the same token and spool directory:
//! the emulator must store every event exactly once and the spool must be empty. A third run
//! replays copies of the first file (their events are already stored): still exactly once,
//! by external_id. PHP's second and third runs are "the next request": a process that records
//! one event and flushes, which must send the spooled events with its own (one file per
//! flush; an unparsable file is set aside as `.bad`). Also: PHP's flush() that spent its budget
//! on an outage keeps the events for the exit flush, which spools them; and in both languages
//! a spool that cannot be written gives one warning and the old behaviour.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use billing_detect::{FrameworkId, Language};
use billing_emulator::{EmulatorConfig, TokenSpec};

use crate::codegen;
use crate::delivery::{CUSTOMER, plan_for, spool_listing, stored_by_endpoint, write_spool_file};

/// Made up; the emulator accepts it.
const GO_TOKEN: &str = "spool-test-token-go";
const PHP_TOKEN: &str = "spool-test-token-php";

/// Records `keyed` events with idempotency keys and `plain` ones without, under endpoints
/// `/<prefix>/keyed` and `/<prefix>/plain`, then waits for SIGTERM and shuts down the way a
/// program with graceful shutdown does (`Close` with a 3 s budget).
const GO_DRIVER: &str = r#"package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	spairebilling "example.com/CASE/internal/spairebilling"
)

func main() {
	customer, prefix := os.Args[1], os.Args[2]
	keyed, _ := strconv.Atoi(os.Args[3])
	plain, _ := strconv.Atoi(os.Args[4])
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	for i := 0; i < keyed; i++ {
		spairebilling.RecordAPICall(customer, "/"+prefix+"/keyed", "GET", fmt.Sprintf("%s-%d", prefix, i))
	}
	for i := 0; i < plain; i++ {
		spairebilling.RecordAPICall(customer, "/"+prefix+"/plain", "GET")
	}
	fmt.Println("ready")
	<-signals
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := spairebilling.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "flush:", err)
		os.Exit(1)
	}
}
"#;

/// One PHP request: records like the Go driver, and with `flush` as the fifth argument calls
/// `flush()` (Laravel's `terminate` does) and prints what is still pending; the shutdown
/// function (`flushAtExit`) runs when the script ends.
const PHP_DRIVER: &str = r#"<?php
foreach (['SpaireConfig', 'UsageRecorder', 'Usage'] as $class) {
    require __DIR__ . "/app/Spaire/{$class}.php";
}
use App\Spaire\Usage;
use App\Spaire\UsageRecorder;

[, $customer, $prefix, $keyed, $plain] = $argv;
for ($i = 0; $i < (int) $keyed; $i++) {
    Usage::recordApiCall($customer, "/{$prefix}/keyed", 'GET', "{$prefix}-{$i}");
}
for ($i = 0; $i < (int) $plain; $i++) {
    Usage::recordApiCall($customer, "/{$prefix}/plain", 'GET');
}
if (($argv[5] ?? '') === 'flush') {
    UsageRecorder::instance()->flush();
    $recorder = UsageRecorder::instance();
    echo "pending={$recorder->pending()} dropped={$recorder->dropped()}\n";
}
"#;

fn emulator(token: &str) -> billing_emulator::BackgroundEmulator {
    billing_emulator::spawn_background(EmulatorConfig {
        tokens: vec![TokenSpec::new(token)],
        ..EmulatorConfig::default()
    })
    .expect("emulator")
}

/// A URL nothing listens on: a port bound, then released.
fn closed_url() -> String {
    format!("http://127.0.0.1:{}", codegen::free_port())
}

/// `<spool dir>/<first 16 hex chars of SHA-256(token)>`, hashed by coreutils' sha256sum.
fn token_dir(spool: &Path, token: &str) -> PathBuf {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let hex = String::from_utf8(output.stdout).unwrap();
    spool.join(&hex[..16])
}

/// Stored events per `endpoint` metadata value.
fn stored(base_url: &str, token: &str) -> (usize, BTreeMap<String, usize>) {
    stored_by_endpoint(&codegen::Api {
        base: base_url,
        token,
    })
}

fn counts(expected: &[(&str, usize)]) -> BTreeMap<String, usize> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect()
}

/// Backdates a claimed file: its claim was taken `minutes` ago.
fn claimed_minutes_ago(path: &Path, minutes: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(minutes * 60))
        .unwrap();
}

/// Checks the first run's spool: one `.json` file (mode 0600, in a 0700 directory) holding
/// `events` wire events, each with its external_id and timestamp. Returns its contents.
fn check_spooled(dir: &Path, events: usize, logs: &str) -> String {
    let files = spool_listing(dir);
    assert!(
        files.len() == 1 && files[0].ends_with(".json"),
        "one spool file in {}, got {files:?}; logs:\n{logs}",
        dir.display()
    );
    let path = dir.join(&files[0]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        (mode(dir), mode(&path)),
        (0o700, 0o600),
        "spool permissions"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = body["events"].as_array().expect("{\"events\": [...]}");
    assert_eq!(list.len(), events, "{text}");
    assert!(
        list.iter().all(|e| e["external_id"].is_string()
            && e["timestamp"].is_string()
            && e["external_customer_id"] == CUSTOMER),
        "wire events with external_id and timestamp: {text}"
    );
    assert!(
        logs.contains(&format!(
            "[spaire] saved {events} undelivered usage event(s) to {}",
            path.display()
        )),
        "the saved-to-spool line; logs:\n{logs}"
    );
    text
}

/// Runs the Go driver until "ready", sends SIGTERM, and returns its stderr (exit 0 required).
fn run_go_driver(program: &Path, url: &str, spool: &Path, args: [&str; 3]) -> String {
    let mut child = Command::new(program)
        .arg(CUSTOMER)
        .args(args)
        .env("SPAIRE_ACCESS_TOKEN", GO_TOKEN)
        .env("SPAIRE_SERVER_URL", url)
        .env("SPAIRE_USAGE_SPOOL_DIR", spool)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("go driver");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the driver started");
    let output = codegen::stop(&mut child, "TERM", 30);
    let logs = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "exit 0, got {:?}:\n{logs}",
        output.status
    );
    logs
}

#[test]
fn go_recorder_spools_what_close_could_not_deliver_and_the_next_start_sends_it() {
    let emulator = emulator(GO_TOKEN);
    let base_url = emulator.base_url();
    let Some(app) = codegen::go_driver_app(&plan_for(&base_url), GO_DRIVER) else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = token_dir(spool.path(), GO_TOKEN);

    // 1. Spaire unreachable: Close gives up at its deadline and spools all 20.
    let logs = run_go_driver(
        &app.program,
        &closed_url(),
        spool.path(),
        ["first", "10", "10"],
    );
    let text = check_spooled(&dir, 20, &logs);
    assert!(
        !logs.contains("could not be delivered"),
        "the saved line replaces the undelivered one:\n{logs}"
    );
    assert_eq!(stored(&base_url, GO_TOKEN).0, 0);

    // 2. The next start: 5 new events, and the spooled 20 replayed when the recorder starts.
    let logs = run_go_driver(&app.program, &base_url, spool.path(), ["second", "0", "5"]);
    let expected = [
        ("/first/keyed", 10),
        ("/first/plain", 10),
        ("/second/plain", 5),
    ];
    assert_eq!(
        stored(&base_url, GO_TOKEN),
        (25, counts(&expected)),
        "every event once; logs:\n{logs}"
    );
    assert_eq!(
        spool_listing(&dir),
        Vec::<String>::new(),
        "the spool is empty"
    );

    // 3. The same file again (its events already stored), replayed by a process that records
    // nothing (the recorder starts in Close): counted once, by external_id. Beside it, a copy
    // claimed 11 minutes ago by a process that died (claimed again and sent) and one claimed
    // just now by a live process (left alone).
    std::fs::write(dir.join("1-1-00000000.json"), &text).unwrap();
    let stale = dir.join("0-1-00000000.json.claimed-1");
    let fresh = "0-2-00000000.json.claimed-2";
    std::fs::write(&stale, &text).unwrap();
    std::fs::write(dir.join(fresh), &text).unwrap();
    claimed_minutes_ago(&stale, 11);
    let logs = run_go_driver(&app.program, &base_url, spool.path(), ["third", "0", "0"]);
    assert_eq!(
        stored(&base_url, GO_TOKEN),
        (25, counts(&expected)),
        "replayed, already stored files count once; logs:\n{logs}"
    );
    assert_eq!(spool_listing(&dir), [fresh], "only the live claim is left");
}

/// A spool directory that cannot be created (its parent is a file): one warning, the old
/// behaviour (the undelivered line), exit 0.
#[test]
fn go_recorder_without_a_usable_spool_warns_and_exits_as_before() {
    let Some(app) = codegen::go_driver_app(&plan_for("http://127.0.0.1:9"), GO_DRIVER) else {
        return;
    };
    let parent = tempfile::tempdir().unwrap();
    let not_a_dir = parent.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let logs = run_go_driver(&app.program, &closed_url(), &not_a_dir, ["first", "2", "2"]);
    assert_eq!(
        logs.matches("usage spool unavailable").count(),
        1,
        "one warning:\n{logs}"
    );
    assert!(
        logs.contains("4 usage events could not be delivered in time"),
        "{logs}"
    );
}

/// The Laravel fixture with the plan generated into it and the driver as `driver.php` (the
/// layout of delivery.rs's `run_php`).
fn php_app(base_url: &str) -> Option<(PathBuf, tempfile::TempDir)> {
    let php = codegen::program("php")?;
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("php", "laravel11"), dir.path());
    codegen::generate_into(
        dir.path(),
        &crate::codegen_other::profile(dir.path(), Language::Php, FrameworkId::Laravel),
        &plan_for(base_url),
    );
    std::fs::write(dir.path().join("driver.php"), PHP_DRIVER).unwrap();
    Some((php, dir))
}

/// Runs one PHP "request" to its end (the shutdown flush included); returns stdout, stderr.
fn run_php_driver(
    php: &Path,
    app: &Path,
    url: &str,
    spool: &Path,
    args: &[&str],
) -> (String, String) {
    let output = Command::new(php)
        .arg("driver.php")
        .arg(CUSTOMER)
        .args(args)
        .current_dir(app)
        .env("SPAIRE_ACCESS_TOKEN", PHP_TOKEN)
        .env("SPAIRE_SERVER_URL", url)
        .env("SPAIRE_USAGE_SPOOL_DIR", spool)
        .output()
        .expect("php driver");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "exit 0, got {:?}:\n{stdout}\n{stderr}",
        output.status
    );
    (stdout, stderr)
}

#[test]
fn php_recorder_spools_a_refused_exit_flush_and_the_next_request_sends_it() {
    let emulator = emulator(PHP_TOKEN);
    let base_url = emulator.base_url();
    let Some((php, app)) = php_app(&base_url) else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = token_dir(spool.path(), PHP_TOKEN);

    // 1. A request whose flushAtExit is refused (Spaire unreachable for its whole budget).
    let (_, logs) = run_php_driver(
        &php,
        app.path(),
        &closed_url(),
        spool.path(),
        &["first", "10", "10"],
    );
    let text = check_spooled(&dir, 20, &logs);
    assert_eq!(stored(&base_url, PHP_TOKEN).0, 0);

    // 2. The next request records one event and flushes: its flush claims the spooled file and
    // sends the 20 with its own event.
    let (out, logs) = run_php_driver(
        &php,
        app.path(),
        &base_url,
        spool.path(),
        &["second", "0", "1", "flush"],
    );
    assert_eq!(out.trim(), "pending=0 dropped=0", "{logs}");
    let expected = [
        ("/first/keyed", 10),
        ("/first/plain", 10),
        ("/second/plain", 1),
    ];
    assert_eq!(
        stored(&base_url, PHP_TOKEN),
        (21, counts(&expected)),
        "every event once; logs:\n{logs}"
    );
    assert_eq!(
        spool_listing(&dir),
        Vec::<String>::new(),
        "the spool is empty"
    );

    // 3. Copies of the first file (already stored): one claimed 11 minutes ago by a worker
    // that died, one claimed just now by a live worker, an unparsable file and three plain
    // ones. A flush claims spool files up to one batch, oldest name first: flush() takes the
    // stale claim and the three copies; the unparsable one is set aside as .bad and the live
    // claim is left alone.
    let stale = dir.join("0-1-00000000.json.claimed-1");
    std::fs::write(&stale, &text).unwrap();
    claimed_minutes_ago(&stale, 11);
    std::fs::write(dir.join("0-2-00000000.json.claimed-2"), &text).unwrap();
    std::fs::write(dir.join("1-1-00000000.json"), "{\"events\": ").unwrap();
    for copy in [
        "2-1-00000000.json",
        "3-1-00000000.json",
        "4-1-00000000.json",
    ] {
        std::fs::write(dir.join(copy), &text).unwrap();
    }
    let (out, logs) = run_php_driver(
        &php,
        app.path(),
        &base_url,
        spool.path(),
        &["third", "0", "1", "flush"],
    );
    assert_eq!(out.trim(), "pending=0 dropped=0", "{logs}");
    let expected = [
        ("/first/keyed", 10),
        ("/first/plain", 10),
        ("/second/plain", 1),
        ("/third/plain", 1),
    ];
    assert_eq!(
        stored(&base_url, PHP_TOKEN),
        (22, counts(&expected)),
        "replayed, already stored events count once; logs:\n{logs}"
    );
    assert_eq!(
        spool_listing(&dir),
        ["0-2-00000000.json.claimed-2", "1-1-00000000.json.bad"],
        "{logs}"
    );
    assert!(
        logs.contains("1-1-00000000.json is not a usage spool file"),
        "{logs}"
    );
}

/// Laravel's path: `terminate` calls flush(), which spends its budget on an outage; the events
/// are kept (not dropped, as without a spool) and the exit flush tries once, then spools them.
#[test]
fn php_recorder_spools_what_a_flush_kept_through_an_outage() {
    let Some((php, app)) = php_app("http://127.0.0.1:9") else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = token_dir(spool.path(), PHP_TOKEN);
    let started = std::time::Instant::now();
    let (out, logs) = run_php_driver(
        &php,
        app.path(),
        &closed_url(),
        spool.path(),
        &["first", "2", "2", "flush"],
    );
    assert_eq!(out.trim(), "pending=4 dropped=0", "{logs}");
    check_spooled(&dir, 4, &logs);
    // One budget (10 s) for the worker, not two.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{logs}"
    );
}

/// A spool directory that cannot be created: one warning, the events dropped and counted as
/// before, exit 0.
#[test]
fn php_recorder_without_a_usable_spool_warns_and_exits_as_before() {
    let Some((php, app)) = php_app("http://127.0.0.1:9") else {
        return;
    };
    let parent = tempfile::tempdir().unwrap();
    let not_a_dir = parent.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let (_, logs) = run_php_driver(
        &php,
        app.path(),
        &closed_url(),
        &not_a_dir,
        &["first", "2", "2"],
    );
    assert_eq!(
        logs.matches("usage spool unavailable").count(),
        1,
        "one warning:\n{logs}"
    );
    assert!(!logs.contains("[spaire] saved"), "{logs}");
}

/// A spool file bigger than PHP's buffer (a Go or Node process with the same token may write
/// up to 10,000 events): what does not fit goes back to the spool for the next flush, nothing
/// is dropped.
#[test]
fn php_recorder_puts_back_what_does_not_fit_its_buffer() {
    let emulator = emulator(PHP_TOKEN);
    let base_url = emulator.base_url();
    let Some((php, app)) = php_app(&base_url) else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = token_dir(spool.path(), PHP_TOKEN);
    std::fs::create_dir_all(&dir).unwrap();
    write_spool_file(&dir, "1-1-00000000.json", 1_500, "/bulk");
    // flush() takes the file: 999 events fit beside the request's own, 501 go back; the exit
    // flush claims them.
    let (out, logs) = run_php_driver(
        &php,
        app.path(),
        &base_url,
        spool.path(),
        &["next", "0", "1", "flush"],
    );
    assert_eq!(out.trim(), "pending=0 dropped=0", "{logs}");
    assert_eq!(
        stored(&base_url, PHP_TOKEN),
        (1_501, counts(&[("/bulk", 1_500), ("/next/plain", 1)])),
        "{logs}"
    );
    assert_eq!(spool_listing(&dir), Vec::<String>::new(), "{logs}");
}

/// A spool bigger than the queue (10,003 events): what does not fit goes back to the spool,
/// and a later start sends it; nothing is dropped on the way.
#[test]
fn go_recorder_puts_back_what_does_not_fit_its_queue() {
    let emulator = emulator(GO_TOKEN);
    let base_url = emulator.base_url();
    let Some(app) = codegen::go_driver_app(&plan_for(&base_url), GO_DRIVER) else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = token_dir(spool.path(), GO_TOKEN);
    std::fs::create_dir_all(&dir).unwrap();
    write_spool_file(&dir, "1-1-00000000.json", 10_003, "/bulk");
    let expected = (10_008, counts(&[("/bulk", 10_003), ("/next/plain", 5)]));
    let mut logs = run_go_driver(&app.program, &base_url, spool.path(), ["next", "0", "5"]);
    // Later starts send what went back (Close's 3 s may also end before all 10,008 are sent:
    // that part is spooled again, never dropped).
    for _ in 0..5 {
        if stored(&base_url, GO_TOKEN) == expected {
            break;
        }
        logs += &run_go_driver(&app.program, &base_url, spool.path(), ["more", "0", "0"]);
    }
    assert_eq!(stored(&base_url, GO_TOKEN), expected, "{logs}");
    assert!(!logs.contains("dropped"), "nothing dropped:\n{logs}");
    assert_eq!(spool_listing(&dir), Vec::<String>::new(), "{logs}");
}

/// A spool directory other users can write to (a shared temp dir) is neither read nor
/// written: its files would become billed usage.
#[test]
fn php_and_go_recorders_refuse_a_spool_others_can_write_to() {
    use std::os::unix::fs::PermissionsExt;
    let php_emulator = emulator(PHP_TOKEN);
    let base_url = php_emulator.base_url();
    let Some((php, app)) = php_app(&base_url) else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = token_dir(spool.path(), PHP_TOKEN);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(
        dir.join("1-1-00000000.json"),
        serde_json::json!({ "events": [{
            "name": "api-call",
            "external_customer_id": CUSTOMER,
            "metadata": { "endpoint": "/planted" },
            "timestamp": "2026-01-01T00:00:00Z",
            "external_id": "planted-1",
        }] })
        .to_string(),
    )
    .unwrap();
    let (out, logs) = run_php_driver(
        &php,
        app.path(),
        &base_url,
        spool.path(),
        &["next", "0", "1", "flush"],
    );
    assert_eq!(out.trim(), "pending=0 dropped=0", "{logs}");
    assert_eq!(
        stored(&base_url, PHP_TOKEN),
        (1, counts(&[("/next/plain", 1)])),
        "the planted event is not sent: {logs}"
    );
    assert!(logs.contains("can be written by other users"), "{logs}");

    let go = emulator(GO_TOKEN);
    let go_url = go.base_url();
    let Some(app) = codegen::go_driver_app(&plan_for(&go_url), GO_DRIVER) else {
        return;
    };
    let go_dir = token_dir(spool.path(), GO_TOKEN);
    std::fs::create_dir_all(&go_dir).unwrap();
    std::fs::set_permissions(&go_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::copy(
        dir.join("1-1-00000000.json"),
        go_dir.join("1-1-00000000.json"),
    )
    .unwrap();
    let logs = run_go_driver(&app.program, &go_url, spool.path(), ["next", "0", "1"]);
    assert_eq!(
        stored(&go_url, GO_TOKEN),
        (1, counts(&[("/next/plain", 1)])),
        "the planted event is not sent: {logs}"
    );
    assert!(logs.contains("can be written by other users"), "{logs}");
}

/// A 429's Retry-After is shared with every later request through the spool directory: until
/// it passes no request is sent (each would only be refused) and each request's events go to
/// the spool, quietly; the first flush after it sends them all in one batch.
#[test]
fn php_requests_share_a_retry_after_pause_and_spool_until_it_passes() {
    let throttled = billing_emulator::spawn_background(EmulatorConfig {
        tokens: vec![TokenSpec::new(PHP_TOKEN)],
        // The first ingest is answered 429 with `retry-after: 600`; later ones are served.
        throttle_first_requests: 1,
        ..EmulatorConfig::default()
    })
    .expect("emulator");
    let base_url = throttled.base_url();
    let Some((php, app)) = php_app(&base_url) else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = token_dir(spool.path(), PHP_TOKEN);

    // 1. flush() is refused (429): the pause is shared. This request's own exit flush still
    // tries once (its pause may outlast the server's window): the emulator serves it.
    let (out, logs) = run_php_driver(
        &php,
        app.path(),
        &base_url,
        spool.path(),
        &["first", "0", "2", "flush"],
    );
    assert_eq!(out.trim(), "pending=2 dropped=0", "{logs}");
    assert_eq!(stored(&base_url, PHP_TOKEN).0, 2, "{logs}");
    let pause: f64 = std::fs::read_to_string(dir.join("pause"))
        .expect("the pause is shared in the spool directory")
        .trim()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(pause > now + 500.0, "Retry-After 600 s: {pause} vs {now}");

    // 2. Two later requests inside the pause send nothing (the emulator would accept them) and
    // spool their events quietly, one file each.
    for _ in 0..2 {
        let (out, logs) = run_php_driver(
            &php,
            app.path(),
            &base_url,
            spool.path(),
            &["second", "0", "3", "flush"],
        );
        assert_eq!(out.trim(), "pending=3 dropped=0", "{logs}");
        assert!(!logs.contains("[spaire] saved"), "quiet: {logs}");
    }
    assert_eq!(
        stored(&base_url, PHP_TOKEN).0,
        2,
        "nothing sent in the pause"
    );
    let files: Vec<String> = spool_listing(&dir)
        .into_iter()
        .filter(|f| f.ends_with(".json"))
        .collect();
    assert_eq!(files.len(), 2, "one file per request: {files:?}");

    // 3. The pause has passed: the next flush sends both files and its own event at once.
    std::fs::write(dir.join("pause"), "0").unwrap();
    let (out, logs) = run_php_driver(
        &php,
        app.path(),
        &base_url,
        spool.path(),
        &["third", "0", "1", "flush"],
    );
    assert_eq!(out.trim(), "pending=0 dropped=0", "{logs}");
    assert_eq!(
        stored(&base_url, PHP_TOKEN),
        (
            9,
            counts(&[
                ("/first/plain", 2),
                ("/second/plain", 6),
                ("/third/plain", 1)
            ])
        ),
        "{logs}"
    );
    assert_eq!(spool_listing(&dir), ["pause"], "{logs}");
}
