//! Meta-frameworks on serverless adapters (issue 16): the generated SvelteKit, Astro, Remix /
//! React Router and Nuxt API-call middleware hands the flush of the request's events to the
//! platform's `waitUntil` when the request carries one, and leaves them to the recorder's
//! timer on a long-running server (no flush per request, which would spend the organization's
//! ingestion rate limit one request at a time).
//!
//! Each generated adapter is driven with one billed request by
//! `tests/fixtures/codegen/ts/runtime/wait-until.ts` (real framework modules where the
//! middleware needs them: h3 for Nuxt). Their types are checked against the real frameworks by
//! `codegen_ts::generated_typescript_type_checks_for_every_framework_and_plan`.

use std::path::{Path, PathBuf};
use std::process::Command;

use billing_plan::CustomerSource;

use crate::codegen::{self, Pricing};

/// (fixture, adapter module, usage module), package-relative.
const ADAPTERS: &[(&str, &str, &str)] = &[
    (
        "sveltekit",
        "src/lib/server/spaire/sveltekit.ts",
        "src/lib/server/spaire/usage.ts",
    ),
    (
        "astro",
        "src/lib/spaire/astro.ts",
        "src/lib/spaire/usage.ts",
    ),
    (
        "remix",
        "app/.server/spaire/remix.ts",
        "app/.server/spaire/usage.ts",
    ),
    (
        "react-router",
        "app/.server/spaire/remix.ts",
        "app/.server/spaire/usage.ts",
    ),
    (
        "nuxt",
        "server/middleware/spaire-api-calls.ts",
        "server/spaire/usage.ts",
    ),
];

const CUSTOMER: &str = "cust-wait";

/// How the request reaches the adapter.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// With the framework's execution context and its `waitUntil`.
    Platform,
    /// On Vercel: no execution context, `VERCEL=1`, the app depends on `@vercel/functions`.
    Vercel,
    /// A long-running server: none of these.
    Server,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Platform => "platform",
            Mode::Vercel => "vercel",
            Mode::Server => "server",
        }
    }
}

#[test]
fn api_calls_flush_through_the_platforms_wait_until() {
    let Some(toolchain) = crate::codegen_ts::node_toolchain("node") else {
        return;
    };
    codegen::toolchain(toolchain.join("node_modules").join("tsx"), "tsx").expect("tsx");
    let work = tempfile::tempdir().unwrap();
    for (fixture, adapter, usage) in ADAPTERS {
        for mode in [Mode::Platform, Mode::Vercel, Mode::Server] {
            // A fresh emulator per run: the count below is this run's alone.
            let emulator =
                billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
                    .expect("emulator");
            let app = generated_app(
                &work.path().join(mode.arg()),
                fixture,
                mode,
                &emulator,
                &toolchain,
            );
            let report = drive(&app, fixture, adapter, usage, mode, &emulator);
            let context = format!("{fixture} ({}): {report:#}", mode.arg());
            let api = codegen::Api {
                base: &emulator.base_url(),
                token: emulator.token(),
            };
            let counted = api.events(CUSTOMER).len();
            if mode == Mode::Server {
                // A long-running server: queued for the timer, nothing sent per request.
                assert_eq!(report["handed"], 0, "{context}");
                assert_eq!(report["queued"], 1, "{context}");
                assert_eq!(report["delivered"], 0, "{context}");
                assert_eq!(counted, 0, "{context}");
            } else {
                // waitUntil got the flush (called on its context); awaiting it delivered the
                // event before the process exited without running any exit hook.
                assert_eq!(report["handed"], 1, "{context}");
                assert_eq!(report["boundToContext"], true, "{context}");
                assert_eq!(report["queued"], 0, "{context}");
                assert_eq!(report["delivered"], 1, "{context}");
                assert_eq!(counted, 1, "the emulator counts the event: {context}");
            }
        }
    }
}

/// The fixture with API-call metering generated into it (customer id from `x-customer-id`),
/// the driver as `wait-until-main.ts`. `Mode::Vercel`: the app declares `@vercel/functions`
/// and a stand-in for it sits in `work/node_modules` (Node looks there after the app's own
/// node_modules), keeping what its `waitUntil` is given in `globalThis.__vercelHanded`.
fn generated_app(
    work: &Path,
    fixture_name: &str,
    mode: Mode,
    emulator: &billing_emulator::BackgroundEmulator,
    toolchain: &Path,
) -> PathBuf {
    let fixture = crate::codegen_ts::fixtures()
        .into_iter()
        .find(|f| f.name == fixture_name)
        .expect("fixture");
    let dir = work.join(fixture_name);
    codegen::copy_dir(&codegen::codegen_fixture("ts", fixture_name), &dir);
    if mode == Mode::Vercel {
        let manifest_path = dir.join("package.json");
        let mut manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
        manifest["dependencies"]["@vercel/functions"] = serde_json::json!("^3.0.0");
        std::fs::write(&manifest_path, manifest.to_string()).unwrap();
        let stand_in = work.join("node_modules/@vercel/functions");
        std::fs::create_dir_all(&stand_in).unwrap();
        std::fs::write(
            stand_in.join("package.json"),
            r#"{ "name": "@vercel/functions", "type": "module", "exports": "./index.js" }"#,
        )
        .unwrap();
        std::fs::write(
            stand_in.join("index.js"),
            "export function waitUntil(promise) {\n  (globalThis.__vercelHanded ??= []).push(promise);\n}\n",
        )
        .unwrap();
    }
    let profile = crate::codegen_ts::profile_for(&dir, &fixture);
    let mut plan = codegen::plan(
        &["api-calls"],
        Pricing::Unit,
        false,
        Some(&emulator.base_url()),
    );
    plan.customer = CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    };
    let changes = codegen::generate_into(&dir, &profile, &plan);
    let imports_vercel = changes
        .files
        .iter()
        .any(|f| f.after.contains("\"@vercel/functions\""));
    assert_eq!(
        imports_vercel,
        mode == Mode::Vercel,
        "{fixture_name}: @vercel/functions is imported exactly when the app declares it"
    );
    std::fs::copy(
        codegen::codegen_fixture("ts", "runtime").join("wait-until.ts"),
        dir.join("wait-until-main.ts"),
    )
    .unwrap();
    std::os::unix::fs::symlink(toolchain.join("node_modules"), dir.join("node_modules")).unwrap();
    dir
}

fn drive(
    app: &Path,
    fixture: &str,
    adapter: &str,
    usage: &str,
    mode: Mode,
    emulator: &billing_emulator::BackgroundEmulator,
) -> serde_json::Value {
    let mut command = Command::new("node");
    command
        .args([
            "--import",
            "tsx",
            "wait-until-main.ts",
            fixture,
            adapter,
            usage,
            mode.arg(),
        ])
        .current_dir(app)
        .env("SPAIRE_SERVER_URL", emulator.base_url())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .env_remove("VERCEL");
    if mode == Mode::Vercel {
        command.env("VERCEL", "1");
    }
    let output = command.output().expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{fixture} ({}) failed:\n{stdout}\n{}",
        mode.arg(),
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}
