//! `spaire-billing emulator`: the CLI, and the proof that the official SDKs (real clients no
//! one here wrote) parse every emulator response and verify its webhooks.
//!
//! The SDK scripts live in `tests/sdk/`; they need the shared toolchains
//! (`tests/toolchains/node`, `tests/toolchains/python/.venv`). Without them these tests fail
//! in CI and skip (saying why) elsewhere.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use billing_emulator::{BackgroundEmulator, EmulatorConfig, TokenSpec};

use crate::common::{billing, in_ci, repo_root, transcript};

const READONLY_TOKEN: &str = "spaire_oat_readonly-emulator-token";

fn emulator() -> BackgroundEmulator {
    let config = EmulatorConfig {
        tokens: vec![
            TokenSpec::new(billing_emulator::DEFAULT_TOKEN),
            TokenSpec::parse(&format!("{READONLY_TOKEN}:meters:read,events:read")).unwrap(),
        ],
        webhook_retry_base_ms: 50,
        ..EmulatorConfig::default()
    };
    billing_emulator::spawn_background(config).expect("emulator starts")
}

/// The toolchain path, or `None` (after saying why) when it is missing outside CI.
// Saying why a test skipped is the point here, so stderr is right.
#[allow(clippy::print_stderr)]
fn toolchain(relative: &str, what: &str) -> Option<PathBuf> {
    let path = repo_root().join(relative);
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "{what} is missing at {} (run scripts/install-test-deps.sh)",
        path.display()
    );
    assert!(!in_ci(), "{message}");
    eprintln!("skipping: {message}");
    None
}

fn run_script(mut command: Command, emulator: &BackgroundEmulator) {
    let output = command
        .env("SPAIRE_SERVER_URL", emulator.base_url())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .env("SPAIRE_READONLY_TOKEN", READONLY_TOKEN)
        .output()
        .expect("script starts");
    assert!(output.status.success(), "{}", transcript(&output, &[]));
}

#[test]
fn official_node_sdk_parses_every_response_and_verifies_delivered_webhooks() {
    let Some(node_toolchain) = toolchain(
        "tests/toolchains/node/node_modules/@spaire/sdk",
        "@spaire/sdk",
    ) else {
        return;
    };
    let toolchain_dir = node_toolchain.ancestors().nth(3).unwrap().to_path_buf();
    let emulator = emulator();
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("tests/sdk/node/sdk-proof.mjs"))
        .current_dir(&toolchain_dir)
        .env("SPAIRE_NODE_TOOLCHAIN", &toolchain_dir);
    run_script(command, &emulator);
}

fn python() -> Option<PathBuf> {
    toolchain(
        "tests/toolchains/python/.venv/bin/python",
        "the Python test venv",
    )
}

#[test]
fn official_python_sdk_parses_every_response_batches_and_verifies_webhooks() {
    let Some(python) = python() else { return };
    let emulator = emulator();
    let mut command = Command::new(python);
    command.arg(repo_root().join("tests/sdk/python/sdk_proof.py"));
    run_script(command, &emulator);
}

#[test]
fn responses_validate_against_the_openapi_subset_with_listed_exceptions() {
    let Some(python) = python() else { return };
    // A vendored copy of ../shared/spaire/openapi-subset.json, so CI needs nothing outside
    // the repository.
    let spec = repo_root().join("tests/sdk/openapi-subset.json");
    let emulator = emulator();
    let mut command = Command::new(python);
    command
        .arg(repo_root().join("tests/sdk/python/openapi_check.py"))
        .arg(spec);
    run_script(command, &emulator);
}

/// A minimal HTTP/1.1 GET (no client crate needed for one request).
fn http_get(base_url: &str, path: &str, token: &str) -> String {
    http_request(base_url, "GET", path, token)
}

/// A minimal bodiless HTTP/1.1 request.
fn http_request(base_url: &str, method: &str, path: &str, token: &str) -> String {
    let addr = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn wait_for_lines(reader: &mut impl BufRead, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for _ in 0..count {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        lines.push(line.trim().to_owned());
    }
    lines
}

#[test]
fn cli_prints_url_and_token_serves_and_stops_gracefully_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaire-billing"))
        .args([
            "emulator",
            "--port",
            "0",
            "--token",
            "tok-a@acme",
            "--token",
            "tok-b@other",
        ])
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let lines = wait_for_lines(&mut stdout, 3);
    let url = lines[0]
        .strip_prefix("SPAIRE_SERVER_URL=")
        .expect(&lines[0])
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(lines[1], "SPAIRE_ACCESS_TOKEN=tok-a");

    let ok = http_get(&url, "/v1/meters/", "tok-a");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let unknown = http_get(&url, "/v1/meters/", "tok-c");
    assert!(unknown.starts_with("HTTP/1.1 401"), "{unknown}");
    assert!(unknown.contains("invalid_token"), "{unknown}");
    // Only the printed admin token may wipe every organization.
    let admin = lines[2]
        .strip_prefix("SPAIRE_EMULATOR_ADMIN_TOKEN=")
        .expect(&lines[2])
        .to_owned();
    let refused = http_request(&url, "POST", "/_emulator/reset", "tok-b");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    let reset = http_request(&url, "POST", "/_emulator/reset", &admin);
    assert!(reset.starts_with("HTTP/1.1 204"), "{reset}");

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "emulator did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Stopping"), "{stderr}");
    assert!(TcpStream::connect(url.trim_start_matches("http://")).is_err());
}

#[test]
fn cli_rejects_bad_flags_with_usage_errors() {
    let output = billing()
        .args(["emulator", "--token", "t:events:fly"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        transcript(&output, &[])
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown scope `events:fly`"), "{stderr}");

    let output = billing()
        .args(["emulator", "--fail-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        transcript(&output, &[])
    );
}

#[test]
fn cli_reports_a_busy_port_with_a_hint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = billing()
        .args(["emulator", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        transcript(&output, &[])
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(stderr.contains("--port 0"), "{stderr}");
}

#[test]
fn state_persists_in_a_db_file_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    let config = || EmulatorConfig {
        db: Some(db.clone()),
        ..EmulatorConfig::default()
    };
    let first = billing_emulator::spawn_background(config()).unwrap();
    let org = first.organization_id("default").unwrap().to_owned();
    let body = r#"{"name":"Persisted","filter":{"conjunction":"and","clauses":[]},"aggregation":{"func":"count"}}"#;
    let created = http_post(&first.base_url(), "/v1/meters/", first.token(), body);
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    drop(first);
    let second = billing_emulator::spawn_background(config()).unwrap();
    assert_eq!(second.organization_id("default"), Some(org.as_str()));
    let listed = http_get(&second.base_url(), "/v1/meters/", second.token());
    assert!(listed.contains("\"Persisted\""), "{listed}");
}

fn http_post(base_url: &str, path: &str, token: &str, body: &str) -> String {
    let addr = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
