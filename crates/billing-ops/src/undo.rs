//! `undo`: reverse the latest apply — remote objects first (through `billing-remote`), then
//! files byte for byte from the journal.

use std::path::PathBuf;

use billing_apply::{ApplyError, Project};
use billing_errors::Hinted;
use billing_plan::Environment;
use serde::Serialize;

use crate::Engine;
use crate::produce::hinted_apply;
use crate::remote::RemoteUndoRequest;

#[derive(Debug, Clone, Default)]
pub struct UndoOptions {
    pub root: PathBuf,
    /// Also discard edits made to the applied files since the apply.
    pub force: bool,
    /// Treat remote objects that answer 404 as already gone (the user deleted them by hand).
    /// Without it such a 404 stops undo: it usually means another token or server.
    pub forget_missing: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UndoReport {
    /// The plan hash of the apply that was undone.
    pub plan_hash: String,
    pub environment: String,
    pub restored: Vec<String>,
    pub removed: Vec<String>,
    /// One line per remote object reverted.
    pub remote: Vec<String>,
    /// The apply was interrupted; undo reverted what it had done.
    pub was_incomplete: bool,
    /// Install commands the apply ran: their manifests/lockfiles are restored, but installed
    /// packages stay until the next install.
    pub installs: Vec<String>,
}

impl Engine {
    pub async fn undo(&self, options: &UndoOptions) -> anyhow::Result<UndoReport> {
        let project = Project::open(&options.root).map_err(hinted_apply)?;
        // Temp files of writes a killed apply never finished.
        billing_apply::debris::clean(&project).map_err(hinted_apply)?;
        let Some(entry) = billing_apply::journal::latest(&project).map_err(hinted_apply)? else {
            return Err(Hinted::new(
                "nothing to undo: no apply is recorded under `.spaire-billing/journal/`",
                "`undo` reverts the latest `spaire-billing apply` run in this directory",
            )
            .into());
        };
        if !options.force {
            let edited =
                billing_apply::undo::edited_since(&project, &entry).map_err(hinted_apply)?;
            if !edited.is_empty() {
                return Err(hinted_apply(ApplyError::EditedSinceApply { paths: edited }));
            }
        }
        let environment = match entry.environment.as_str() {
            "production" => Environment::Production,
            "local" => Environment::Local,
            _ => Environment::Sandbox,
        };
        let remote = if entry.remote.is_empty() {
            Vec::new()
        } else {
            let lock = billing_apply::Lock::read(&project).map_err(hinted_apply)?;
            let state = lock
                .environments
                .get(environment.as_str())
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            let plan = billing_plan::load(project.root()).ok().flatten();
            let plan_server_url = plan
                .as_ref()
                .filter(|p| p.environment == environment)
                .and_then(|p| p.server_url.as_deref());
            // The lock file itself is restored with the files below, which also resets the
            // remote state to what it was before the apply.
            let undone = self
                .remote
                .undo(RemoteUndoRequest {
                    root: project.root(),
                    environment,
                    server_url: self.server_url.as_deref(),
                    plan_server_url,
                    records: &entry.remote,
                    state: &state,
                    forget_missing: options.forget_missing,
                })
                .await
                .map_err(|err| {
                    err.context("undoing the remote setup failed; no file was changed")
                })?;
            // What was reverted is recorded before anything else, so a retry skips it.
            billing_apply::journal::append_remote(&project, &entry.id, undone.progress)
                .map_err(hinted_apply)?;
            if let Some(err) = undone.error {
                return Err(err);
            }
            undone.lines
        };
        let outcome = billing_apply::undo_latest(&project, true).map_err(hinted_apply)?;
        if billing_apply::journal::latest(&project)
            .ok()
            .flatten()
            .is_none()
        {
            crate::pip_cache::forget(project.root());
        }
        Ok(UndoReport {
            plan_hash: outcome.entry.plan_hash.clone(),
            environment: outcome.entry.environment.clone(),
            restored: outcome.restored,
            removed: outcome.removed,
            remote,
            was_incomplete: !outcome.entry.complete,
            installs: outcome.entry.installs.clone(),
        })
    }
}
