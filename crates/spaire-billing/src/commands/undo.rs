//! `spaire-billing undo`: reverts the latest apply — remote objects it created, then every
//! file byte for byte (created files removed) — from `.spaire-billing/journal/`.

use billing_ops::UndoOptions;
use clap::Args;

use super::plan::{block_on, engine};
use crate::ExitStatus;
use crate::args::{JsonArg, ProjectArg, ServerUrlArg};
use crate::printer::{BOLD, Printer};

#[derive(Debug, Args)]
pub struct UndoArgs {
    #[command(flatten)]
    pub project: ProjectArg,
    /// Also discard edits you made to the applied files since the apply.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub server: ServerUrlArg,
    /// Treat remote objects that answer "not found" as already gone (only if you deleted them
    /// by hand; otherwise a "not found" means another token or server, and undo stops).
    #[arg(long)]
    pub forget_missing: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: UndoArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let report = block_on(engine(args.server.server_url).undo(&UndoOptions {
        root: args.project.path,
        force: args.force,
        forget_missing: args.forget_missing,
    }))??;
    if args.json.json {
        printer.data(crate::json::versioned(&report)?)?;
        return Ok(ExitStatus::Success);
    }
    let mut out = format!(
        "{BOLD}Undid{BOLD:#} plan {} ({})\n",
        report.plan_hash, report.environment
    );
    for path in &report.restored {
        out.push_str(&format!("  restored {path}\n"));
    }
    for path in &report.removed {
        out.push_str(&format!("  removed  {path}\n"));
    }
    for line in &report.remote {
        out.push_str(&format!("  [{}] {line}\n", report.environment));
    }
    if report.restored.is_empty() && report.removed.is_empty() && report.remote.is_empty() {
        out.push_str("  (the files were already as before the apply)\n");
    }
    printer.data(out.trim_end())?;
    if report.was_incomplete {
        printer.note("that apply had been interrupted; what it had done is reverted");
    }
    if !report.installs.is_empty() {
        printer.note(format!(
            "the apply ran `{}`: its manifests and lockfiles are restored, but installed \
             packages stay in node_modules / the virtualenv until your next install",
            report.installs.join("`, `")
        ));
    }
    Ok(ExitStatus::Success)
}
