//! Serverless platforms freeze a function once its request is done, and a frozen process runs
//! no timers (issue 16). Where the request carries the platform's `waitUntil`, the generated
//! SvelteKit, Astro, Hono, Remix / React Router and Nuxt adapters hand it the flush of what
//! the request recorded: the API call they bill, and LLM events the app records on any path
//! (a page, a streamed answer whose usage is recorded when the stream ends), in one ingest
//! request per request. On a long-running server they leave events to the recorder's timer
//! (no flush per request, which would spend the organization's ingestion rate limit one
//! request at a time).
//!
//! Each generated adapter is driven by `tests/fixtures/codegen/ts/runtime/wait-until.ts` (real
//! framework modules where the adapter needs them: Hono, h3 for Nuxt, React Router's
//! `RouterContextProvider`). Their types are checked against the real frameworks by
//! `codegen_ts::generated_typescript_type_checks_for_every_framework_and_plan`.
//!
//! On Vercel the recorder itself hands each event's flush to `@vercel/functions`' `waitUntil`
//! (the real package, given the request context Vercel's runtime installs), which also covers
//! LLM / S3 call sites, with one ingest request for the events recorded together:
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
    ("hono", "src/lib/spaire/hono.ts", "src/lib/spaire/usage.ts"),
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

/// Per request of the driver: the events it records.
const SCENARIOS: &[(&str, usize)] = &[
    ("billed", 1),
    ("billed-llm", 2),
    ("page-llm", 1),
    ("stream-llm", 1),
];

#[test]
fn every_request_that_recorded_usage_flushes_through_the_platforms_wait_until() {
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
            let mut recorded = 0;
            for (name, events) in SCENARIOS {
                let run = &report["scenarios"][name];
                let context = format!("{name}: {context}");
                recorded += events;
                if mode == Mode::Server {
                    // A long-running server: queued for the timer, nothing sent per request.
                    assert_eq!(run["handed"], 0, "{context}");
                    assert_eq!(run["ingests"], 0, "{context}");
                    assert_eq!(run["queued"], *events, "{context}");
                } else {
                    // waitUntil got the flush; awaiting only that delivered the request's
                    // events, in one ingest request. (Nuxt on Vercel records the API call
                    // once the response went out over the socket, which may come after the
                    // LLM event's flush has left: one request each then.)
                    assert!(run["handed"].as_u64() >= Some(1), "{context}");
                    let apart = mode == Mode::Vercel && *fixture == "nuxt" && *events == 2;
                    let ingests = run["ingests"].as_u64().unwrap_or_default();
                    assert!(ingests == 1 || (apart && ingests == 2), "{context}");
                    assert_eq!(run["delivered"], *events, "{context}");
                    assert_eq!(run["queued"], 0, "{context}");
                }
            }
            // Called on its context (Workers refuse a detached `waitUntil`).
            assert_eq!(report["boundToContext"], true, "{context}");
            let counted = api.events(CUSTOMER).len();
            let expected = if mode == Mode::Server { 0 } else { recorded };
            assert_eq!(
                counted, expected,
                "the emulator's count after the process exited without exit hooks: {context}"
            );
        }
    }
}

/// The fixture with API-call and LLM metering generated into it (customer id from `x-customer-id`),
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
    let worker = matches!(fixture_name, "remix" | "react-router");
    if worker {
        // The Cloudflare template's Worker entry (React Router with `v8_middleware`).
        std::fs::create_dir_all(dir.join("workers")).unwrap();
        std::fs::write(dir.join("workers/app.ts"), WORKER_ENTRY).unwrap();
    }
    let profile = crate::codegen_ts::profile_for(&dir, &fixture);
    let mut plan = codegen::plan(
        &["api-calls", "llm-tokens"],
        Pricing::Unit,
        false,
        Some(&emulator.base_url()),
    );
    plan.customer = CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    };
    // The same billed paths for every framework (Hono's default is every path): /chat is not.
    for meter in &mut plan.meters {
        if meter.kind == billing_plan::MeterKind::ApiCalls {
            meter.paths = Some(vec!["/api/".to_owned()]);
        }
    }
    let changes = codegen::generate_into(&dir, &profile, &plan);
    if worker {
        // The line the driver's Worker `fetch` runs (`workerFetch`) is the one apply prints.
        let step = changes
            .manual_steps
            .iter()
            .find(|m| m.file.ends_with("workers/app.ts"))
            .unwrap_or_else(|| {
                panic!(
                    "{fixture_name}: no Worker step in {:#?}",
                    changes.manual_steps
                )
            });
        let snippet = step.snippet.as_deref().unwrap_or_default();
        assert!(
            snippet.contains(
                "return flushUsageWhenSent(ctx, await requestHandler(request, context));"
            ) && snippet.contains("import { flushUsageWhenSent } from \"")
                && snippet.contains(".server/spaire/remix\""),
            "{fixture_name}: {snippet}"
        );
    }
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

/// `workers/app.ts` of React Router's Cloudflare template with middleware on.
const WORKER_ENTRY: &str = r#"import { createContext, createRequestHandler, RouterContextProvider } from "react-router";

export const CloudflareContext = createContext<{ env: Env; ctx: ExecutionContext }>();

const requestHandler = createRequestHandler(
  () => import("virtual:react-router/server-build"),
  import.meta.env.MODE,
);

export default {
  async fetch(request, env, ctx) {
    const context = new RouterContextProvider();
    context.set(CloudflareContext, { env, ctx });
    return requestHandler(request, context);
  },
} satisfies ExportedHandler<Env>;
"#;

/// What a wired LLM call site does inside a handler on Vercel (`recordLlmUsage` after the
/// model answered), then the function "freezes": the driver waits only for what was handed to
/// `waitUntil` and exits with `process.exit`, which skips every exit hook.
const LLM_DRIVER: &str = r#"import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
let ingests = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if (String(input).includes("/v1/events/ingest")) ingests += 1;
  return realFetch(input, init);
};
const usage = await import(pathToFileURL(resolve(process.argv[2])).href);
// What Vercel's runtime installs for each invocation: the context @vercel/functions reads.
const handed = [];
if (process.env.VERCEL === "1") {
  globalThis[Symbol.for("@vercel/request-context")] = { get: () => ({ waitUntil: (p) => handed.push(p) }) };
}
// Two model calls in one invocation (an agent's steps): two events.
usage.recordLlmUsage("cust-wait", { inputTokens: 12, outputTokens: 5 }, "gpt-4o-mini");
await Promise.resolve();
usage.recordLlmUsage("cust-wait", { inputTokens: 30, outputTokens: 7 }, "gpt-4o-mini");
await Promise.all(handed);
console.log(JSON.stringify({ handed: handed.length, ingests, ...usage.usageRecorderStats() }));
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
    assert_eq!(off["queued"], 2, "{off}");
    assert_eq!(off["ingests"], 0, "{off}");
    assert_eq!(api.events(CUSTOMER).len(), 0, "{off}");
    let on = run(true);
    assert_eq!(on["handed"], 2, "{on}");
    assert_eq!(on["delivered"], 2, "{on}");
    // One ingest request for both: the first event's flush waits for the second (until
    // 2026-12-03 it sent the first alone and the second in a follow-up request).
    assert_eq!(on["ingests"], 1, "{on}");
    assert_eq!(
        api.events(CUSTOMER).len(),
        2,
        "the emulator has the events: {on}"
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
