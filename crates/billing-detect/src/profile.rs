//! The project profile: what `detect` found, as plain serialisable data.
//!
//! This is the `--json` output of `spaire-billing detect` (documented in the README) and the
//! input of every later stage. Bump [`SCHEMA_VERSION`] on any breaking change.
//! All paths are relative to [`ProjectProfile::root`] and use `/` separators.

use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectProfile {
    pub schema_version: u32,
    /// Absolute path of the directory that was scanned.
    pub root: String,
    /// One entry per package (a monorepo has several; a plain app has one with path ".").
    pub packages: Vec<Package>,
    /// Things the user should know before changing the project (dirty git tree, production
    /// indicators, malformed manifests).
    pub warnings: Vec<Warning>,
    /// Files skipped and why (too large, unreadable, not UTF-8, symlink loop).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// Directory of the package relative to the root ("." for the root itself).
    pub path: String,
    /// Name from the manifest (package.json `name`, pyproject `project.name`, go module, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub language: Language,
    /// ESM or CommonJS; only for JavaScript and TypeScript packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_system: Option<ModuleSystem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<PackageManagerInfo>,
    pub frameworks: Vec<Framework>,
    /// Whether source lives under `src/` (affects where generated files go).
    #[serde(default)]
    pub src_dir: bool,
    /// Import aliases: tsconfig `paths`, package.json `imports`, `$lib`, `~`.
    pub aliases: Vec<Alias>,
    pub integrations: Vec<Integration>,
    pub call_sites: Vec<CallSite>,
    /// Billable calls the user marked as billing no customer (`spaire-billing: not billed` on
    /// the call's line or the line above): kept out of `call_sites`, so nothing wires, meters
    /// or lists them as work left; reported so the marking is visible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_billed: Vec<CallSite>,
    /// `SPAIRE_*` variable NAMES found in `.env*` files. Values are never read out.
    pub env_vars: Vec<EnvVar>,
    /// Workspace members this package belongs to / contains (monorepo structure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceInfo>,
    /// The tsconfig.json / jsconfig.json of a JS/TS package (root-relative), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsconfig: Option<String>,
    /// The manifests that define this package (root-relative), e.g. `apps/web/package.json`,
    /// `backend/pyproject.toml`, `requirements.txt`. Installs edit these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// Set on a sample app (`examples/<name>/`, `demo/`, ...) of the package at this path when
    /// that package has no app outside its sample code and several samples have one: no
    /// sample is set up unless chosen (`--package <its path>`). It shares that package's
    /// dependencies and requirements file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_of: Option<String>,
    /// How the app itself identifies a user when its user table has no `id`: the primary key
    /// its schema declares (only `email` today). Session billing keys customers by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_key: Option<UserKey>,
}

/// The column an app's user table is keyed by, with the schema line that says so (Drizzle
/// `email: varchar(..).primaryKey()`, Prisma `email String @id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserKey {
    /// The key as the session exposes it: `email` (`session.user.email`).
    pub field: String,
    pub evidence: Evidence,
}

// Defined once in `billing-vocab`; re-exported so `billing_detect::Language` keeps working.
pub use billing_vocab::{FrameworkId, Language};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleSystem {
    Esm,
    Cjs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Pnpm,
    Yarn,
    Npm,
    Bun,
    Uv,
    Poetry,
    Pipenv,
    Pip,
    Go,
    Composer,
    Bundler,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageManagerInfo {
    pub id: PackageManager,
    pub evidence: Vec<Evidence>,
    /// High: a lockfile in the package or its workspace root. Medium: a lockfile further up,
    /// or only a declaration (`packageManager`, `[tool.poetry]`). Low: nothing; a default.
    #[serde(default)]
    pub confidence: Confidence,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    #[default]
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Framework {
    pub id: FrameworkId,
    /// Version requirement as declared in the manifest (e.g. "^15.1.0"), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Major version, when it can be read from the requirement or the lockfile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<u64>,
    pub confidence: Confidence,
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub details: FrameworkDetails,
}

/// Framework-specific layout facts. Only the fields relevant to the framework are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameworkDetails {
    /// Next.js: directory of the app router (e.g. "src/app"), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_dir: Option<String>,
    /// Next.js: directory of the pages router (e.g. "pages"), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_dir: Option<String>,
    /// Nuxt: srcDir ("app" for the Nuxt 4 layout, "." for Nuxt 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_dir: Option<String>,
    /// Nuxt: the server directory (always at the root in Nuxt 4, e.g. "server").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_dir: Option<String>,
    /// Astro: `output` ("static" | "server"), and the SSR adapter package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// SvelteKit / Remix / React Router: routes directory (e.g. "src/routes", "app/routes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes_dir: Option<String>,
    /// Django: settings module (e.g. "mysite.settings") and the project package directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_module: Option<String>,
    /// Go: module path from go.mod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_path: Option<String>,
    /// File where the app object is constructed (`express()`, `new Hono(`, `FastAPI(`,
    /// `Flask(__name__)`, `gin.Default()`, ...), when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_file: Option<String>,
    /// Variable that holds the app object in `entry_file` (e.g. "app").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_variable: Option<String>,
}

/// Where a conclusion came from: `file:line` plus the text that was matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The matched text, trimmed (e.g. `"next": "^15.1.0"` or `app = FastAPI()`).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// Import prefix as written by users, e.g. "@/*", "#app/*", "$lib", "~".
    pub prefix: String,
    /// Target directory relative to the package, e.g. "src/*".
    pub target: String,
    pub source: Evidence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrationKind {
    /// Vercel AI SDK (`ai`).
    AiSdk,
    /// An `@ai-sdk/*` provider.
    AiProvider,
    /// A vendor LLM client (`openai`, `@anthropic-ai/sdk`).
    LlmClient,
    /// `pydantic-ai` / `pydantic-ai-slim`.
    AgentFramework,
    /// `@aws-sdk/client-s3`, `@aws-sdk/lib-storage`, `boto3`.
    S3,
    /// An already-installed Spaire SDK (`@spaire/sdk`, `spaire-sdk`).
    SpaireSdk,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// Package name, e.g. "ai", "@ai-sdk/openai", "pydantic-ai", "boto3", "@spaire/sdk".
    pub package: String,
    pub kind: IntegrationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<u64>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallSiteKind {
    GenerateText,
    StreamText,
    GenerateObject,
    StreamObject,
    /// PydanticAI `agent.run(...)`.
    AgentRun,
    AgentRunSync,
    AgentRunStream,
    /// PydanticAI `async with agent.iter(...) as run:` (usage: `run.usage()` after the loop).
    AgentIter,
    /// `new PutObjectCommand(...)`.
    S3PutObject,
    /// `new Upload(...)` from `@aws-sdk/lib-storage`.
    S3Upload,
    /// boto3 `put_object(...)`.
    Boto3PutObject,
    /// boto3 `upload_file(...)` / `upload_fileobj(...)`.
    Boto3UploadFile,
    /// boto3 `complete_multipart_upload(...)`: the size is the sum of the parts, unknown here.
    Boto3Multipart,
    /// boto3 `generate_presigned_post(...)` / a presigned `put_object` URL: the bytes go from
    /// the browser straight to S3, never through the app; a listed note, not billed here.
    Boto3Presigned,
    /// AI SDK `embed(...)` / `embedMany(...)` (usage: `{ tokens }`).
    Embed,
    /// AI SDK `generateImage(...)` / `experimental_generateImage(...)` (`images`).
    GenerateImage,
    /// `openai` v4+ `client.images.generate(...)` (`data`: one entry per image).
    OpenaiImage,
    /// AI SDK 3/4 RSC `streamUI(...)` from `ai/rsc` (`onFinish({ usage })`).
    StreamUi,
    /// `openai` v4+ `client.chat.completions.create(...)` (usage: `prompt_tokens`, ...).
    OpenaiChatCompletion,
    /// `openai` v4+ `client.responses.create(...)` (usage: `input_tokens`, ...).
    OpenaiResponse,
    /// `openai` v4+ `client.embeddings.create(...)`.
    OpenaiEmbedding,
    /// `openai-edge` / `openai` v3 `createChatCompletion` / `createEmbedding`.
    OpenaiLegacy,
    /// `@anthropic-ai/sdk` `client.messages.create(...)` / `.stream(...)`.
    AnthropicMessage,
    /// OpenAI Assistants `client.beta.threads.runs.create(...)` (and `create_and_poll`,
    /// `stream`, `threads.create_and_run`): usage is on the finished run, always a manual step.
    OpenaiAssistantRun,
    /// A raw `fetch` to a model API (`https://api.openai.com/v1/...`, `…/v1/chat/completions`,
    /// `api.anthropic.com`): always a manual step, the body's usage is the app's to read.
    LlmHttpFetch,
    /// A file that defines HTTP route handlers (Next.js route.ts, an Express router, ...).
    RouteHandler,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSite {
    pub kind: CallSiteKind,
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// The callee as written at the call site (an aliased import shows its local name).
    pub callee: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// Path of the workspace root package (relative to the scan root).
    pub root: String,
    /// How the workspace is declared: "pnpm-workspace.yaml", "package.json workspaces",
    /// "turbo.json", "nx.json", "uv workspace", "go.work".
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Stable machine-readable code: "dirty-git", "production-env", "malformed-manifest",
    /// "production-deploy-config", ...
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl ProjectProfile {
    /// The package at `path` (as written in the profile, e.g. "." or "apps/web").
    pub fn package(&self, path: &str) -> Option<&Package> {
        let wanted = path.trim_end_matches('/');
        let wanted = if wanted.is_empty() { "." } else { wanted };
        self.packages.iter().find(|p| p.path == wanted)
    }

    /// The package a root-relative file or directory belongs to: the deepest package whose
    /// directory contains it (`"apps/web/src/app/page.tsx"` → the `apps/web` package).
    pub fn package_for_path(&self, path: &str) -> Option<&Package> {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        self.packages
            .iter()
            .filter(|p| {
                p.path == "."
                    || path == p.path
                    || path
                        .strip_prefix(p.path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|p| if p.path == "." { 0 } else { p.path.len() + 1 })
    }

    /// What changed between an earlier profile and this one, in words, for drift checks
    /// (e.g. `plan` re-runs `detect` and refuses to apply a stale plan). Only facts that
    /// affect generated code are compared: packages, language, module system, package
    /// manager, frameworks (id + major + layout), aliases, integrations and call sites.
    pub fn drift_from(&self, earlier: &ProjectProfile) -> Vec<String> {
        let mut out = Vec::new();
        for old in &earlier.packages {
            if !self.packages.iter().any(|p| p.path == old.path) {
                out.push(format!("package `{}` is gone", old.path));
            }
        }
        for new in &self.packages {
            let Some(old) = earlier.packages.iter().find(|p| p.path == new.path) else {
                out.push(format!("package `{}` is new", new.path));
                continue;
            };
            let at = &new.path;
            if old.language != new.language || old.module_system != new.module_system {
                out.push(format!("`{at}`: language or module system changed"));
            }
            if old.package_manager.as_ref().map(|p| p.id)
                != new.package_manager.as_ref().map(|p| p.id)
            {
                out.push(format!("`{at}`: package manager changed"));
            }
            let fw = |p: &Package| -> Vec<(FrameworkId, Option<u64>, FrameworkDetails)> {
                p.frameworks
                    .iter()
                    .map(|f| (f.id, f.major, f.details.clone()))
                    .collect()
            };
            if fw(old) != fw(new) {
                out.push(format!("`{at}`: frameworks or their layout changed"));
            }
            let al = |p: &Package| -> Vec<(String, String)> {
                p.aliases
                    .iter()
                    .map(|a| (a.prefix.clone(), a.target.clone()))
                    .collect()
            };
            if al(old) != al(new) {
                out.push(format!("`{at}`: import aliases changed"));
            }
            let ig = |p: &Package| -> Vec<(String, Option<u64>)> {
                p.integrations
                    .iter()
                    .map(|i| (i.package.clone(), i.major))
                    .collect()
            };
            if ig(old) != ig(new) {
                out.push(format!("`{at}`: integrations changed"));
            }
            if old.call_sites != new.call_sites {
                out.push(format!("`{at}`: call sites changed"));
            }
        }
        out
    }
}

impl Package {
    /// The framework detected with the highest confidence (ties: the order of detection).
    pub fn primary_framework(&self) -> Option<&Framework> {
        self.frameworks
            .iter()
            .enumerate()
            .max_by_key(|(i, f)| (f.confidence, std::cmp::Reverse(*i)))
            .map(|(_, f)| f)
    }

    pub fn has_framework(&self, id: FrameworkId) -> bool {
        self.frameworks.iter().any(|f| f.id == id)
    }

    pub fn integration(&self, package: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.package == package)
    }
}
