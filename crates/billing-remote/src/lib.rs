//! Plans and performs the remote setup of a [`BillingPlan`] in one environment — meters,
//! metered prices, meter-credit benefits, webhook endpoints — idempotently, undoes it, and
//! verifies that usage is counted.
//!
//! # API for billing-ops (and the MCP server)
//!
//! ```ignore
//! // 1. Where to: flags/env/.env files → a Remote (client is None without a token).
//! let remote = billing_remote::connect(env, server_url_flag, plan.server_url.as_deref(), dir)?;
//!
//! // 2. Preview: read-only. Without a token no request is made and steps are Pending with
//! //    exact dashboard instructions (`RemoteStep::dashboard_steps`).
//! let preview = billing_remote::plan(&plan, &remote, &lock.remote).await?;
//! changeset.remote = preview.steps;       // keys are stable: meter:<name>,
//!                                         // price:<product>:<meter>, credit:<product>:<meter>,
//!                                         // product-benefits:<product>, webhook:<url>
//!
//! // 3. After confirmation: perform. `state` is updated AS IT GOES, so save it to lock.json
//! //    even when apply returns an error (what was created is then reused next time).
//! let report = billing_remote::apply(&plan, client, env, &mut lock.remote).await;
//! //    No token: record the pending steps instead.
//! lock.remote.set_pending(env, pending_keys);
//!
//! //    With a journal, every write is recorded ahead (intent + marker, then the id):
//! let report = billing_remote::apply_journaled(&plan, client, env, &mut lock.remote,
//!                                              &mut recorder, &prior_records).await;
//!
//! // 4. Undo: restores each changed product's previous price and benefit lists (archiving the
//! //    prices we added), deletes the benefits and archives the meters we created, deletes the
//! //    webhook endpoints we created. Reused objects are left alone. Never fails as a whole:
//! //    each step reports ok/error; what failed stays in `state` for a retry. A 404 is a
//! //    failure (another token or server), unless `undo_with(.., forget_missing = true)`.
//! let report = billing_remote::undo(client, env, &mut lock.remote).await;
//! //    From an apply's write-ahead records, after checking server and organization:
//! let reverted = billing_remote::undo_journal(client, env, &records, &recorded, false).await?;
//!
//! // 5. Verify (the `verify` command).
//! let report = billing_remote::verify(&plan, client, env, &VerifyOptions::default()).await?;
//! ```
//!
//! Errors are [`billing_errors::Hinted`] (message + what to do), with the underlying
//! [`billing_api::ApiError`] as source when a request failed.
//!
//! # Guarantees
//! - A second `apply` of the same plan sends zero write requests ([`ApplyReport::stats`]).
//! - Existing prices are never archived: a metered price is added by resending every active
//!   price as `{id}` plus the new one. One-time products are refused with a clear error.
//! - A meter with the plan's name and a different filter/aggregation stops the plan with both
//!   definitions shown; an identical one is reused.
//! - Creates are never retried blindly: when a create's outcome is unknown (5xx, timeout,
//!   dropped connection) the object is looked up by name/description first.
//! - With a [`Recorder`], no remote write happens before its intent is durable, and new
//!   meters and benefits carry the intent's marker in their metadata: after a crash at any
//!   point, a resumed apply or an undo knows exactly which objects the apply made ([`wal`]).
//! - Undo refuses to run against another server or with a token of another organization than
//!   the ones recorded when the objects were created.
//! - Objects the user made by hand from the dashboard steps (same meter definition, same
//!   price amount, identical credits) are found and reused, recorded as not ours, and left
//!   alone by undo.

mod connect;
mod dashboard;
mod desired;
mod engine;
pub mod keys;
mod lookup;
mod offline;
mod revert;
mod state;
mod undo;
mod verify;
pub mod wal;
mod webhook_url;

use billing_api::Client;
use billing_errors::Hinted;
use billing_plan::{BillingPlan, Environment};

pub use connect::{EMULATOR_DEFAULT_TOKEN, Remote, TOKEN_ENV, connect, find_token};
pub use engine::{ApplyReport, RemotePlan};
pub use revert::{Reverted, check_target, undo_journal};
pub use state::{EnvironmentState, ObjectRecord, ProductRecord, RemoteState};
pub use undo::{UndoReport, UndoStep, undo, undo_with};
pub use verify::{BalanceCheck, MeterCheck, VerifyOptions, VerifyReport, verify};
pub use wal::{Recorder, WalRecord};
pub use webhook_url::check as check_webhook_url;

/// The remote steps for `plan` in `remote.environment`, read-only.
///
/// With a client, each step is `Create`, `Reuse` or `Update` as decided from the live
/// objects; a conflicting meter, a one-time product or an unknown product is an error. Without
/// one, no request is made: steps recorded in `state` are `Reuse`, the rest `Pending` with
/// dashboard instructions.
pub async fn plan(
    plan: &BillingPlan,
    remote: &Remote,
    state: &RemoteState,
) -> Result<RemotePlan, Hinted> {
    let Some(client) = &remote.client else {
        return Ok(offline::plan(plan, remote.environment, state));
    };
    // The walk records ids as it goes; planning works on a scratch copy.
    let mut scratch = state.clone();
    let (steps, notes) = engine::Engine::new(client, remote.environment, plan, &mut scratch, false)
        .run()
        .await?;
    Ok(RemotePlan {
        environment: remote.environment,
        steps,
        notes,
    })
}

/// Performs the remote steps, recording ids in `state` as they are created.
pub async fn apply(
    plan: &BillingPlan,
    client: &Client,
    environment: Environment,
    state: &mut RemoteState,
) -> Result<ApplyReport, Hinted> {
    let before = client.stats();
    let (steps, notes) = engine::Engine::new(client, environment, plan, state, true)
        .run()
        .await?;
    Ok(report(environment, steps, notes, &before, &client.stats()))
}

/// [`apply`] with every write journaled ahead through `recorder` ([`wal`]). `prior` holds
/// the records of an earlier, interrupted run of the same apply: the objects its requests
/// created are found (by marker when their answer was lost) and stay ours, and the product
/// lists it saw first stay the ones undo restores.
pub async fn apply_journaled(
    plan: &BillingPlan,
    client: &Client,
    environment: Environment,
    state: &mut RemoteState,
    recorder: &mut dyn Recorder,
    prior: &[WalRecord],
) -> Result<ApplyReport, Hinted> {
    adopt(client, environment, state, prior).await?;
    let before = client.stats();
    let (steps, notes) = engine::Engine::new(client, environment, plan, state, true)
        .with_recorder(Some(recorder))
        .run()
        .await?;
    Ok(report(environment, steps, notes, &before, &client.stats()))
}

/// What an engine run did, with the requests it cost (counters before and after the run).
fn report(
    environment: Environment,
    steps: Vec<billing_changeset::RemoteStep>,
    notes: Vec<String>,
    before: &billing_api::RequestStats,
    after: &billing_api::RequestStats,
) -> ApplyReport {
    ApplyReport {
        environment,
        steps,
        notes,
        stats: billing_api::RequestStats {
            reads: after.reads - before.reads,
            writes: after.writes - before.writes,
            retries: after.retries - before.retries,
        },
    }
}

/// Marks what an interrupted run created as ours in `state`.
async fn adopt(
    client: &Client,
    environment: Environment,
    state: &mut RemoteState,
    prior: &[WalRecord],
) -> Result<(), Hinted> {
    let summary = wal::Summary::of(prior);
    if !summary.wrote_anything() {
        return Ok(());
    }
    let env = state.env_mut(environment);
    if env.server_url.is_none() {
        env.server_url.clone_from(&summary.server_url);
    }
    if env.organization_id.is_none() {
        env.organization_id.clone_from(&summary.organization_id);
    }
    check_target(
        client,
        environment,
        &summary,
        &state.env_mut(environment).clone(),
    )
    .await?;
    for (key, (kind, lookup, marker)) in &summary.intents {
        if summary.reverted.contains(key) {
            continue;
        }
        let id = match summary.done.get(key) {
            Some(id) => Some(id.clone()),
            None => wal::resolve(client, *kind, lookup, marker)
                .await
                .map_err(|e| e.into_hinted())?,
        };
        if let Some(id) = id {
            state.env_mut(environment).objects.insert(
                key.clone(),
                ObjectRecord {
                    id,
                    created_by_us: true,
                },
            );
        }
    }
    for (key, id) in &summary.done {
        if key.starts_with("price:") && !summary.reverted.contains(key) {
            state.env_mut(environment).objects.insert(
                key.clone(),
                ObjectRecord {
                    id: id.clone(),
                    created_by_us: true,
                },
            );
        }
    }
    for (reference, record) in &summary.products {
        state
            .env_mut(environment)
            .products
            .insert(reference.clone(), record.clone());
    }
    Ok(())
}

/// The token-less plan (also useful to print dashboard steps next to an API plan).
pub fn plan_offline(
    plan: &BillingPlan,
    environment: Environment,
    state: &RemoteState,
) -> RemotePlan {
    offline::plan(plan, environment, state)
}

#[cfg(test)]
mod lost_response_tests;
