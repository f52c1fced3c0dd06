//! `spaire-billing undo`: reverts the latest apply — remote objects it created, then every
//! file byte for byte (created files removed) — from `.spaire-billing/journal/`.

use billing_ops::UndoOptions;
use clap::Args;

use super::plan::{block_on, engine};
use super::setup::ask::{Asker as _, Cancelled, Interrupted, Question, TerminalAsker};
use super::undo_confirm::Revert;
use crate::ExitStatus;
use crate::args::{JsonArg, ProjectArg, ServerUrlArg, YesArg};
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
    // Confirms the revert (on a terminal undo shows what it reverts and asks first).
    #[command(flatten)]
    pub yes: YesArg,
    #[command(flatten)]
    pub json: JsonArg,
}

/// Shows what the latest apply's undo reverts and asks on a terminal; without one, a
/// production revert needs `--yes`. `Some(status)` when undo must stop here.
fn confirm(args: &UndoArgs, printer: &Printer) -> anyhow::Result<Option<ExitStatus>> {
    use std::io::IsTerminal as _;
    // Unreadable journal: `undo` itself reports it, with its hint.
    let Some(revert) = Revert::latest(&args.project.path).ok().flatten() else {
        return Ok(None);
    };
    if revert.lines.is_empty() {
        return Ok(None);
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if args.yes.yes || !interactive {
        if !args.yes.yes && revert.environment == "production" {
            return Err(billing_errors::UsageError::new(
                "`undo` would revert production billing and there is no terminal to ask",
            )
            .with_hint("run it on a terminal to see what it reverts, or pass `--yes`")
            .into());
        }
        for warning in revert.warnings() {
            printer.warn(warning);
        }
        return Ok(None);
    }
    printer.info(revert.render().trim_end());
    for warning in revert.warnings() {
        printer.warn(warning);
    }
    let asker = &mut TerminalAsker::new(super::setup::flow::color_enabled());
    match asker.confirm(&Question::new("Revert all of this?", "--yes"), false) {
        Ok(true) => Ok(None),
        Ok(false) => {
            printer.warn("undo cancelled; nothing was reverted");
            Ok(Some(ExitStatus::Failure))
        }
        Err(err) if err.is::<Interrupted>() => {
            printer.warn("undo interrupted (Ctrl-C); nothing was reverted");
            Ok(Some(ExitStatus::Interrupted))
        }
        Err(err) if err.is::<Cancelled>() => {
            printer.warn("undo cancelled; nothing was reverted");
            Ok(Some(ExitStatus::Failure))
        }
        Err(err) => Err(err),
    }
}

pub fn run(args: UndoArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if let Some(status) = confirm(&args, printer)? {
        return Ok(status);
    }
    let root = args.project.path.clone();
    // A local apply whose emulator is not running: the built-in one, on the project's state.
    let local = Revert::latest(&root)
        .ok()
        .flatten()
        .is_some_and(|r| r.environment == billing_plan::Environment::Local.as_str());
    let server = if local {
        let plan_url = billing_plan::load(&root)
            .ok()
            .flatten()
            .and_then(|plan| plan.server_url);
        crate::embedded::RunServer::start(
            billing_plan::Environment::Local,
            args.server.server_url.as_deref(),
            plan_url.as_deref(),
            &root,
            true,
            printer,
        )?
    } else {
        crate::embedded::RunServer::none(args.server.server_url.as_deref())
    };
    let report = block_on(engine(server.url()).undo(&UndoOptions {
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
        out.push_str("  (that apply had changed no file and no remote object)\n");
    }
    printer.data(out.trim_end())?;
    // Undo reverts one apply; an earlier one still in place must not read as "all undone".
    let earlier = billing_apply::Project::open(&root)
        .and_then(|project| billing_apply::journal::entries(&project))
        .map(|entries| entries.len())
        .unwrap_or(0);
    if earlier > 0 {
        printer.note(format!(
            "{earlier} earlier apply(ies) are still in place; run `spaire-billing undo` again to revert the next one"
        ));
    }
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
