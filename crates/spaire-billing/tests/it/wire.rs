//! Call-site wiring (`billing_wire`) over the fixture projects in `tests/fixtures/wire`.
//!
//! Per fixture: the diff and the manual steps are snapshotted; every original byte survives
//! (edits only insert); wiring the edited project again changes nothing. Then all edited files
//! are checked by the real toolchains in one run each: `tsc --noEmit` against `ai@5` and
//! against the current `ai`, and `mypy` against pydantic-ai / boto3 / FastAPI / Flask.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use billing_changeset::ChangeSet;
use billing_detect::profile::{CallSite, CallSiteKind, Package};
use billing_plan::model::{BillingPlan, CallSiteCustomer, CustomerSource};
use billing_wire::{SiteReport, TsUsageModule, UsageImports, wire_with_report};
use serde_json::json;

use crate::common::{copy_dir, in_ci, repo_root};

use CallSiteKind as K;

struct Case {
    dir: &'static str,
    language: &'static str,
    module_system: Option<&'static str>,
    frameworks: &'static [&'static str],
    customer: CustomerSource,
    /// Call sites as detect reports them: kind and callee as written.
    sites: &'static [(CallSiteKind, &'static str)],
    /// Python: the top-level package the fixture's code lives in.
    py_package: Option<&'static str>,
    /// `[customer] expression` / `job_field`.
    call_site: CallSiteCustomer,
}

impl Case {
    /// A TypeScript (ESM) fixture.
    fn ts(
        dir: &'static str,
        frameworks: &'static [&'static str],
        customer: CustomerSource,
        sites: &'static [(CallSiteKind, &'static str)],
    ) -> Self {
        Case {
            dir,
            language: "typescript",
            module_system: Some("esm"),
            frameworks,
            customer,
            sites,
            py_package: None,
            call_site: CallSiteCustomer::default(),
        }
    }

    /// A JavaScript fixture in `module_system` (`cjs` / `esm`).
    fn js(
        dir: &'static str,
        module_system: &'static str,
        frameworks: &'static [&'static str],
        customer: CustomerSource,
        sites: &'static [(CallSiteKind, &'static str)],
    ) -> Self {
        Case {
            language: "javascript",
            module_system: Some(module_system),
            ..Case::ts(dir, frameworks, customer, sites)
        }
    }

    /// A Python fixture whose code lives in the top-level package `py_package`.
    fn py(
        dir: &'static str,
        py_package: &'static str,
        frameworks: &'static [&'static str],
        customer: CustomerSource,
        sites: &'static [(CallSiteKind, &'static str)],
    ) -> Self {
        Case {
            language: "python",
            module_system: None,
            py_package: Some(py_package),
            ..Case::ts(dir, frameworks, customer, sites)
        }
    }

    fn with_call_site(self, call_site: CallSiteCustomer) -> Self {
        Case { call_site, ..self }
    }
}

/// The fixture wired as if the generated usage module exported `sessionCustomerId()` (a
/// Next.js app-router app whose auth library the generator knows).
const REQUEST_SESSION_CASE: &str = "ts-next-request-session";

fn header() -> CustomerSource {
    CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case::ts(
            "ts-next-app",
            &["nextjs"],
            header(),
            &[
                (K::GenerateText, "generateText"),
                (K::StreamText, "streamText"),
                (K::GenerateObject, "genObject"),
                (K::StreamObject, "streamObject"),
                (K::GenerateText, "ai.generateText"),
                (K::StreamText, "ai.streamText"),
                (K::S3PutObject, "PutObjectCommand"),
                (K::S3Upload, "Upload"),
            ],
        ),
        Case::js(
            "js-express-cjs",
            "cjs",
            &["express"],
            header(),
            &[
                (K::GenerateText, "generateText"),
                (K::StreamText, "stream"),
                (K::S3PutObject, "PutObjectCommand"),
            ],
        ),
        Case::js(
            "js-express-esm",
            "esm",
            &["express"],
            CustomerSource::Body {
                field: "customerId".to_owned(),
            },
            &[(K::GenerateText, "gen"), (K::StreamText, "streamText")],
        ),
        Case::ts(
            "ts-sveltekit-body",
            &["sveltekit"],
            CustomerSource::Body {
                field: "customerId".to_owned(),
            },
            &[
                (K::GenerateText, "generateText"),
                (K::StreamText, "streamText"),
            ],
        ),
        Case::ts(
            "ts-function-customer",
            &["nextjs"],
            CustomerSource::Function {
                function: "getUserId".to_owned(),
                module: "@/lib/auth".to_owned(),
            },
            &[
                (K::GenerateText, "generateText"),
                (K::StreamText, "streamText"),
            ],
        ),
        Case::ts(
            "ts-hono",
            &["hono"],
            header(),
            &[
                (K::GenerateText, "generateText"),
                (K::StreamText, "streamText"),
            ],
        ),
        Case::ts(
            "ts-session-scopes",
            &["nextjs"],
            CustomerSource::Session,
            &[
                (K::GenerateText, "generateText"),
                (K::StreamText, "streamText"),
                (K::Embed, "embed"),
            ],
        ),
        Case::ts(
            REQUEST_SESSION_CASE,
            &["nextjs"],
            CustomerSource::Session,
            &[
                (K::GenerateText, "generateText"),
                (K::GenerateObject, "generateObject"),
                (K::StreamText, "streamText"),
                (K::Embed, "embed"),
            ],
        ),
        Case::ts(
            "ts-email-session",
            &["nextjs"],
            CustomerSource::Session,
            &[
                (K::GenerateText, "generateText"),
                (K::GenerateObject, "generateObject"),
                (K::StreamText, "streamText"),
                (K::Embed, "embed"),
                (K::Embed, "embedMany"),
            ],
        ),
        Case::ts(
            "ts-openai-edge",
            &["nextjs"],
            CustomerSource::Header {
                header: "x-user-id".to_owned(),
            },
            &[
                (K::OpenaiLegacy, "openai.createEmbedding"),
                (K::OpenaiLegacy, "openai.createChatCompletion"),
            ],
        ),
        Case::ts(
            "ts-openai-stream",
            &["nextjs"],
            CustomerSource::Header {
                header: "x-user-id".to_owned(),
            },
            &[(K::OpenaiChatCompletion, "openai.chat.completions.create")],
        ),
        // testrial-ai: the user is on Hono's context (`c.var.session`), which the app's
        // `contextStorage()` makes reachable from the service class that calls the model.
        Case::ts(
            "ts-hono-context-storage",
            &["hono"],
            CustomerSource::Session,
            &[(
                K::OpenaiChatCompletion,
                "this.client.chat.completions.create",
            )],
        ),
        // nuxt-assistant: Logto's `event.context.logtoUser`, Assistants runs (streamed and
        // polled).
        Case::ts(
            "ts-nuxt-logto-assistant",
            &["nuxt"],
            CustomerSource::Session,
            &[
                (
                    K::OpenaiAssistantRun,
                    "event.context.openai.beta.threads.runs.create",
                ),
                (
                    K::OpenaiAssistantRun,
                    "event.context.openai.beta.threads.runs.createAndPoll",
                ),
            ],
        ),
        // mern-wallpapers: passport's `req.user`, openai v3 `createImage`.
        Case::js(
            "js-express-passport",
            "cjs",
            &["express"],
            CustomerSource::Session,
            &[(K::OpenaiImage, "openai.createImage")],
        ),
        Case::ts(
            "ts-team-jobs",
            &["nextjs"],
            CustomerSource::Session,
            &[(K::GenerateText, "generateText"), (K::Embed, "embed")],
        )
        .with_call_site(CallSiteCustomer {
            expression: Some("teamId".to_owned()),
            job_field: Some("userId".to_owned()),
        }),
        Case::ts(
            "ts-jobs-manual",
            &[],
            CustomerSource::Function {
                function: "getUserId".to_owned(),
                module: "./lib/auth".to_owned(),
            },
            &[(K::GenerateText, "generateText")],
        ),
        Case::py(
            "py-fastapi-agent",
            "agentapp",
            &["fastapi", "pydantic-ai"],
            header(),
            &[
                (K::AgentRun, "agent.run"),
                (K::AgentRunSync, "agent.run_sync"),
                (K::AgentRunStream, "agent.run_stream"),
                (K::Boto3PutObject, "s3.put_object"),
                (K::Boto3UploadFile, "s3.upload_file"),
            ],
        ),
        Case::py(
            "py-fastapi-body",
            "bodyapp",
            &["fastapi", "pydantic-ai"],
            CustomerSource::Body {
                field: "customerId".to_owned(),
            },
            &[(K::AgentRun, "agent.run")],
        ),
        Case::py(
            "py-flask-login-s3",
            "s3app",
            &["flask"],
            CustomerSource::Session,
            &[
                (
                    K::Boto3PutObject,
                    "s3.Bucket(current_app.config[\"S3_BUCKET\"]).put_object",
                ),
                (K::Boto3PutObject, "client.put_object"),
                (K::Boto3PutObject, "s3_client.put_object"),
                (K::Boto3PutObject, "s3.Bucket(\"avatars\").put_object"),
            ],
        ),
        Case::py(
            "py-fastapi-helpers",
            "helpersapp",
            &["fastapi", "pydantic-ai"],
            CustomerSource::Header {
                header: "x-user-id".to_owned(),
            },
            &[
                (K::AgentRun, "agent.run"),
                (K::AgentIter, "chat_agent.iter"),
            ],
        ),
        Case::py(
            "py-flask-boto3",
            "flaskapp",
            &["flask"],
            header(),
            &[
                (K::Boto3PutObject, "s3.put_object"),
                (K::Boto3UploadFile, "s3.upload_file"),
                (K::Boto3UploadFile, "s3.upload_fileobj"),
            ],
        ),
        Case::py(
            "py-function-customer",
            "fnapp",
            &["fastapi", "pydantic-ai"],
            CustomerSource::Function {
                function: "get_customer_id".to_owned(),
                module: "fnapp.auth".to_owned(),
            },
            &[(K::AgentRun, "support.run")],
        ),
        Case::py(
            "py-flask-vendors",
            "vendorapp",
            &["flask"],
            header(),
            &[
                (K::OpenaiChatCompletion, "client.chat.completions.create"),
                (K::OpenaiResponse, "aclient.responses.create"),
                (K::AnthropicMessage, "claude.messages.create"),
                (K::AnthropicMessage, "aclaude.messages.create"),
                (K::AnthropicMessage, "claude.messages.stream"),
                (K::OpenaiAssistantRun, "client.beta.threads.runs.create"),
            ],
        ),
        Case::py(
            "py-agent-factories",
            "factoryapp",
            &["fastapi", "pydantic-ai"],
            header(),
            &[
                (K::AgentRun, "agent.run"),
                (K::AgentRun, "chat_agent.run"),
                (K::AgentIter, "chat_agent.iter"),
                (K::AgentRunStream, "build_chat_agent().run_stream"),
            ],
        ),
        // Celery / Dramatiq / APScheduler / Modal jobs: no request, so the customer comes
        // from the job's arguments (`[customer] job_field`) or the call is listed.
        Case::py(
            "py-jobs",
            "jobsapp",
            &["fastapi", "pydantic-ai"],
            header(),
            &[
                (K::AgentRunSync, "agent.run_sync"),
                (K::AgentRun, "agent.run"),
            ],
        )
        .with_call_site(CallSiteCustomer {
            expression: None,
            job_field: Some("customer_id".to_owned()),
        }),
    ]
}

fn fixture_root() -> PathBuf {
    repo_root().join("tests/fixtures/wire")
}

const SOURCE_EXTENSIONS: &[&str] = &["ts", "tsx", "js", "mjs", "cjs", "py"];

/// Every source file under `dir`, relative and `/`-separated, sorted.
fn source_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("readable fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if path
                .extension()
                .is_some_and(|e| SOURCE_EXTENSIONS.iter().any(|x| e == *x))
            {
                let rel = path.strip_prefix(base).expect("below base");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Finds the call sites the way detect reports them (line, 1-based column of the callee).
fn find_sites(root: &Path, case: &Case) -> Vec<CallSite> {
    let mut sites = Vec::new();
    for file in source_files(root) {
        let text = std::fs::read_to_string(root.join(&file)).expect("fixture file");
        for (line_no, line) in text.lines().enumerate() {
            for (kind, callee) in case.sites {
                let constructor = matches!(kind, K::S3PutObject | K::S3Upload);
                let needle = if constructor {
                    format!("new {callee}(")
                } else {
                    format!("{callee}(")
                };
                let mut from = 0;
                while let Some(found) = line[from..].find(&needle) {
                    let at = from + found;
                    from = at + needle.len();
                    let before = line[..at].chars().next_back();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                        continue;
                    }
                    let column = at + if constructor { 4 } else { 0 } + 1;
                    sites.push(CallSite {
                        kind: *kind,
                        file: file.clone(),
                        line: u32::try_from(line_no + 1).expect("small"),
                        column: u32::try_from(column).expect("small"),
                        callee: (*callee).to_owned(),
                    });
                }
            }
        }
    }
    sites
}

fn package(case: &Case, sites: Vec<CallSite>) -> Package {
    let frameworks: Vec<_> = case
        .frameworks
        .iter()
        .map(|id| json!({"id": id, "confidence": "high", "evidence": []}))
        .collect();
    let mut value = json!({
        "path": ".",
        "language": case.language,
        "frameworks": frameworks,
        "aliases": [],
        "integrations": [],
        "call_sites": sites,
        "env_vars": [],
    });
    if let Some(system) = case.module_system {
        value["module_system"] = json!(system);
    }
    serde_json::from_value(value).expect("valid package json")
}

fn plan(customer: CustomerSource, call_site: &CallSiteCustomer) -> BillingPlan {
    let mut value = json!({
        "environment": "local",
        "project": {"path": "."},
        "customer": {},
        "meters": [
            {"name": "llm-token-usage", "event": "llm-usage", "kind": "llm-tokens",
             "aggregation": {"func": "sum", "property": "totalTokens"}},
            {"name": "storage-bytes", "event": "storage-upload", "kind": "storage",
             "aggregation": {"func": "sum", "property": "bytes"}},
            {"name": "images-generated", "event": "image-generation", "kind": "images-generated",
             "aggregation": {"func": "sum", "property": "images"}},
        ],
        "prices": [],
        "credits": [],
    });
    value["customer"] = serde_json::to_value(customer).expect("customer serialises");
    value["call_site_customer"] = serde_json::to_value(call_site).expect("serialises");
    serde_json::from_value(value).expect("valid plan json")
}

/// `./spaire-usage` / `../../spaire-usage`: the test stub at the fixture root, from `file`.
fn relative_specifier(file: &str) -> String {
    let depth = file.matches('/').count();
    if depth == 0 {
        "./spaire-usage".to_owned()
    } else {
        format!("{}spaire-usage", "../".repeat(depth))
    }
}

fn imports(root: &Path, case: &Case) -> UsageImports {
    let per_file: BTreeMap<String, String> = source_files(root)
        .into_iter()
        .map(|f| {
            let spec = relative_specifier(&f);
            (f, spec)
        })
        .collect();
    UsageImports {
        typescript: Some(TsUsageModule::PerFile(per_file)),
        python: case.py_package.map(|p| format!("{p}.spaire_usage")),
        // As the generator: a web framework's middleware names each request's customer.
        python_request_customer: case.py_package.is_some()
            && case
                .frameworks
                .iter()
                .any(|f| matches!(*f, "fastapi" | "flask" | "django")),
        python_app_files: Vec::new(),
        ts_session_customer: case.dir == REQUEST_SESSION_CASE,
    }
}

fn run(root: &Path, case: &Case) -> (ChangeSet, Vec<SiteReport>) {
    let sites = find_sites(root, case);
    assert!(!sites.is_empty(), "{}: no call sites found", case.dir);
    let mut package = package(case, sites);
    // What the app's schema says identifies a user, as detect reads it.
    package.user_key = billing_detect::detect(root, &billing_detect::DetectOptions::default())
        .ok()
        .and_then(|p| p.packages.into_iter().find_map(|p| p.user_key));
    wire_with_report(
        root,
        &package,
        &plan(case.customer.clone(), &case.call_site),
        &imports(root, case),
    )
    .expect("wiring reads the fixture")
}

/// Whether edits only added text: `before` is a subsequence of `after`, or (Python runs and
/// `Body=` reads assigned to a local first) every character of `before` is still there, the
/// hoisted expression having moved up a line.
fn only_insertions(before: &str, after: &str) -> bool {
    let mut rest = after.chars();
    if before.chars().all(|c| rest.any(|d| d == c)) {
        return true;
    }
    let mut left: std::collections::HashMap<char, i64> = std::collections::HashMap::new();
    for c in after.chars() {
        *left.entry(c).or_default() += 1;
    }
    before.chars().all(|c| {
        let n = left.entry(c).or_default();
        *n -= 1;
        *n >= 0
    })
}

fn unified_diff(path: &str, before: &str, after: &str) -> String {
    // Hand-rolled line diff of insertions (all our edits insert), enough for a readable,
    // stable snapshot without another diff crate in the test build.
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
            continue;
        }
        // Find the next resync point: the smallest j' >= j with new[j'] == old[i].
        let resync = (j..new.len()).find(|&k| i < old.len() && new[k] == old[i]);
        let _ = writeln!(out, "@@ line {} @@", i + 1);
        match resync {
            Some(k) if k > j => {
                for line in &new[j..k] {
                    let _ = write!(out, "+{line}");
                }
                j = k;
            }
            _ => {
                if i < old.len() {
                    let _ = write!(out, "-{}", old[i]);
                    i += 1;
                }
                if j < new.len() {
                    let _ = write!(out, "+{}", new[j]);
                    j += 1;
                }
            }
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out.replace('\r', "␍")
}

fn render(changes: &ChangeSet, reports: &[SiteReport]) -> String {
    let mut out = String::new();
    for file in &changes.files {
        let before = file.before.as_deref().unwrap_or_default();
        let _ = writeln!(
            out,
            "## {} ({:?}, {:?}): {}",
            file.path, file.action, file.origin, file.summary
        );
        out.push_str(&unified_diff(&file.path, before, &file.after));
        out.push('\n');
    }
    for step in &changes.manual_steps {
        let _ = writeln!(
            out,
            "## manual: {}:{}\n{}",
            step.file,
            step.line.unwrap_or(0),
            step.instructions
        );
        if let Some(snippet) = &step.snippet {
            let _ = writeln!(out, "```\n{snippet}\n```");
        }
        out.push('\n');
    }
    out.push_str("## sites\n");
    for r in reports {
        let _ = writeln!(out, "{}:{} {} => {:?}", r.file, r.line, r.callee, r.result);
    }
    out
}

fn apply(root: &Path, changes: &ChangeSet) {
    for file in &changes.files {
        let path = root.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("file has a parent")).expect("create dirs");
        std::fs::write(path, &file.after).expect("write edited file");
    }
}

const TS_STUB: &str = r#"// Test stub with exactly the signatures of the generated TypeScript usage module.
export type LlmUsage = { inputTokens?: number; outputTokens?: number; totalTokens?: number };

export function recordLlmUsage(customerId: string, usage: LlmUsage | undefined | null, model?: string): void {
  void customerId;
  void usage;
  void model;
}

export function recordStorageUpload(customerId: string, bytes: number, details?: Record<string, string>): void {
  void customerId;
  void bytes;
  void details;
}

export function recordImageGeneration(customerId: string, images: number | readonly unknown[] | null | undefined, model?: string): void {
  void customerId;
  void images;
  void model;
}

export async function sessionCustomerId(): Promise<string | undefined> {
  return undefined;
}

export function meterChatCompletionStream<S extends AsyncIterable<unknown>>(customerId: string, stream: S, vendor?: string): S;
export function meterChatCompletionStream<S extends AsyncIterable<unknown>>(customerId: string, stream: PromiseLike<S>, vendor?: string): Promise<S>;
export function meterChatCompletionStream(
  customerId: string,
  stream: AsyncIterable<unknown> | PromiseLike<AsyncIterable<unknown>>,
  vendor?: string,
): AsyncIterable<unknown> | Promise<AsyncIterable<unknown>> {
  void customerId;
  void vendor;
  return typeof (stream as PromiseLike<unknown>).then === "function"
    ? Promise.resolve(stream)
    : (stream as AsyncIterable<unknown>);
}
"#;

const PY_STUB: &str = r#""""Test stub with exactly the signatures of the generated Python usage module."""

from typing import Any


def record_llm_usage(customer_id: str, usage: Any, model: str | None = None) -> None:
    return None


def record_agent_run(customer_id: str, result: Any, model: str | None = None) -> None:
    return None


def record_llm_response(customer_id: str, response: Any, vendor: str | None = None) -> None:
    return None


def record_storage_upload(customer_id: str, bytes: int, **details: str) -> None:
    return None


def current_customer_id() -> str:
    return ""
"#;

/// The call sites this test feeds to wiring are the ones `detect` reports (kind, file, line
/// and callee as written): the contract between the two stages.
fn assert_detect_agrees(root: &Path, case: &Case) {
    let key = |s: &CallSite| (s.file.clone(), s.line, s.kind, s.callee.clone());
    let profile = billing_detect::detect(root, &billing_detect::DetectOptions::default())
        .unwrap_or_else(|e| panic!("{}: detect failed: {e}", case.dir));
    let mut detected: Vec<_> = profile
        .packages
        .iter()
        .flat_map(|p| &p.call_sites)
        .filter(|s| s.kind != K::RouteHandler)
        .map(key)
        .collect();
    let mut ours: Vec<_> = find_sites(root, case).iter().map(key).collect();
    detected.sort();
    ours.sort();
    assert_eq!(
        detected, ours,
        "{}: detect reports other call sites",
        case.dir
    );
}

/// Wires every fixture: snapshots, byte preservation, idempotency. Returns the edited
/// projects (in a temp dir) for the toolchain checks.
fn wire_all() -> (tempfile::TempDir, Vec<(Case, Vec<String>)>) {
    let work = tempfile::tempdir().expect("temp dir");
    let mut edited = Vec::new();
    for case in cases() {
        let source = fixture_root().join(case.dir);
        assert_detect_agrees(&source, &case);
        let (changes, reports) = run(&source, &case);

        insta::assert_snapshot!(format!("wire_{}", case.dir), render(&changes, &reports));

        for file in &changes.files {
            let before = file.before.as_deref().expect("modify has before");
            assert!(
                only_insertions(before, &file.after),
                "{}: an original byte was changed or dropped",
                file.path
            );
        }

        // Apply into a copy, then wire again: everything is already wired.
        let copy = work.path().join(case.dir.replace('-', "_"));
        copy_dir(&source, &copy);
        apply(&copy, &changes);
        let (again, again_reports) = run(&copy, &case);
        assert!(
            again.files.is_empty(),
            "{}: second run changed files again:\n{}",
            case.dir,
            render(&again, &again_reports)
        );
        assert_eq!(
            again.manual_steps.len(),
            changes.manual_steps.len(),
            "{}: the second run should report the same manual steps",
            case.dir
        );

        let files = changes.files.iter().map(|f| f.path.clone()).collect();
        match case.py_package {
            Some(pkg) => std::fs::write(copy.join(pkg).join("spaire_usage.py"), PY_STUB),
            None => std::fs::write(copy.join("spaire-usage.ts"), TS_STUB),
        }
        .expect("write stub");
        edited.push((case, files));
    }
    (work, edited)
}

#[test]
fn wiring_fixtures_snapshots_idempotency_and_toolchains() {
    let (work, edited) = wire_all();
    let ts: Vec<(String, String)> = edited
        .iter()
        .filter(|(case, _)| case.py_package.is_none())
        .flat_map(|(case, files)| {
            let dir = case.dir.replace('-', "_");
            files.iter().map(move |f| (dir.clone(), f.clone()))
        })
        .collect();
    let py: Vec<&str> = edited
        .iter()
        .filter_map(|(case, files)| (!files.is_empty()).then_some(case.py_package).flatten())
        .collect();
    typecheck_ts(work.path(), &ts);
    typecheck_py(work.path(), &py);
}

// A skipped check must say so on stderr (outside CI); the test harness shows it.
#[allow(clippy::print_stderr)]
fn toolchain(name: &str) -> Option<PathBuf> {
    let dir = repo_root().join("tests/toolchains").join(name);
    let ready = match name {
        "python" => dir.join(".venv/bin/python").exists(),
        _ => dir.join("node_modules/typescript/bin/tsc").exists(),
    };
    if ready {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "toolchain tests/toolchains/{name} is missing (run scripts/install-test-deps.sh)"
    );
    eprintln!("skipping the {name} check: tests/toolchains/{name} is not installed");
    None
}

/// Module specifiers a file imports (`from "x"` / `require("x")`).
fn imported_modules(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["from \"", "from '", "require(\"", "require('"] {
        let quote = marker.chars().last().expect("marker ends with a quote");
        let mut rest = text;
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            if let Some(end) = rest.find(quote) {
                out.push(rest[..end].to_owned());
            }
        }
    }
    out
}

fn typecheck_ts(work: &Path, files: &[(String, String)]) {
    // One project per toolchain; the latest `ai` toolchain only has ai, @ai-sdk/openai and
    // zod, so it checks the LLM files that import nothing else.
    for (name, only) in [
        ("node", None),
        ("node-ai-latest", Some(&["ai", "@ai-sdk/openai", "zod"][..])),
    ] {
        let Some(dir) = toolchain(name) else { continue };
        let selected: Vec<String> = files
            .iter()
            .filter(|(case, file)| {
                let text =
                    std::fs::read_to_string(work.join(case).join(file)).expect("edited file");
                only.is_none_or(|allowed| {
                    imported_modules(&text).iter().all(|m| {
                        m.starts_with('.') || m.starts_with("@/") || allowed.contains(&m.as_str())
                    })
                })
            })
            .map(|(case, file)| format!("{case}/{file}"))
            .collect();
        assert!(
            !selected.is_empty(),
            "{name}: no edited TypeScript files to check"
        );
        let root = work.join(format!("tsc-{name}"));
        std::fs::create_dir_all(&root).expect("tsc root");
        for case in files
            .iter()
            .map(|(c, _)| c)
            .collect::<std::collections::BTreeSet<_>>()
        {
            copy_dir(&work.join(case), &root.join(case));
        }
        let node_modules = root.join("node_modules");
        if !node_modules.exists() {
            std::os::unix::fs::symlink(dir.join("node_modules"), &node_modules)
                .expect("symlink node_modules");
        }
        let tsconfig = json!({
            "compilerOptions": {
                "strict": true,
                "noEmit": true,
                "target": "es2022",
                "module": "esnext",
                "moduleResolution": "bundler",
                "lib": ["es2022", "dom", "dom.iterable"],
                "types": ["node"],
                "allowJs": true,
                "checkJs": false,
                "skipLibCheck": true,
                "paths": { "@/*": ["./ts_function_customer/*"] }
            },
            "files": selected,
        });
        std::fs::write(root.join("tsconfig.json"), tsconfig.to_string()).expect("tsconfig");
        let output = Command::new("node")
            .arg(dir.join("node_modules/typescript/bin/tsc"))
            .arg("-p")
            .arg(root.join("tsconfig.json"))
            .output()
            .expect("run tsc");
        assert!(
            output.status.success(),
            "tsc against {name} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // JavaScript files are parsed by tsc (checkJs is off: the fixtures are untyped JS);
        // node checks their syntax too.
        for file in selected
            .iter()
            .filter(|f| f.ends_with(".js") || f.ends_with(".mjs") || f.ends_with(".cjs"))
        {
            let status = Command::new("node")
                .arg("--check")
                .arg(root.join(file))
                .status()
                .expect("run node --check");
            assert!(status.success(), "node --check {file} failed");
        }
    }
}

fn typecheck_py(work: &Path, packages: &[&str]) {
    let Some(dir) = toolchain("python") else {
        return;
    };
    assert!(!packages.is_empty(), "no edited Python packages to check");
    let roots: Vec<PathBuf> = cases()
        .iter()
        .filter(|c| c.py_package.is_some())
        .map(|c| work.join(c.dir.replace('-', "_")))
        .collect();
    let mypy_path = std::env::join_paths(&roots).expect("joinable paths");
    let mut cmd = Command::new(dir.join(".venv/bin/python"));
    cmd.args([
        "-m",
        "mypy",
        "--no-error-summary",
        "--explicit-package-bases",
        "--cache-dir",
    ])
    .arg(work.join(".mypy_cache"))
    .env("MYPYPATH", mypy_path)
    .current_dir(work);
    for pkg in packages {
        cmd.args(["-p", pkg]);
    }
    let output = cmd.output().expect("run mypy");
    assert!(
        output.status.success(),
        "mypy failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runtime proof: an edited Next.js route handler (run with `tsx`, the AI SDK's mock model)
/// and an edited FastAPI + PydanticAI endpoint (`TestModel`) send their tokens, through the
/// GENERATED usage module, to the emulator, whose meter counts them.
mod runtime {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    use billing_detect::profile::ProjectProfile;
    use billing_emulator::{EmulatorConfig, spawn_background};
    use billing_generate::Target;
    use serde_json::Value;

    use super::*;

    /// A minimal HTTP/1.1 client (one request per connection) so the test needs no HTTP crate.
    pub(super) fn http(
        base: &str,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Value {
        let host = base.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = TcpStream::connect(host).expect("connect to the emulator");
        let payload = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        stream.write_all(request.as_bytes()).expect("send request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let (head, body) = response.split_once("\r\n\r\n").expect("http response");
        assert!(
            head.starts_with("HTTP/1.1 2"),
            "{method} {path} failed: {head}\n{body}"
        );
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        serde_json::from_str(&body).expect("json body")
    }

    fn dechunk(mut body: &str) -> String {
        let mut out = String::new();
        while let Some((size, rest)) = body.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            out.push_str(&rest[..n]);
            body = &rest[n + 2..];
        }
        out
    }

    /// Creates the plan's token meter in the emulator; returns its id.
    fn create_token_meter(base: &str, token: &str) -> String {
        let meter = http(
            base,
            token,
            "POST",
            "/v1/meters/",
            Some(&json!({
                "name": "llm-token-usage",
                "filter": {"conjunction": "and", "clauses": [
                    {"property": "name", "operator": "eq", "value": "llm-usage"}
                ]},
                "aggregation": {"func": "sum", "property": "totalTokens"},
            })),
        );
        meter["id"].as_str().expect("meter id").to_owned()
    }

    pub(super) fn metered_tokens(base: &str, token: &str, meter: &str, customer: &str) -> f64 {
        // The emulator's "now" (events are stamped with it); one year around it, by month.
        let now = http(base, token, "GET", "/_emulator/clock", None)["now"]
            .as_str()
            .expect("clock")
            .to_owned();
        let year: i32 = now[..4].parse().expect("year");
        let path = format!(
            "/v1/meters/{meter}/quantities?start_timestamp={}-01-01T00:00:00Z&end_timestamp={}-01-01T00:00:00Z&interval=month&external_customer_id={customer}",
            year,
            year + 1
        );
        http(base, token, "GET", &path, None)["total"]
            .as_f64()
            .expect("numeric total")
    }

    fn event_tokens(base: &str, token: &str, customer: &str) -> Vec<i64> {
        let page = http(
            base,
            token,
            "GET",
            &format!("/v1/events/?external_customer_id={customer}&limit=100"),
            None,
        );
        let mut tokens: Vec<i64> = page["items"]
            .as_array()
            .expect("event items")
            .iter()
            .filter(|e| e["name"] == "llm-usage")
            .map(|e| e["metadata"]["totalTokens"].as_i64().expect("totalTokens"))
            .collect();
        tokens.sort_unstable();
        tokens
    }

    /// Copies the fixture, renders the generated code into it, then wires it. Returns the
    /// project dir and the call-site changes.
    fn prepare(
        work: &Path,
        fixture: &str,
        case: &Case,
        usage_imports: impl Fn(&Target<'_>, &[String]) -> UsageImports,
    ) -> (PathBuf, ChangeSet) {
        let root = work.join(fixture);
        copy_dir(&fixture_root().join(fixture), &root);
        let sites = find_sites(&root, case);
        let package = package(case, sites);
        let profile: ProjectProfile = serde_json::from_value(json!({
            "schema_version": 1,
            "root": root.to_string_lossy(),
            "packages": [package],
            "warnings": [],
            "notes": [],
        }))
        .expect("profile");
        let plan = plan(case.customer.clone(), &case.call_site);
        let target = Target {
            root: &root,
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk: false,
        };
        let generated = billing_generate::generate(&target).expect("generation succeeds");
        let files = source_files(&root);
        let imports = usage_imports(&target, &files);
        let changes = billing_wire::wire(&root, &profile, &profile.packages[0], &plan, &imports)
            .expect("wiring succeeds");
        apply(&root, &generated);
        apply(&root, &changes);
        (root, changes)
    }

    #[test]
    fn edited_nextjs_route_and_fastapi_endpoint_record_tokens_in_the_emulator() {
        let node = toolchain("node");
        let python = toolchain("python");
        if node.is_none() && python.is_none() {
            return;
        }
        let emulator = spawn_background(EmulatorConfig::default()).expect("emulator starts");
        let (base, token) = (emulator.base_url(), emulator.token().to_owned());
        let meter = create_token_meter(&base, &token);
        let work = tempfile::tempdir().expect("temp dir");

        if let Some(node) = node {
            let case = Case {
                dir: "runtime-next",
                language: "typescript",
                module_system: Some("esm"),
                frameworks: &["nextjs"],
                customer: header(),
                sites: &[
                    (K::GenerateText, "generateText"),
                    (K::StreamText, "streamText"),
                ],
                py_package: None,
                call_site: CallSiteCustomer::default(),
            };
            let (root, changes) =
                prepare(work.path(), case.dir, &case, |target, files| UsageImports {
                    typescript: Some(TsUsageModule::PerFile(
                        files
                            .iter()
                            .filter_map(|f| {
                                billing_generate::typescript::usage_module_specifier(target, f)
                                    .map(|s| (f.clone(), s))
                            })
                            .collect(),
                    )),
                    python: None,
                    python_request_customer: false,
                    python_app_files: Vec::new(),
                    ts_session_customer: false,
                });
            assert_eq!(changes.files.len(), 2, "both routes are wired");
            assert!(
                changes.manual_steps.is_empty(),
                "{:?}",
                changes.manual_steps
            );
            std::os::unix::fs::symlink(node.join("node_modules"), root.join("node_modules"))
                .expect("symlink node_modules");
            let usage = {
                let target_files = source_files(&root);
                let route = "app/api/chat/route.ts";
                assert!(target_files.iter().any(|f| f == route));
                // The specifier the wired route uses, seen from the project root.
                let text = std::fs::read_to_string(root.join(route)).expect("route");
                let spec = imported_modules(&text)
                    .into_iter()
                    .find(|m| m.contains("usage"))
                    .expect("the route imports the usage module");
                spec.replacen("../../../", "./", 1)
            };
            let driver = format!(
                r#"import {{ POST as chat }} from "./app/api/chat/route";
import {{ POST as stream }} from "./app/api/stream/route";
import {{ flushUsage }} from "{usage}";

const call = (handler: (r: Request) => Promise<Response>, prompt: string) =>
  handler(new Request("http://localhost/api", {{
    method: "POST",
    headers: {{ "content-type": "application/json", "x-customer-id": "user_ts" }},
    body: JSON.stringify({{ prompt }}),
  }}));

console.log(await (await call(chat, "hi")).text());
console.log(await (await call(stream, "hi")).text());
await new Promise((resolve) => setTimeout(resolve, 50));
await flushUsage();
"#
            );
            std::fs::write(root.join("run.ts"), driver).expect("driver");
            let output = Command::new("node")
                .arg(node.join("node_modules/tsx/dist/cli.mjs"))
                .arg("run.ts")
                .current_dir(&root)
                .env("SPAIRE_SERVER_URL", &base)
                .env("SPAIRE_ACCESS_TOKEN", &token)
                .output()
                .expect("run tsx");
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(output.status.success(), "the edited routes failed:\n{log}");
            assert!(log.contains("Hello from the mock model"), "{log}");
            assert!(log.contains("Streamed hello"), "{log}");
            // generateText reported 18 tokens, the stream 8: both recorded, nothing else.
            assert_eq!(event_tokens(&base, &token, "user_ts"), vec![8, 18], "{log}");
            assert_eq!(metered_tokens(&base, &token, &meter, "user_ts"), 26.0);
        }

        if let Some(python) = python {
            let case = Case {
                dir: "runtime-fastapi",
                language: "python",
                module_system: None,
                frameworks: &["fastapi", "pydantic-ai"],
                customer: header(),
                sites: &[
                    (K::AgentRun, "agent.run"),
                    (K::AgentRunStream, "agent.run_stream"),
                ],
                py_package: Some("chatapp"),
                call_site: CallSiteCustomer::default(),
            };
            let (root, changes) = prepare(work.path(), case.dir, &case, |target, _| UsageImports {
                typescript: None,
                python: billing_generate::python::usage_module_import(target),
                python_request_customer: billing_generate::python::request_customer(target),
                python_app_files: Vec::new(),
                ts_session_customer: false,
            });
            assert_eq!(changes.files.len(), 1);
            assert!(
                changes.manual_steps.is_empty(),
                "{:?}",
                changes.manual_steps
            );
            let usage_module = changes.files[0]
                .after
                .lines()
                .find_map(|l| {
                    l.strip_prefix("from ")
                        .filter(|l| l.contains("record_agent_run"))
                })
                .and_then(|l| l.split_whitespace().next())
                .expect("the endpoint imports the usage module")
                .to_owned();
            let driver = format!(
                r#"from fastapi.testclient import TestClient

from chatapp.main import agent, app
from {usage_module} import flush_usage

client = TestClient(app)
for path in ("/chat", "/chat-stream"):
    response = client.post(path, params={{"prompt": "hello"}}, headers={{"x-customer-id": "user_py"}})
    response.raise_for_status()
    print(response.json())
flush_usage()
# What the model reported for the same prompt, computed without recording anything.
usage = agent.run_sync("hello").usage
usage = usage() if callable(usage) else usage
print("EXPECTED_RUN_TOKENS", usage.total_tokens)
"#
            );
            std::fs::write(root.join("run.py"), driver).expect("driver");
            let output = Command::new(python.join(".venv/bin/python"))
                .arg("run.py")
                .current_dir(&root)
                .env("PYTHONPATH", &root)
                .env("SPAIRE_SERVER_URL", &base)
                .env("SPAIRE_ACCESS_TOKEN", &token)
                .output()
                .expect("run python");
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(
                output.status.success(),
                "the edited endpoints failed:\n{log}"
            );
            let expected: i64 = log
                .lines()
                .find_map(|l| l.strip_prefix("EXPECTED_RUN_TOKENS "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no expected tokens in:\n{log}"));
            let tokens = event_tokens(&base, &token, "user_py");
            assert_eq!(tokens.len(), 2, "one event per run: {tokens:?}\n{log}");
            assert!(
                tokens.contains(&expected),
                "{tokens:?} lacks the run's {expected}\n{log}"
            );
            assert!(tokens.iter().all(|t| *t > 0), "{tokens:?}");
            let total: i64 = tokens.iter().sum();
            #[allow(clippy::cast_precision_loss)]
            let total = total as f64;
            assert_eq!(metered_tokens(&base, &token, &meter, "user_py"), total);
        }
    }

    /// The metadata of every `llm-usage` event of `customer`, sorted by total tokens.
    fn llm_events(base: &str, token: &str, customer: &str) -> Vec<Value> {
        let page = http(
            base,
            token,
            "GET",
            &format!("/v1/events/?external_customer_id={customer}&limit=100"),
            None,
        );
        let mut events: Vec<Value> = page["items"]
            .as_array()
            .expect("event items")
            .iter()
            .filter(|e| e["name"] == "llm-usage")
            .map(|e| e["metadata"].clone())
            .collect();
        events.sort_by_key(|m| m["totalTokens"].as_i64());
        events
    }

    /// The real `openai` and `anthropic` SDKs (sync, async, streamed with usage, a stream that
    /// wiring gives `include_usage`, one whose loop `break`s on the finish chunk and whose
    /// usage chunk is read after the loop (openai-quickstart `chat-basic`), Assistants runs after `create_and_poll` and after a polling
    /// loop, Anthropic's stream helper) and a PydanticAI `agent.iter` from a factory, wired by spaire-billing,
    /// against stub providers on 127.0.0.1: every event's token kinds and `_llm` equal what the
    /// stub reported, and the emulator's meter counts exactly their sum.
    #[test]
    fn wired_python_sdk_calls_record_the_providers_usage_exactly() {
        let Some(python) = toolchain("python") else {
            return;
        };
        let emulator = spawn_background(EmulatorConfig::default()).expect("emulator starts");
        let (base, token) = (emulator.base_url(), emulator.token().to_owned());
        let meter = create_token_meter(&base, &token);
        let work = tempfile::tempdir().expect("temp dir");
        let case = Case {
            dir: "runtime-py-vendors",
            language: "python",
            module_system: None,
            frameworks: &["fastapi", "pydantic-ai"],
            customer: CustomerSource::Header {
                header: "x-customer-id".to_owned(),
            },
            sites: &[
                (K::OpenaiChatCompletion, "client.chat.completions.create"),
                (K::OpenaiResponse, "client.responses.create"),
                (K::AnthropicMessage, "client.messages.create"),
                (K::AnthropicMessage, "client.messages.stream"),
                (K::AgentIter, "agent.iter"),
                (
                    K::OpenaiAssistantRun,
                    "client.beta.threads.runs.create_and_poll",
                ),
                (K::OpenaiAssistantRun, "client.beta.threads.runs.create"),
            ],
            py_package: Some("vendorrt"),
            call_site: CallSiteCustomer::default(),
        };
        let (root, changes) = prepare(work.path(), case.dir, &case, |target, _| UsageImports {
            typescript: None,
            python: billing_generate::python::usage_module_import(target),
            python_request_customer: billing_generate::python::request_customer(target),
            python_app_files: Vec::new(),
            ts_session_customer: false,
        });
        assert!(
            changes.manual_steps.is_empty(),
            "{:?}",
            changes.manual_steps
        );
        let main = changes
            .files
            .iter()
            .find(|f| f.path == "vendorrt/main.py")
            .expect("the app is wired");
        // 7 + a stream given `include_usage` + two finished Assistants runs + a stream that
        // breaks on its finish chunk (recorded in its loop and in the loop reading the rest).
        assert_eq!(
            main.after.matches("record_llm_response(").count(),
            12,
            "{}",
            main.after
        );
        assert_eq!(main.after.matches("record_agent_run(").count(), 1);
        let usage_module = main
            .after
            .lines()
            .find_map(|l| {
                l.strip_prefix("from ")
                    .filter(|l| l.contains("record_llm_response"))
            })
            .and_then(|l| l.split_whitespace().next())
            .expect("the app imports the usage module")
            .to_owned();
        let output = Command::new(python.join(".venv/bin/python"))
            .arg("drive.py")
            .current_dir(&root)
            .env("PYTHONPATH", &root)
            .env("USAGE_MODULE", &usage_module)
            .env("SPAIRE_SERVER_URL", &base)
            .env("SPAIRE_ACCESS_TOKEN", &token)
            .output()
            .expect("run python");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "the wired app failed:\n{log}");
        let mut expected: Vec<Value> = log
            .lines()
            .find_map(|l| l.strip_prefix("EXPECTED "))
            .map(|j| serde_json::from_str(j).expect("expected json"))
            .unwrap_or_else(|| panic!("no EXPECTED line in:\n{log}"));
        expected.sort_by_key(|m| m["totalTokens"].as_i64());
        assert_eq!(
            expected.len(),
            12,
            "one provider answer per endpoint: {log}"
        );
        let events = llm_events(&base, &token, "user_vendors");
        let keys = [
            "inputTokens",
            "outputTokens",
            "totalTokens",
            "cachedInputTokens",
            "cacheWriteTokens",
            "reasoningTokens",
            "_llm",
        ];
        let project = |m: &Value| -> Value {
            let mut fields: serde_json::Map<_, _> = keys
                .iter()
                .map(|k| ((*k).to_owned(), m[*k].clone()))
                .collect();
            // The server (and the emulator) answer `_llm.prompt` / `.response` as null when
            // the event sent none; the wired code sends none.
            if let Some(Value::Object(llm)) = fields.get_mut("_llm") {
                llm.retain(|k, v| !(matches!(k.as_str(), "prompt" | "response") && v.is_null()));
            }
            fields.into()
        };
        let got: Vec<Value> = events.iter().map(project).collect();
        assert_eq!(
            got, expected,
            "events differ from the providers' usage\n{log}"
        );
        let total: i64 = expected
            .iter()
            .map(|m| m["totalTokens"].as_i64().expect("total"))
            .sum();
        #[allow(clippy::cast_precision_loss)]
        let total = total as f64;
        assert_eq!(metered_tokens(&base, &token, &meter, "user_vendors"), total);
    }
    /// Issue #14, django-styleguide's presigned direct upload: the presigned POST (in a helper)
    /// is billed in the service's `finish`, for the row's owner (the user who started the
    /// upload), not the request's user, with the stored file's size read safely. Run in a real
    /// Django (sqlite in memory, files on disk) against the emulator: bob finishes alice's
    /// 1234-byte upload twice (one event, alice's), and an upload finished without a file
    /// records nothing and does not raise.
    #[test]
    fn a_finished_presigned_upload_is_billed_once_to_the_files_owner() {
        let Some(python) = toolchain("python") else {
            return;
        };
        let emulator = spawn_background(EmulatorConfig::default()).expect("emulator starts");
        let (base, token) = (emulator.base_url(), emulator.token().to_owned());
        let meter = http(
            &base,
            &token,
            "POST",
            "/v1/meters/",
            Some(&json!({
                "name": "storage-bytes",
                "filter": {"conjunction": "and", "clauses": [
                    {"property": "name", "operator": "eq", "value": "storage-upload"}
                ]},
                "aggregation": {"func": "sum", "property": "bytes"},
            })),
        )["id"]
            .as_str()
            .expect("meter id")
            .to_owned();
        let work = tempfile::tempdir().expect("temp dir");
        let case = Case {
            dir: "runtime-py-presigned",
            language: "python",
            module_system: None,
            frameworks: &["django"],
            customer: CustomerSource::Session,
            sites: &[(K::Boto3Presigned, "client.generate_presigned_post")],
            py_package: Some("presignrt"),
            call_site: CallSiteCustomer::default(),
        };
        let (root, changes) = prepare(work.path(), case.dir, &case, |target, _| UsageImports {
            typescript: None,
            python: billing_generate::python::usage_module_import(target),
            python_request_customer: billing_generate::python::request_customer(target),
            python_app_files: Vec::new(),
            ts_session_customer: false,
        });
        assert!(
            changes.manual_steps.is_empty(),
            "{:?}",
            changes.manual_steps
        );
        let services = changes
            .files
            .iter()
            .find(|f| f.path == "presignrt/services.py")
            .expect("finish is wired");
        assert!(
            services.after.contains(
                "        upload.save()\n        record_stored_file(upload.owner_id, upload.file, idempotency_key=f\"upload-upload:{upload.pk}\")\n\n        return upload"
            ),
            "{}",
            services.after
        );
        assert!(
            !changes
                .files
                .iter()
                .any(|f| f.path == "presignrt/storage.py"),
            "the presigned helper itself is not edited"
        );
        let usage_module = services
            .after
            .lines()
            .find_map(|l| {
                l.strip_prefix("from ")
                    .filter(|l| l.contains("record_stored_file"))
            })
            .and_then(|l| l.split_whitespace().next())
            .expect("the service imports the usage module")
            .to_owned();
        let output = Command::new(python.join(".venv/bin/python"))
            .arg("drive.py")
            .current_dir(&root)
            .env("PYTHONPATH", &root)
            .env("USAGE_MODULE", &usage_module)
            .env("SPAIRE_SERVER_URL", &base)
            .env("SPAIRE_ACCESS_TOKEN", &token)
            .env("AWS_ACCESS_KEY_ID", "made-up-key")
            .env("AWS_SECRET_ACCESS_KEY", "made-up-secret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .expect("run python");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "the wired flow failed:\n{log}");
        let owners: Vec<&str> = log
            .lines()
            .find_map(|l| l.strip_prefix("OWNERS "))
            .unwrap_or_else(|| panic!("no OWNERS line in:\n{log}"))
            .split_whitespace()
            .collect();
        let (alice, bob) = (owners[0], owners[1]);
        assert!(
            log.contains("the stored file's size could not be read"),
            "the empty upload is a logged warning: {log}"
        );
        assert_eq!(
            metered_tokens(&base, &token, &meter, alice),
            1234.0,
            "{log}"
        );
        assert_eq!(metered_tokens(&base, &token, &meter, bob), 0.0, "{log}");
        let events = http(
            &base,
            &token,
            "GET",
            &format!("/v1/events/?external_customer_id={alice}&limit=100"),
            None,
        );
        assert_eq!(
            events["items"].as_array().expect("items").len(),
            1,
            "a second finish of the same row counts once: {events:#}"
        );
    }
}

/// Issue #18: embedding and image-generation calls, found by the real `detect` and wired by
/// `billing_wire` (AI SDK `embed` / `embedMany` / `generateImage` with mock models, `openai`
/// `embeddings.create` / `images.generate` against a stub OpenAI server on 127.0.0.1), record
/// exact counts that the emulator's `embedding-tokens` and `images-generated` meters total;
/// with an embedding meter planned, embeddings do not reach the LLM token meter.
mod media_runtime {
    use billing_detect::DetectOptions;
    use billing_emulator::{EmulatorConfig, spawn_background};
    use billing_generate::Target;
    use serde_json::Value;

    use super::*;
    use crate::codegen::{self, Pricing};

    fn create_meter(
        emulator: &billing_emulator::BackgroundEmulator,
        meter: &billing_plan::Meter,
    ) -> String {
        let body = json!({
            "name": meter.name,
            "filter": {"conjunction": "and", "clauses": [
                {"property": "name", "operator": "eq", "value": meter.event}
            ]},
            "aggregation": {"func": meter.aggregation.func.as_str(), "property": meter.aggregation.property},
        });
        let created: Value = ureq_json(emulator, "POST", "/v1/meters/", Some(&body));
        created["id"].as_str().expect("meter id").to_owned()
    }

    fn ureq_json(
        emulator: &billing_emulator::BackgroundEmulator,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Value {
        super::runtime::http(&emulator.base_url(), emulator.token(), method, path, body)
    }

    fn total(emulator: &billing_emulator::BackgroundEmulator, meter: &str) -> f64 {
        super::runtime::metered_tokens(&emulator.base_url(), emulator.token(), meter, "user_media")
    }

    #[test]
    fn embedding_and_image_calls_reach_their_meters_with_exact_counts() {
        let Some(node) = toolchain("node-ai-latest") else {
            return;
        };
        if !node.join("node_modules/openai/package.json").exists() {
            assert!(
                !in_ci(),
                "openai is missing from tests/toolchains/node-ai-latest"
            );
            return;
        }
        let emulator = spawn_background(EmulatorConfig::default()).expect("emulator starts");
        let work = tempfile::tempdir().expect("temp dir");
        let root = work.path().join("runtime-media");
        copy_dir(&fixture_root().join("runtime-media"), &root);
        let profile = billing_detect::detect(&root, &DetectOptions::default()).expect("detect");
        let kinds: Vec<CallSiteKind> = profile.packages[0]
            .call_sites
            .iter()
            .map(|s| s.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                K::Embed,
                K::Embed,
                K::GenerateImage,
                K::OpenaiEmbedding,
                K::OpenaiImage
            ],
            "detect finds every embedding and image call"
        );
        let plan = codegen::plan(
            &["llm-tokens", "embedding-tokens", "images-generated"],
            Pricing::Unit,
            false,
            Some(&emulator.base_url()),
        );
        let target = Target {
            root: &root,
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk: false,
        };
        let generated = billing_generate::generate(&target).expect("generation succeeds");
        let specifier =
            |file: &str| billing_generate::typescript::usage_module_specifier(&target, file);
        let imports = UsageImports {
            typescript: Some(TsUsageModule::PerFile(
                [(
                    "routes/media.js".to_owned(),
                    specifier("routes/media.js").expect("specifier"),
                )]
                .into_iter()
                .collect(),
            )),
            python: None,
            python_request_customer: false,
            python_app_files: Vec::new(),
            ts_session_customer: false,
        };
        let (changes, reports) =
            wire_with_report(&root, &profile.packages[0], &plan, &imports).expect("wiring");
        assert!(
            changes.manual_steps.is_empty(),
            "{:?}",
            changes.manual_steps
        );
        let wired = changes
            .files
            .iter()
            .find(|f| f.path == "routes/media.js")
            .expect("edited");
        for helper in ["recordEmbeddingUsage", "recordImageGeneration"] {
            assert!(wired.after.contains(helper), "{}", wired.after);
        }
        assert!(!wired.after.contains("recordLlmUsage"), "{}", wired.after);
        assert_eq!(reports.len(), 5, "{reports:?}");
        apply(&root, &generated);
        apply(&root, &changes);
        let meters: Vec<(String, String)> = plan
            .meters
            .iter()
            .map(|m| (m.name.clone(), create_meter(&emulator, m)))
            .collect();
        std::os::unix::fs::symlink(node.join("node_modules"), root.join("node_modules"))
            .expect("symlink node_modules");
        let usage = root.join(
            specifier("driver.mjs")
                .expect("specifier")
                .trim_start_matches("./"),
        );
        let output = Command::new("node")
            .arg("driver.mjs")
            .arg(&usage)
            .current_dir(&root)
            .env("SPAIRE_SERVER_URL", emulator.base_url())
            .env("SPAIRE_ACCESS_TOKEN", emulator.token())
            .output()
            .expect("run node");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "the wired handlers failed:\n{log}\n{}",
            wired.after
        );
        let by_name = |name: &str| &meters.iter().find(|(n, _)| n == name).expect(name).1;
        // embed: 1 value x 7; embedMany: 3 values x 7; OpenAI: the stub's 13 prompt tokens.
        assert_eq!(total(&emulator, by_name("embedding-tokens")), 41.0, "{log}");
        // generateImage n=3; images.generate n=2.
        assert_eq!(total(&emulator, by_name("images-generated")), 5.0, "{log}");
        // Embedding calls are billed on their own meter, not as LLM tokens too.
        assert_eq!(total(&emulator, by_name("llm-token-usage")), 0.0, "{log}");
        let events = ureq_json(
            &emulator,
            "GET",
            "/v1/events/?external_customer_id=user_media&limit=100",
            None,
        );
        let models: Vec<(String, String, i64)> = events["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| {
                let m = &e["metadata"];
                let count = m["tokens"]
                    .as_i64()
                    .or(m["images"].as_i64())
                    .expect("count");
                (
                    e["name"].as_str().unwrap_or_default().to_owned(),
                    m["model"].as_str().unwrap_or("").to_owned(),
                    count,
                )
            })
            .collect();
        // The OpenAI calls name their model literally; the AI SDK calls pass a model object
        // the wiring does not evaluate twice, so their events carry counts only.
        assert!(
            models.contains(&(
                "embedding-usage".into(),
                "text-embedding-3-small".into(),
                13
            )),
            "{models:?}"
        );
        assert!(
            models.contains(&("image-generation".into(), "dall-e-3".into(), 2)),
            "{models:?}"
        );
    }
}
