//! Command-line definitions only (clap derive). Doc comments are the `--help` text.
//! Each subcommand's own arguments live next to its implementation in `commands/`.

use clap::{Args, Parser, Subcommand};

use crate::commands;

const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  the command ran and the outcome is negative (nothing detected, verification failed, ...)
  2  usage error: a bad flag, or a question that needs an answer without a terminal

Environment:
  SPAIRE_ACCESS_TOKEN  organization access token (read, never printed)
  SPAIRE_SERVER_URL    API base URL override (e.g. the emulator's)
  NO_COLOR             disable colours";

/// Usage-based billing on Spaire, set up in your project: detect the stack, plan meters,
/// prices and code, apply it, and verify that usage is counted.
#[derive(Debug, Parser)]
#[command(name = "spaire-billing", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print less: only errors and requested data.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more about what happens (repeat for debug logs on stderr).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Detect the project's frameworks, package manager, language, packages and call sites.
    Detect(commands::detect::DetectArgs),
    /// Walk through the whole setup interactively (or from flags / spaire-billing.toml).
    Setup(Box<commands::setup::SetupArgs>),
    /// Show every file, install and remote object the billing plan would change, with a hash.
    Plan(commands::plan::PlanArgs),
    /// Apply the plan after confirmation (exactly the plan with `--plan HASH`).
    Apply(commands::apply::ApplyArgs),
    /// Restore the files and remote objects changed by the last apply.
    Undo(commands::undo::UndoArgs),
    /// Send a test event per meter and check that it is counted.
    Verify(commands::verify::VerifyArgs),
    /// Show what is still pending: dashboard steps, missing token, missing SDK.
    Status(commands::status::StatusArgs),
    /// Run a local Spaire-compatible API (state in memory or SQLite).
    Emulator(commands::emulator::EmulatorArgs),
    /// Serve the MCP protocol over stdio for coding agents.
    Mcp(commands::mcp::McpArgs),
    /// Install agent commands, rules and MCP config (Claude Code, Cursor, Codex).
    #[command(subcommand)]
    Agent(commands::agent::AgentCommand),
}
