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
//!
//! On Vercel the recorder itself hands each event's flush to `@vercel/functions`' `waitUntil`
//! (the real package, given the request context Vercel's runtime installs), which also covers LLM / S3 call sites:
//! `llm_usage_on_vercel_is_stored_before_the_function_freezes`.

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
/// the driver as `wait-until-main.ts`. `Mode::Vercel`: see
/// [`crate::codegen_ts::declare_vercel_functions`]; the drivers install the request context
/// Vercel's runtime provides, so the package's own `waitUntil` is what the recorder calls.
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
        crate::codegen_ts::declare_vercel_functions(&dir, toolchain);
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

/// What a wired LLM call site does inside a handler on Vercel (`recordLlmUsage` after the
/// model answered), then the function "freezes": the driver waits only for what was handed to
/// `waitUntil` and exits with `process.exit`, which skips every exit hook.
const LLM_DRIVER: &str = r#"import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
const usage = await import(pathToFileURL(resolve(process.argv[2])).href);
// What Vercel's runtime installs for each invocation: the context @vercel/functions reads.
const handed = [];
if (process.env.VERCEL === "1") {
  globalThis[Symbol.for("@vercel/request-context")] = { get: () => ({ waitUntil: (p) => handed.push(p) }) };
}
usage.recordLlmUsage("cust-wait", { inputTokens: 12, outputTokens: 5 }, "gpt-4o-mini");
await Promise.all(handed);
console.log(JSON.stringify({ handed: handed.length, ...usage.usageRecorderStats() }));
process.exit(0);
"#;

/// LLM / S3 call sites have no request context to find a `waitUntil` in; on Vercel the
/// recorder reaches it through `@vercel/functions`, for every framework but Next.js 15+.
#[test]
fn llm_usage_on_vercel_is_stored_before_the_function_freezes() {
    let Some(toolchain) = crate::codegen_ts::node_toolchain("node") else {
        return;
    };
    codegen::toolchain(toolchain.join("node_modules").join("tsx"), "tsx").expect("tsx");
    let work = tempfile::tempdir().unwrap();
    let emulator = billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
        .expect("emulator");
    let fixture = crate::codegen_ts::fixtures()
        .into_iter()
        .find(|f| f.name == "astro")
        .expect("fixture");
    let dir = work.path().join("astro");
    codegen::copy_dir(&codegen::codegen_fixture("ts", fixture.name), &dir);
    crate::codegen_ts::declare_vercel_functions(&dir, &toolchain);
    let mut plan = codegen::plan(
        &["llm-tokens"],
        Pricing::Unit,
        false,
        Some(&emulator.base_url()),
    );
    plan.customer = CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    };
    codegen::generate_into(&dir, &crate::codegen_ts::profile_for(&dir, &fixture), &plan);
    std::fs::write(dir.join("llm-main.ts"), LLM_DRIVER).unwrap();
    std::os::unix::fs::symlink(toolchain.join("node_modules"), dir.join("node_modules")).unwrap();
    let run = |vercel: bool| {
        let mut command = Command::new("node");
        command
            .args(["--import", "tsx", "llm-main.ts", "src/lib/spaire/usage.ts"])
            .current_dir(&dir)
            .env("SPAIRE_SERVER_URL", emulator.base_url())
            .env("SPAIRE_ACCESS_TOKEN", emulator.token())
            .env_remove("VERCEL");
        if vercel {
            command.env("VERCEL", "1");
        }
        let output = command.output().expect("run node");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("report");
        report
    };
    let api = codegen::Api {
        base: &emulator.base_url(),
        token: emulator.token(),
    };
    // Off Vercel (VERCEL unset): nothing handed, the event waits for the timer, and the
    // process exits without it.
    let off = run(false);
    assert_eq!(off["handed"], 0, "{off}");
    assert_eq!(off["queued"], 1, "{off}");
    assert_eq!(api.events(CUSTOMER).len(), 0, "{off}");
    let on = run(true);
    assert_eq!(on["handed"], 1, "{on}");
    assert_eq!(on["delivered"], 1, "{on}");
    assert_eq!(
        api.events(CUSTOMER).len(),
        1,
        "the emulator has the event: {on}"
    );
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
