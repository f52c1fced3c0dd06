//! The seam to `billing-remote`: remote steps are planned from the plan and the lock's remote
//! state, performed after confirmation, and reversed by undo.
//!
//! A trait (instead of calling `billing-remote` directly everywhere) keeps the orchestration
//! testable with an in-memory backend. Futures are boxed so the trait stays object-safe and
//! `Send` (the MCP server runs the ops inside tokio tasks).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use billing_changeset::{RemoteAction, RemoteStep};
use billing_plan::{BillingPlan, Environment};
use billing_remote::{EnvironmentState, RemoteState, WalRecord};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What remote planning and applying need.
#[derive(Debug, Clone, Copy)]
pub struct RemotePlanRequest<'a> {
    pub root: &'a Path,
    pub plan: &'a BillingPlan,
    pub environment: Environment,
    /// `--server-url`: overrides `SPAIRE_SERVER_URL` and the plan's `server_url`.
    pub server_url: Option<&'a str>,
    /// This environment's state from `.spaire-billing/lock.json` (`Null` when none).
    pub state: &'a serde_json::Value,
}

/// The remote part of a preview.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemotePlanned {
    pub steps: Vec<RemoteStep>,
    /// Things to know that are not steps (a skipped webhook URL, no token, ...).
    pub notes: Vec<String>,
}

/// What performing the remote steps produced.
#[derive(Debug, Default)]
pub struct RemoteOutcome {
    /// The environment's new state for the lock file. Set even when `error` is: objects
    /// created before a failure are then reused by the next run.
    pub state: serde_json::Value,
    /// Opaque records kept in the undo journal.
    pub undo_records: Vec<serde_json::Value>,
    /// One line per step done ("created meter `llm-token-usage` (id …)").
    pub completed: Vec<String>,
    /// One line per step left for the dashboard.
    pub pending: Vec<String>,
    pub error: Option<anyhow::Error>,
}

/// What undoing produced.
#[derive(Debug, Default)]
pub struct RemoteUndone {
    /// One line per object reverted.
    pub lines: Vec<String>,
    /// The environment's state after the undo.
    pub state: serde_json::Value,
    /// Records to append to the journal entry (what is reverted), also when `error` is set,
    /// so a retried undo neither touches those objects again nor forgets the others.
    pub progress: Vec<serde_json::Value>,
    /// Some objects could not be reverted (the report says which and why).
    pub error: Option<anyhow::Error>,
}

/// Where `apply` journals its remote writes ahead (see `billing_remote::wal`).
pub struct RemoteJournal<'a> {
    pub recorder: &'a mut dyn billing_remote::Recorder,
    /// This journal entry's records from an earlier, interrupted run of the apply.
    pub prior: &'a [serde_json::Value],
}

pub trait RemoteBackend: Send + Sync {
    /// The remote steps the plan needs in `environment` (no writes).
    fn plan<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RemotePlanned>>;

    /// Performs the plan's remote steps (the ones previewed and hashed just before).
    fn apply<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
        steps: &'a [RemoteStep],
        journal: RemoteJournal<'a>,
    ) -> BoxFuture<'a, RemoteOutcome>;

    /// Reverses one apply from its journal `records`, given the environment's current state.
    fn undo<'a>(
        &'a self,
        request: RemoteUndoRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RemoteUndone>>;
}

#[derive(Debug, Clone, Copy)]
pub struct RemoteUndoRequest<'a> {
    pub root: &'a Path,
    pub environment: Environment,
    pub server_url: Option<&'a str>,
    /// The server URL the plan file names, when it is for this environment.
    pub plan_server_url: Option<&'a str>,
    pub records: &'a [serde_json::Value],
    pub state: &'a serde_json::Value,
    /// Treat a 404 as "already gone" (objects the user deleted by hand).
    pub forget_missing: bool,
}

/// A backend with no remote side: plans no steps. For file-only runs and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRemote;

impl RemoteBackend for NoRemote {
    fn plan<'a>(
        &'a self,
        _request: RemotePlanRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RemotePlanned>> {
        Box::pin(async { Ok(RemotePlanned::default()) })
    }

    fn apply<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
        _steps: &'a [RemoteStep],
        _journal: RemoteJournal<'a>,
    ) -> BoxFuture<'a, RemoteOutcome> {
        let state = request.state.clone();
        Box::pin(async move {
            RemoteOutcome {
                state,
                ..RemoteOutcome::default()
            }
        })
    }

    fn undo<'a>(
        &'a self,
        request: RemoteUndoRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RemoteUndone>> {
        let state = request.state.clone();
        Box::pin(async move {
            Ok(RemoteUndone {
                state,
                ..RemoteUndone::default()
            })
        })
    }
}

/// The real backend: `billing-remote` against Spaire (or the emulator for `local`). Without
/// a token no request is made and every step is pending with dashboard instructions.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpaireRemote;

fn env_state(value: &serde_json::Value) -> anyhow::Result<EnvironmentState> {
    if value.is_null() {
        return Ok(EnvironmentState::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| {
        anyhow::Error::new(billing_errors::Hinted::new(
            "the remote state in `.spaire-billing/lock.json` is not readable",
            "restore lock.json from version control, or remove its `environments` entry to \
             look the objects up again",
        ))
        .context(err.to_string())
    })
}

fn whole_state(environment: Environment, env: EnvironmentState) -> RemoteState {
    let mut state = RemoteState::default();
    if !env.is_empty() {
        state
            .environments
            .insert(environment.as_str().to_owned(), env);
    }
    state
}

fn state_value(environment: Environment, state: &RemoteState) -> serde_json::Value {
    state
        .env(environment)
        .filter(|e| !e.is_empty())
        .and_then(|e| serde_json::to_value(e).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn plan_server_url(plan: &BillingPlan, environment: Environment) -> Option<&str> {
    // The plan's server_url belongs to the plan's own environment only.
    (plan.environment == environment)
        .then_some(plan.server_url.as_deref())
        .flatten()
}

fn step_line(step: &RemoteStep) -> String {
    format!("[{}] {}", step.environment, step.summary)
}

impl RemoteBackend for SpaireRemote {
    fn plan<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RemotePlanned>> {
        Box::pin(async move {
            let remote = billing_remote::connect(
                request.environment,
                request.server_url,
                plan_server_url(request.plan, request.environment),
                request.root,
            )?;
            let state = whole_state(request.environment, env_state(request.state)?);
            let planned = billing_remote::plan(request.plan, &remote, &state).await?;
            // Without a token billing-remote's notes already say how to get one.
            let notes = planned.notes;
            Ok(RemotePlanned {
                steps: planned.steps,
                notes,
            })
        })
    }

    fn apply<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
        steps: &'a [RemoteStep],
        journal: RemoteJournal<'a>,
    ) -> BoxFuture<'a, RemoteOutcome> {
        Box::pin(async move {
            let mut outcome = RemoteOutcome {
                state: request.state.clone(),
                ..RemoteOutcome::default()
            };
            let env = request.environment;
            let before = match env_state(request.state) {
                Ok(before) => before,
                Err(err) => {
                    outcome.error = Some(err);
                    return outcome;
                }
            };
            // Undo of this apply reverts what its write-ahead records (in the journal entry,
            // written as it goes) say it made.
            let mut state = whole_state(env, before);
            let remote = match billing_remote::connect(
                env,
                request.server_url,
                plan_server_url(request.plan, env),
                request.root,
            ) {
                Ok(remote) => remote,
                Err(err) => {
                    outcome.error = Some(err.into());
                    return outcome;
                }
            };
            let Some(client) = &remote.client else {
                let pending: Vec<&RemoteStep> = steps
                    .iter()
                    .filter(|s| s.action == RemoteAction::Pending)
                    .collect();
                state.set_pending(env, pending.iter().map(|s| s.key.clone()).collect());
                outcome.pending = pending.iter().map(|s| step_line(s)).collect();
                outcome.state = state_value(env, &state);
                return outcome;
            };
            let prior = WalRecord::parse_all(journal.prior, env.as_str());
            match billing_remote::apply_journaled(
                request.plan,
                client,
                env,
                &mut state,
                journal.recorder,
                &prior,
            )
            .await
            {
                Ok(report) => {
                    state.set_pending(env, Vec::new());
                    for step in &report.steps {
                        match step.action {
                            RemoteAction::Create | RemoteAction::Update => {
                                outcome.completed.push(step_line(step));
                            }
                            RemoteAction::Pending => outcome.pending.push(step_line(step)),
                            RemoteAction::Reuse => {}
                        }
                    }
                }
                Err(err) => outcome.error = Some(err.into()),
            }
            outcome.state = state_value(env, &state);
            outcome
        })
    }

    fn undo<'a>(
        &'a self,
        request: RemoteUndoRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RemoteUndone>> {
        Box::pin(async move {
            let env = request.environment;
            let current = env_state(request.state)?;
            let journaled = WalRecord::parse_all(request.records, env.as_str());
            if !journaled.is_empty() {
                return undo_journaled(request, &journaled, &current).await;
            }
            // Journals written before the write-ahead records: revert what the apply added
            // to the lock's state.
            let before = request
                .records
                .iter()
                .filter(|r| r["environment"] == env.as_str())
                .find_map(|r| serde_json::from_value::<EnvironmentState>(r["before"].clone()).ok())
                .unwrap_or_default();
            // Only what this apply added: objects and products not in the state before it.
            let mut added = EnvironmentState::default();
            for (key, record) in &current.objects {
                if !before.objects.contains_key(key) {
                    added.objects.insert(key.clone(), record.clone());
                }
            }
            for (key, record) in &current.products {
                if !before.products.contains_key(key) {
                    added.products.insert(key.clone(), record.clone());
                }
            }
            if added.objects.is_empty() && added.products.is_empty() {
                return Ok(RemoteUndone {
                    state: serde_json::to_value(&before).unwrap_or_default(),
                    ..RemoteUndone::default()
                });
            }
            let client = undo_client(&request)?;
            let mut scratch = whole_state(env, added);
            let report = billing_remote::undo(&client, env, &mut scratch).await;
            let lines: Vec<String> = report
                .steps
                .iter()
                .map(|s| match &s.error {
                    None => s.description.clone(),
                    Some(error) => format!("FAILED {}: {error}", s.description),
                })
                .collect();
            if !report.all_ok() {
                return Err(billing_errors::Hinted::new(
                    format!(
                        "some remote objects could not be reverted; no file was changed:\n  {}",
                        lines.join("\n  ")
                    ),
                    "fix the cause shown and run `spaire-billing undo` again (reverted objects \
                     are not touched twice)",
                )
                .into());
            }
            Ok(RemoteUndone {
                lines,
                state: serde_json::to_value(&before).unwrap_or_default(),
                ..RemoteUndone::default()
            })
        })
    }
}

/// The API client undo reverts through; without a token, undo stops before changing anything.
fn undo_client(request: &RemoteUndoRequest<'_>) -> anyhow::Result<billing_api::Client> {
    let env = request.environment;
    let remote = billing_remote::connect(
        env,
        request.server_url,
        request.plan_server_url,
        request.root,
    )?;
    remote.client.ok_or_else(|| {
        billing_errors::Hinted::new(
            format!(
                "undoing the {} remote objects needs SPAIRE_ACCESS_TOKEN; nothing was changed",
                env.as_str()
            ),
            "set the token (environment or .env) and run `spaire-billing undo` again",
        )
        .into()
    })
}

/// Undo from the write-ahead records: checks the server and the token's organization first,
/// then reverts; progress is returned even when some steps failed.
async fn undo_journaled(
    request: RemoteUndoRequest<'_>,
    records: &[WalRecord],
    current: &EnvironmentState,
) -> anyhow::Result<RemoteUndone> {
    let env = request.environment;
    if !billing_remote::wal::Summary::of(records).wrote_anything() {
        return Ok(RemoteUndone::default());
    }
    let client = undo_client(&request)?;
    let reverted =
        billing_remote::undo_journal(&client, env, records, current, request.forget_missing)
            .await?;
    let lines: Vec<String> = reverted
        .report
        .steps
        .iter()
        .map(|s| match &s.error {
            None => s.description.clone(),
            Some(error) => format!("FAILED {}: {error}", s.description),
        })
        .collect();
    let error = (!reverted.report.all_ok()).then(|| {
        anyhow::Error::new(billing_errors::Hinted::new(
            format!(
                "some remote objects could not be reverted; no file was changed and their \
                 records are kept:\n  {}",
                lines.join("\n  ")
            ),
            "fix the cause shown and run `spaire-billing undo` again (what was reverted is \
             recorded and not touched twice)",
        ))
    });
    Ok(RemoteUndone {
        lines,
        state: request.state.clone(),
        progress: reverted.progress.iter().map(WalRecord::to_json).collect(),
        error,
    })
}
