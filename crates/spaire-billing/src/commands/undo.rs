//! `spaire-billing undo`: reverts the latest apply — remote objects it created, then every
//! file byte for byte (created files removed) — from `.spaire-billing/journal/`.

use std::path::PathBuf;

use anyhow::Context as _;
use billing_ops::UndoOptions;
use clap::Args;

use super::plan::{block_on, engine};
use crate::ExitStatus;
use crate::printer::{BOLD, Printer};

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// Project directory (where `spaire-billing.toml` is).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Also discard edits you made to the applied files since the apply.
    #[arg(long)]
    pub force: bool,
    /// API base URL for reverting remote objects (e.g. a running emulator).
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
    /// Treat remote objects that answer "not found" as already gone (only if you deleted them
    /// by hand; otherwise a "not found" means another token or server, and undo stops).
    #[arg(long)]
    pub forget_missing: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: UndoArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let report = block_on(engine(args.server_url).undo(&UndoOptions {
        root: args.path,
        force: args.force,
        forget_missing: args.forget_missing,
    }))??;
    if args.json {
        let json = serde_json::to_string_pretty(&report).context("failed to serialise")?;
        printer.data(json)?;
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
