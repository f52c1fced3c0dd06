//! The MCP server: a handful of intent-shaped tools over the same engine as the CLI.
//!
//! The safety rule is structural: the only tools that change files or the account
//! (`apply_plan`, `undo`) take a hash the agent got from a read-only call, and refuse when the
//! project or account no longer matches what that hash described. So a human can approve
//! exactly what was shown.

pub mod answers;
mod args;
mod engine;
mod outcome;
mod resources;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, Implementation, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use tokio::sync::Mutex;

pub use args::*;
use engine::Proposal;

const INSTRUCTIONS: &str = "Sets up usage-based billing on Spaire in this project. \
Flow: detect_project, list_meter_presets, ask the user (a few questions at a time; never invent \
prices), propose_plan, show the plan and wait for approval, apply_plan with the approved \
plan_hash, then verify. Start in the sandbox environment.";

/// How the server was started.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The project every tool works on.
    pub root: PathBuf,
}

/// Proposals kept per session. Each holds its diffs, so an agent iterating on a plan many
/// times must not grow the server without bound; approving a plan from 32 proposals ago is
/// not a real workflow (proposing again gives the same hash if nothing changed).
const MAX_PROPOSALS: usize = 32;

#[derive(Debug, Default)]
struct State {
    /// Proposals shown to the agent in this session, by plan hash.
    proposals: HashMap<String, Proposal>,
    /// Hashes from oldest to newest; the last one is the "current plan" resource.
    order: VecDeque<String>,
}

impl State {
    fn remember(&mut self, proposal: Proposal) {
        let hash = proposal.hash.clone();
        self.order.retain(|h| h != &hash);
        self.order.push_back(hash.clone());
        self.proposals.insert(hash, proposal);
        while self.order.len() > MAX_PROPOSALS {
            if let Some(old) = self.order.pop_front() {
                self.proposals.remove(&old);
            }
        }
    }

    fn latest(&self) -> Option<&Proposal> {
        self.order.back().and_then(|h| self.proposals.get(h))
    }
}

#[derive(Clone)]
pub struct BillingServer {
    root: Arc<PathBuf>,
    state: Arc<Mutex<State>>,
    /// Held while files or the account change (apply, undo), so two calls from an agent that
    /// fires tools in parallel cannot interleave their writes.
    writing: Arc<Mutex<()>>,
    tool_router: ToolRouter<BillingServer>,
}

/// Serves MCP over stdin/stdout until the client disconnects (blocking; owns its runtime).
pub fn run_stdio(options: ServerOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve_stdio(options))
}

/// Serves MCP over stdin/stdout until the client disconnects.
pub async fn serve_stdio(options: ServerOptions) -> anyhow::Result<()> {
    let server = BillingServer::new(options);
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

impl BillingServer {
    pub fn new(options: ServerOptions) -> Self {
        Self {
            root: Arc::new(options.root),
            state: Arc::new(Mutex::new(State::default())),
            writing: Arc::new(Mutex::new(())),
            tool_router: Self::tool_router(),
        }
    }

    /// Runs blocking engine work off the async executor.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(PathBuf) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let root = self.root.as_ref().clone();
        tokio::task::spawn_blocking(move || work(root))
            .await
            .map_err(|e| anyhow::anyhow!("internal error: the operation panicked: {e}"))?
    }
}

/// Runs an engine future on its own task: a panic deep in the engine becomes a tool error
/// for this one call instead of taking the server (and the agent's session) down.
async fn guarded<T: Send + 'static>(
    work: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::spawn(work).await.map_err(|e| {
        anyhow::anyhow!("internal error: the operation failed unexpectedly ({e}); please report it")
    })?
}

fn respond<T: serde::Serialize>(result: anyhow::Result<T>) -> Result<CallToolResult, ErrorData> {
    Ok(match result {
        Ok(value) => outcome::ok(&value),
        Err(err) => outcome::failed(&err),
    })
}

#[tool_router]
impl BillingServer {
    #[tool(
        description = "Detect the project's language, frameworks, package manager, path aliases, \
AI SDK / HTTP / storage call sites and SPAIRE_* variable names. Reads files only; changes nothing.",
        annotations(
            title = "Detect project",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn detect_project(&self) -> Result<CallToolResult, ErrorData> {
        respond(self.blocking(|root| engine::detect(&root)).await)
    }

    #[tool(
        description = "List the meter presets (LLM tokens, API calls, storage, compute time, ...) with \
their event names and aggregations, to offer the user as choices. Changes nothing.",
        annotations(
            title = "List meter presets",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_meter_presets(&self) -> Result<CallToolResult, ErrorData> {
        respond(self.blocking(|_| engine::meter_presets()).await)
    }

    #[tool(
        description = "Turn the user's answers (or the existing spaire-billing.toml) into a plan: every \
file as a diff, package installs, environment variable names, remote objects with their \
environment, manual steps, and a plan_hash. Writes nothing. Show the whole result to the user and \
wait for approval before calling apply_plan.",
        annotations(
            title = "Propose billing plan",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn propose_plan(
        &self,
        Parameters(args): Parameters<ProposePlanArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let root = Arc::clone(&self.root);
        let result = guarded(async move { engine::propose(&root, &args).await }).await;
        let proposal = match result {
            Ok(p) => p,
            Err(err) => return Ok(outcome::failed(&err)),
        };
        let view = proposal.view.clone();
        let mut state = self.state.lock().await;
        state.remember(proposal);
        Ok(outcome::ok(&view))
    }

    #[tool(
        description = "Apply exactly the plan the user approved, by the plan_hash propose_plan returned, \
in the environment it names. Refuses an unknown hash, and refuses when the project files or the \
account changed since the proposal (propose again and show the new plan). Writes files \
atomically and creates remote objects idempotently; `undo` reverts it.",
        annotations(
            title = "Apply approved plan",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn apply_plan(
        &self,
        Parameters(args): Parameters<ApplyPlanArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let proposal = {
            let state = self.state.lock().await;
            state.proposals.get(args.plan_hash.trim()).cloned()
        };
        let Some(proposal) = proposal else {
            return Ok(outcome::failed(&unknown_hash(&args.plan_hash)));
        };
        if proposal.environment.as_str() != args.environment.as_str() {
            return Ok(outcome::failed(
                &billing_errors::Hinted::new(
                    format!(
                        "plan {} targets `{}`, not `{}`",
                        proposal.hash,
                        proposal.environment.as_str(),
                        args.environment.as_str()
                    ),
                    "ask the user which environment they approved and propose a plan for it",
                )
                .into(),
            ));
        }
        let _writing = self.writing.lock().await;
        let root = Arc::clone(&self.root);
        respond(guarded(async move { engine::apply(&root, &proposal).await }).await)
    }

    #[tool(
        description = "Check that billing works: send a test event per meter (to the plan's environment) and \
read the counted usage and customer balance back, compared with the plan. Creates only test events.",
        annotations(
            title = "Verify billing",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn verify(
        &self,
        Parameters(args): Parameters<VerifyArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let root = Arc::clone(&self.root);
        respond(guarded(async move { engine::verify(&root, &args).await }).await)
    }

    #[tool(
        description = "Revert the last apply: restore files byte for byte and archive the remote objects it \
created. Call without undo_hash first: that changes nothing and returns what would be reverted \
and an undo_hash. Show it to the user, and call again with that undo_hash after approval.",
        annotations(
            title = "Undo last apply",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn undo(
        &self,
        Parameters(args): Parameters<UndoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let _writing = self.writing.lock().await;
        let root = Arc::clone(&self.root);
        respond(guarded(async move { engine::undo(&root, &args).await }).await)
    }

    #[tool(
        description = "What is still pending: dashboard steps without a token, a missing SPAIRE_ACCESS_TOKEN, \
an SDK that is not installed, files edited since the last apply. Changes nothing.",
        annotations(
            title = "Billing status",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn status(&self) -> Result<CallToolResult, ErrorData> {
        let root = Arc::clone(&self.root);
        respond(guarded(async move { engine::status(&root).await }).await)
    }
}

fn unknown_hash(hash: &str) -> anyhow::Error {
    billing_errors::Hinted::new(
        format!("unknown plan hash `{hash}`: it was not returned by propose_plan in this session"),
        "call propose_plan, show the plan to the user, and apply the plan_hash it returns",
    )
    .into()
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BillingServer {
    fn get_info(&self) -> ServerConfig {
        // Written by hand (not by `#[tool_handler(name = ...)]`) because resources need their
        // capability too; the name is fixed so clients show "spaire-billing", not "rmcp".
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new(
            "spaire-billing",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(resources::list()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let latest = self.state.lock().await.latest().map(|p| p.view.clone());
        let uri = request.uri.clone();
        let result = self
            .blocking(move |root| resources::read(&root, &uri, latest))
            .await;
        match result {
            Ok(Some(result)) => Ok(result.into()),
            Ok(None) => Err(ErrorData::resource_not_found(
                format!("no resource `{}`; see resources/list", request.uri),
                None,
            )),
            Err(err) => Err(ErrorData::internal_error(format!("{err:#}"), None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(hash: &str) -> Proposal {
        Proposal {
            hash: hash.to_owned(),
            environment: billing_plan::Environment::Sandbox,
            plan: None,
            view: serde_json::json!({ "plan_hash": hash }),
        }
    }

    #[test]
    fn proposals_are_bounded_and_the_latest_is_the_last_shown() {
        let mut state = State::default();
        for i in 0..(MAX_PROPOSALS + 5) {
            state.remember(proposal(&format!("h{i}")));
        }
        assert_eq!(state.proposals.len(), MAX_PROPOSALS);
        assert!(
            !state.proposals.contains_key("h0"),
            "the oldest are forgotten"
        );
        // Proposing an old plan again makes it the latest without duplicating it.
        state.remember(proposal("h10"));
        assert_eq!(state.latest().unwrap().hash, "h10");
        assert_eq!(state.order.len(), MAX_PROPOSALS);
    }
}
