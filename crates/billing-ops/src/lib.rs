//! The operations shared by the CLI, the setup wizard and the MCP server:
//! [`Engine::plan`], [`Engine::apply`], [`Engine::undo`], [`Engine::status`], plus the meter
//! presets ([`presets`]).
//!
//! ```text
//! detect ─▶ load plan ─▶ pick package ─▶ generate + wire (+ SDK install, .gitignore)
//!        ─▶ remote steps ─▶ ChangeSet ─▶ Preview {diff, hash} ─▶ confirm ─▶ apply
//! ```
//!
//! Contract for callers:
//! - `plan` never writes. `apply` re-plans and refuses unless the new hash equals
//!   `expected_hash` (when given), so what is applied is exactly what was shown. MCP must
//!   always pass the hash; a plan built from answers (`PlanOptions::plan`) must be passed
//!   again, unchanged, to `apply`.
//! - Questions go through [`ApplyHooks`]; with `yes` only edited generated files still need
//!   an explicit `overwrite_edited`.
//! - The network-touching operations are `async` and `Send`, so they run inside the MCP
//!   server's tokio runtime; the CLI drives them on a current-thread runtime.

pub mod apply;
pub mod gates;
pub mod hooks;
pub mod install;
pub mod interrupt;
pub mod listen;
pub mod merge;
pub mod metering;
pub mod package_manager;
mod pip_cache;
mod pip_requirement;
pub mod plan;
pub mod produce;
mod py_httpx;
mod py_version;
pub mod remote;
mod sample_apps;
mod sdk_conflict;
pub mod status;
pub mod undo;

use std::sync::Arc;

pub use apply::{ApplyOptions, ApplyReport, Cancelled, FileReport};
pub use billing_plan::{Preset, presets};
pub use hooks::{Answer, ApplyHooks, Event, Question};
pub use install::{InstallOutcome, InstallReport};
pub use metering::{
    Feeder, FeederKind, MeterAccount, Metering, MeteringStep, StepKind, UnmeteredCalls,
    UnmeteredSite,
};
pub use plan::{Conflict, ConflictReason, PlanOptions, Preview};
pub use produce::{ProduceContext, Producer};
pub use remote::{
    NoRemote, RemoteBackend, RemoteJournal, RemoteOutcome, RemotePlanRequest, RemotePlanned,
    RemoteUndoRequest, RemoteUndone, SpaireRemote,
};
pub use status::{PlanFileStatus, Status};
pub use undo::{UndoOptions, UndoReport};

/// The producers and the remote backend an operation runs with.
#[derive(Clone)]
pub struct Engine {
    producers: Vec<Arc<dyn Producer>>,
    remote: Arc<dyn RemoteBackend>,
    /// API base URL for remote steps (`--server-url`); overrides `SPAIRE_SERVER_URL` and the
    /// plan's `server_url`.
    server_url: Option<String>,
    /// Catch Ctrl-C during apply (see [`interrupt`]); the CLI turns it on.
    guard_interrupts: bool,
}

impl Default for Engine {
    /// Code generation, call-site wiring, and `billing-remote` against the plan's environment
    /// (dashboard steps without a token).
    fn default() -> Self {
        Self {
            producers: produce::default_producers(),
            remote: Arc::new(SpaireRemote),
            server_url: None,
            guard_interrupts: false,
        }
    }
}

impl Engine {
    /// An engine with these producers (tests, or a caller that only wants some of them).
    pub fn with_producers(mut self, producers: Vec<Arc<dyn Producer>>) -> Self {
        self.producers = producers;
        self
    }

    /// Sends remote requests to `url` (e.g. an emulator) instead of the environment's host.
    pub fn with_server_url(mut self, url: Option<String>) -> Self {
        self.server_url = url;
        self
    }

    /// Catch Ctrl-C during apply so it rolls back instead of dying mid-write.
    pub fn with_interrupt_guard(mut self, enabled: bool) -> Self {
        self.guard_interrupts = enabled;
        self
    }

    pub fn with_remote(mut self, remote: Arc<dyn RemoteBackend>) -> Self {
        self.remote = remote;
        self
    }
}

/// [`Engine::plan`] with the default engine.
pub async fn plan(options: &PlanOptions) -> anyhow::Result<Preview> {
    Engine::default().plan(options).await
}

/// [`Engine::apply`] with the default engine.
pub async fn apply(
    options: &ApplyOptions,
    hooks: &mut dyn ApplyHooks,
) -> anyhow::Result<ApplyReport> {
    Engine::default().apply(options, hooks).await
}

/// [`Engine::undo`] with the default engine.
pub async fn undo(options: &UndoOptions) -> anyhow::Result<UndoReport> {
    Engine::default().undo(options).await
}

/// [`Engine::status`] with the default engine.
pub async fn status(root: &std::path::Path) -> anyhow::Result<Status> {
    Engine::default().status(root).await
}

#[cfg(test)]
mod tests;
