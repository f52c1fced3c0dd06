//! ProjectProfile + BillingPlan ─▶ the file/install/env part of the [`ChangeSet`].
//!
//! Producers (code generation, call-site wiring, ...) each return a partial change set
//! computed from the project as it is on disk; [`combine`] merges them into one consistent
//! set: edits of the same file are merged, no-op changes dropped, installs deduplicated, the
//! SDK install and the `.gitignore` entry for the undo journal added when needed.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use billing_apply::Project;
use billing_changeset::{ChangeSet, FileAction, FileChange, FileOrigin, ManualStep};
use billing_detect::{Language, Package, PackageManager, ProjectProfile};
use billing_plan::BillingPlan;

use crate::merge::merge3;

/// Everything a producer may look at. Producers only read; nothing is written before apply.
pub struct ProduceContext<'a> {
    pub root: &'a Path,
    pub project: &'a Project,
    pub profile: &'a ProjectProfile,
    pub package: &'a Package,
    pub plan: &'a BillingPlan,
    /// `spaire-sdk` cannot be installed beside the package's pins: the generators write the
    /// variant without it ([`crate::sdk_conflict`]).
    pub sdk_blocked: Option<crate::sdk_conflict::SdkBlocked>,
}

impl<'a> ProduceContext<'a> {
    /// The context of one plan of `package`; asks pip whether the SDK fits its pins.
    pub fn new(
        root: &'a Path,
        project: &'a Project,
        profile: &'a ProjectProfile,
        package: &'a Package,
        plan: &'a BillingPlan,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            sdk_blocked: crate::sdk_conflict::check(root, project, package)?,
            root,
            project,
            profile,
            package,
            plan,
        })
    }
}

pub trait Producer: Send + Sync {
    /// Short name for errors ("code generation", "call-site wiring").
    fn name(&self) -> &'static str;
    fn produce(&self, cx: &ProduceContext<'_>) -> anyhow::Result<ChangeSet>;
}

/// The producers of a normal run, in order: generated modules first, then call-site edits.
pub fn default_producers() -> Vec<Arc<dyn Producer>> {
    vec![
        Arc::new(GenerateCode),
        Arc::new(WireCallSites),
        Arc::new(crate::sample_apps::SampleApps),
    ]
}

/// `billing-generate`: client, recorder, helpers, webhook handler, framework glue,
/// `.env.example`, env names, SDK install.
pub struct GenerateCode;

pub(crate) fn target<'a>(cx: &'a ProduceContext<'a>) -> billing_generate::Target<'a> {
    billing_generate::Target {
        root: cx.root,
        profile: cx.profile,
        package: cx.package,
        plan: cx.plan,
        without_sdk: cx.sdk_blocked.is_some(),
    }
}

impl Producer for GenerateCode {
    fn name(&self) -> &'static str {
        "code generation"
    }

    fn produce(&self, cx: &ProduceContext<'_>) -> anyhow::Result<ChangeSet> {
        billing_generate::generate(&target(cx))
            .map_err(|err| billing_errors::Hinted::from_error(err).into())
    }
}

/// `billing-wire`: records usage at the LLM and S3 call sites `detect` found.
pub struct WireCallSites;

impl Producer for WireCallSites {
    fn name(&self) -> &'static str {
        "call-site wiring"
    }

    fn produce(&self, cx: &ProduceContext<'_>) -> anyhow::Result<ChangeSet> {
        let target = target(cx);
        let mut per_file = std::collections::BTreeMap::new();
        for site in &cx.package.call_sites {
            if let Some(spec) =
                billing_generate::typescript::usage_module_specifier(&target, &site.file)
            {
                per_file.insert(site.file.clone(), spec);
            }
        }
        let imports = billing_wire::UsageImports {
            typescript: (!per_file.is_empty())
                .then_some(billing_wire::TsUsageModule::PerFile(per_file)),
            python: billing_generate::python::usage_module_import(&target),
            python_request_customer: billing_generate::python::request_customer(&target),
            python_app_files: billing_generate::python::other_app_files(&target)
                .map_err(|err| anyhow::Error::from(billing_errors::Hinted::from_error(err)))?,
            ts_session_customer: billing_generate::typescript::exports_session_customer(&target),
        };
        billing_wire::wire(cx.root, cx.profile, cx.package, cx.plan, &imports)
            .map_err(|err| anyhow::Error::new(err.hinted()))
    }
}

/// Runs the producers and combines their outputs.
/// `first` (the plan file, when saving answers) comes before every producer's output.
pub fn produce_all(
    producers: &[Arc<dyn Producer>],
    cx: &ProduceContext<'_>,
    first: Option<ChangeSet>,
) -> anyhow::Result<ChangeSet> {
    let mut parts = Vec::with_capacity(producers.len() + 1);
    parts.extend(first);
    for producer in producers {
        let part = producer
            .produce(cx)
            .with_context(|| format!("{} failed", producer.name()))?;
        parts.push(part);
    }
    combine(cx, parts)
}

/// Merges partial change sets into one that apply can perform in order.
pub fn combine(cx: &ProduceContext<'_>, parts: Vec<ChangeSet>) -> anyhow::Result<ChangeSet> {
    let mut out = ChangeSet::default();
    for part in parts {
        let ChangeSet {
            files,
            installs,
            env_vars,
            remote,
            manual_steps,
        } = part;
        for file in files {
            add_file(&mut out, file);
        }
        out.extend(ChangeSet {
            files: Vec::new(),
            installs,
            env_vars,
            remote,
            manual_steps,
        });
    }
    ensure_env_example(cx, &mut out)?;
    normalize_files(cx, &mut out)?;
    ensure_sdk(cx, &mut out)?;
    dedupe_installs(&mut out);
    if !out.files.is_empty() || !out.installs.is_empty() {
        ensure_gitignore(cx, &mut out)?;
    }
    Ok(out)
}

fn add_file(out: &mut ChangeSet, file: FileChange) {
    let Some(existing) = out.files.iter_mut().find(|f| f.path == file.path) else {
        out.files.push(file);
        return;
    };
    let merged = if existing.before == file.before {
        merge3(
            existing.before.as_deref().unwrap_or(""),
            &existing.after,
            &file.after,
        )
    } else {
        None
    };
    match merged {
        Some(after) => {
            existing.after = after;
            if !existing.summary.contains(&file.summary) {
                existing.summary = format!("{}; {}", existing.summary, file.summary);
            }
        }
        None => out.manual_steps.push(ManualStep {
            file: file.path.clone(),
            line: None,
            instructions: format!(
                "two changes to this file overlap; the first was planned, apply this one by \
                 hand ({})",
                file.summary
            ),
            snippet: Some(billing_changeset::file_diff(&file)),
        }),
    }
}

/// Drops changes that change nothing and makes every change agree with the disk: a planned
/// "create" of a file that exists becomes a "modify" of its current content (shown as a diff
/// and subject to the edited-file check) or disappears when the content is already right.
fn normalize_files(cx: &ProduceContext<'_>, out: &mut ChangeSet) -> anyhow::Result<()> {
    let mut kept = Vec::with_capacity(out.files.len());
    for mut file in std::mem::take(&mut out.files) {
        let current = cx.project.read_text(&file.path).map_err(hinted_apply)?;
        match (&file.action, current) {
            (_, Some(current)) if current == file.after => continue,
            (FileAction::Create, Some(current)) => {
                file.action = FileAction::Modify;
                file.before = Some(current);
            }
            (FileAction::Modify, None) => {
                file.action = FileAction::Create;
                file.before = None;
            }
            _ => {}
        }
        if file.before.as_deref() == Some(file.after.as_str()) {
            continue;
        }
        kept.push(file);
    }
    out.files = kept;
    Ok(())
}

pub(crate) fn hinted_apply(err: billing_apply::ApplyError) -> anyhow::Error {
    match err.hint() {
        Some(hint) => {
            anyhow::Error::new(billing_errors::Hinted::new(err.to_string(), hint).with_source(err))
        }
        None => anyhow::Error::new(err),
    }
}

/// Whether the package already has every package its generated code imports (always true
/// for Go, PHP and Ruby, whose generated code uses the standard library only).
pub fn sdk_installed(package: &Package) -> bool {
    billing_generate::imports::missing_packages(package).is_empty()
}

/// The Spaire SDK the generated code for `language` imports, if any. Derived from what the
/// generator declares (`billing_generate::imported_packages`), never from a table of its own.
pub fn sdk_package(language: Language) -> Option<&'static str> {
    billing_generate::imported_packages(language)
        .first()
        .map(|sdk| sdk.name)
}

/// The pins of `package` that rule the Python SDK out, when they do (the plan then generates
/// the variant without it): what setup's prerequisites say instead of an install that cannot
/// resolve. `None` also when the project cannot be read (the plan reports that).
pub fn sdk_blocked(root: &Path, package: &Package) -> Option<crate::sdk_conflict::SdkBlocked> {
    let project = Project::open(root).ok()?;
    crate::sdk_conflict::check(root, &project, package).ok()?
}

/// The install command for the first imported package the package lacks, with the package's
/// own package manager.
pub fn sdk_install_command(package: &Package) -> Option<Vec<String>> {
    let sdk = billing_generate::imports::missing_packages(package)
        .into_iter()
        .next()
        .or_else(|| billing_generate::imported_packages(package.language).first())?;
    Some(billing_generate::imports::install_argv(package, sdk))
}

fn package_dir(package: &Package) -> String {
    if package.path.is_empty() {
        ".".to_owned()
    } else {
        package.path.clone()
    }
}

/// Where the package's `requirements.txt` is: a sample app's is its package's.
pub(crate) fn requirements_dir(package: &Package) -> String {
    package
        .sample_of
        .clone()
        .unwrap_or_else(|| package_dir(package))
}

pub(crate) fn join(dir: &str, file: &str) -> String {
    if dir == "." || dir.is_empty() {
        file.to_owned()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    }
}

/// Adds the SDK install when the SDK is missing and no producer planned it; with plain pip,
/// also the `requirements.txt` line so the dependency is recorded, not only installed.
fn ensure_sdk(cx: &ProduceContext<'_>, out: &mut ChangeSet) -> anyhow::Result<()> {
    let package = cx.package;
    let imported = billing_generate::imports::imported_by(&target(cx));
    let missing = missing_imports(cx)?;
    for sdk in &imported {
        let present = !missing.iter().any(|m| m.name == sdk.name);
        if present {
            out.installs
                .retain(|i| !i.packages.iter().any(|p| p == sdk.name));
        } else if !out
            .installs
            .iter()
            .any(|i| i.packages.iter().any(|p| p == sdk.name))
        {
            out.installs
                .push(billing_generate::imports::install(package, sdk));
        }
    }
    // Installs of packages the generated code does not import are never planned.
    out.installs.retain(|i| {
        i.packages
            .iter()
            .all(|p| imported.iter().any(|sdk| sdk.name == p))
    });
    // httpx 0.28 arrives with spaire-sdk only.
    if package.language == Language::Python && cx.sdk_blocked.is_none() {
        out.manual_steps.extend(crate::py_httpx::steps(package));
        out.manual_steps.extend(crate::py_httpx::lock_steps(
            package,
            &package_dir(package),
            |rel| cx.project.read_text(rel).ok().flatten(),
        ));
    }
    let pip = package.language == Language::Python
        && matches!(
            package.package_manager.as_ref().map(|m| m.id),
            None | Some(PackageManager::Pip)
        );
    if !pip {
        return Ok(());
    }
    for sdk in missing {
        let rel = join(&requirements_dir(package), "requirements.txt");
        if let Some(current) = cx.project.read_text(&rel).map_err(hinted_apply)?
            && !crate::pip_requirement::lists(&current, sdk.name)
            && !out.files.iter().any(|f| f.path == rel)
        {
            add_pip_requirement(cx, out, rel, current, sdk.name)?;
        }
    }
    Ok(())
}

/// The SDK's `requirements.txt` line, written only once pip's resolver says it installs
/// together with the file's pins (see [`crate::pip_requirement`]), pinned the file's way; the
/// install is constrained by the file (`-c requirements.txt`), so pip never upgrades a pinned
/// package. When nothing fits, the plan stops (an error naming the pins to change, see
/// [`crate::sdk_conflict`]): the generated code imports the SDK, so writing it would leave an
/// app that no longer starts from its own requirements.
fn add_pip_requirement(
    cx: &ProduceContext<'_>,
    out: &mut ChangeSet,
    rel: String,
    current: String,
    sdk: &str,
) -> anyhow::Result<()> {
    use crate::pip_requirement::{Resolution, append_line, requirement_line, resolve};
    let dir = cx.root.join(requirements_dir(cx.package));
    let (version, unchecked) = match resolve(cx.root, &dir, "requirements.txt", sdk) {
        Resolution::Resolved(version) => (Some(version), None),
        Resolution::Unchecked(why) => (None, Some(why)),
        Resolution::Conflict(lines) => {
            return Err(anyhow::Error::new(crate::sdk_conflict::stop(
                cx, out, &rel, &current, sdk, &lines,
            )));
        }
    };
    // Pinned the way the project pins, in this file or the ones it includes.
    let pins = crate::pip_cache::requirement_texts(&dir, "requirements.txt");
    let line = requirement_line(&pins, sdk, version.as_deref());
    for install in out.installs.iter_mut() {
        if install.packages.iter().any(|p| p == sdk)
            && install.argv.first().is_some_and(|w| w == "python")
        {
            // Installs exactly the written line, never moving a pinned package.
            if let Some(last) = install.argv.last_mut() {
                last.clone_from(&line);
            }
            install
                .argv
                .extend(["-c".to_owned(), "requirements.txt".to_owned()]);
            // Beside the file it is constrained by (a sample app's is its package's).
            install.cwd = requirements_dir(cx.package);
        }
    }
    let summary = match unchecked {
        None => format!("records the `{sdk}` dependency (resolved with the file's pins by pip)"),
        Some(why) => {
            format!("records the `{sdk}` dependency (not checked against the file's pins: {why})")
        }
    };
    out.files.push(FileChange {
        path: rel,
        action: FileAction::Modify,
        origin: FileOrigin::Config,
        after: append_line(&current, &line),
        before: Some(current),
        summary,
    });
    Ok(())
}

/// The packages the generated code imports that the package neither has (as detect saw it)
/// nor declares in a manifest.
pub(crate) fn missing_imports(
    cx: &ProduceContext<'_>,
) -> anyhow::Result<Vec<&'static billing_vocab::SdkPackage>> {
    let mut missing = Vec::new();
    for sdk in billing_generate::imports::imported_by(&target(cx)) {
        if !billing_generate::imports::is_installed(cx.package, sdk)
            && !declared_in_manifest(cx, cx.package, sdk.name)?
        {
            missing.push(sdk);
        }
    }
    Ok(missing)
}

/// Whether the package's manifest already declares `dependency` (so an install planned from a
/// stale profile, or re-planned right after an install, is not repeated).
fn declared_in_manifest(
    cx: &ProduceContext<'_>,
    package: &Package,
    dependency: &str,
) -> anyhow::Result<bool> {
    let dir = package_dir(package);
    let read = |file: &str| {
        cx.project
            .read_text(&join(&dir, file))
            .map_err(hinted_apply)
    };
    match package.language {
        Language::TypeScript | Language::JavaScript => {
            let Some(text) = read("package.json")? else {
                return Ok(false);
            };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                return Ok(false);
            };
            Ok(["dependencies", "devDependencies", "optionalDependencies"]
                .iter()
                .any(|section| json[section].get(dependency).is_some()))
        }
        Language::Python => {
            // A sample app's requirements are its package's.
            let mut dirs = vec![dir.clone()];
            let shared = requirements_dir(package);
            if shared != dir {
                dirs.push(shared);
            }
            for file in ["pyproject.toml", "requirements.txt", "Pipfile"] {
                for dir in &dirs {
                    let Some(text) = cx
                        .project
                        .read_text(&join(dir, file))
                        .map_err(hinted_apply)?
                    else {
                        continue;
                    };
                    let declared = text.lines().any(|line| {
                        let line = line.trim().trim_start_matches(['"', '\'']);
                        crate::pip_requirement::lists(line, dependency)
                    });
                    if declared {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// `.env.example` lists the variable NAMES the code reads (never values), when no producer
/// wrote it already and some name is missing from it.
fn ensure_env_example(cx: &ProduceContext<'_>, out: &mut ChangeSet) -> anyhow::Result<()> {
    if out.env_vars.is_empty() || out.files.iter().any(|f| f.path.ends_with(".env.example")) {
        return Ok(());
    }
    let rel = join(&package_dir(cx.package), ".env.example");
    let current = cx.project.read_text(&rel).map_err(hinted_apply)?;
    let listed = |name: &str| {
        current.as_deref().is_some_and(|text| {
            text.lines().any(|line| {
                let line = line.trim_start().trim_start_matches("export ").trim_start();
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        })
    };
    let missing: Vec<&billing_changeset::EnvVarName> =
        out.env_vars.iter().filter(|v| !listed(&v.name)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut after = current.clone().unwrap_or_default();
    if !after.is_empty() && !after.ends_with('\n') {
        after.push('\n');
    }
    if !after.is_empty() {
        after.push('\n');
    }
    after.push_str(
        "# Spaire usage billing (spaire-billing.toml). Names only: keep values in .env\n",
    );
    for var in missing {
        after.push_str(&format!("# {}\n{}=\n", var.purpose, var.name));
    }
    out.files.push(FileChange {
        path: rel,
        action: if current.is_some() {
            FileAction::Modify
        } else {
            FileAction::Create
        },
        origin: FileOrigin::Config,
        before: current,
        after,
        summary: "names of the Spaire environment variables (no values)".to_owned(),
    });
    Ok(())
}

fn dedupe_installs(out: &mut ChangeSet) {
    let mut seen = Vec::new();
    out.installs.retain(|i| {
        let key = (i.cwd.clone(), i.argv.clone());
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
}

fn ensure_gitignore(cx: &ProduceContext<'_>, out: &mut ChangeSet) -> anyhow::Result<()> {
    const PATH: &str = ".gitignore";
    if out.files.iter().any(|f| f.path == PATH) {
        return Ok(());
    }
    let current = cx.project.read_text(PATH).map_err(hinted_apply)?;
    if let Some(after) = billing_apply::gitignore_with_journal(current.as_deref()) {
        out.files.push(FileChange {
            path: PATH.to_owned(),
            action: if current.is_some() {
                FileAction::Modify
            } else {
                FileAction::Create
            },
            origin: FileOrigin::Config,
            before: current,
            after,
            summary: "keeps the undo journal (previous file contents) out of git".to_owned(),
        });
    }
    Ok(())
}
