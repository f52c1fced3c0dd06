//! `spaire-billing agent install`: agent instructions and MCP client config, previewed first.

use std::io::IsTerminal;

use billing_errors::UsageError;
use billing_mcp::agent::{self, AgentTargets};
use clap::{Args, Subcommand};

use crate::ExitStatus;
use crate::args::ProjectDirArg;
use crate::printer::Printer;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Write agent commands, rules and MCP client config into the project.
    ///
    /// Without a flag, installs for every supported agent. Shows the changes first; other
    /// tools' entries in shared config files are kept, and running it again changes nothing.
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Claude Code: `.claude/commands/setup-usage-billing.md` and `.mcp.json`.
    #[arg(long)]
    pub claude: bool,
    /// Cursor: `.cursor/rules/setup-usage-billing.mdc` and `.cursor/mcp.json`.
    #[arg(long)]
    pub cursor: bool,
    /// Codex: a section in `AGENTS.md` and `.codex/config.toml`.
    #[arg(long)]
    pub codex: bool,
    #[command(flatten)]
    pub project: ProjectDirArg,
    /// Write the changes shown without asking (for scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Only show what would change.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
}

pub fn run(command: AgentCommand, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        AgentCommand::Install(args) => install(args, printer),
    }
}

fn install(args: InstallArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let targets = if args.claude || args.cursor || args.codex {
        AgentTargets {
            claude: args.claude,
            cursor: args.cursor,
            codex: args.codex,
        }
    } else {
        AgentTargets::ALL
    };
    let dir = args.project.path().to_path_buf();
    if !dir.is_dir() {
        return Err(
            UsageError::new(format!("`{}` is not a directory", dir.display()))
                .with_hint("pass the project directory: `spaire-billing agent install path/to/app`")
                .into(),
        );
    }
    let plan = agent::plan_install(&dir, targets, &agent::default_server_entry())?;
    for path in &plan.up_to_date {
        printer.status("Unchanged", path);
    }
    for note in &plan.notes {
        printer.note(note);
    }
    if plan.changes.files.is_empty() {
        printer.status("Finished", "agent files are up to date, nothing to write");
        return Ok(ExitStatus::Success);
    }
    printer.data(agent::render_preview(&plan).trim_end())?;
    if args.dry_run {
        printer.status("Finished", "dry run, nothing written");
        return Ok(ExitStatus::Success);
    }
    if !args.yes && !confirm(plan.changes.files.len())? {
        printer.status("Cancelled", "nothing written");
        return Ok(ExitStatus::Failure);
    }
    agent::apply_install(&dir, &plan)?;
    for file in &plan.changes.files {
        let verb = match file.action {
            billing_changeset::FileAction::Create => "Created",
            billing_changeset::FileAction::Modify => "Updated",
        };
        printer.status(verb, &file.path);
    }
    if targets.codex {
        printer.note("Codex reads `.codex/config.toml` only in trusted projects; `codex mcp list` shows whether it is loaded");
    }
    Ok(ExitStatus::Success)
}

/// Asks on the terminal (the same prompt as `apply`); without one, the caller must say
/// `--yes` (exit 2).
fn confirm(count: usize) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(
            UsageError::new("confirmation needed to write the files shown above")
                .with_hint(
                    "pass `--yes` to write exactly these changes, or `--dry-run` to only show them",
                )
                .into(),
        );
    }
    let question = if count == 1 {
        "Write this file?".to_owned()
    } else {
        format!("Write these {count} files?")
    };
    match inquire::Confirm::new(&question)
        .with_default(false)
        .prompt()
    {
        Ok(answer) => Ok(answer),
        Err(
            inquire::InquireError::OperationCanceled | inquire::InquireError::OperationInterrupted,
        ) => Ok(false),
        Err(err) => Err(anyhow::Error::new(err).context("failed to read the answer")),
    }
}
