//! The seam to `billing-remote`: remote steps are planned from the plan and the lock's remote
//! state, performed after confirmation, and reversed by undo.
//!
//! A trait (instead of calling `billing-remote` directly everywhere) keeps the orchestration
//! testable with an in-memory backend and lets the MCP server and wizard share one engine.
//! Futures are boxed so the trait stays object-safe and `Send` (the MCP server runs the ops
//! inside tokio tasks).

use std::future::Future;
use std::pin::Pin;

use billing_changeset::RemoteStep;
use billing_plan::{BillingPlan, Environment};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What remote planning needs.
#[derive(Debug, Clone, Copy)]
pub struct RemotePlanRequest<'a> {
    pub plan: &'a BillingPlan,
    pub environment: Environment,
    /// This environment's state from `.spaire-billing/lock.json` (`Null` when none).
    pub state: &'a serde_json::Value,
}

/// What performing the remote steps produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteOutcome {
    /// The environment's new state for the lock file (ids created, steps still pending).
    pub state: serde_json::Value,
    /// Opaque records kept in the undo journal (objects created, lists replaced).
    pub undo_records: Vec<serde_json::Value>,
    /// One line per step done ("created meter `llm-token-usage` (id …)").
    pub completed: Vec<String>,
    /// One line per step left for the dashboard.
    pub pending: Vec<String>,
}

pub trait RemoteBackend: Send + Sync {
    /// The remote steps the plan needs in `environment` (no writes).
    fn plan<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Vec<RemoteStep>>>;

    /// Performs `steps` (exactly those that were previewed and hashed).
    fn apply<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
        steps: &'a [RemoteStep],
    ) -> BoxFuture<'a, anyhow::Result<RemoteOutcome>>;

    /// Reverses an apply from its journal records; returns one line per object reverted.
    fn undo<'a>(
        &'a self,
        environment: Environment,
        records: &'a [serde_json::Value],
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;
}

/// A backend with no remote side: plans no steps. Used for file-only runs and in tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRemote;

impl RemoteBackend for NoRemote {
    fn plan<'a>(
        &'a self,
        _request: RemotePlanRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Vec<RemoteStep>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn apply<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
        _steps: &'a [RemoteStep],
    ) -> BoxFuture<'a, anyhow::Result<RemoteOutcome>> {
        let state = request.state.clone();
        Box::pin(async move {
            Ok(RemoteOutcome {
                state,
                ..RemoteOutcome::default()
            })
        })
    }

    fn undo<'a>(
        &'a self,
        _environment: Environment,
        _records: &'a [serde_json::Value],
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
