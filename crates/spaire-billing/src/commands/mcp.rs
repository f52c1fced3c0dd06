//! `spaire-billing mcp`: the MCP server for coding agents, over stdio.
//!
//! stdout carries JSON-RPC only; logs go to stderr (`-v`, or `SPAIRE_BILLING_LOG`).

use std::path::PathBuf;

use billing_errors::UsageError;
use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Project directory the tools work on (defaults to the current directory, which is where
    /// agents start MCP servers).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: McpArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // Nothing may be printed to stdout here: it belongs to the protocol.
    let _ = printer;
    if !args.dir.is_dir() {
        return Err(
            UsageError::new(format!("`{}` is not a directory", args.dir.display()))
                .with_hint("pass the project directory with `--dir`")
                .into(),
        );
    }
    // Absolute, so every tool and every path in results refers to the same directory.
    let root = std::fs::canonicalize(&args.dir)?;
    tracing::info!(dir = %root.display(), "serving MCP over stdio");
    billing_mcp::run_stdio(billing_mcp::ServerOptions { root })?;
    Ok(ExitStatus::Success)
}
