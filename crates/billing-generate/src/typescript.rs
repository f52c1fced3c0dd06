//! Code generation for TypeScript and JavaScript packages.
//!
//! Produces, in the package's own conventions ([`layout::Layout`]):
//! - shared modules under one directory (`lib/spaire/` or the framework's server-only place):
//!   `client` (SDK client, explicit server URL), `recorder` (batching queue), `usage`
//!   (per-metric helpers), `customer` (request → app user id), `balance` (credits),
//!   `webhooks` + `webhook-handlers` (verification and dispatch);
//! - a framework adapter (middleware in the framework's idiom) and the webhook route file;
//! - registration of the middleware in the app's entry file where that can be done safely,
//!   otherwise a manual step saying exactly what to add;
//! - `.env.example` variable names, and the `@spaire/sdk` install when it is missing.

mod autoload;
pub(crate) mod context;
mod env_files;
mod frameworks;
mod layout;
mod next_after;
mod next_matcher;
mod next_routes;
mod next_wrap;
mod nuxt_csurf;
mod registration;
mod remix_registration;
mod session_resolver;
mod sveltekit_hooks;
mod toolchain;
mod webhook_events;

use std::path::Path;

use billing_changeset::{ChangeSet, EnvVarName, FileAction, FileChange, FileOrigin, ManualStep};
use billing_detect::{Framework, FrameworkId, Language};
use billing_plan::model::CustomerSource;
use billing_plan::{BillingPlan, MeterKind};
use minijinja::Environment;
use serde::Serialize;

pub use context::{WEBHOOK_PATH, usage_exports};
pub use layout::Layout;

use crate::render;
use crate::{GenerateError, Target};

/// The npm package generated code depends on.
pub const SDK_PACKAGE: &str = billing_vocab::TYPESCRIPT_SDK.name;

/// Templates are named by file stem: `typescript/frameworks/express.ts.j2` is `express`.
fn template_name(path: &'static str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".ts").unwrap_or(file)
}

/// Metadata keys the generated helpers write for a meter kind — the only properties a meter
/// of that kind may aggregate. `model` and `method` are written when the caller passes them.
/// `None` for custom meters: the caller of `recordUsage` chooses the keys.
pub fn metadata_keys_written(kind: MeterKind) -> Option<&'static [&'static str]> {
    (kind != MeterKind::Custom).then(|| kind.metadata_keys())
}

/// The import specifier of the generated usage module as seen from `from_file` (a path
/// relative to the project root): the package's alias when its build resolves one, else a
/// relative path (with `.js` under Node's ESM resolution). `None` when the target is not a
/// TypeScript/JavaScript package or the file is outside it.
pub fn usage_module_specifier(target: &Target<'_>, from_file: &str) -> Option<String> {
    if !matches!(
        target.package.language,
        Language::TypeScript | Language::JavaScript
    ) {
        return None;
    }
    let framework = select_framework(target).ok().flatten();
    let layout = Layout::new(target.package, framework.as_ref());
    let from = layout.to_package(from_file)?;
    Some(layout.specifier(&from, "usage"))
}

pub use session_resolver::SessionResolver;

/// The generated session resolver when `[customer] from = "session"` and the package's auth
/// library is known (Next.js app router only); `None`: the resolver is a listed stub.
pub fn session_resolver(target: &Target<'_>, layout: &Layout) -> Option<SessionResolver> {
    if !matches!(target.plan.customer, CustomerSource::Session) {
        return None;
    }
    session_resolver::detect(target, layout)
}

/// Whether the usage module of `target`'s package exports
/// `sessionCustomerId`: a non-stub session resolver that needs no request.
pub fn exports_session_customer(target: &Target<'_>) -> bool {
    if !matches!(
        target.package.language,
        Language::TypeScript | Language::JavaScript
    ) {
        return false;
    }
    let framework = select_framework(target).ok().flatten();
    let layout = Layout::new(target.package, framework.as_ref());
    session_resolver(target, &layout).is_some()
}

/// The framework to generate for: the plan's `[project] framework` override, else the one
/// detected with the highest confidence. `Ok(None)`: plain Node code, no adapter.
fn select_framework(target: &Target<'_>) -> Result<Option<Framework>, GenerateError> {
    let Some(id) = target.plan.project.framework else {
        return Ok(target
            .package
            .primary_framework()
            .filter(|f| frameworks::is_js_framework(f.id))
            .cloned());
    };
    if !frameworks::is_js_framework(id) {
        return Err(GenerateError::FrameworkLanguageMismatch {
            framework: id.to_string(),
            family: id.family().display_name(),
            package: target.package.path.clone(),
            language: target.package.language.display_name(),
        });
    }
    // When detection saw the framework too, keep its layout facts (app dir, entry file, ...).
    Ok(Some(
        target
            .package
            .frameworks
            .iter()
            .find(|f| f.id == id)
            .cloned()
            .unwrap_or(Framework {
                id,
                version: None,
                major: None,
                confidence: billing_detect::Confidence::High,
                evidence: Vec::new(),
                details: billing_detect::FrameworkDetails::default(),
            }),
    ))
}

/// Everything generation produces, before it is turned into file changes.
struct Output {
    /// (package-relative path, template, extra context, summary)
    files: Vec<PlannedFile>,
    changes: ChangeSet,
}

struct PlannedFile {
    path: String,
    content: String,
    origin: FileOrigin,
    summary: String,
}

/// Renders templates with the helpers they use: `t(s)` keeps a type annotation only in
/// TypeScript output; `imp(names, spec)` writes an ESM import or a CommonJS require.
struct Renderer {
    env: Environment<'static>,
    base: Context,
}

type Context = context::Context;

impl Renderer {
    fn new(base: Context) -> Self {
        let mut env = render::environment(&render::embedded("typescript", template_name));
        let ts = base.ts;
        let esm = base.esm;
        env.add_function(
            "t",
            move |text: String| if ts { text } else { String::new() },
        );
        env.add_function("imp", move |names: String, spec: String| {
            // `spec` may come from the plan (`customer.module`): always a quoted literal.
            let spec = crate::escape::js_str(&spec);
            if esm {
                format!("import {names} from {spec};")
            } else {
                format!("const {} = require({spec});", names.replace(" as ", ": "))
            }
        });
        Renderer { env, base }
    }

    fn render(&self, template: &str, extra: impl Serialize) -> Result<String, GenerateError> {
        let mut value = serde_json::to_value(&self.base).expect("context serialises");
        let extra = serde_json::to_value(extra).expect("context serialises");
        if let (Some(map), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            map.extend(extra);
        }
        let text = render::render(&self.env, template, value)?;
        Ok(tidy(&text))
    }
}

/// Collapses runs of blank lines that conditional template blocks leave behind.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The package whose `waitUntil` keeps a Vercel function alive after its response (imported
/// by the recorder only when the app declares it: an import of a missing package would break
/// the build).
const VERCEL_FUNCTIONS: &str = "@vercel/functions";

/// Whether the package declares `name` in its package.json (any dependency section).
fn declares(target: &Target<'_>, layout: &Layout, name: &str) -> Result<bool, GenerateError> {
    let Some(text) = read_optional(target.root, &layout.to_root("package.json"))? else {
        return Ok(false);
    };
    // An unreadable manifest declares nothing: detection reports it elsewhere.
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    Ok(["dependencies", "devDependencies", "optionalDependencies"]
        .iter()
        .any(|section| manifest[section].get(name).is_some()))
}

pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    let framework = select_framework(target)?;
    let layout = Layout::new(target.package, framework.as_ref());
    let header = render::header_line("//");
    let mut context = Context::new(target.plan, &layout, header);
    context.session_resolver = session_resolver(target, &layout);
    if layout.framework == Some(FrameworkId::Nextjs) {
        let package_dir = layout.to_root("");
        context.next_after = next_after::export(target.root, package_dir.trim_end_matches('/'));
    }
    context.vercel_wait_until =
        context.next_after.is_none() && declares(target, &layout, VERCEL_FUNCTIONS)?;
    if context.ts && context.esm {
        context.env_module = t3_env_module(&layout, target)?;
    }
    let renderer = Renderer::new(context);
    let mut output = Output {
        files: Vec::new(),
        changes: ChangeSet::default(),
    };
    shared_modules(&renderer, &layout, target.plan, &mut output)?;
    // The preview says what the customer id is when it is not the user's id.
    if let Some(keyed_by) = session_resolver(target, &layout).and_then(|r| r.keyed_by) {
        let customer = layout.module_file("customer");
        for file in output.files.iter_mut().filter(|f| f.path == customer) {
            file.summary = format!("{}; customers are keyed by {keyed_by}", file.summary);
        }
    }
    frameworks::generate(&renderer, &layout, target, &mut output)?;
    env_example(&renderer, &layout, target, &mut output)?;
    t3_env(&layout, target, &mut output)?;
    compiler_steps(&renderer, &layout, target, &mut output)?;
    output
        .changes
        .installs
        .extend(crate::imports::missing_installs(target.package));
    output
        .changes
        .installs
        .extend(crate::imports::price_installs(
            target.root,
            target.package,
            target.plan,
        ));
    env_var_names(target.plan, &mut output);
    finish(target.root, &layout, output)
}

fn shared_modules(
    renderer: &Renderer,
    layout: &Layout,
    plan: &BillingPlan,
    output: &mut Output,
) -> Result<(), GenerateError> {
    let mut add = |stem: &str, summary: &str| -> Result<(), GenerateError> {
        output.files.push(PlannedFile {
            path: layout.module_file(stem),
            content: renderer.render(stem, ())?,
            origin: FileOrigin::Generated,
            summary: summary.to_owned(),
        });
        Ok(())
    };
    add("client", "Spaire SDK client with an explicit server URL")?;
    add(
        "recorder",
        "usage recorder: batches events off the request path, retries, flushes on shutdown",
    )?;
    add(
        "usage",
        "usage helpers: one per meter in spaire-billing.toml",
    )?;
    add(
        "customer",
        "finds the app's user id for a request ([customer] in the plan)",
    )?;
    if plan.uses_credits() {
        add(
            "balance",
            "credit balances by meter name (balance > 0 means credits remain)",
        )?;
    }
    if plan.webhooks.is_some() {
        add(
            "webhooks",
            "verifies Spaire webhooks (403 on a bad signature) and dispatches them",
        )?;
        add(
            "webhook-handlers",
            "what the app does for each webhook event",
        )?;
    }
    Ok(())
}

fn env_example(
    renderer: &Renderer,
    layout: &Layout,
    target: &Target<'_>,
    output: &mut Output,
) -> Result<(), GenerateError> {
    // Next to the `.env` the package loads (a monorepo's root for `dotenv -e ../../.env`).
    let package_dir = layout.to_root("");
    let path = match env_files::env_dir(target.root, package_dir.trim_end_matches('/')) {
        Some(dir) if dir.is_empty() => ".env.example".to_owned(),
        Some(dir) => format!("{dir}/.env.example"),
        None => layout.to_root(".env.example"),
    };
    let existing = read_optional(target.root, &path)?;
    let block = renderer.render("env.example", ())?;
    let present = |name: &str| {
        existing.as_deref().is_some_and(|text| {
            text.lines()
                .any(|line| line.trim_start().starts_with(&format!("{name}=")))
        })
    };
    // Keep the comment above each missing variable; skip variables already listed.
    let mut missing = String::new();
    let mut pending_comment = String::new();
    for line in block.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            pending_comment.push_str(line);
            pending_comment.push('\n');
            continue;
        }
        let name = line.split('=').next().unwrap_or_default();
        if !present(name) {
            missing.push_str(&pending_comment);
            missing.push_str(line);
            missing.push('\n');
        }
        pending_comment.clear();
    }
    if missing.trim().is_empty() {
        return Ok(());
    }
    let after = match &existing {
        Some(text) if !text.is_empty() && !text.ends_with('\n') => format!("{text}\n{missing}"),
        Some(text) => format!("{text}{missing}"),
        None => missing.trim_start_matches('\n').to_owned(),
    };
    output.changes.files.push(FileChange {
        path,
        action: if existing.is_some() {
            FileAction::Modify
        } else {
            FileAction::Create
        },
        origin: FileOrigin::Config,
        before: existing,
        after,
        summary: "names of the Spaire environment variables (no values)".to_owned(),
    });
    Ok(())
}

/// Compiler settings the generated code cannot meet, said before anything is written; and
/// for a node10 `moduleResolution`, the declarations that let tsc resolve the SDK subpaths the
/// webhook handler imports (measured on a real Next.js app: 4 new TS2307/TS7006 errors without).
fn compiler_steps(
    renderer: &Renderer,
    layout: &Layout,
    target: &Target<'_>,
    output: &mut Output,
) -> Result<(), GenerateError> {
    if target.package.language != Language::TypeScript {
        return Ok(());
    }
    let package_dir = layout.to_root("");
    output
        .changes
        .manual_steps
        .extend(toolchain::typescript_major_step(
            target.root,
            package_dir.trim_end_matches('/'),
        ));
    if target.plan.webhooks.is_some()
        && let Some(tsconfig) = &target.package.tsconfig
        && toolchain::ignores_package_exports(target.root, &target.profile.packages, tsconfig)
    {
        let declarations = format!("{}/sdk-subpaths.d.ts", layout.module_dir);
        if toolchain::includes(
            target.root,
            &target.profile.packages,
            tsconfig,
            &layout.to_root(&declarations),
        ) {
            output.files.push(PlannedFile {
                path: declarations,
                content: renderer.render("sdk-subpaths.d", ())?,
                origin: FileOrigin::Generated,
                summary: "types of the SDK subpaths for tsc's node10 module resolution (no \
                          runtime code)"
                    .to_owned(),
            });
        } else {
            output
                .changes
                .manual_steps
                .extend(toolchain::module_resolution_step(
                    target.root,
                    &target.profile.packages,
                    tsconfig,
                ));
        }
    }
    Ok(())
}

/// The names setup adds to a t3-env schema ([`t3_env`]).
fn t3_env_names(target: &Target<'_>) -> Vec<&'static str> {
    let mut names = vec!["SPAIRE_ACCESS_TOKEN", "SPAIRE_SERVER_URL"];
    if target.plan.webhooks.is_some() {
        names.push("SPAIRE_WEBHOOK_SECRET");
    }
    names
}

/// The specifier the generated client imports the app's t3-env `env` from (seen from the
/// client module), when the package has one that holds, or gets from [`t3_env`], every Spaire
/// variable.
fn t3_env_module(layout: &Layout, target: &Target<'_>) -> Result<Option<String>, GenerateError> {
    let names = t3_env_names(target);
    for file in env_files::T3_ENV_FILES {
        let Some(text) = read_optional(target.root, &layout.to_root(file))? else {
            continue;
        };
        let schema_has_all = names.iter().all(|n| text.contains(&format!("{n}:")));
        let t3 = text.contains("createEnv(") && text.contains("@t3-oss/env");
        if t3 && (schema_has_all || env_files::extend_t3_env(&text, &names).is_some()) {
            let stem = file.rsplit_once('.').map_or(*file, |(stem, _)| stem);
            return Ok(Some(
                layout.specifier_to(&layout.module_file("client"), stem),
            ));
        }
        return Ok(None);
    }
    Ok(None)
}

/// A t3-env `env.ts` validates every variable the app reads: add the Spaire ones to it.
fn t3_env(layout: &Layout, target: &Target<'_>, output: &mut Output) -> Result<(), GenerateError> {
    let names = t3_env_names(target);
    for file in env_files::T3_ENV_FILES {
        let path = layout.to_root(file);
        let Some(before) = read_optional(target.root, &path)? else {
            continue;
        };
        if let Some(after) = env_files::extend_t3_env(&before, &names) {
            output.changes.files.push(FileChange {
                path,
                action: FileAction::Modify,
                origin: FileOrigin::Config,
                before: Some(before),
                after,
                summary: "the Spaire variables in the app's t3-env schema (optional, so a \
                          missing token never stops a build)"
                    .to_owned(),
            });
        }
        break;
    }
    Ok(())
}

fn env_var_names(plan: &BillingPlan, output: &mut Output) {
    output.changes.env_vars.push(EnvVarName {
        name: "SPAIRE_ACCESS_TOKEN".to_owned(),
        purpose: "Spaire organization access token used to send usage events".to_owned(),
        required: true,
    });
    output.changes.env_vars.push(EnvVarName {
        name: "SPAIRE_SERVER_URL".to_owned(),
        purpose: format!(
            "Spaire API base URL (defaults to {})",
            plan.public_server_url()
        ),
        required: false,
    });
    if plan.webhooks.is_some() {
        output.changes.env_vars.push(EnvVarName {
            name: "SPAIRE_WEBHOOK_SECRET".to_owned(),
            purpose: "signing secret of the Spaire webhook endpoint".to_owned(),
            required: true,
        });
    }
}

fn read_optional(root: &Path, relative: &str) -> Result<Option<String>, GenerateError> {
    match std::fs::read_to_string(root.join(relative)) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GenerateError::Read {
            path: relative.to_owned(),
            source,
        }),
    }
}

/// Turns planned files into changes: `Create` for new paths, `Modify` (with the current
/// content, so `apply` can show a diff) for existing ones; identical files are left out.
fn finish(root: &Path, layout: &Layout, output: Output) -> Result<ChangeSet, GenerateError> {
    let Output { files, mut changes } = output;
    let mut generated = Vec::with_capacity(files.len());
    for file in files {
        let path = layout.to_root(&file.path);
        let before = read_optional(root, &path)?;
        if before.as_deref() == Some(file.content.as_str()) {
            continue;
        }
        generated.push(FileChange {
            action: if before.is_some() {
                FileAction::Modify
            } else {
                FileAction::Create
            },
            path,
            origin: file.origin,
            before,
            after: file.content,
            summary: file.summary,
        });
    }
    generated.append(&mut changes.files);
    changes.files = generated;
    Ok(changes)
}

fn manual(output: &mut Output, file: String, instructions: String, snippet: Option<String>) {
    output.changes.manual_steps.push(ManualStep {
        file,
        line: None,
        instructions,
        snippet,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_detect::{
        Confidence, FrameworkDetails, FrameworkId, ModuleSystem, Package, ProjectProfile,
    };
    use billing_plan::{
        CreditGrant, CustomerSource, Environment, ProductRef, ProjectSection, Webhooks,
    };

    fn plan(customer: CustomerSource) -> BillingPlan {
        let meters = ["llm-tokens-split", "api-calls", "storage", "compute-time"]
            .iter()
            .flat_map(|id| billing_plan::preset(id).expect("preset").meters)
            .collect();
        BillingPlan {
            call_site_customer: Default::default(),
            environment: Environment::Local,
            server_url: None,
            project: ProjectSection {
                path: ".".into(),
                framework: None,
            },
            customer,
            meters,
            prices: Vec::new(),
            credits: vec![CreditGrant {
                meter: "llm-token-usage".into(),
                product: ProductRef("Pro".into()),
                units: 10,
                rollover: false,
            }],
            webhooks: Some(Webhooks {
                events: vec![
                    "order.paid".into(),
                    "customer.state_changed".into(),
                    "subscription.past_due".into(),
                ],
                url: None,
            }),
        }
    }

    fn package(language: Language, framework: Option<FrameworkId>) -> Package {
        Package {
            path: ".".into(),
            name: None,
            language,
            module_system: Some(ModuleSystem::Esm),
            package_manager: None,
            frameworks: framework
                .map(|id| Framework {
                    id,
                    version: None,
                    major: None,
                    confidence: Confidence::High,
                    evidence: Vec::new(),
                    details: FrameworkDetails::default(),
                })
                .into_iter()
                .collect(),
            src_dir: true,
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
        }
    }

    fn generate_for(package: &Package, plan: &BillingPlan) -> ChangeSet {
        let profile = ProjectProfile {
            schema_version: billing_detect::SCHEMA_VERSION,
            root: "/nonexistent".into(),
            packages: vec![package.clone()],
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        let target = Target {
            root: Path::new("/nonexistent-spaire-fixture"),
            profile: &profile,
            package,
            plan,
            without_sdk: false,
        };
        generate(&target).unwrap_or_else(|error| {
            let mut chain = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                chain.push_str(&format!("\n  caused by: {cause:#}"));
                source = cause.source();
            }
            panic!("{chain}")
        })
    }

    #[test]
    fn a_monorepo_app_gets_the_root_env_example_and_its_t3_env_extended() {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/env/t3-monorepo");
        let mut package = package(Language::TypeScript, Some(FrameworkId::Nextjs));
        package.path = "apps/web".into();
        let plan = plan(CustomerSource::Session);
        let profile = ProjectProfile {
            schema_version: billing_detect::SCHEMA_VERSION,
            root: root.to_string_lossy().into_owned(),
            packages: vec![package.clone()],
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        let target = Target {
            root: &root,
            profile: &profile,
            package: &package,
            plan: &plan,
            without_sdk: false,
        };
        let changes = generate(&target).expect("generates");
        let paths: Vec<&str> = changes.files.iter().map(|f| f.path.as_str()).collect();
        // `dotenv -e ../../.env`: the example goes next to the root `.env`, not into the app.
        let example = changes.files.iter().find(|f| f.path == ".env.example");
        let example = example.unwrap_or_else(|| panic!("no root .env.example in {paths:?}"));
        assert_eq!(example.action, FileAction::Modify);
        assert!(
            example.after.starts_with("# Loaded by every app"),
            "{}",
            example.after
        );
        assert!(
            example.after.contains("\nSPAIRE_ACCESS_TOKEN=\n"),
            "{}",
            example.after
        );
        assert!(!paths.contains(&"apps/web/.env.example"), "{paths:?}");
        // t3 projects forbid `process.env` outside `env.ts` (`no-restricted-properties`,
        // create-t3-turbo): the client reads the variables the schema now validates.
        let client = changes
            .files
            .iter()
            .find(|f| f.path.ends_with("/spaire/client.ts"))
            .unwrap_or_else(|| panic!("no client: {paths:?}"));
        assert!(!client.after.contains("process.env"), "{}", client.after);
        assert!(
            client.after.contains("import { env } from \"../../env\";")
                || client.after.contains("import { env } from \"~/env\";")
                || client.after.contains("import { env } from \"@/env\";"),
            "{}",
            client.after
        );
        let env = changes
            .files
            .iter()
            .find(|f| f.path == "apps/web/src/env.ts");
        let env = env.unwrap_or_else(|| panic!("env.ts not extended: {paths:?}"));
        assert_eq!(
            env.after,
            "import { createEnv } from \"@t3-oss/env-nextjs\";
import { z } from \"zod\";

export const env = createEnv({
  server: {
    SPAIRE_ACCESS_TOKEN: z.string().optional(),
    SPAIRE_SERVER_URL: z.string().optional(),
    SPAIRE_WEBHOOK_SECRET: z.string().optional(),
    DATABASE_URL: z.string().url(),
  },
  client: {
    NEXT_PUBLIC_APP_URL: z.string().url(),
  },
  runtimeEnv: {
    SPAIRE_ACCESS_TOKEN: process.env.SPAIRE_ACCESS_TOKEN,
    SPAIRE_SERVER_URL: process.env.SPAIRE_SERVER_URL,
    SPAIRE_WEBHOOK_SECRET: process.env.SPAIRE_WEBHOOK_SECRET,
    DATABASE_URL: process.env.DATABASE_URL,
    NEXT_PUBLIC_APP_URL: process.env.NEXT_PUBLIC_APP_URL,
  },
});
"
        );
    }

    #[test]
    fn every_framework_and_customer_source_renders() {
        let frameworks = [
            None,
            Some(FrameworkId::Nextjs),
            Some(FrameworkId::Express),
            Some(FrameworkId::Fastify),
            Some(FrameworkId::Hono),
            Some(FrameworkId::Elysia),
            Some(FrameworkId::Sveltekit),
            Some(FrameworkId::Nuxt),
            Some(FrameworkId::Astro),
            Some(FrameworkId::Remix),
            Some(FrameworkId::ReactRouter),
            Some(FrameworkId::NodeServerless),
        ];
        let customers = [
            CustomerSource::Header {
                header: "x-customer-id".into(),
            },
            CustomerSource::Body {
                field: "customerId".into(),
            },
            CustomerSource::Session,
            CustomerSource::Function {
                function: "getUserId".into(),
                module: "@/lib/auth".into(),
            },
        ];
        for language in [Language::TypeScript, Language::JavaScript] {
            for framework in frameworks {
                for customer in &customers {
                    let changes =
                        generate_for(&package(language, framework), &plan(customer.clone()));
                    assert!(
                        changes
                            .files
                            .iter()
                            .any(|f| f.path == "src/lib/spaire/usage.ts"
                                || f.path.ends_with("/usage.js")
                                || f.path.ends_with("/usage.ts"))
                    );
                }
            }
        }
    }

    fn specifier_for(package: &Package, from_file: &str) -> Option<String> {
        let plan = plan(CustomerSource::Session);
        let profile = ProjectProfile {
            schema_version: billing_detect::SCHEMA_VERSION,
            root: "/nonexistent".into(),
            packages: vec![package.clone()],
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        let target = Target {
            root: Path::new("/nonexistent"),
            profile: &profile,
            package,
            plan: &plan,
            without_sdk: false,
        };
        usage_module_specifier(&target, from_file)
    }

    fn alias(prefix: &str, target: &str) -> billing_detect::Alias {
        billing_detect::Alias {
            prefix: prefix.into(),
            target: target.into(),
            source: billing_detect::Evidence {
                file: "tsconfig.json".into(),
                line: None,
                text: String::new(),
            },
        }
    }

    #[test]
    fn usage_specifier_uses_aliases_under_a_bundler_and_relative_paths_under_node() {
        let mut next = package(Language::TypeScript, Some(FrameworkId::Nextjs));
        next.aliases = vec![alias("@/*", "./src/*")];
        assert_eq!(
            specifier_for(&next, "src/app/api/chat/route.ts").as_deref(),
            Some("@/lib/spaire/usage")
        );

        // Node's ESM resolution needs the `.js` extension and knows nothing of tsconfig paths.
        let mut express = package(Language::TypeScript, Some(FrameworkId::Express));
        express.aliases = vec![alias("@/*", "./src/*")];
        assert_eq!(
            specifier_for(&express, "src/routes/chat.ts").as_deref(),
            Some("../lib/spaire/usage.js")
        );
        assert_eq!(
            specifier_for(&express, "src/server.ts").as_deref(),
            Some("./lib/spaire/usage.js")
        );
        // ... but it does resolve package.json `imports`.
        express.aliases = vec![alias("#app/*", "./src/*")];
        assert_eq!(
            specifier_for(&express, "src/server.ts").as_deref(),
            Some("#app/lib/spaire/usage.js")
        );

        let mut cjs = package(Language::JavaScript, Some(FrameworkId::Express));
        cjs.module_system = Some(ModuleSystem::Cjs);
        cjs.src_dir = false;
        assert_eq!(
            specifier_for(&cjs, "routes/chat.js").as_deref(),
            Some("../lib/spaire/usage")
        );

        let mut kit = package(Language::TypeScript, Some(FrameworkId::Sveltekit));
        kit.aliases = vec![alias("$lib", "src/lib"), alias("@/*", "./src/*")];
        assert_eq!(
            specifier_for(&kit, "src/routes/api/+server.ts").as_deref(),
            Some("$lib/server/spaire/usage")
        );

        // Monorepo package: paths are project-root relative; files outside the package get None.
        let mut web = package(Language::TypeScript, Some(FrameworkId::Nextjs));
        web.path = "apps/web".into();
        assert_eq!(
            specifier_for(&web, "apps/web/src/app/page.ts").as_deref(),
            Some("../lib/spaire/usage")
        );
        assert_eq!(specifier_for(&web, "apps/api/src/index.ts"), None);

        assert_eq!(
            specifier_for(&package(Language::Python, None), "app.py"),
            None
        );
    }

    #[test]
    fn default_server_url_follows_the_plan_environment() {
        let mut plan = plan(CustomerSource::Session);
        for (environment, url) in [
            (Environment::Sandbox, "https://sandbox-api.spairehq.com"),
            (Environment::Production, "https://api.spairehq.com"),
            // Never an emulator's port: a local plan's code falls back to sandbox.
            (Environment::Local, "https://sandbox-api.spairehq.com"),
        ] {
            plan.environment = environment;
            let changes = generate_for(&package(Language::TypeScript, None), &plan);
            let client = changes
                .files
                .iter()
                .find(|f| f.path == "src/lib/spaire/client.ts")
                .expect("client");
            assert!(
                client
                    .after
                    .contains(&format!("const DEFAULT_SERVER_URL = \"{url}\";")),
                "{}",
                client.after
            );
        }
        plan.server_url = Some("http://127.0.0.1:9999/".into());
        let changes = generate_for(&package(Language::TypeScript, None), &plan);
        let client = changes
            .files
            .iter()
            .find(|f| f.path == "src/lib/spaire/client.ts")
            .expect("client");
        assert!(!client.after.contains("127.0.0.1"), "{}", client.after);
        plan.server_url = Some("https://spaire.example.com/".into());
        let changes = generate_for(&package(Language::TypeScript, None), &plan);
        let client = changes
            .files
            .iter()
            .find(|f| f.path == "src/lib/spaire/client.ts")
            .expect("client");
        assert!(client.after.contains("\"https://spaire.example.com\""));
    }

    #[test]
    fn unknown_webhook_types_get_no_case_but_known_ones_do() {
        let changes = generate_for(
            &package(Language::TypeScript, Some(FrameworkId::Hono)),
            &plan(CustomerSource::Session),
        );
        let webhooks = changes
            .files
            .iter()
            .find(|f| f.path.ends_with("/webhooks.ts"))
            .expect("webhooks");
        assert!(webhooks.after.contains("case \"order.paid\":"));
        assert!(webhooks.after.contains("case \"customer.state_changed\":"));
        assert!(!webhooks.after.contains("subscription.past_due"));
        assert!(webhooks.after.contains("status: 403"));
        assert!(webhooks.after.contains("status: 202"));
    }

    /// The plan validates meters against `billing_plan::presets::metadata_keys`; the templates
    /// write `metadata_keys_written`. They must be the same table.
    #[test]
    fn written_keys_match_the_plan_contract() {
        for kind in [
            MeterKind::LlmTokens,
            MeterKind::ApiCalls,
            MeterKind::Storage,
            MeterKind::ComputeTime,
        ] {
            assert_eq!(
                metadata_keys_written(kind),
                Some(billing_plan::presets::metadata_keys(kind)),
                "{kind:?}"
            );
        }
        assert_eq!(metadata_keys_written(MeterKind::Custom), None);
    }

    /// Every key in the table appears as a metadata key in the usage template.
    #[test]
    fn usage_template_writes_every_listed_key() {
        let usage = include_str!("../templates/typescript/usage.ts.j2");
        for kind in [
            MeterKind::LlmTokens,
            MeterKind::ApiCalls,
            MeterKind::Storage,
            MeterKind::ComputeTime,
        ] {
            for key in metadata_keys_written(kind).unwrap_or_default() {
                // Reserved objects nest: `_llm.total_tokens` is `total_tokens` inside `_llm`.
                assert!(
                    key.split('.').all(|part| usage.contains(part)),
                    "{key} is not written by usage.ts.j2"
                );
            }
        }
    }
}
