//! `plan`: detect → load the plan → pick the package → produce files, installs, env names →
//! plan remote steps → one [`ChangeSet`] → [`Preview`] with diffs and the plan hash.
//!
//! Planning never writes. The same function runs again inside `apply`, and the hash of its
//! result must equal the hash the user approved — that is the drift check.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use billing_apply::{Lock, Project};
use billing_changeset::{ChangeSet, FileAction, FileChange, FileOrigin, RemoteAction};
use billing_detect::{Package, ProjectProfile};
use billing_errors::Hinted;
use billing_plan::{BillingPlan, Environment, PLAN_FILE};
use serde::Serialize;

use crate::Engine;
use crate::metering::{Metering, metering_of_changes};
use crate::produce::{ProduceContext, hinted_apply, produce_all};
use crate::remote::RemotePlanRequest;

/// Inputs of `plan` (and of `apply`, which re-plans to check for drift).
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Project root (the directory holding `spaire-billing.toml`).
    pub root: PathBuf,
    /// Overrides the plan's `environment` for this run (`--environment`).
    pub environment: Option<Environment>,
    /// A plan built from answers (wizard, MCP) instead of the file; it is validated, and the
    /// change set includes writing it to `spaire-billing.toml` (format-preserving).
    pub plan: Option<BillingPlan>,
    /// A profile from an earlier `detect` of the same root, to skip re-scanning.
    pub profile: Option<ProjectProfile>,
}

/// The preview's warning for a dirty git tree (callers that already asked about it, like the
/// setup wizard's pre-flight, leave it out).
pub const DIRTY_TREE_WARNING: &str = "the git work tree has uncommitted changes; commit or stash \
                                      them first so the changes below are easy to review";

/// Why a planned change of a generated file needs an explicit yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictReason {
    /// spaire-billing generated the file, and it was edited since (hash in lock.json differs).
    EditedSinceGenerated,
    /// A file exists where spaire-billing wants to generate one, and lock.json has no record
    /// of generating it.
    NotGeneratedBySpaireBilling,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub path: String,
    pub reason: ConflictReason,
    /// What the overwrite would change: the file as it is now → as it would be.
    pub diff: String,
}

/// Everything `plan` shows, and what `apply` needs.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// Absolute project root.
    pub root: String,
    /// The package the code goes into (relative to the root).
    pub package: String,
    pub environment: Environment,
    pub plan: BillingPlan,
    pub profile: ProjectProfile,
    pub changes: ChangeSet,
    /// `apply --plan <hash>` applies exactly this preview.
    pub hash: String,
    /// Every file change as a unified diff.
    pub diff: String,
    /// The whole preview as text (files, installs, env names, remote steps, manual steps,
    /// hash), as the CLI prints it.
    pub text: String,
    /// Generated files that were edited by the user (or are not ours): overwriting them needs
    /// an explicit yes.
    pub conflicts: Vec<Conflict>,
    /// Things to know before applying (dirty git tree, production indicators, ...).
    pub warnings: Vec<String>,
    /// Per meter, what will feed it once this is applied, and what needs the user's hand.
    pub metering: Metering,
}

impl Preview {
    /// True when applying would change nothing: no file, no install, and no remote step
    /// that can be performed now (dashboard steps pending for lack of a token stay listed).
    pub fn is_noop(&self) -> bool {
        self.changes.files.is_empty()
            && self.changes.installs.is_empty()
            && self
                .changes
                .remote
                .iter()
                .all(|s| matches!(s.action, RemoteAction::Reuse | RemoteAction::Pending))
    }
}

/// The plan to use: the given one (validated) or `spaire-billing.toml` at the root.
fn load_plan(root: &Path, given: Option<&BillingPlan>) -> anyhow::Result<BillingPlan> {
    if let Some(plan) = given {
        billing_plan::validate(plan).map_err(|err| {
            let hint = err.hint();
            anyhow::Error::new(Hinted::new("the billing plan is not valid", hint).with_source(err))
        })?;
        return Ok(plan.clone());
    }
    load_plan_file(root)
}

/// `spaire-billing.toml` at `root`, or the one error every command gives when it is missing
/// or invalid (`plan`, `apply` and `verify` say the same thing).
pub fn load_plan_file(root: &Path) -> anyhow::Result<BillingPlan> {
    match billing_plan::load(root) {
        Ok(Some(plan)) => Ok(plan),
        // The same absolute path whichever command (plan, apply, verify) was given which
        // spelling of the directory.
        Ok(None) => Err(Hinted::new(
            format!(
                "no `{PLAN_FILE}` in `{}`",
                std::fs::canonicalize(root)
                    .unwrap_or_else(|_| root.to_path_buf())
                    .display()
            ),
            "run `spaire-billing setup` to create it, or write it by hand (every key is in \
             docs/plan-file.md)",
        )
        .into()),
        Err(billing_plan::LoadError::Invalid(err)) => {
            let hint = err.hint();
            Err(Hinted::new(err.to_string(), hint).into())
        }
        Err(err) => Err(err.into()),
    }
}

/// The package named by `[project] path`, or a clear error naming the candidates.
pub fn select_package<'p>(
    profile: &'p ProjectProfile,
    plan: &BillingPlan,
    warnings: &mut Vec<String>,
) -> anyhow::Result<&'p Package> {
    let wanted = plan.project.path.as_str();
    if let Some(package) = profile.package(wanted) {
        return Ok(package);
    }
    if let Some(broken) = malformed_manifest_in(profile, wanted) {
        return Err(broken);
    }
    let candidates: Vec<&str> = profile.packages.iter().map(|p| p.path.as_str()).collect();
    match candidates.as_slice() {
        [] => Err(Hinted::new(
            format!(
                "no package found in `{}` (no package.json, pyproject.toml, requirements.txt, \
                 go.mod, composer.json or Gemfile)",
                profile.root
            ),
            "run spaire-billing in your app's directory, or set `[project] path` in \
             spaire-billing.toml to the package directory",
        )
        .into()),
        [only] if wanted == "." => {
            warnings.push(format!(
                "no package at the project root; using the only package found, `{only}` (set \
                 `[project] path = \"{only}\"` to make this explicit)"
            ));
            Ok(&profile.packages[0])
        }
        _ => Err(Hinted::new(
            format!(
                "`[project] path = \"{wanted}\"` is not one of the packages found: {}",
                candidates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "set `[project] path` in spaire-billing.toml to one of them, e.g. `path = \"{}\"`",
                candidates[0]
            ),
        )
        .into()),
    }
}

/// The package at `wanted` was not found; when that is because its manifest (package.json,
/// pyproject.toml, ...) does not parse, the error is detect's own diagnostic for it (file,
/// line, column, what is wrong), not "no package.json".
fn malformed_manifest_in(profile: &ProjectProfile, wanted: &str) -> Option<anyhow::Error> {
    let dir = wanted.trim_end_matches('/');
    let warning = profile.warnings.iter().find(|w| {
        w.code == "malformed-manifest"
            && w.file.as_deref().is_some_and(|file| {
                let parent = file.rfind('/').map_or(".", |i| &file[..i]);
                parent == dir || (dir.is_empty() && parent == ".")
            })
    })?;
    let file = warning.file.as_deref().unwrap_or("the manifest");
    Some(
        Hinted::new(
            warning.message.clone(),
            format!(
                "fix `{file}` so it parses (`spaire-billing detect` shows the same problem), \
                 then run this again"
            ),
        )
        .into(),
    )
}

/// Whether the git work tree at `root` has uncommitted changes (`None`: not a git repository
/// or git is not installed).
pub fn git_dirty(root: &Path) -> Option<bool> {
    let output = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=normal"])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output.status.success().then_some(!output.stdout.is_empty())
}

fn conflicts(project: &Project, lock: &Lock, changes: &ChangeSet) -> Vec<Conflict> {
    changes
        .files
        .iter()
        .filter(|f| f.origin == FileOrigin::Generated && f.action == FileAction::Modify)
        .filter_map(|f| {
            let before = f.before.as_deref()?;
            let reason = match lock.edited_since_generated(&f.path, before.as_bytes()) {
                Some(false) => return None,
                Some(true) => ConflictReason::EditedSinceGenerated,
                None => ConflictReason::NotGeneratedBySpaireBilling,
            };
            let _ = project;
            Some(Conflict {
                path: f.path.clone(),
                reason,
                diff: billing_changeset::preview::text_diff(
                    before,
                    &f.after,
                    &format!("a/{} (now)", f.path),
                    &format!("b/{} (generated)", f.path),
                ),
            })
        })
        .collect()
}

impl Engine {
    /// Plans without writing anything.
    pub async fn plan(&self, options: &PlanOptions) -> anyhow::Result<Preview> {
        let project = Project::open(&options.root).map_err(hinted_apply)?;
        let root = project.root().to_path_buf();
        let mut plan = load_plan(&root, options.plan.as_ref())?;
        if let Some(environment) = options.environment {
            plan.environment = environment;
        }
        let profile = match &options.profile {
            Some(profile) => profile.clone(),
            None => billing_detect::detect(&root, &billing_detect::DetectOptions::default())
                .with_context(|| format!("failed to inspect `{}`", root.display()))?,
        };
        let mut warnings: Vec<String> = profile
            .warnings
            .iter()
            .filter(|w| w.code != "dirty-git")
            .map(|w| w.message.clone())
            .collect();
        if git_dirty(&root) == Some(true) {
            warnings.push(DIRTY_TREE_WARNING.to_owned());
        }
        let package = select_package(&profile, &plan, &mut warnings)?;
        let cx = ProduceContext::new(&root, &project, &profile, package, &plan)?;
        warnings.extend(cx.sdk_blocked.as_ref().map(|blocked| blocked.note()));
        let plan_file = plan_file_change(&project, options.plan.as_ref())?;
        let mut changes = produce_all(&self.producers, &cx, plan_file)?;
        // The project's formatters have the last word on the bytes written (issue 15).
        warnings.extend(crate::gates::format_changes(&root, package, &mut changes));

        let lock = Lock::read(&project).map_err(hinted_apply)?;
        let state = lock
            .environments
            .get(plan.environment.as_str())
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let remote = self
            .remote
            .plan(RemotePlanRequest {
                root: &root,
                plan: &plan,
                environment: plan.environment,
                server_url: self.server_url.as_deref(),
                state: &state,
            })
            .await
            .context("planning the remote setup failed")?;
        changes.remote.extend(remote.steps);
        warnings.extend(remote.notes);
        let metering = metering_of_changes(&cx, &changes);

        let hash = billing_changeset::plan_hash(&changes);
        let diff = billing_changeset::unified_diff(&changes);
        let text = billing_changeset::render_text(&changes, &hash);
        let conflicts = conflicts(&project, &lock, &changes);
        Ok(Preview {
            root: root.display().to_string(),
            package: package.path.clone(),
            environment: plan.environment,
            plan,
            profile: profile.clone(),
            changes,
            hash,
            diff,
            text,
            conflicts,
            warnings,
            metering,
        })
    }
}

/// Saving answers: the plan given in memory becomes a change of `spaire-billing.toml`, so it
/// is previewed, hashed and journaled like every other file.
fn plan_file_change(
    project: &Project,
    plan: Option<&BillingPlan>,
) -> anyhow::Result<Option<ChangeSet>> {
    let Some(plan) = plan else {
        return Ok(None);
    };
    let current = project.read_text(PLAN_FILE).map_err(hinted_apply)?;
    let after = billing_plan::write::render(plan, current.as_deref()).map_err(|err| {
        let hint = err.hint();
        anyhow::Error::new(Hinted::new(err.to_string(), hint))
    })?;
    if current.as_deref() == Some(after.as_str()) {
        return Ok(None);
    }
    Ok(Some(ChangeSet {
        files: vec![FileChange {
            path: PLAN_FILE.to_owned(),
            action: if current.is_some() {
                FileAction::Modify
            } else {
                FileAction::Create
            },
            origin: FileOrigin::Config,
            before: current,
            after,
            summary: "the billing plan (your answers)".to_owned(),
        }],
        ..ChangeSet::default()
    }))
}
