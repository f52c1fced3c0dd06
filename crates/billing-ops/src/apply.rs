//! `apply`: re-plan, check the hash the user approved, confirm, then write files in one
//! journaled transaction, run installs, perform remote steps and record the lock file.

use billing_apply::{LOCK_PATH, Lock, LockedFile, Project, Transaction, sha256_hex};
use billing_changeset::{EnvVarName, FileAction, FileOrigin, ManualStep, RemoteAction};
use billing_detect::gates::Gates;
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
use crate::remote::{RemoteJournal, RemotePlanRequest};
use billing_remote::WalRecord;

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
        // Temp files of writes a killed run never finished.
        billing_apply::debris::clean(&project).map_err(hinted_apply)?;
        let mut tx = begin_or_resume(&project, &preview.hash, environment)?;
        let state_gates = crate::gates::state_file_gates(project.root());

        hooks.event(&Event::Writing { preview });
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
        // The lock learns the generated files right after they are written (not only at the
        // end), so a run killed later still knows which files are ours.
        let mut lock = Lock::read(&project).map_err(hinted_apply)?;
        record_generated(&mut lock, preview);
        let mut lock_changed = write_lock(&mut tx, &project, &lock, state_gates.as_ref())?;
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
            let declined = !options.skip_installs
                && !options.yes
                && !hooks.confirm(&Question::RunInstall { install })?;
            if options.skip_installs || declined {
                let mut left = crate::install::leave_to_user(&mut tx, install)?;
                left.outcome = InstallOutcome::Skipped {
                    reason: if declined { "declined" } else { "--no-install" }.to_owned(),
                };
                report.installs.push(left);
                continue;
            }
            report
                .installs
                .push(run_install(&mut tx, install, hooks).await?);
        }

        // Remote steps, each journaled ahead in the entry, then the lock with their state.
        stopped = stopped || interrupt.interrupted().await;
        let mut stopped_in_remote = false;
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
            let prior = tx.entry().remote.clone();
            let state = lock
                .environments
                .get(environment.as_str())
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            let mut recorder = TxRecorder {
                tx: &mut tx,
                interrupt: &mut interrupt,
                stopped: false,
            };
            let outcome = self
                .apply_remote(
                    preview,
                    &state,
                    hooks,
                    RemoteJournal {
                        recorder: &mut recorder,
                        prior: &prior,
                    },
                )
                .await;
            stopped_in_remote = recorder.stopped && outcome.error.is_some();
            outcome
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
        lock_changed |= write_lock(&mut tx, &project, &lock, state_gates.as_ref())?;
        let remote_records = WalRecord::parse_all(&tx.entry().remote, environment.as_str());
        let wrote_remote = billing_remote::wal::Summary::of(&remote_records).wrote_anything();
        let ran_install = report
            .installs
            .iter()
            .any(|i| !matches!(i.outcome, InstallOutcome::Skipped { .. }));
        if preview.changes.files.is_empty()
            && !ran_install
            && !lock_changed
            && report.remote_completed.is_empty()
            && !wrote_remote
        {
            // Nothing happened (installs left to the user): no journal entry, so `undo` still
            // reverts the last apply that did something.
            tx.rollback().map_err(hinted_apply)?;
        } else {
            let entry = tx.commit().map_err(hinted_apply)?;
            report.journal = Some(entry.id);
        }
        if stopped_in_remote {
            return Err(Cancelled(format!(
                "interrupted (Ctrl-C) during the remote setup in {}, after the request in \
                 flight; {}; run `spaire-billing apply` to finish, or `spaire-billing undo` to \
                 revert the files and these objects",
                environment.as_str(),
                what_exists(&remote_records)
            ))
            .into());
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

    async fn apply_remote<'a>(
        &'a self,
        preview: &'a Preview,
        state: &'a serde_json::Value,
        hooks: &mut dyn ApplyHooks,
        journal: RemoteJournal<'a>,
    ) -> crate::remote::RemoteOutcome {
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
                    state,
                },
                steps,
                journal,
            )
            .await
    }
}

/// A new journal entry, or the latest one when it is an interrupted apply in the same
/// environment: continuing it keeps the files' original bytes and the remote records of the
/// first run, so one undo reverts both.
fn begin_or_resume(
    project: &Project,
    hash: &str,
    environment: Environment,
) -> anyhow::Result<Transaction> {
    let latest = billing_apply::journal::latest(project).map_err(hinted_apply)?;
    match latest {
        Some(entry) if !entry.complete && entry.environment == environment.as_str() => {
            Transaction::resume(project, entry, hash)
        }
        _ => Transaction::begin(project, hash, environment.as_str()),
    }
    .map_err(hinted_apply)
}

fn record_generated(lock: &mut Lock, preview: &Preview) {
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
}

/// Writes the lock through the transaction when it differs from the file; true if written.
/// `gates`: the project's JSON formatters, which lay the committed file out as they check it.
fn write_lock(
    tx: &mut Transaction,
    project: &Project,
    lock: &Lock,
    gates: Option<&Gates>,
) -> anyhow::Result<bool> {
    let mut rendered = lock.render();
    if let Some(gates) = gates {
        rendered =
            crate::gates::format::format_state_file(project.root(), gates, LOCK_PATH, &rendered);
    }
    let current = project.read(LOCK_PATH).map_err(hinted_apply)?;
    if current.as_deref() == Some(rendered.as_bytes()) {
        return Ok(false);
    }
    tx.write(LOCK_PATH, rendered.as_bytes())
        .map_err(hinted_apply)?;
    Ok(true)
}

/// "these objects exist and are recorded for undo: meter:api-calls (id …), …".
fn what_exists(records: &[WalRecord]) -> String {
    let summary = billing_remote::wal::Summary::of(records);
    let mut objects: Vec<String> = summary
        .done
        .iter()
        .map(|(key, id)| format!("{key} (id {id})"))
        .collect();
    objects.extend(
        summary
            .intents
            .keys()
            .filter(|k| !summary.done.contains_key(*k))
            .map(|k| format!("{k} (request sent, answer not seen; found by its marker)")),
    );
    if objects.is_empty() {
        "no remote object was created".to_owned()
    } else {
        format!(
            "these objects exist and are recorded for undo: {}",
            objects.join(", ")
        )
    }
}

/// Journals the remote phase's write-ahead records into the apply's journal entry, and
/// reports Ctrl-C so the remote phase stops before its next write.
struct TxRecorder<'t> {
    tx: &'t mut Transaction,
    interrupt: &'t mut InterruptGuard,
    stopped: bool,
}

impl billing_remote::Recorder for TxRecorder<'_> {
    fn apply_id(&self) -> String {
        self.tx.entry().id.clone()
    }

    fn record(&mut self, record: WalRecord) -> Result<(), Hinted> {
        self.tx.record_remote(record.to_json()).map_err(|err| {
            let hint = err.hint().unwrap_or_else(|| {
                "free disk space or fix the permissions of `.spaire-billing/journal/`, then run \
                 `spaire-billing apply` again"
                    .to_owned()
            });
            Hinted::new(format!("{err}; the remote request was not sent"), hint)
        })
    }

    fn stop_requested(&mut self) -> bool {
        if self.interrupt.interrupted_now() {
            self.stopped = true;
        }
        self.stopped
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
