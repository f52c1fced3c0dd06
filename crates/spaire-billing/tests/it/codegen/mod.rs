//! Shared pieces of the code generation proofs (`codegen_py`, `codegen_other`): fixture
//! profiles, plan matrices, applying a generated change set to a copy of a fixture, and
//! finding toolchains.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use billing_changeset::ChangeSet;
use billing_detect::{
    Confidence, Framework, FrameworkDetails, FrameworkId, Language, Package, ProjectProfile,
};
use billing_plan::{
    BillingPlan, CreditGrant, CustomerSource, Environment, MeteredPrice, ProductRef,
    ProjectSection, Webhooks,
};

use crate::common;

/// The preset ids every matrix covers.
pub const PRESETS: &[&str] = &[
    "llm-tokens",
    "llm-tokens-split",
    "api-calls",
    "storage",
    "compute-time",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    Unit,
    Credits,
    Both,
}

pub const PRICINGS: &[Pricing] = &[Pricing::Unit, Pricing::Credits, Pricing::Both];

/// A plan with the meters of `presets`, priced per `pricing`, with or without webhooks.
pub fn plan(
    presets: &[&str],
    pricing: Pricing,
    webhooks: bool,
    server_url: Option<&str>,
) -> BillingPlan {
    let meters: Vec<_> = presets
        .iter()
        .flat_map(|id| billing_plan::preset(id).expect("known preset").meters)
        .collect();
    let first = meters[0].name.clone();
    let prices = match pricing {
        Pricing::Unit | Pricing::Both => vec![MeteredPrice {
            meter: first.clone(),
            product: ProductRef("Pro".to_owned()),
            unit_amount: "0.0001".to_owned(),
            cap_amount: None,
        }],
        Pricing::Credits => Vec::new(),
    };
    let credits = match pricing {
        Pricing::Credits | Pricing::Both => vec![CreditGrant {
            meter: first,
            product: ProductRef("Pro".to_owned()),
            units: 100_000,
            rollover: false,
        }],
        Pricing::Unit => Vec::new(),
    };
    BillingPlan {
        call_site_customer: Default::default(),
        environment: if server_url.is_some() {
            Environment::Local
        } else {
            Environment::Sandbox
        },
        server_url: server_url.map(str::to_owned),
        project: ProjectSection {
            path: ".".to_owned(),
            framework: None,
        },
        customer: CustomerSource::Header {
            header: "x-customer-id".to_owned(),
        },
        meters,
        prices,
        credits,
        webhooks: webhooks.then(|| Webhooks {
            events: [
                "order.paid",
                "subscription.active",
                "subscription.canceled",
                "customer.state_changed",
            ]
            .map(str::to_owned)
            .to_vec(),
            url: None,
        }),
    }
}

pub fn framework(id: FrameworkId, details: FrameworkDetails) -> Framework {
    Framework {
        id,
        version: None,
        major: None,
        confidence: Confidence::High,
        evidence: Vec::new(),
        details,
    }
}

pub fn profile(root: &Path, language: Language, frameworks: Vec<Framework>) -> ProjectProfile {
    ProjectProfile {
        schema_version: billing_detect::SCHEMA_VERSION,
        root: root.display().to_string(),
        packages: vec![Package {
            path: ".".to_owned(),
            name: None,
            language,
            module_system: None,
            package_manager: None,
            frameworks,
            src_dir: false,
            aliases: Vec::new(),
            integrations: Vec::new(),
            call_sites: Vec::new(),
            not_billed: Vec::new(),
            env_vars: Vec::new(),
            workspace: None,
            tsconfig: None,
            manifests: Vec::new(),
            sample_of: None,
            user_key: None,
        }],
        warnings: Vec::new(),
        notes: Vec::new(),
    }
}

/// Copies the fixture directory `from` into `to` (created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Writes every file of `changes` under `root`, checking that modifications start from the
/// file's current text (what `apply` enforces).
pub fn write_changes(root: &Path, changes: &ChangeSet) {
    for file in &changes.files {
        let path = root.join(&file.path);
        if let Some(before) = &file.before {
            assert_eq!(
                &std::fs::read_to_string(&path).unwrap(),
                before,
                "{}",
                file.path
            );
        } else {
            assert!(!path.exists(), "{} is created but exists", file.path);
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file.after).unwrap();
    }
}

/// Generates for the fixture copied at `root` and writes the result.
pub fn generate_into(root: &Path, profile: &ProjectProfile, plan: &BillingPlan) -> ChangeSet {
    generate_into_with(root, profile, plan, false)
}

/// [`generate_into`], choosing the variant without the SDK (`Target::without_sdk`).
pub fn generate_into_with(
    root: &Path,
    profile: &ProjectProfile,
    plan: &BillingPlan,
    without_sdk: bool,
) -> ChangeSet {
    let target = billing_generate::Target {
        root,
        profile,
        package: &profile.packages[0],
        plan,
        without_sdk,
    };
    let changes = billing_generate::generate(&target).unwrap_or_else(|e| panic!("generate: {e}"));
    write_changes(root, &changes);
    changes
}

pub fn codegen_fixture(language_dir: &str, name: &str) -> PathBuf {
    common::fixtures()
        .join("codegen")
        .join(language_dir)
        .join(name)
}

/// A toolchain binary, or `None` (after saying why) when it is missing outside CI.
/// In CI a missing toolchain fails the test: it must never pass silently.
#[allow(clippy::print_stderr)] // the reason for a skip must be visible in the test log
pub fn toolchain(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "{what} not found at {} (run scripts/install-test-deps.sh)",
        path.display()
    );
    if common::in_ci() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// `tests/toolchains/node/node_modules`: the real packages generated TypeScript is checked
/// against.
pub fn node_modules() -> PathBuf {
    common::repo_root().join("tests/toolchains/node/node_modules")
}

/// The real `tsc` of `tests/toolchains/node`, its `node_modules` linked into `root` so the
/// project compiles against the real packages; `None` as [`toolchain`] says.
pub fn link_tsc(root: &Path) -> Option<PathBuf> {
    let tsc = toolchain(node_modules().join("typescript/bin/tsc"), "tsc")?;
    std::os::unix::fs::symlink(node_modules(), root.join("node_modules"))
        .expect("link node_modules");
    Some(tsc)
}

/// `tsc -p tsconfig.json` in `root`: whether it passed, and what it printed.
pub fn run_tsc(tsc: &Path, root: &Path) -> (bool, String) {
    let out = Command::new("node")
        .arg(tsc)
        .args(["-p", "tsconfig.json"])
        .current_dir(root)
        .output()
        .expect("run tsc");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A program on PATH, with the same CI rule as [`toolchain`].
pub fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => Some(path),
        None => toolchain(PathBuf::from(format!("<PATH>/{name}")), name),
    }
}

/// Runs a command, returning stdout+stderr, panicking with both on failure.
pub fn run_ok(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{text}",
        output.status
    );
    text
}

/// A minimal HTTP/1.1 client (one request per connection) so runtime tests need no extra
/// crates: returns the status and body.
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// POSTs headers announcing a 300 MB body and sends none of it: a handler that waited to
/// read the body would time out; one that checks the length first answers at once.
pub fn declared_oversize_status(url: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = [0u8; 64];
    let n = stream
        .read(&mut response)
        .expect("an answer before the body is sent");
    String::from_utf8_lossy(&response[..n])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The emulator's API as the runtime tests use it.
pub struct Api<'a> {
    pub base: &'a str,
    pub token: &'a str,
}

/// A local emulator (stopped when dropped) and its base URL.
pub fn emulator() -> (billing_emulator::BackgroundEmulator, String) {
    let emulator = billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
        .expect("start the emulator");
    let base_url = emulator.base_url();
    (emulator, base_url)
}

impl<'a> Api<'a> {
    /// The API of `emulator` at `base_url` (its URL, as [`emulator`] gives it), with its token.
    pub fn of(emulator: &'a billing_emulator::BackgroundEmulator, base_url: &'a str) -> Self {
        Api {
            base: base_url,
            token: emulator.token(),
        }
    }
}

impl Api<'_> {
    pub fn call(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let auth = format!("Bearer {}", self.token);
        let (status, text) = http(
            method,
            &format!("{}{path}", self.base),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body,
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(
            (200..300).contains(&status),
            "{method} {path}: HTTP {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Creates the plan's meter in the emulator; returns its id.
    pub fn create_meter(&self, meter: &billing_plan::Meter) -> String {
        let func = serde_json::to_value(meter.aggregation.func).unwrap();
        let mut aggregation = serde_json::json!({ "func": func });
        if let Some(property) = &meter.aggregation.property {
            aggregation["property"] = serde_json::json!(property);
        }
        let body = serde_json::json!({
            "name": meter.name,
            "filter": {"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": meter.event}]},
            "aggregation": aggregation,
        });
        self.call("POST", "/v1/meters/", &body.to_string())["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// What the meter counts for one customer (the app's own id) over the last day.
    pub fn meter_total(&self, meter_id: &str, customer: &str) -> f64 {
        let now = chrono_like_now();
        let path = format!(
            "/v1/meters/{meter_id}/quantities?start_timestamp={}&end_timestamp={}&interval=day&external_customer_id={customer}",
            now.0, now.1
        );
        let value = self.call("GET", &path, "");
        value["total"]
            .as_f64()
            .unwrap_or_else(|| panic!("no total in {value}"))
    }

    /// Every event the emulator stored for the customer.
    pub fn events(&self, customer: &str) -> Vec<serde_json::Value> {
        let value = self.call(
            "GET",
            &format!("/v1/events/?external_customer_id={customer}&limit=100"),
            "",
        );
        value["items"].as_array().cloned().unwrap_or_default()
    }
}

/// Yesterday and tomorrow as `YYYY-MM-DDT00:00:00Z` (no date crate needed).
fn chrono_like_now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = |d: i64| {
        // Civil-from-days (Howard Hinnant), enough for timestamps in a test.
        let z = d + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let dd = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{dd:02}T00:00:00Z")
    };
    let today = secs.div_euclid(86_400);
    (day(today - 1), day(today + 2))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers (any status), or panics after `seconds`.
pub fn wait_until_up(url: &str, seconds: u64, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if http("GET", url, &[], "").is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early with {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{url} did not come up in {seconds}s");
}

/// Sends `signal` (e.g. "TERM", "INT") and waits for the exit, panicking after `seconds`.
pub fn stop(child: &mut std::process::Child, signal: &str, seconds: u64) -> std::process::Output {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not stop within {seconds}s after SIG{signal}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    std::process::Output {
        status: child.try_wait().unwrap().unwrap(),
        stdout: stdout.into_bytes(),
        stderr: stderr.into_bytes(),
    }
}

/// Standard Webhooks headers for `body` signed with `secret`.
pub fn signed_headers(secret: &str, body: &str) -> Vec<(String, String)> {
    // A fresh webhook-id per delivery: handlers ignore a replayed id.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let id = format!(
        "msg_test_{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = billing_emulator::sign_webhook(secret, &id, ts, body);
    vec![
        ("webhook-id".to_owned(), id),
        ("webhook-timestamp".to_owned(), ts.to_string()),
        ("webhook-signature".to_owned(), format!("v1,{signature}")),
        ("content-type".to_owned(), "application/json".to_owned()),
    ]
}

/// A realistic signed `order.paid` payload (validates against spaire-sdk's models).
pub fn order_paid_body() -> String {
    std::fs::read_to_string(common::fixtures().join("codegen/webhooks/order.paid.json"))
        .expect("order.paid fixture")
}

/// What generation does to a project, for snapshots: every file with its action, origin and
/// summary, the full text of each edited user file (the parts a reviewer must trust), and
/// the manual steps.
pub fn describe(changes: &ChangeSet) -> String {
    let mut out = String::new();
    for file in &changes.files {
        out.push_str(&format!(
            "{:?} {:?} {} - {}\n",
            file.action, file.origin, file.path, file.summary
        ));
    }
    for file in changes
        .files
        .iter()
        .filter(|f| f.origin == billing_changeset::FileOrigin::Wired)
    {
        out.push_str(&format!("\n--- {} (after)\n{}", file.path, file.after));
    }
    for step in &changes.manual_steps {
        out.push_str(&format!(
            "\n--- manual step in {}: {}\n{}\n",
            step.file,
            step.instructions,
            step.snippet.as_deref().unwrap_or("")
        ));
    }
    let mut env: Vec<&str> = changes.env_vars.iter().map(|v| v.name.as_str()).collect();
    env.sort_unstable();
    out.push_str(&format!("\nenv: {}\n", env.join(", ")));
    for install in &changes.installs {
        out.push_str(&format!("install: {}\n", install.argv.join(" ")));
    }
    out
}

/// The differential half of the LLM-event checks: with `SPAIRE_DIFF_SERVER_URL` and
/// `SPAIRE_DIFF_SERVER_TOKEN` set (a real Spaire server on 127.0.0.1 and the token of a fresh
/// organization, see scripts/differential/README.md), `check` runs the same generated
/// recorder against it, and its event count and every meter total must equal the emulator's
/// `report`. Without them (CI has no real server) nothing runs.
pub fn same_as_real_server(
    report: &serde_json::Value,
    check: impl FnOnce(&str, &str) -> serde_json::Value,
) {
    let (Ok(url), Ok(token)) = (
        std::env::var("SPAIRE_DIFF_SERVER_URL"),
        std::env::var("SPAIRE_DIFF_SERVER_TOKEN"),
    ) else {
        return;
    };
    let host = url
        .trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap_or_default();
    assert_eq!(
        host, "127.0.0.1",
        "the real server must run on this machine"
    );
    let real = check(&url, &token);
    eprintln!("real server: {real}\nemulator:    {report}");
    assert_eq!(
        real["events"], report["events"],
        "real {real}\nemulator {report}"
    );
    let (real_meters, emulator_meters) = (real["meters"].as_object(), report["meters"].as_object());
    let (Some(real_meters), Some(emulator_meters)) = (real_meters, emulator_meters) else {
        panic!("no meter totals: real {real}\nemulator {report}");
    };
    assert_eq!(real_meters.len(), emulator_meters.len());
    for (property, total) in emulator_meters {
        let real_total = real_meters[property].as_f64().expect("a number");
        let total = total.as_f64().expect("a number");
        assert!(
            (real_total - total).abs() < 1e-9,
            "meter on {property}: real server {real_total}, emulator {total}"
        );
    }
}

/// A generated recorder driven by a script of the test's (`delivery`, `ingest_rate`): the
/// program that runs it, the project directory, and the generated usage module.
pub struct DriverApp {
    pub program: PathBuf,
    pub dir: tempfile::TempDir,
    pub usage: PathBuf,
}

/// The Express (CommonJS JavaScript) fixture with `plan` generated into it, the Node test
/// toolchain linked and `driver` written as `driver.cjs`; `None` as [`toolchain`] says.
pub fn node_driver_app(plan: &BillingPlan, driver: &str) -> Option<DriverApp> {
    let node = program("node")?;
    let modules = toolchain(
        common::repo_root().join("tests/toolchains/node/node_modules"),
        "the Node test toolchain",
    )?;
    let dir = tempfile::tempdir().unwrap();
    let fixture = crate::codegen_ts::fixtures()
        .into_iter()
        .find(|f| f.name == "express-cjs-js")
        .unwrap();
    copy_dir(&codegen_fixture("ts", fixture.name), dir.path());
    generate_into(
        dir.path(),
        &crate::codegen_ts::profile_for(dir.path(), &fixture),
        plan,
    );
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
    std::fs::write(dir.path().join("driver.cjs"), driver).unwrap();
    let usage = find_file(dir.path(), "usage.js");
    Some(DriverApp {
        program: node,
        dir,
        usage,
    })
}

/// The net/http fixture (GOPATH mode, module `example.com/CASE`) with `plan` generated into
/// it and `driver` (a `package main` importing `example.com/CASE/internal/spairebilling`)
/// built; `program` is the binary. `None` without Go.
pub fn go_driver_app(plan: &BillingPlan, driver: &str) -> Option<DriverApp> {
    let go = program("go")?;
    let gopath = tempfile::tempdir().unwrap();
    let case = "driver";
    let dir = gopath.path().join("src/example.com").join(case);
    copy_dir(&codegen_fixture("go", "nethttp"), &dir);
    std::fs::write(
        dir.join("go.mod"),
        format!("module example.com/{case}\n\ngo 1.19\n"),
    )
    .unwrap();
    generate_into(
        &dir,
        &crate::codegen_other::profile(&dir, Language::Go, FrameworkId::GoNethttp),
        plan,
    );
    std::fs::create_dir_all(dir.join("cmd/driver")).unwrap();
    std::fs::write(dir.join("cmd/driver/main.go"), driver.replace("CASE", case)).unwrap();
    let binary = dir.join("driver-bin");
    run_ok(
        Command::new(go)
            .args(["build", "-o", binary.to_str().unwrap(), "./cmd/driver"])
            .current_dir(&dir)
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            .env("GOPATH", gopath.path()),
        "go build driver",
    );
    let usage = find_file(&dir, "usage.go");
    Some(DriverApp {
        program: binary,
        dir: gopath,
        usage,
    })
}

/// The Rails fixture with `plan` generated into it and `driver` written as `driver.rb` (it
/// can `require_relative "lib/spaire_billing"`). `None` without Ruby.
pub fn ruby_driver_app(plan: &BillingPlan, driver: &str) -> Option<DriverApp> {
    let ruby = program("ruby")?;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&codegen_fixture("ruby", "rails"), dir.path());
    generate_into(
        dir.path(),
        &crate::codegen_other::profile(dir.path(), Language::Ruby, FrameworkId::Rails),
        plan,
    );
    std::fs::write(dir.path().join("driver.rb"), driver).unwrap();
    let usage = find_file(dir.path(), "usage.rb");
    Some(DriverApp {
        program: ruby,
        dir,
        usage,
    })
}

/// The Flask fixture with `plan` generated into it and `driver` written as `driver.py`, its
/// `PACKAGE` replaced by the generated package's dotted name; `None` as [`toolchain`] says.
pub fn python_driver_app(plan: &BillingPlan, driver: &str) -> Option<DriverApp> {
    let python = crate::codegen_py::venv_python()?;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&codegen_fixture("py", "flask"), dir.path());
    generate_into(
        dir.path(),
        &crate::codegen_py::fixture_profile("flask", dir.path()),
        plan,
    );
    let usage = find_file(dir.path(), "usage.py");
    let package = usage
        .parent()
        .unwrap()
        .strip_prefix(dir.path())
        .unwrap()
        .to_string_lossy()
        .replace('/', ".");
    std::fs::write(
        dir.path().join("driver.py"),
        driver.replace("PACKAGE", &package),
    )
    .unwrap();
    Some(DriverApp {
        program: python,
        dir,
        usage,
    })
}

/// The generated file `name` under `root` (outside `node_modules`).
pub fn find_file(root: &Path, name: &str) -> PathBuf {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                return path;
            }
        }
    }
    panic!("{name} not generated under {}", root.display());
}
