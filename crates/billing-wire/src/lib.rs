//! Surgical, format-preserving edits of existing LLM and S3 call sites so they record usage.
//!
//! `detect` lists call sites (`generateText`, `streamText`, PydanticAI `agent.run`,
//! `PutObjectCommand`, boto3 `put_object`, ...). [`wire`] re-parses each file with tree-sitter,
//! finds the call by position and shape, and inserts a call to the generated usage helpers:
//!
//! | call site | edit |
//! |---|---|
//! | `const r = await generateText(..)` | `recordLlmUsage(<customer>, r.totalUsage, <model>);` after it |
//! | `const { text } = await generateText(..)` | `totalUsage` added to the pattern, then recorded |
//! | `generateObject` | the same with `usage` |
//! | `const r = await embed(..)` / `embedMany`, `openai` `embeddings.create` | `recordEmbeddingUsage(<customer>, r.usage)` with an embedding meter, else `recordLlmUsage(<customer>, { inputTokens: r.usage.tokens, .. })` |
//! | `const { images } = await generateImage(..)`, `openai` `images.generate` | `recordImageGeneration(<customer>, images)` / `(.., r.data)` (image meters only) |
//! | `openai` v4+ `chat.completions.create` / `responses.create` / `embeddings.create`, `@anthropic-ai/sdk` `messages.create` (not streamed) | the vendor's snake_case `usage` mapped to the helper's names, after the call; streams are manual steps with the exact change |
//! | `openai-edge` / `openai` v3 `createChatCompletion` / `createEmbedding`, not streamed, body parsed by the app (`const body = await res.json()`) | `body.usage` recorded after the parse (`usage` added to a destructuring); streams (no usage in v1) and unparsed bodies are listed |
//! | `streamText(..)` / `streamObject(..)` / `streamUI(..)` (`ai/rsc`) | an `onFinish` added, or ours called first inside the existing one, guarded by `try` |
//! | `result = await agent.run(..)` / `run_sync` / `async with agent.run_stream(..) as result:` | `record_agent_run(<customer>, result)` after it |
//! | `async with agent.iter(..) as run:` (agents from `Agent(..)`, factories, typed parameters, attributes) | `record_agent_run(<customer>, run)` after the block |
//! | Python `openai` / `anthropic`: `r = [await] client.chat.completions.create(..)`, `responses.create`, `embeddings.create`, `messages.create`, legacy `openai.ChatCompletion.create` | `record_llm_response(<customer>, r)` after it |
//! | Python streams: `for chunk in stream:` with `include_usage`; `with client.messages.stream(..) as s:` | `record_llm_response(<customer>, chunk)` first in the loop; `s.get_final_message()` at the block's end. Streams without usage, Assistants runs, multipart and presigned uploads are manual steps |
//! | `await s3.send(new PutObjectCommand({ Body }))`, `new Upload({ params }).done()` | `recordStorageUpload(<customer>, <bytes>);` after the upload finished |
//! | boto3 `put_object(Body=..)` / `upload_file(path, ..)` | `record_storage_upload(<customer>, len(..) / os.path.getsize(..))` |
//!
//! plus the import of the helper in the file's own style (ESM or `require`, its quotes and
//! semicolons; Python imports after the existing ones).
//!
//! The customer id comes from the plan's `[customer]` section and must be found in scope
//! (a `request`/`req` parameter, a parsed body variable, the user's own function, a session
//! variable, Flask-Login's `current_user` in a `@login_required` route; with a generated
//! Next.js session resolver, `await sessionCustomerId()` in code only reached from an
//! app-router request). A Python call site in
//! request code with none of these uses `current_customer_id()`, the customer the generated
//! middleware names per request; code outside any request (scripts, evals, `__main__`) is
//! listed, and a background job (Modal, Celery, RQ, Dramatiq, APScheduler; trigger.dev, BullMQ,
//! Inngest in JS) bills the plan's `[customer] job_field` from its arguments or is listed. `return await agent.run(..)` and `Body=f.read()` are first assigned to a local
//! when nothing else in the statement runs before them. Whenever a call site cannot be wired safely (customer not in scope, unknown
//! shape, unknown byte count) the file is not touched for that site and a
//! [`ManualStep`](billing_changeset::ManualStep) says exactly what to add where. A call site
//! that is already wired (our helper is called right there) is left alone, so running twice
//! changes nothing.
//!
//! The import specifiers come from the generators, so wiring and generation always agree on
//! where the helpers live: `billing_generate::typescript::usage_module_specifier(target, file)`
//! for each file with a call site ([`TsUsageModule::PerFile`]) and
//! `billing_generate::python::usage_module_import(target)`.
//!
//! Only files are read; nothing is written. The returned [`ChangeSet`] holds
//! `FileAction::Modify` / `FileOrigin::Wired` changes with the full before and after text.
//!
//! ```no_run
//! # use std::path::Path;
//! # fn demo(profile: &billing_detect::profile::ProjectProfile, plan: &billing_plan::model::BillingPlan) -> Result<(), billing_wire::WireError> {
//! use billing_wire::{wire, TsUsageModule, UsageImports};
//! let package = &profile.packages[0];
//! let imports = UsageImports {
//!     typescript: Some(TsUsageModule::Specifier("@/lib/spaire/usage".into())),
//!     python: Some("app.spaire.usage".into()),
//!     python_request_customer: true,
//!     python_app_files: Vec::new(),
//!     ts_session_customer: false,
//! };
//! let changes = wire(Path::new(&profile.root), profile, package, plan, &imports)?;
//! # Ok(()) }
//! ```

mod customer;
mod edit;
mod outcome;
mod py;
mod syntax;
#[cfg(test)]
mod tests;
mod text;
mod ts;

use std::collections::BTreeMap;
use std::path::Path;

use billing_changeset::{ChangeSet, FileAction, FileChange, FileOrigin, ManualStep};
use billing_detect::profile::{CallSite, CallSiteKind, Package, ProjectProfile};
use billing_plan::model::{BillingPlan, MeterKind};

pub use outcome::{SiteReport, SiteResult};
/// Long lines the wiring added to a Python file, wrapped as black does (see [`py::wrap`]).
pub use py::wrap::wrap_long_lines as wrap_long_python_lines;

/// Names of the generated helpers, as the generators export them. A call to one of these right
/// at a call site means the site is already wired.
pub mod helpers {
    pub const TS_LLM: &str = "recordLlmUsage";
    pub const TS_STORAGE: &str = "recordStorageUpload";
    pub const TS_EMBEDDING: &str = "recordEmbeddingUsage";
    pub const TS_IMAGES: &str = "recordImageGeneration";
    /// The usage module's request-free session lookup (Next.js app router with a known auth
    /// library): `await sessionCustomerId()`.
    pub const TS_SESSION_CUSTOMER: &str = "sessionCustomerId";
    pub const PY_LLM: &str = "record_llm_usage";
    pub const PY_LLM_RESPONSE: &str = "record_llm_response";
    pub const PY_AGENT: &str = "record_agent_run";
    pub const PY_STORAGE: &str = "record_storage_upload";
    /// Records the size of a file the app stored, read safely (a presigned upload's finish).
    pub const PY_STORED_FILE: &str = "record_stored_file";
    pub const PY_IMAGES: &str = "record_image_generation";
    pub const PY_CURRENT_CUSTOMER: &str = "current_customer_id";
}

/// Where edited files import the generated usage helpers from. Computed by the caller (the
/// generators know where they put the module), so wiring does not depend on them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageImports {
    /// JavaScript / TypeScript files; `None` when no TS usage module is generated.
    pub typescript: Option<TsUsageModule>,
    /// Python: the dotted module, e.g. `app.spaire.usage`; `None` when none is generated.
    pub python: Option<String>,
    /// The generated Python middleware names each request's customer (FastAPI, Flask,
    /// Django), so a call site inside a request with no user id in scope is wired with
    /// `current_customer_id()`.
    pub python_request_customer: bool,
    /// Files besides the entry whose own app object also gets the generated middleware
    /// (`billing_generate::python::other_app_files`): request code there may use
    /// `current_customer_id()` as well.
    pub python_app_files: Vec<String>,
    /// The TS usage module exports [`helpers::TS_SESSION_CUSTOMER`] (a generated, non-stub
    /// session resolver that reads Next.js's request scope), so a call site in a route
    /// handler or server action with no user id in reach can await it.
    pub ts_session_customer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsUsageModule {
    /// One specifier for every file: a path alias (`@/lib/spaire/usage`) or a package name.
    Specifier(String),
    /// A specifier per edited file (relative specifiers differ by directory), keyed by the
    /// file's path relative to the project root, `/`-separated.
    PerFile(BTreeMap<String, String>),
}

impl UsageImports {
    fn typescript_for(&self, file: &str) -> Option<&str> {
        match self.typescript.as_ref()? {
            TsUsageModule::Specifier(s) => Some(s),
            TsUsageModule::PerFile(map) => map.get(file).map(String::as_str),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("cannot read `{path}`, where `detect` found a call site")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("call site path `{0}` is not a relative path inside the project")]
    PathOutsideRoot(String),
    #[error("the {0} parser could not be loaded")]
    Grammar(&'static str, #[source] tree_sitter::LanguageError),
}

impl billing_errors::Hint for WireError {
    fn hint(&self) -> String {
        match self {
            WireError::Read { .. } => {
                "the file moved or is unreadable: run `spaire-billing detect` again, then re-plan"
            }
            WireError::PathOutsideRoot(_) => {
                "the project profile is stale or hand-edited: run `spaire-billing detect` again"
            }
            WireError::Grammar(..) => "this is a bug in spaire-billing; please report it",
        }
        .to_owned()
    }
}

impl WireError {
    /// The error with the next step for the user attached.
    pub fn hinted(self) -> billing_errors::Hinted {
        billing_errors::Hinted::from_error(self)
    }
}

/// Wires every LLM and S3 call site `detect` found in `package` to the generated usage helpers,
/// for the meters the plan has (`llm-tokens` meters wire LLM calls, `storage` meters wire S3
/// uploads; other call sites are ignored).
///
/// `root` is the project root the call-site paths are relative to (normally
/// `profile.root`). Returns file edits plus manual steps for sites that could not be wired
/// safely; returns an error only when a listed file cannot be read. `_profile` is part of the
/// signature every producer shares; the package and plan carry all wiring needs today.
pub fn wire(
    root: &Path,
    _profile: &ProjectProfile,
    package: &Package,
    plan: &BillingPlan,
    imports: &UsageImports,
) -> Result<ChangeSet, WireError> {
    Ok(wire_with_report(root, package, plan, imports)?.0)
}

/// [`wire`], plus one line per call site saying what happened to it (for `--verbose` output
/// and tests).
pub fn wire_with_report(
    root: &Path,
    package: &Package,
    plan: &BillingPlan,
    imports: &UsageImports,
) -> Result<(ChangeSet, Vec<SiteReport>), WireError> {
    let mut by_file: BTreeMap<&str, Vec<&CallSite>> = BTreeMap::new();
    for site in &package.call_sites {
        if site_family(site.kind).is_some() && missing_meter(site.kind, plan).is_none() {
            by_file.entry(site.file.as_str()).or_default().push(site);
        }
    }

    let edited: Vec<String> = by_file.keys().map(|f| (*f).to_owned()).collect();
    let by_file_has = |path: &str| edited.iter().any(|f| f == path);
    let mut changes = ChangeSet::default();
    let mut reports = Vec::new();
    let package_sources = ts::PackageSources::default();
    let py_siblings = py::SiblingSources::default();
    for (file, mut sites) in by_file {
        sites.sort_by_key(|s| (s.line, s.column));
        let source = read_source(root, file)?;
        let result = wire_source_in(
            root,
            file,
            &source,
            &sites,
            package,
            plan,
            imports,
            &package_sources,
            &py_siblings,
        )?;
        let summary = result.summary();
        if let Some(after) = result.after
            && after != source
        {
            changes.files.push(FileChange {
                path: file.to_owned(),
                action: FileAction::Modify,
                origin: FileOrigin::Wired,
                before: Some(source.clone()),
                after,
                summary,
            });
        }
        for (path, before, after, summary) in result.elsewhere {
            // Computed from the file on disk: only handed out while nothing else edits it.
            if changes.files.iter().any(|f| f.path == path) || by_file_has(&path) {
                continue;
            }
            changes.files.push(FileChange {
                path,
                action: FileAction::Modify,
                origin: FileOrigin::Wired,
                before: Some(before),
                after,
                summary,
            });
        }
        let mut manual = result.manual;
        manual.sort_by_key(|m| m.line);
        changes.manual_steps.extend(manual);
        let mut file_reports = result.reports;
        file_reports.sort_by_key(|r| r.line);
        reports.extend(file_reports);
    }
    Ok((changes, reports))
}

/// The meter kind a billable call site needs when the plan has none that bills it (wiring
/// skips such a site; the metering account lists it with this kind to add). `None` for a
/// site the plan meters, and for one that bills nothing (a route file).
pub fn missing_meter(kind: CallSiteKind, plan: &BillingPlan) -> Option<MeterKind> {
    let has = |kind: MeterKind| plan.meters.iter().any(|m| m.kind == kind);
    let (needed, metered) = match site_family(kind)? {
        Family::Llm => (MeterKind::LlmTokens, has(MeterKind::LlmTokens)),
        // Without an embedding meter, embedding calls are billed as LLM tokens.
        Family::Embedding => (
            MeterKind::LlmTokens,
            has(MeterKind::LlmTokens) || has(MeterKind::Embeddings),
        ),
        Family::Image => (MeterKind::Images, has(MeterKind::Images)),
        Family::Storage => (MeterKind::Storage, has(MeterKind::Storage)),
    };
    (!metered).then_some(needed)
}

/// Wires the call sites of one file whose text is `source`.
#[cfg(test)]
fn wire_source(
    root: &Path,
    file: &str,
    source: &str,
    sites: &[&CallSite],
    package: &Package,
    plan: &BillingPlan,
    imports: &UsageImports,
) -> Result<outcome::FileResult, WireError> {
    let package_sources = ts::PackageSources::default();
    let py_siblings = py::SiblingSources::default();
    wire_source_in(
        root,
        file,
        source,
        sites,
        package,
        plan,
        imports,
        &package_sources,
        &py_siblings,
    )
}

/// [`wire_source`] with the package's scans that every file of the run shares.
#[allow(clippy::too_many_arguments)]
fn wire_source_in(
    root: &Path,
    file: &str,
    source: &str,
    sites: &[&CallSite],
    package: &Package,
    plan: &BillingPlan,
    imports: &UsageImports,
    package_sources: &ts::PackageSources,
    py_siblings: &py::SiblingSources,
) -> Result<outcome::FileResult, WireError> {
    let ctx = FileCtx {
        root,
        file,
        source,
        package,
        customer: &plan.customer,
        call_site: &plan.call_site_customer,
        embedding_meter: plan.meters.iter().any(|m| m.kind == MeterKind::Embeddings),
        request_customer: imports.python_request_customer,
        app_files: &imports.python_app_files,
        session_customer: imports.ts_session_customer,
        package_sources,
        py_siblings,
    };
    Ok(match source_language(file) {
        Some(SourceLanguage::Ts(dialect)) => {
            ts::wire_file(&ctx, dialect, sites, imports.typescript_for(file))?
        }
        Some(SourceLanguage::Python) => py::wire_file(&ctx, sites, imports.python.as_deref())?,
        None => outcome::FileResult::unsupported(&ctx, sites),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Llm,
    /// Embedding calls: the embedding meter's when planned, else the LLM meters'.
    Embedding,
    Image,
    Storage,
}

pub(crate) fn site_family(kind: CallSiteKind) -> Option<Family> {
    use CallSiteKind as K;
    match kind {
        K::GenerateText
        | K::StreamText
        | K::GenerateObject
        | K::StreamObject
        | K::AgentRun
        | K::AgentRunSync
        | K::AgentRunStream
        | K::AgentIter
        | K::StreamUi
        | K::OpenaiChatCompletion
        | K::OpenaiResponse
        | K::OpenaiLegacy
        | K::AnthropicMessage
        | K::OpenaiAssistantRun
        | K::LlmHttpFetch => Some(Family::Llm),
        K::Embed | K::OpenaiEmbedding => Some(Family::Embedding),
        K::GenerateImage | K::OpenaiImage => Some(Family::Image),
        K::S3PutObject
        | K::S3Upload
        | K::Boto3PutObject
        | K::Boto3UploadFile
        | K::Boto3Multipart
        | K::Boto3Presigned => Some(Family::Storage),
        K::RouteHandler => None,
    }
}

/// What the per-language wiring needs to know about the file being edited.
pub(crate) struct FileCtx<'a> {
    pub root: &'a Path,
    /// Path relative to the project root, `/`-separated.
    pub file: &'a str,
    pub source: &'a str,
    pub package: &'a Package,
    pub customer: &'a billing_plan::model::CustomerSource,
    /// `[customer] expression` / `job_field`, which take precedence at call sites.
    pub call_site: &'a billing_plan::model::CallSiteCustomer,
    /// An embedding meter is planned: embedding calls record `embedding-usage` events.
    pub embedding_meter: bool,
    /// See [`UsageImports::python_request_customer`].
    pub request_customer: bool,
    /// [`UsageImports::python_app_files`].
    pub app_files: &'a [String],
    /// [`UsageImports::ts_session_customer`].
    pub session_customer: bool,
    /// The package's TS sources, scanned once per run for request-scope questions.
    pub package_sources: &'a ts::PackageSources,
    /// The Python directories read for job questions, each once per run.
    pub py_siblings: &'a py::SiblingSources,
}

impl FileCtx<'_> {
    pub fn manual(&self, line: u32, instructions: String, snippet: Option<String>) -> ManualStep {
        ManualStep {
            file: self.file.to_owned(),
            line: Some(line),
            instructions,
            snippet,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsDialect {
    /// `.ts`, `.mts`, `.cts`: no JSX, `<T>x` casts allowed.
    TypeScript,
    /// `.tsx`, `.js`, `.jsx`, `.mjs`, `.cjs`: JSX allowed.
    Tsx,
}

enum SourceLanguage {
    Ts(TsDialect),
    Python,
}

fn source_language(file: &str) -> Option<SourceLanguage> {
    let ext = file.rsplit_once('.').map(|(_, e)| e)?;
    match ext {
        "ts" | "mts" | "cts" => Some(SourceLanguage::Ts(TsDialect::TypeScript)),
        "tsx" | "js" | "jsx" | "mjs" | "cjs" => Some(SourceLanguage::Ts(TsDialect::Tsx)),
        "py" | "pyi" => Some(SourceLanguage::Python),
        _ => None,
    }
}

fn read_source(root: &Path, file: &str) -> Result<String, WireError> {
    let rel = Path::new(file);
    let inside = rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(WireError::PathOutsideRoot(file.to_owned()));
    }
    fs_err::read_to_string(root.join(rel)).map_err(|source| WireError::Read {
        path: file.to_owned(),
        source,
    })
}
