//! `spaire-billing agent ...`.

use clap::Subcommand;

use crate::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Write agent commands, rules and MCP client config into the project.
    Install {},
}

pub fn run(command: AgentCommand, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let _ = (command, printer);
    Err(super::not_yet("agent install"))
}
