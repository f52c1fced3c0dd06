//! `spaire-billing mcp`: the MCP server for coding agents, over stdio.
//!
//! stdout carries JSON-RPC only; logs go to stderr (`-v`, or `SPAIRE_BILLING_LOG`).

use billing_errors::UsageError;
use clap::Args;

use crate::ExitStatus;
use crate::args::ProjectDirArg;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct McpArgs {
    // The tools work on this project; agents start MCP servers in it, hence the default `.`.
    #[command(flatten)]
    pub project: ProjectDirArg,
}

pub fn run(args: McpArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // Nothing may be printed to stdout here: it belongs to the protocol.
    let _ = printer;
    let dir = args.project.path();
    if !dir.is_dir() {
        return Err(
            UsageError::new(format!("`{}` is not a directory", dir.display()))
                .with_hint("pass the project directory: `spaire-billing mcp path/to/app`")
                .into(),
        );
    }
    // Absolute, so every tool and every path in results refers to the same directory.
    let root = std::fs::canonicalize(dir)?;
    tracing::info!(dir = %root.display(), "serving MCP over stdio");
    billing_mcp::run_stdio(billing_mcp::ServerOptions { root })?;
    Ok(ExitStatus::Success)
}
