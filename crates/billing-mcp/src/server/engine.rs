//! The one place the MCP server calls the billing engine (`billing-ops`, `billing-remote`,
//! `billing-detect`). The tool layer only maps arguments in and results out.
//!
//! Everything that writes is keyed by a hash the agent got from a read-only call: `apply`
//! passes the proposal's hash to `billing-ops`, which re-plans and refuses on any drift;
//! `undo` recomputes its preview and refuses when it no longer hashes the same.

use std::path::Path;

use billing_changeset::{FileAction, RemoteStep};
use billing_errors::Hinted;
use billing_ops::{ApplyOptions, PlanOptions, Preview, UndoOptions};
use billing_plan::{BillingPlan, Environment};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::args::{ProposePlanArgs, UndoArgs, VerifyArgs};

/// `detect_project`: the project profile as JSON (blocking: call from a blocking thread).
pub fn detect(root: &Path) -> anyhow::Result<serde_json::Value> {
    let profile = billing_detect::detect(root, &billing_detect::DetectOptions::default())?;
    Ok(serde_json::to_value(profile)?)
}

/// `list_meter_presets`: every preset with the meters it creates, plus the metadata keys the
/// generated code writes for it (what a custom aggregation may refer to).
pub fn meter_presets() -> anyhow::Result<serde_json::Value> {
    let presets: Vec<serde_json::Value> = billing_plan::presets()
        .into_iter()
        .map(|preset| {
            let meters: Vec<serde_json::Value> = preset
                .meters
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "name": m.name,
                        "event": m.event,
                        "aggregation": m.aggregation,
                        "kind": m.kind,
                        "metadata_keys": billing_plan::presets::written_keys(m),
                    })
                })
                .collect();
            serde_json::json!({
                "id": preset.id,
                "description": preset.description,
                "meters": meters,
            })
        })
        .collect();
    Ok(serde_json::json!({ "presets": presets }))
}

/// A proposal: what `propose_plan` showed, keyed by its hash.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub hash: String,
    pub environment: Environment,
    /// The plan built from the answers (`None`: the project's `spaire-billing.toml`). Passed
    /// to `apply` unchanged, so the re-plan there reproduces exactly this proposal.
    pub plan: Option<BillingPlan>,
    /// The JSON returned to the agent.
    pub view: serde_json::Value,
}

impl Proposal {
    fn plan_options(&self, root: &Path) -> PlanOptions {
        PlanOptions {
            root: root.to_path_buf(),
            environment: Some(self.environment),
            plan: self.plan.clone(),
            // Other knobs (a server URL flag, ...) stay at the CLI's defaults: the plan
            // carries everything the agent chose.
            ..PlanOptions::default()
        }
    }
}

/// What the agent sees of a proposal: everything it must show the user before applying.
#[derive(Debug, Serialize)]
struct ProposalView<'a> {
    plan_hash: &'a str,
    environment: &'a str,
    package: &'a str,
    files: Vec<FileView<'a>>,
    installs: Vec<String>,
    env_vars: &'a [billing_changeset::EnvVarName],
    remote: Vec<RemoteView<'a>>,
    /// Per meter what will feed it once applied; a meter with no feeder has `unfed_reason`.
    meters: &'a [billing_ops::MeterAccount],
    /// Every step left for the user's hand (kind, file, line, meter, snippet, done).
    manual_steps: &'a [billing_ops::MeteringStep],
    /// Every meter fed and no step left once this is applied.
    complete: bool,
    /// Billable calls no meter of this plan bills, with the meter that would (`fix`): tell
    /// the user, who may add that meter.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unmetered_calls: &'a [billing_ops::UnmeteredCalls],
    /// Billable calls the user marked `spaire-billing: not billed` (their own evals, admin
    /// scripts): nothing records them, by the user's choice. Suggest the marker only where
    /// the user says a call bills no customer.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    not_billed: &'a [billing_ops::UnmeteredSite],
    conflicts: &'a [billing_ops::Conflict],
    warnings: &'a [String],
    nothing_to_do: bool,
    /// The whole preview as the CLI prints it, ready to show the user verbatim.
    preview: &'a str,
    next_step: String,
}

#[derive(Debug, Serialize)]
struct FileView<'a> {
    path: &'a str,
    action: FileAction,
    summary: &'a str,
    diff: String,
}

#[derive(Debug, Serialize)]
struct RemoteView<'a> {
    key: &'a str,
    object: &'a str,
    action: billing_changeset::RemoteAction,
    environment: &'a str,
    summary: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    dashboard_steps: &'a [String],
}

fn view(preview: &Preview) -> anyhow::Result<serde_json::Value> {
    let changes = &preview.changes;
    let next_step = if preview.is_noop() {
        "Nothing to apply: the project and account already match this plan. Run verify.".to_owned()
    } else {
        format!(
            "Show this plan to the user and wait for approval. Then call apply_plan with \
             plan_hash \"{}\" and environment \"{}\".",
            preview.hash,
            preview.environment.as_str()
        )
    };
    let view = ProposalView {
        plan_hash: &preview.hash,
        environment: preview.environment.as_str(),
        package: &preview.package,
        files: changes
            .files
            .iter()
            .map(|f| FileView {
                path: &f.path,
                action: f.action,
                summary: &f.summary,
                diff: billing_changeset::file_diff(f),
            })
            .collect(),
        installs: changes
            .installs
            .iter()
            .map(|i| {
                format!(
                    "(in {}) {}",
                    i.cwd,
                    billing_changeset::preview::shell_words(&i.argv)
                )
            })
            .collect(),
        env_vars: &changes.env_vars,
        remote: changes.remote.iter().map(remote_view).collect(),
        meters: &preview.metering.meters,
        manual_steps: &preview.metering.manual_steps,
        complete: preview.metering.complete,
        unmetered_calls: &preview.metering.unmetered_calls,
        not_billed: &preview.metering.not_billed,
        conflicts: &preview.conflicts,
        warnings: &preview.warnings,
        nothing_to_do: preview.is_noop(),
        preview: &preview.text,
        next_step,
    };
    Ok(serde_json::to_value(view)?)
}

fn remote_view(step: &RemoteStep) -> RemoteView<'_> {
    RemoteView {
        key: &step.key,
        object: &step.object,
        action: step.action,
        environment: &step.environment,
        summary: &step.summary,
        dashboard_steps: &step.dashboard_steps,
    }
}

/// `propose_plan`: answers (or the plan file) → the full preview and its hash. Writes nothing.
pub async fn propose(root: &Path, args: &ProposePlanArgs) -> anyhow::Result<Proposal> {
    let plan = super::answers::to_plan(root, args)?;
    // A plan from answers (or a file plan with an overridden environment / URL) is handed to
    // billing-ops, which then also shows writing it to `spaire-billing.toml`; an unchanged
    // file plan is left to billing-ops to load, so the file is not rewritten.
    let overrides =
        args.meters.is_some() || args.environment.is_some() || args.server_url.is_some();
    let options = PlanOptions {
        root: root.to_path_buf(),
        environment: Some(plan.environment),
        plan: overrides.then_some(plan),
        ..PlanOptions::default()
    };
    let preview = billing_ops::plan(&options).await?;
    Ok(Proposal {
        hash: preview.hash.clone(),
        environment: preview.environment,
        plan: options.plan,
        view: view(&preview)?,
    })
}

/// `apply_plan`: exactly the proposal, or nothing (billing-ops re-plans and compares hashes).
pub async fn apply(root: &Path, proposal: &Proposal) -> anyhow::Result<serde_json::Value> {
    let options = ApplyOptions {
        plan: proposal.plan_options(root),
        expected_hash: Some(proposal.hash.clone()),
        // The human approved this exact preview (conflicts, installs and environment
        // included, all covered by the hash); there is no one to ask here.
        yes: true,
        overwrite_edited: true,
        dry_run: false,
        skip_installs: false,
    };
    let report = billing_ops::apply(&options, &mut billing_ops::Answer(true))
        .await
        .map_err(|err| {
            // The CLI's hint names `spaire-billing plan`; an agent proposes again instead.
            if err.to_string().contains("the plan changed since") {
                anyhow::Error::new(Hinted::new(
                    format!("refused: {err}"),
                    "the project or the account drifted since the proposal: call propose_plan again, show the user the new plan, and apply its plan_hash after approval",
                ))
            } else {
                err
            }
        })?;
    let mut value = serde_json::to_value(&report)?;
    value["next_step"] = serde_json::Value::String(if !report.metering.complete {
        "Metering is not complete: show the user meters[] with an unfed_reason and every manual_steps[] entry that is not done (file, line, snippet); after they are done, status returns complete: true. Then run verify.".to_owned()
    } else if report.remote_pending.is_empty() {
        "Run verify to check that usage is counted.".to_owned()
    } else {
        "Some remote steps are pending (no token): show remote_pending to the user; run status and verify once they are done.".to_owned()
    });
    Ok(value)
}

/// `verify`: sends a test event per meter in the plan's environment and reads it back.
pub async fn verify(root: &Path, args: &VerifyArgs) -> anyhow::Result<serde_json::Value> {
    let Some(mut plan) = load_plan_file(root)? else {
        return Err(Hinted::new(
            format!(
                "no `{}` in the project: nothing to verify",
                billing_plan::PLAN_FILE
            ),
            "propose and apply a plan first",
        )
        .into());
    };
    if let Some(meter) = &args.meter {
        if plan.meter(meter).is_none() {
            let names: Vec<&str> = plan.meters.iter().map(|m| m.name.as_str()).collect();
            return Err(Hinted::new(
                format!("the plan has no meter `{meter}`"),
                format!("use one of: {}", names.join(", ")),
            )
            .into());
        }
        plan.meters.retain(|m| &m.name == meter);
    }
    let remote = billing_remote::connect(plan.environment, None, plan.server_url.as_deref(), root)?;
    let Some(client) = &remote.client else {
        return Err(Hinted::new(
            format!("no access token for {}: verify needs to send a test event", plan.environment.as_str()),
            "ask the user to set SPAIRE_ACCESS_TOKEN (in their shell or a .env file; never in the chat), then run verify again",
        )
        .into());
    };
    let report = billing_remote::verify(
        &plan,
        client,
        plan.environment,
        &billing_remote::VerifyOptions::default(),
    )
    .await?;
    Ok(serde_json::to_value(report)?)
}

/// `undo`: without a hash, what the latest apply's undo would do and its `undo_hash`; with
/// the hash, does it (refusing when the journal or the files changed since).
pub async fn undo(root: &Path, args: &UndoArgs) -> anyhow::Result<serde_json::Value> {
    let preview = undo_preview(root)?;
    let Some(given) = &args.undo_hash else {
        return Ok(serde_json::to_value(&preview)?);
    };
    if given.trim() != preview.undo_hash {
        return Err(Hinted::new(
            format!(
                "refused: the undo changed since `{}` was shown (it is now `{}`)",
                given.trim(),
                preview.undo_hash
            ),
            "call undo without undo_hash again, show the user what it will revert, and confirm with the new undo_hash",
        )
        .into());
    }
    // The preview listed the files edited since the apply; the approval covers discarding them.
    let report = billing_ops::undo(&UndoOptions {
        root: root.to_path_buf(),
        force: true,
        ..UndoOptions::default()
    })
    .await?;
    Ok(serde_json::to_value(report)?)
}

#[derive(Debug, Serialize)]
struct UndoPreview {
    undo_hash: String,
    plan_hash: String,
    environment: String,
    applied_at: String,
    /// Files restored to their content before the apply.
    restore: Vec<String>,
    /// Files the apply created, deleted by undo.
    remove: Vec<String>,
    /// Files edited since the apply: those edits are lost.
    edited_since_apply: Vec<String>,
    /// Remote changes reverted (meters archived, prices restored, benefits deleted).
    remote_records: usize,
    next_step: String,
}

fn undo_preview(root: &Path) -> anyhow::Result<UndoPreview> {
    let project = billing_apply::Project::open(root).map_err(hinted_apply)?;
    let Some(entry) = billing_apply::journal::latest(&project).map_err(hinted_apply)? else {
        return Err(Hinted::new(
            "nothing to undo: no apply is recorded in this project",
            "undo reverts the latest apply_plan (or `spaire-billing apply`) in this project",
        )
        .into());
    };
    let edited = billing_apply::undo::edited_since(&project, &entry).map_err(hinted_apply)?;
    let (restore, remove) = entry
        .files
        .iter()
        .partition::<Vec<_>, _>(|f| f.before.is_some());
    let mut hasher = Sha256::new();
    hasher.update(b"spaire-billing undo v1\n");
    hasher.update(billing_changeset::preview::canonical_json(&entry).as_bytes());
    hasher.update(billing_changeset::preview::canonical_json(&edited).as_bytes());
    let digest = hasher.finalize();
    let undo_hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(UndoPreview {
        next_step: format!(
            "Show this to the user. After approval, call undo with undo_hash \"{undo_hash}\"."
        ),
        undo_hash,
        plan_hash: entry.plan_hash.clone(),
        environment: entry.environment.clone(),
        applied_at: entry.created_at.clone(),
        restore: restore.into_iter().map(|f| f.path.clone()).collect(),
        remove: remove.into_iter().map(|f| f.path.clone()).collect(),
        edited_since_apply: edited,
        remote_records: entry.remote.len(),
    })
}

/// `status`: what is still pending.
pub async fn status(root: &Path) -> anyhow::Result<serde_json::Value> {
    let status = billing_ops::status(root).await?;
    Ok(serde_json::to_value(status)?)
}

fn load_plan_file(root: &Path) -> anyhow::Result<Option<BillingPlan>> {
    billing_plan::load(root).map_err(|err| match err {
        billing_plan::LoadError::Invalid(plan_err) => {
            let hint = plan_err.hint();
            anyhow::Error::new(Hinted::new(plan_err.to_string(), hint))
        }
        other => anyhow::Error::new(other),
    })
}

/// Keeps billing-apply's own hint (e.g. "the journal is corrupt: ...") in the chain.
fn hinted_apply(err: billing_apply::ApplyError) -> anyhow::Error {
    match err.hint() {
        Some(hint) => anyhow::Error::new(Hinted::new(err.to_string(), hint).with_source(err)),
        None => anyhow::Error::new(err),
    }
}
