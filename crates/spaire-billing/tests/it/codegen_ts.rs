//! Proof that generated TypeScript/JavaScript compiles, with the real toolchains: for every
//! framework fixture × preset × pricing × webhooks on/off, generate into a copy of the
//! fixture, add a probe file that calls the generated helpers the way wired call sites do
//! (AI SDK `generateText` / `streamText` results included), then type-check every case in one
//! Node process against the real `@spaire/sdk`, the framework packages and `ai@5`; the LLM
//! helpers are also checked against the current `ai` major.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use billing_changeset::{FileOrigin, ManualStep};
use billing_detect::{
    Alias, Evidence, FrameworkDetails, FrameworkId, Language, ModuleSystem, ProjectProfile,
};
use billing_plan::{BillingPlan, CustomerSource, MeterKind};

use crate::codegen::{self, PRESETS, PRICINGS, Pricing};
use crate::common;

/// A fixture project under `tests/fixtures/codegen/ts/` and what `detect` reports for it.
pub(crate) struct Fixture {
    pub(crate) name: &'static str,
    pub(crate) language: Language,
    module_system: ModuleSystem,
    src_dir: bool,
    aliases: &'static [(&'static str, &'static str)],
    framework: Option<FrameworkId>,
    major: Option<u64>,
    details: FrameworkDetails,
    pub(crate) customer: CustomerSource,
    /// Package-relative path of the probe file (inside the tsconfig's `include`).
    probe: &'static str,
}

fn header() -> CustomerSource {
    CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    }
}

fn details(f: impl FnOnce(&mut FrameworkDetails)) -> FrameworkDetails {
    let mut d = FrameworkDetails::default();
    f(&mut d);
    d
}

pub(crate) fn fixtures() -> Vec<Fixture> {
    use FrameworkId as F;
    let ts = Language::TypeScript;
    let esm = ModuleSystem::Esm;
    vec![
        Fixture {
            name: "next-app",
            language: ts,
            module_system: esm,
            src_dir: true,
            aliases: &[("@/*", "./src/*")],
            framework: Some(F::Nextjs),
            major: Some(15),
            details: details(|d| d.app_dir = Some("src/app".into())),
            customer: CustomerSource::Function {
                function: "getUserId".into(),
                module: "@/lib/auth".into(),
            },
            probe: "src/probe.ts",
        },
        Fixture {
            name: "next-pages",
            language: ts,
            module_system: esm,
            src_dir: false,
            aliases: &[("@/*", "./*")],
            framework: Some(F::Nextjs),
            major: Some(14),
            details: details(|d| d.pages_dir = Some("pages".into())),
            customer: CustomerSource::Body {
                field: "customerId".into(),
            },
            probe: "probe.ts",
        },
        Fixture {
            name: "express-esm",
            language: ts,
            module_system: esm,
            src_dir: true,
            aliases: &[],
            framework: Some(F::Express),
            major: Some(5),
            details: details(|d| {
                d.entry_file = Some("src/server.ts".into());
                d.app_variable = Some("app".into());
            }),
            customer: header(),
            probe: "src/probe.ts",
        },
        Fixture {
            name: "express-cjs-js",
            language: Language::JavaScript,
            module_system: ModuleSystem::Cjs,
            src_dir: false,
            aliases: &[],
            framework: Some(F::Express),
            major: Some(5),
            details: details(|d| {
                d.entry_file = Some("server.js".into());
                d.app_variable = Some("app".into());
            }),
            customer: header(),
            probe: "probe.js",
        },
        Fixture {
            name: "fastify",
            language: ts,
            module_system: esm,
            src_dir: true,
            aliases: &[],
            framework: Some(F::Fastify),
            major: Some(5),
            details: details(|d| {
                d.entry_file = Some("src/app.ts".into());
                d.app_variable = Some("app".into());
            }),
            customer: CustomerSource::Session,
            probe: "src/probe.ts",
        },
        Fixture {
            name: "hono",
            language: ts,
            module_system: esm,
            src_dir: true,
            aliases: &[],
            framework: Some(F::Hono),
            major: Some(4),
            details: details(|d| {
                d.entry_file = Some("src/index.ts".into());
                d.app_variable = Some("app".into());
            }),
            customer: CustomerSource::Body {
                field: "customerId".into(),
            },
            probe: "src/probe.ts",
        },
        Fixture {
            name: "elysia",
            language: ts,
            module_system: esm,
            src_dir: true,
            aliases: &[],
            framework: Some(F::Elysia),
            major: Some(1),
            details: details(|d| {
                d.entry_file = Some("src/index.ts".into());
                d.app_variable = Some("app".into());
            }),
            customer: header(),
            probe: "src/probe.ts",
        },
        Fixture {
            name: "sveltekit",
            language: ts,
            module_system: esm,
            src_dir: true,
            aliases: &[("$lib", "src/lib")],
            framework: Some(F::Sveltekit),
            major: Some(2),
            details: details(|d| d.routes_dir = Some("src/routes".into())),
            customer: CustomerSource::Session,
            probe: "src/probe.ts",
        },
        Fixture {
            name: "nuxt",
            language: ts,
            module_system: esm,
            src_dir: false,
            aliases: &[("~/*", "./*")],
            framework: Some(F::Nuxt),
            major: Some(3),
            details: details(|d| d.server_dir = Some("server".into())),
            customer: header(),
            probe: "server/probe.ts",
        },
        Fixture {
            name: "astro",
            language: ts,
            module_system: esm,
            src_dir: true,
            aliases: &[],
            framework: Some(F::Astro),
            major: Some(5),
            details: details(|d| d.output = Some("static".into())),
            customer: header(),
            probe: "src/probe.ts",
        },
        Fixture {
            name: "remix",
            language: ts,
            module_system: esm,
            src_dir: false,
            aliases: &[("~/*", "./app/*")],
            framework: Some(F::Remix),
            major: Some(2),
            details: details(|d| d.routes_dir = Some("app/routes".into())),
            customer: CustomerSource::Body {
                field: "customerId".into(),
            },
            probe: "app/probe.ts",
        },
        Fixture {
            name: "react-router",
            language: ts,
            module_system: esm,
            src_dir: false,
            aliases: &[("~/*", "./app/*")],
            framework: Some(F::ReactRouter),
            major: Some(7),
            details: details(|d| d.routes_dir = Some("app/routes".into())),
            customer: header(),
            probe: "app/probe.ts",
        },
        Fixture {
            name: "node-serverless",
            language: ts,
            module_system: esm,
            src_dir: false,
            aliases: &[],
            framework: Some(F::NodeServerless),
            major: None,
            details: FrameworkDetails::default(),
            customer: header(),
            probe: "api/probe.ts",
        },
    ]
}

pub(crate) fn profile_for(root: &Path, fixture: &Fixture) -> ProjectProfile {
    let frameworks = fixture
        .framework
        .map(|id| {
            let mut f = codegen::framework(id, fixture.details.clone());
            f.major = fixture.major;
            vec![f]
        })
        .unwrap_or_default();
    let mut profile = codegen::profile(root, fixture.language, frameworks);
    let package = &mut profile.packages[0];
    package.module_system = Some(fixture.module_system);
    package.src_dir = fixture.src_dir;
    package.aliases = fixture
        .aliases
        .iter()
        .map(|(prefix, target)| Alias {
            prefix: (*prefix).to_owned(),
            target: (*target).to_owned(),
            source: Evidence {
                file: "tsconfig.json".into(),
                line: None,
                text: String::new(),
            },
        })
        .collect();
    profile
}

/// Every (label, plan) of the matrix for a fixture.
fn cases(fixture: &Fixture) -> Vec<(String, BillingPlan)> {
    let mut out = Vec::new();
    for preset in PRESETS {
        for pricing in PRICINGS {
            for webhooks in [false, true] {
                let mut plan = codegen::plan(&[preset], *pricing, webhooks, None);
                plan.customer = fixture.customer.clone();
                let label = format!(
                    "{preset}-{pricing:?}-{}",
                    if webhooks { "wh" } else { "nowh" }
                )
                .to_lowercase();
                out.push((label, plan));
            }
        }
    }
    // Every meter kind in one plan: the helpers must coexist in one module.
    let mut all = codegen::plan(PRESETS, Pricing::Both, true, None);
    all.customer = fixture.customer.clone();
    out.push(("all-presets".to_owned(), all));
    // The app declares @vercel/functions (`declare_vercel_functions`): the recorder's Vercel
    // flush is generated. Next.js 15+ has `after()` instead.
    if !(fixture.framework == Some(FrameworkId::Nextjs) && fixture.major >= Some(15)) {
        let mut vercel = codegen::plan(&["api-calls"], Pricing::Unit, false, None);
        vercel.customer = fixture.customer.clone();
        out.push((VERCEL_CASE.to_owned(), vercel));
    }
    out
}

/// Label of the case whose app declares `@vercel/functions`.
const VERCEL_CASE: &str = "api-calls-vercel";

/// Declares `@vercel/functions` in the case's package.json. The toolchain installs the real
/// package (scripts/install-test-deps.sh); a toolchain without it fails here rather than
/// type-checking the Vercel branch against a hand-written declaration.
pub(crate) fn declare_vercel_functions(case_dir: &Path, toolchain: &Path) {
    let manifest_path = case_dir.join("package.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["dependencies"]["@vercel/functions"] = serde_json::json!("^3.9.9");
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    assert!(
        toolchain.join("node_modules/@vercel/functions").is_dir(),
        "{} has no @vercel/functions: run scripts/install-test-deps.sh",
        toolchain.display()
    );
}

fn has(plan: &BillingPlan, kind: MeterKind) -> bool {
    plan.meters.iter().any(|m| m.kind == kind)
}

/// A file that uses the generated helpers the way wired call sites do.
fn probe(fixture: &Fixture, plan: &BillingPlan, usage_spec: &str) -> String {
    let balance_spec = usage_spec.replacen("usage", "balance", 1);
    if fixture.language == Language::JavaScript {
        let mut names = vec!["flushUsage", "usageRecorderStats", "recordUsage"];
        let mut body = String::from("  recordUsage(userId, \"custom-event\", { units: 1 });\n");
        if has(plan, MeterKind::LlmTokens) {
            names.push("recordLlmUsage");
            body.push_str("  recordLlmUsage(userId, { inputTokens: 1, outputTokens: 2, totalTokens: 3 }, \"gpt-4o\");\n");
        }
        if has(plan, MeterKind::ApiCalls) {
            names.push("recordApiCall");
            body.push_str("  recordApiCall(userId, \"/api/ping\", \"GET\");\n");
        }
        if has(plan, MeterKind::Storage) {
            names.push("recordStorageUpload");
            body.push_str("  recordStorageUpload(userId, 5, { bucket: \"b\" });\n");
        }
        if has(plan, MeterKind::ComputeTime) {
            names.push("startComputeTimer");
            body.push_str("  const timer = startComputeTimer(userId);\n  timer.stop();\n");
        }
        let balance = if plan.uses_credits() {
            format!("const {{ hasCreditsRemaining }} = require(\"{balance_spec}\");\n")
        } else {
            String::new()
        };
        let check = if plan.uses_credits() {
            "  await hasCreditsRemaining(userId);\n"
        } else {
            ""
        };
        return format!(
            "\"use strict\";\nconst {{ {} }} = require(\"{usage_spec}\");\n{balance}\nasync function probe(userId) {{\n{body}{check}  await flushUsage();\n  return usageRecorderStats().dropped;\n}}\n\nmodule.exports = {{ probe }};\n",
            names.join(", ")
        );
    }
    let mut imports = vec!["flushUsage", "usageRecorderStats", "recordUsage"];
    let mut head = String::new();
    let mut body =
        String::from("  recordUsage(userId, \"custom-event\", { units: 1, label: \"x\" });\n");
    if has(plan, MeterKind::LlmTokens) {
        imports.extend([
            "recordLlmUsage",
            "llmUsageOnFinish",
            "llmUsageCallbacks",
            "recordLlmResponse",
            "llmTokenCounts",
        ]);
        head.push_str("import { generateText, streamText } from \"ai\";\nimport { openai } from \"@ai-sdk/openai\";\n");
        body.push_str(concat!(
            "  const result = await generateText({ model: openai(\"gpt-4o\"), prompt: \"hi\" });\n",
            "  recordLlmUsage(userId, result.usage, \"gpt-4o\");\n",
            "  recordLlmUsage(userId, result.totalUsage);\n",
            "  recordLlmUsage(userId, undefined);\n",
            "  const stream = streamText({\n",
            "    model: openai(\"gpt-4o\"),\n",
            "    prompt: \"hi\",\n",
            "    onFinish: ({ usage }) => recordLlmUsage(userId, usage, \"gpt-4o\"),\n",
            "  });\n",
            "  const again = streamText({ model: openai(\"gpt-4o\"), prompt: \"hi\", onFinish: llmUsageOnFinish(userId, \"gpt-4o\") });\n",
            "  const third = streamText({ model: openai(\"gpt-4o\"), prompt: \"hi\", ...llmUsageCallbacks(userId, openai(\"gpt-4o\")) });\n",
            "  recordLlmUsage(userId, result.totalUsage, openai(\"gpt-4o\"), { providerMetadata: result.providerMetadata });\n",
            "  recordLlmResponse(userId, { model: \"gpt-4o\", usage: { prompt_tokens: 1, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 1 } } });\n",
            "  const counts: number = llmTokenCounts(result.usage).reasoningTokens;\n",
            "  void stream;\n  void again;\n  void third;\n  void counts;\n",
        ));
    }
    if has(plan, MeterKind::ApiCalls) {
        imports.push("recordApiCall");
        body.push_str("  recordApiCall(userId, \"/api/ping\", \"GET\");\n  recordApiCall(userId, \"/api/ping\");\n");
    }
    if has(plan, MeterKind::Storage) {
        imports.extend(["recordStorageUpload", "byteLengthOf"]);
        body.push_str("  recordStorageUpload(userId, byteLengthOf(\"hello\") ?? 0, { bucket: \"b\", key: \"k\" });\n");
    }
    if has(plan, MeterKind::ComputeTime) {
        imports.push("startComputeTimer");
        body.push_str("  const timer = startComputeTimer(userId);\n  const elapsed: number = timer.stop();\n  void elapsed;\n");
    }
    if plan.uses_credits() {
        head.push_str(&format!(
            "import {{ getMeterBalances, hasCreditsRemaining }} from \"{balance_spec}\";\n"
        ));
        body.push_str("  const enough: boolean = await hasCreditsRemaining(userId);\n  const all = await getMeterBalances(userId);\n  void enough;\n  void all.map((b) => b.meterName + b.balance);\n");
    }
    format!(
        "{head}import {{ {} }} from \"{usage_spec}\";\n\nexport async function probe(userId: string): Promise<number> {{\n{body}  await flushUsage();\n  return usageRecorderStats().dropped;\n}}\n",
        imports.join(", ")
    )
}

fn link_node_modules(case_dir: &Path, toolchain: &Path) {
    std::os::unix::fs::symlink(
        toolchain.join("node_modules"),
        case_dir.join("node_modules"),
    )
    .expect("symlink node_modules");
}

/// Structural checks on one generated change set (what tsc cannot see).
fn check_changes(
    fixture: &Fixture,
    plan: &BillingPlan,
    label: &str,
    changes: &billing_changeset::ChangeSet,
) {
    let header = billing_generate::render::header_line("//");
    for file in &changes.files {
        if file.origin == FileOrigin::Generated {
            assert!(
                file.after.starts_with(&header),
                "{}/{label}: {} lacks the header",
                fixture.name,
                file.path
            );
        }
        assert!(
            !file.after.contains("@spaire/ingestion") && !file.after.contains("@spaire/nextjs"),
            "{}: {}",
            label,
            file.path
        );
    }
    let paths: Vec<&str> = changes.files.iter().map(|f| f.path.as_str()).collect();
    let any = |needle: &str| paths.iter().any(|p| p.contains(needle));
    assert_eq!(
        any("/balance."),
        plan.uses_credits(),
        "{}/{label}: balance module iff credits: {paths:?}",
        fixture.name
    );
    assert_eq!(
        any("/webhooks."),
        plan.webhooks.is_some(),
        "{}/{label}: webhooks: {paths:?}",
        fixture.name
    );
    let client = changes
        .files
        .iter()
        .find(|f| f.path.contains("/client."))
        .expect("client module");
    assert!(
        client
            .after
            .contains(&format!("\"{}\"", plan.effective_server_url())),
        "server URL default follows the plan"
    );
    assert!(
        client.after.contains("SPAIRE_SERVER_URL") && client.after.contains("SPAIRE_ACCESS_TOKEN")
    );
    let usage = changes
        .files
        .iter()
        .find(|f| f.path.contains("/usage."))
        .expect("usage module");
    for meter in &plan.meters {
        assert!(
            usage.after.contains(&format!("\"{}\"", meter.event)),
            "{label}: usage sends {}",
            meter.event
        );
        if let Some(property) = &meter.aggregation.property {
            assert!(
                usage.after.contains(property.as_str()),
                "{label}: usage writes {property}"
            );
        }
    }
    let env = changes
        .files
        .iter()
        .find(|f| f.path.ends_with(".env.example"))
        .expect(".env.example");
    assert!(env.after.contains("SPAIRE_ACCESS_TOKEN=\n"));
    assert_eq!(
        env.after.contains("SPAIRE_WEBHOOK_SECRET="),
        plan.webhooks.is_some()
    );
    assert_eq!(
        changes.installs.len(),
        1,
        "@spaire/sdk is installed when missing"
    );
    let registered = changes.files.iter().any(|f| f.origin == FileOrigin::Wired);
    let needs_registration = (matches!(
        fixture.framework,
        Some(FrameworkId::Express | FrameworkId::Fastify | FrameworkId::Hono | FrameworkId::Elysia)
    ) && (has(plan, MeterKind::ApiCalls) || plan.webhooks.is_some()))
        // Next.js: the fixture's API route is wrapped in place.
        || (fixture.framework == Some(FrameworkId::Nextjs) && has(plan, MeterKind::ApiCalls))
        // The React Router fixture's root route takes the middleware (v8_middleware is on).
        || (fixture.framework == Some(FrameworkId::ReactRouter) && has(plan, MeterKind::ApiCalls));
    assert_eq!(
        registered,
        needs_registration,
        "{}/{label}: entry file registration; manual: {:?}",
        fixture.name,
        manual_files(&changes.manual_steps)
    );
}

fn manual_files(steps: &[ManualStep]) -> Vec<&str> {
    steps.iter().map(|s| s.file.as_str()).collect()
}

/// Generates every case of every fixture into `work`, returns the projects to type-check.
///
/// Fixtures without path aliases are checked as ONE project per fixture (a tsconfig at the
/// fixture's work dir that includes every case): relative imports keep the cases apart. Cases
/// of aliased fixtures (`@/*`, `$lib`, `~/*`) each need their own tsconfig, since an alias can
/// only point into one case.
fn generate_matrix(work: &Path, toolchain: &Path, only: Option<&[&str]>) -> Vec<PathBuf> {
    let mut projects = Vec::new();
    let mut seen = HashSet::new();
    for fixture in fixtures() {
        if only.is_some_and(|names| !names.contains(&fixture.name)) {
            continue;
        }
        let fixture_work = work.join(fixture.name);
        let mut case_dirs = Vec::new();
        for (label, plan) in cases(&fixture) {
            let dir = fixture_work.join(&label);
            codegen::copy_dir(&codegen::codegen_fixture("ts", fixture.name), &dir);
            if label == VERCEL_CASE {
                declare_vercel_functions(&dir, toolchain);
            }
            let profile = profile_for(&dir, &fixture);
            let changes = codegen::generate_into(&dir, &profile, &plan);
            check_changes(&fixture, &plan, &label, &changes);
            assert_eq!(
                changes
                    .files
                    .iter()
                    .any(|f| f.after.contains("\"@vercel/functions\"")),
                label == VERCEL_CASE,
                "{}/{label}: @vercel/functions is imported exactly when the app declares it",
                fixture.name
            );
            let target = billing_generate::Target {
                root: &dir,
                profile: &profile,
                package: &profile.packages[0],
                plan: &plan,
                without_sdk: false,
            };
            let spec = billing_generate::typescript::usage_module_specifier(&target, fixture.probe)
                .expect("usage module specifier");
            let probe_text = probe(&fixture, &plan, &spec);
            std::fs::write(dir.join(fixture.probe), &probe_text).unwrap();
            // Identical trees (e.g. "credits" and "both" pricing) are type-checked once.
            let mut fingerprint: Vec<String> = changes
                .files
                .iter()
                .map(|f| format!("{}\n{}", f.path, f.after))
                .collect();
            fingerprint.push(probe_text);
            if seen.insert((fixture.name, fingerprint.join("\0"))) {
                case_dirs.push(dir);
            } else {
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
        // Node resolves packages from ancestors, so one link serves every case.
        link_node_modules(&fixture_work, toolchain);
        if fixture.aliases.is_empty() {
            write_combined_tsconfig(&fixture, &fixture_work, &case_dirs);
            projects.push(fixture_work);
        } else {
            projects.extend(case_dirs);
        }
    }
    projects
}

/// `<fixture work dir>/tsconfig.json`: the fixture's compiler options, every case included.
fn write_combined_tsconfig(fixture: &Fixture, fixture_work: &Path, case_dirs: &[PathBuf]) {
    let original =
        std::fs::read_to_string(codegen::codegen_fixture("ts", fixture.name).join("tsconfig.json"))
            .unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&original).expect("fixture tsconfig is plain JSON");
    let patterns: Vec<String> = config["include"]
        .as_array()
        .expect("fixture tsconfig lists include")
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    let include: Vec<String> = case_dirs
        .iter()
        .flat_map(|dir| {
            let case = dir.file_name().unwrap().to_string_lossy().into_owned();
            patterns.iter().map(move |p| format!("{case}/{p}"))
        })
        .collect();
    config["include"] = serde_json::json!(include);
    std::fs::write(
        fixture_work.join("tsconfig.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
}

fn typecheck(toolchain: &Path, dirs: &[PathBuf]) {
    let script = codegen::codegen_fixture("ts", "typecheck.mjs");
    let mut command = Command::new("node");
    command.arg(script).arg(toolchain).args(dirs);
    let output = command.output().expect("run node");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "type errors in generated code:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains(&format!("{0}/{0} projects type-check", dirs.len())),
        "{text}"
    );
}

pub(crate) fn node_toolchain(name: &str) -> Option<PathBuf> {
    codegen::program("node")?;
    let dir = common::repo_root()
        .join("tests")
        .join("toolchains")
        .join(name);
    codegen::toolchain(
        dir.join("node_modules").join("typescript"),
        &format!("{name} toolchain"),
    )?;
    Some(dir)
}

#[test]
fn generated_typescript_type_checks_for_every_framework_and_plan() {
    let Some(toolchain) = node_toolchain("node") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let projects = generate_matrix(work.path(), &toolchain, None);
    typecheck(&toolchain, &projects);
}

#[test]
fn llm_helpers_type_check_with_the_current_ai_major() {
    let Some(toolchain) = node_toolchain("node-ai-latest") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let fixture = Fixture {
        name: "plain-esm",
        language: Language::TypeScript,
        module_system: ModuleSystem::Esm,
        src_dir: true,
        aliases: &[],
        framework: None,
        major: None,
        details: FrameworkDetails::default(),
        customer: header(),
        probe: "src/probe.ts",
    };
    let mut dirs = Vec::new();
    // `llm-cost` imports @pydantic/genai-prices, installed in this toolchain only.
    for preset in ["llm-tokens", "llm-tokens-split", "llm-cost"] {
        for pricing in PRICINGS {
            let plan = codegen::plan(&[preset], *pricing, true, None);
            let dir = work.path().join(format!("{preset}-{pricing:?}"));
            codegen::copy_dir(&codegen::codegen_fixture("ts", fixture.name), &dir);
            let profile = profile_for(&dir, &fixture);
            codegen::generate_into(&dir, &profile, &plan);
            let target = billing_generate::Target {
                root: &dir,
                profile: &profile,
                package: &profile.packages[0],
                plan: &plan,
                without_sdk: false,
            };
            let spec = billing_generate::typescript::usage_module_specifier(&target, fixture.probe)
                .unwrap();
            std::fs::write(dir.join(fixture.probe), probe(&fixture, &plan, &spec)).unwrap();
            dirs.push(dir);
        }
    }
    link_node_modules(work.path(), &toolchain);
    let ai = std::fs::read_to_string(toolchain.join("node_modules/ai/package.json")).unwrap();
    assert!(
        !ai.contains("\"version\": \"5."),
        "node-ai-latest must hold a newer ai than 5.x"
    );
    typecheck(&toolchain, &dirs);
}

/// Issue #18: the generated LLM helpers (JavaScript, CommonJS) record every token kind,
/// `_llm` and the `llm-cost` `_cost` for AI SDK mock models (v3 spec, generate and stream),
/// multi-step and aborted runs, and OpenAI/Anthropic responses; the emulator accepts them and
/// its `billedCost` meter totals exactly genai-prices' figures times the markup (`_cost` holds
/// the figures themselves). One node
/// process covers every case.
#[test]
fn llm_events_carry_every_token_kind_and_their_cost() {
    let Some(toolchain) = node_toolchain("node-ai-latest") else {
        return;
    };
    if !toolchain
        .join("node_modules/@pydantic/genai-prices/package.json")
        .exists()
    {
        eprintln!(
            "skipped: @pydantic/genai-prices is not installed (scripts/install-test-deps.sh)"
        );
        return;
    }
    let emulator = billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
        .expect("emulator");
    let work = tempfile::tempdir().unwrap();
    let fixture = fixtures()
        .into_iter()
        .find(|f| f.name == "express-cjs-js")
        .expect("fixture");
    let dir = work.path().join("app");
    codegen::copy_dir(&codegen::codegen_fixture("ts", fixture.name), &dir);
    let profile = profile_for(&dir, &fixture);
    let mut plan = codegen::plan(
        &[
            "llm-tokens-split",
            "llm-cached-tokens",
            "llm-reasoning-tokens",
            "llm-cost",
        ],
        Pricing::Unit,
        false,
        Some(&emulator.base_url()),
    );
    for meter in plan.meters.iter_mut().filter(|m| m.bills_llm_cost()) {
        meter.markup = Some("1.2".to_owned());
    }
    codegen::generate_into(&dir, &profile, &plan);
    let target = billing_generate::Target {
        root: &dir,
        profile: &profile,
        package: &profile.packages[0],
        plan: &plan,
        without_sdk: false,
    };
    let spec = billing_generate::typescript::usage_module_specifier(&target, "probe.js").unwrap();
    let usage = dir.join(spec.trim_start_matches("./"));
    link_node_modules(&dir, &toolchain);
    let check = |url: &str, token: &str| {
        let output = Command::new("node")
            .arg(codegen::codegen_fixture("ts", "llm-usage-check.cjs"))
            .arg(&toolchain)
            .arg(&usage)
            .env("SPAIRE_SERVER_URL", url)
            .env("SPAIRE_ACCESS_TOKEN", token)
            .output()
            .expect("run node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        (report, output)
    };
    let (report, output) = check(&emulator.base_url(), emulator.token());
    codegen::same_as_real_server(&report, |url, token| check(url, token).0);
    assert_eq!(report["events"], 9, "{report}");
    assert!(report["costSum"].as_f64().unwrap() > 0.0, "{report}");
    // The unknown model is named in a warning, not billed as 0 silently.
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("my-finetune-xyz-123"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The generated app of a fixture, ready to run: plan with LLM tokens and API calls, customer
/// id from a header, webhooks on, pointing at `server_url`.
fn runtime_app(
    work: &Path,
    fixture_name: &str,
    (harness, entry): (&str, &str),
    server_url: &str,
    toolchain: &Path,
) -> PathBuf {
    let fixture = fixtures()
        .into_iter()
        .find(|f| f.name == fixture_name)
        .expect("fixture");
    let dir = work.join(fixture_name);
    codegen::copy_dir(&codegen::codegen_fixture("ts", fixture_name), &dir);
    let profile = profile_for(&dir, &fixture);
    let mut plan = codegen::plan(
        &["llm-tokens", "api-calls"],
        Pricing::Unit,
        true,
        Some(server_url),
    );
    plan.customer = header();
    codegen::generate_into(&dir, &profile, &plan);
    let harness_file = codegen::codegen_fixture("ts", "runtime").join(harness);
    std::fs::copy(harness_file, dir.join(entry)).unwrap();
    link_node_modules(&dir, toolchain);
    dir
}

fn run_scenario(
    toolchain: &Path,
    app: &Path,
    entry: &str,
    scenario: &str,
    emulator: &billing_emulator::BackgroundEmulator,
) -> serde_json::Value {
    let script = codegen::codegen_fixture("ts", "runtime-check.mjs");
    let output = Command::new("node")
        .arg(script)
        .arg(scenario)
        .arg(app)
        .arg(entry)
        .env("NODE_TOOLCHAIN", toolchain)
        .env("SPAIRE_SERVER_URL", emulator.base_url())
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "runtime-check {scenario} failed for {}:\n{stdout}\n{}",
        app.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Express (TypeScript ESM and JavaScript CommonJS), Hono and a Next.js route handler, run with tsx against the emulator: the meters
/// count exactly the usage sent (never an auth route's or a redirect's request), a signed webhook is accepted and a tampered one gets 403,
/// a graceful shutdown delivers everything queued, and with the API down the app keeps
/// answering and exits cleanly on SIGTERM.
#[test]
fn generated_apps_run_against_the_emulator() {
    let Some(toolchain) = node_toolchain("node") else {
        return;
    };
    codegen::toolchain(toolchain.join("node_modules").join("tsx"), "tsx").expect("tsx");
    let work = tempfile::tempdir().unwrap();
    for (fixture, harness, entry) in [
        ("express-esm", "express.ts", "src/runtime-main.ts"),
        ("express-cjs-js", "express-cjs.js", "runtime-main.js"),
        ("hono", "hono.ts", "src/runtime-main.ts"),
        ("next-app", "next.ts", "src/runtime-main.ts"),
    ] {
        // A fresh emulator per app: meters and events of one app never leak into another.
        let emulator =
            billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
                .expect("emulator");
        let app = runtime_app(
            work.path(),
            fixture,
            (harness, entry),
            &emulator.base_url(),
            &toolchain,
        );

        let up = run_scenario(&toolchain, &app, entry, "up", &emulator);
        let context = format!("{fixture} (up): {up:#}");
        assert_eq!(up["statuses"], serde_json::json!([200]), "{context}");
        assert_eq!(up["anonymous"], 200, "{context}");
        assert_eq!(up["missing"], 404, "{context}");
        // Answered, by a customer, and not billed (the counts below): a never-billed path
        // (`billing_vocab::api_calls::NEVER_BILLED`) and a redirect.
        assert_eq!(up["authRoute"], 200, "{context}");
        assert_eq!(up["redirect"], 302, "{context}");
        assert_eq!(up["webhookGood"], 202, "{context}");
        assert_eq!(up["webhookTampered"], 403, "{context}");
        // A replayed webhook-id is acknowledged without dispatching again; a body announced
        // over the limit is refused before it is read (0 would mean the app waited for it).
        assert_eq!(up["webhookFirst"], 202, "{context}");
        assert_eq!(up["webhookReplay"], 200, "{context}");
        assert_eq!(up["webhookOversize"], 413, "{context}");
        // 30 pings + 5 LLM calls by cust-a, 20 pings by cust-b; anonymous, 404, the auth route
        // and the redirect not billed.
        assert_eq!(up["apiCalls"]["a"], 35.0, "{context}");
        assert_eq!(up["apiCalls"]["b"], 20.0, "{context}");
        assert_eq!(up["llmTokens"]["a"], 75.0, "{context}");
        // Our SIGTERM hook flushed, then let the signal end the process as it would have.
        assert_eq!(up["exit"]["signal"], "SIGTERM", "{context}");
        let log = up["output"].as_str().unwrap_or_default();
        assert!(
            !log.contains("Unhandled") && !log.contains("undelivered"),
            "{context}"
        );

        let down = run_scenario(&toolchain, &app, entry, "down", &emulator);
        let context = format!("{fixture} (down): {down:#}");
        assert_eq!(down["statuses"], serde_json::json!([200]), "{context}");
        assert_eq!(down["stillRunning"], true, "{context}");
        assert_eq!(down["after"], 200, "{context}");
        assert_eq!(down["exit"]["signal"], "SIGTERM", "{context}");
        assert!(down["shutdownMs"].as_f64().unwrap() < 10_000.0, "{context}");
        let log = down["output"].as_str().unwrap_or_default();
        assert!(
            !log.contains("Unhandled") && !log.contains("ERR_UNHANDLED_REJECTION"),
            "{context}"
        );
        assert!(
            log.contains("Spaire is unreachable"),
            "the outage is reported once: {context}"
        );
    }
}

/// What generation does to each fixture for a plan with every meter kind, credits and
/// webhooks: files (and whether they are created, edited in the user's code, or config),
/// manual steps, env names and installs. Reviews see every change to a user file here.
#[test]
fn generated_changes_per_framework_snapshot() {
    let work = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for fixture in fixtures() {
        let dir = work.path().join(fixture.name);
        codegen::copy_dir(&codegen::codegen_fixture("ts", fixture.name), &dir);
        let profile = profile_for(&dir, &fixture);
        let mut plan = codegen::plan(PRESETS, Pricing::Both, true, None);
        plan.customer = fixture.customer.clone();
        let target = billing_generate::Target {
            root: &dir,
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk: false,
        };
        let changes = billing_generate::generate(&target).expect("generate");
        report.push_str(&format!("## {}\n", fixture.name));
        for file in &changes.files {
            report.push_str(&format!(
                "{:?} {:?} {} — {}\n",
                file.action, file.origin, file.path, file.summary
            ));
        }
        for step in &changes.manual_steps {
            report.push_str(&format!("manual {}: {}\n", step.file, step.instructions));
            if let Some(snippet) = &step.snippet {
                report.push_str(&format!("  {snippet}\n"));
            }
        }
        for install in &changes.installs {
            report.push_str(&format!(
                "install ({}) {}\n",
                install.cwd,
                install.argv.join(" ")
            ));
        }
        let env: Vec<&str> = changes.env_vars.iter().map(|v| v.name.as_str()).collect();
        report.push_str(&format!("env {}\n", env.join(" ")));
        for file in changes
            .files
            .iter()
            .filter(|f| f.origin == FileOrigin::Wired)
        {
            report.push_str(&format!("--- {} after\n{}", file.path, file.after));
        }
        report.push('\n');
    }
    insta::assert_snapshot!(report);
}
