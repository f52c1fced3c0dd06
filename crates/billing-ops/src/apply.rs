//! `apply`: re-plan, check the hash the user approved, confirm, then write files in one
//! journaled transaction, run installs, perform remote steps and record the lock file.

use billing_apply::{LOCK_PATH, Lock, LockedFile, Project, Transaction, sha256_hex};
use billing_changeset::{EnvVarName, FileAction, FileOrigin, ManualStep, RemoteAction};
use billing_errors::{Hinted, UsageError};
use billing_plan::Environment;
use serde::Serialize;

use crate::Engine;
use crate::hooks::{ApplyHooks, Event, Question};
use crate::install::{InstallOutcome, InstallReport, run_install};
use crate::interrupt::InterruptGuard;
use crate::metering::Metering;
use crate::plan::{PlanOptions, Preview};
use crate::produce::hinted_apply;
use crate::remote::RemotePlanRequest;

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub plan: PlanOptions,
    /// Apply only if the plan still hashes to this (`--plan HASH`; required by MCP).
    pub expected_hash: Option<String>,
    /// Confirm everything that is confirmed by a plain yes (`--yes`).
    pub yes: bool,
    /// Also overwrite generated files the user edited (`--overwrite-edited`); without it, they
    /// are only overwritten after a yes to a question showing their diff.
    pub overwrite_edited: bool,
    /// Do everything except writing files, running installs and calling the API.
    pub dry_run: bool,
    /// Leave package installs to the user (they are reported with their command).
    pub skip_installs: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub action: FileAction,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub hash: String,
    pub environment: Environment,
    pub dry_run: bool,
    /// The plan was already applied: nothing to do.
    pub nothing_to_do: bool,
    pub files: Vec<FileReport>,
    pub installs: Vec<InstallReport>,
    /// Remote steps done / left for the dashboard, one line each.
    pub remote_completed: Vec<String>,
    pub remote_pending: Vec<String>,
    pub env_vars: Vec<EnvVarName>,
    /// The producers' manual steps as they listed them; the JSON carries them, classified
    /// and checked against the files, in `manual_steps` of [`Metering`].
    #[serde(skip)]
    pub manual_steps: Vec<ManualStep>,
    /// `meters[]`, `manual_steps[]`, `complete`: what feeds each meter, what is left by hand.
    #[serde(flatten)]
    pub metering: Metering,
    pub warnings: Vec<String>,
    /// Journal entry id (what `undo` will revert).
    pub journal: Option<String>,
}

/// The apply was declined at a confirmation; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("cancelled: {0}; nothing was changed")]
pub struct Cancelled(pub String);

impl Engine {
    pub async fn apply(
        &self,
        options: &ApplyOptions,
        hooks: &mut dyn ApplyHooks,
    ) -> anyhow::Result<ApplyReport> {
        let preview = self.plan(&options.plan).await?;
        if let Some(expected) = &options.expected_hash
            && !expected.trim().eq_ignore_ascii_case(&preview.hash)
        {
            return Err(Hinted::new(
                format!(
                    "the plan changed since `{}` was shown (it is now `{}`): the project, the \
                     plan file or the remote state differs",
                    expected.trim(),
                    preview.hash
                ),
                "run `spaire-billing plan` again, review it, and apply the new hash",
            )
            .into());
        }
        let mut report = ApplyReport {
            hash: preview.hash.clone(),
            environment: preview.environment,
            dry_run: options.dry_run,
            nothing_to_do: preview.is_noop(),
            files: preview
                .changes
                .files
                .iter()
                .map(|f| FileReport {
                    path: f.path.clone(),
                    action: f.action,
                    summary: f.summary.clone(),
                })
                .collect(),
            installs: Vec::new(),
            remote_completed: Vec::new(),
            remote_pending: Vec::new(),
            env_vars: preview.changes.env_vars.clone(),
            manual_steps: preview.changes.manual_steps.clone(),
            metering: preview.metering.clone(),
            warnings: preview.warnings.clone(),
            journal: None,
        };
        if report.nothing_to_do {
            report.remote_pending = remote_lines(&preview);
            return Ok(report);
        }
        if options.dry_run {
            // Nothing is written, so nothing needs a yes.
            report.installs = preview
                .changes
                .installs
                .iter()
                .map(|i| skipped(i, "dry run"))
                .collect();
            report.remote_pending = remote_lines(&preview);
            return Ok(report);
        }
        confirm_all(&preview, options, hooks)?;
        self.perform(&preview, options, hooks, report).await
    }

    async fn perform(
        &self,
        preview: &Preview,
        options: &ApplyOptions,
        hooks: &mut dyn ApplyHooks,
        mut report: ApplyReport,
    ) -> anyhow::Result<ApplyReport> {
        let project = Project::open(std::path::Path::new(&preview.root)).map_err(hinted_apply)?;
        let environment = preview.environment;
        let mut interrupt = InterruptGuard::new(self.guard_interrupts);
        let mut tx = Transaction::begin(&project, &preview.hash, environment.as_str())
            .map_err(hinted_apply)?;

        // Files: all or nothing.
        for change in &preview.changes.files {
            if let Err(err) = tx.apply_change(change) {
                let rollback = tx.rollback();
                let mut error = hinted_apply(err);
                if let Err(rollback_err) = rollback {
                    error = error.context(format!(
                        "and restoring the files already written failed too ({rollback_err}); \
                         run `spaire-billing undo`"
                    ));
                }
                return Err(error.context("apply stopped; every file was put back as it was"));
            }
            hooks.event(&Event::Wrote {
                path: &change.path,
                action: change.action,
            });
        }
        if interrupt.interrupted().await {
            tx.rollback().map_err(hinted_apply)?;
            return Err(
                Cancelled("interrupted (Ctrl-C); every file was put back".to_owned()).into(),
            );
        }

        // Installs: a failure is reported, not fatal (the code is in place; the command is
        // shown so the user can run it).
        let mut stopped = false;
        for install in &preview.changes.installs {
            stopped = stopped || interrupt.interrupted().await;
            if stopped {
                report.installs.push(skipped(install, "interrupted"));
                continue;
            }
            if options.skip_installs {
                report.installs.push(skipped(install, "--skip-installs"));
                continue;
            }
            if !options.yes && !hooks.confirm(&Question::RunInstall { install })? {
                report.installs.push(skipped(install, "declined"));
                continue;
            }
            report
                .installs
                .push(run_install(&mut tx, install, hooks).await?);
        }

        // Remote steps, then the lock file with their new state.
        let mut lock = Lock::read(&project).map_err(hinted_apply)?;
        stopped = stopped || interrupt.interrupted().await;
        let outcome = if stopped {
            crate::remote::RemoteOutcome {
                state: lock
                    .environments
                    .get(environment.as_str())
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
                pending: remote_lines(preview),
                ..crate::remote::RemoteOutcome::default()
            }
        } else {
            self.apply_remote(preview, &lock, hooks).await
        };
        for record in outcome.undo_records {
            tx.record_remote(record).map_err(hinted_apply)?;
        }
        report.remote_completed = outcome.completed;
        report.remote_pending = outcome.pending;
        let env_key = environment.as_str().to_owned();
        if outcome.state.is_null() {
            lock.environments.remove(&env_key);
        } else {
            lock.environments.insert(env_key, outcome.state);
        }
        let remote_error = outcome.error;
        for change in &preview.changes.files {
            if change.origin == FileOrigin::Generated {
                lock.files.insert(
                    change.path.clone(),
                    LockedFile {
                        sha256: sha256_hex(change.after.as_bytes()),
                        origin: change.origin,
                    },
                );
            }
        }
        let rendered = lock.render();
        let current = project.read(LOCK_PATH).map_err(hinted_apply)?;
        let lock_changed = current.as_deref() != Some(rendered.as_bytes());
        if lock_changed {
            tx.write(LOCK_PATH, rendered.as_bytes())
                .map_err(hinted_apply)?;
        }
        let ran_install = report
            .installs
            .iter()
            .any(|i| !matches!(i.outcome, InstallOutcome::Skipped { .. }));
        if preview.changes.files.is_empty()
            && !ran_install
            && !lock_changed
            && report.remote_completed.is_empty()
        {
            // Nothing happened (installs left to the user): no journal entry, so `undo` still
            // reverts the last apply that did something.
            tx.rollback().map_err(hinted_apply)?;
        } else {
            let entry = tx.commit().map_err(hinted_apply)?;
            report.journal = Some(entry.id);
        }
        if stopped {
            return Err(Cancelled(
                "interrupted (Ctrl-C) after the files were written; run `spaire-billing undo` \
                 to revert them, or `spaire-billing apply` to finish"
                    .to_owned(),
            )
            .into());
        }
        if let Some(err) = remote_error {
            return Err(err.context(
                "the files were written, but the remote setup failed; run `spaire-billing \
                 apply` again to finish it, or `spaire-billing undo` to revert the files",
            ));
        }
        Ok(report)
    }

    async fn apply_remote(
        &self,
        preview: &Preview,
        lock: &Lock,
        hooks: &mut dyn ApplyHooks,
    ) -> crate::remote::RemoteOutcome {
        let state = lock
            .environments
            .get(preview.environment.as_str())
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let steps = &preview.changes.remote;
        if steps
            .iter()
            .any(|s| matches!(s.action, RemoteAction::Create | RemoteAction::Update))
        {
            hooks.event(&Event::RemoteStarted {
                steps: steps.len(),
                environment: preview.environment,
            });
        }
        self.remote
            .apply(
                RemotePlanRequest {
                    root: std::path::Path::new(&preview.root),
                    plan: &preview.plan,
                    environment: preview.environment,
                    server_url: self.server_url.as_deref(),
                    state: &state,
                },
                steps,
            )
            .await
    }
}

fn skipped(install: &billing_changeset::PackageInstall, reason: &str) -> InstallReport {
    InstallReport {
        cwd: install.cwd.clone(),
        command: billing_changeset::preview::shell_words(&install.argv),
        outcome: InstallOutcome::Skipped {
            reason: reason.to_owned(),
        },
    }
}

fn remote_lines(preview: &Preview) -> Vec<String> {
    preview
        .changes
        .remote
        .iter()
        .filter(|s| s.action != RemoteAction::Reuse)
        .map(|s| format!("[{}] {}", s.environment, s.summary))
        .collect()
}

/// Every confirmation before the first write: the plan, production, and each edited file.
fn confirm_all(
    preview: &Preview,
    options: &ApplyOptions,
    hooks: &mut dyn ApplyHooks,
) -> anyhow::Result<()> {
    if !options.yes && !hooks.confirm(&Question::Apply { preview })? {
        return Err(Cancelled("the plan was not confirmed".to_owned()).into());
    }
    let touches_production = preview.environment == Environment::Production
        && preview
            .changes
            .remote
            .iter()
            .any(|s| s.action != RemoteAction::Reuse);
    if touches_production
        && !options.yes
        && !hooks.confirm(&Question::Production {
            environment: preview.environment,
        })?
    {
        return Err(Cancelled("production changes were not confirmed".to_owned()).into());
    }
    for conflict in &preview.conflicts {
        if options.overwrite_edited {
            continue;
        }
        if options.yes {
            return Err(UsageError::new(format!(
                "`{}` was edited since spaire-billing generated it; `--yes` does not overwrite \
                 edited files",
                conflict.path
            ))
            .with_hint(
                "review the diff with `spaire-billing plan`, then pass `--overwrite-edited` too, \
                 or run apply on a terminal to confirm each file",
            )
            .into());
        }
        if !hooks.confirm(&Question::OverwriteEdited { conflict })? {
            return Err(Cancelled(format!("`{}` was not overwritten", conflict.path)).into());
        }
    }
    Ok(())
}
