//! `spaire-billing apply`: applies the plan after confirmation, or exactly the plan with
//! `--plan HASH`. Questions are asked on a terminal; without one, `--yes` is required (exit 2
//! naming it). The work is `billing_ops::Engine::apply`.

use billing_changeset::FileAction;
use billing_errors::UsageError;
use billing_ops::{ApplyHooks, ApplyOptions, ApplyReport, Event, InstallOutcome, Question};
use clap::Args;
use std::io::IsTerminal as _;

use super::plan::{block_on, engine, plan_options, print_conflicts};
use crate::ExitStatus;
use crate::args::{EnvironmentFlag, JsonArg, NoInstallArg, ProjectArg, ServerUrlArg, YesArg};
use crate::printer::{BOLD, Printer, RED};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub project: ProjectArg,
    /// Apply only if the plan still has this hash (from `spaire-billing plan`); refuses if
    /// the project, the plan file or the remote state changed since.
    #[arg(long = "plan", value_name = "HASH")]
    pub plan: Option<String>,
    #[command(flatten)]
    pub yes: YesArg,
    /// Show what would happen without writing files, running installs or calling the API.
    #[arg(long)]
    pub dry_run: bool,
    /// Also overwrite generated files you edited since they were generated (their diff is in
    /// `spaire-billing plan`). Without it, apply asks per file on a terminal.
    #[arg(long)]
    pub overwrite_edited: bool,
    #[command(flatten)]
    pub no_install: NoInstallArg,
    /// Do not run the project's own checks (lint, format, type-check) before and after.
    #[arg(long)]
    pub no_checks: bool,
    #[command(flatten)]
    pub environment: EnvironmentFlag,
    #[command(flatten)]
    pub server: ServerUrlArg,
    // `--json` needs `--yes` or `--dry-run`: nothing is asked.
    #[command(flatten)]
    pub json: JsonArg,
}

/// Questions on the terminal (inquire), progress on stderr.
struct TerminalHooks<'p> {
    printer: &'p Printer,
    interactive: bool,
    /// The preview (with its warnings) was printed before asking.
    shown_preview: bool,
    /// Run the project's checks around the writes (off with `--no-checks` and `--json`).
    checks: bool,
    /// The checks' run before the files were written, compared with a run after.
    baseline: Option<billing_ops::gates::Baseline>,
}

impl TerminalHooks<'_> {
    fn ask(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        if !self.interactive {
            return Err(UsageError::new(format!(
                "`apply` needs a confirmation (\"{question}\") but there is no terminal to ask on"
            ))
            .with_hint(
                "review the changes with `spaire-billing plan`, then run `spaire-billing apply \
                 --plan <HASH> --yes`",
            )
            .into());
        }
        match inquire::Confirm::new(question)
            .with_default(default)
            .prompt()
        {
            Ok(answer) => Ok(answer),
            Err(
                inquire::InquireError::OperationCanceled
                | inquire::InquireError::OperationInterrupted,
            ) => Ok(false),
            Err(err) => Err(anyhow::Error::new(err).context("failed to read the answer")),
        }
    }
}

impl ApplyHooks for TerminalHooks<'_> {
    fn confirm(&mut self, question: &Question<'_>) -> anyhow::Result<bool> {
        match question {
            Question::Apply { preview } => {
                if !self.interactive {
                    // Fail before printing a long preview nobody can answer.
                    return self.ask("Apply these changes?", false);
                }
                self.shown_preview = true;
                for warning in &preview.warnings {
                    self.printer.warn(warning);
                }
                self.printer.data(preview.text.trim_end())?;
                print_conflicts(&preview.conflicts, self.printer);
                self.ask(
                    &format!(
                        "Apply these changes ({} environment)?",
                        preview.environment.as_str()
                    ),
                    false,
                )
            }
            Question::Production { .. } => self.ask(
                "This changes your PRODUCTION Spaire account (real customers, real money). \
                 Continue?",
                false,
            ),
            Question::OverwriteEdited { conflict } => {
                self.printer.data(conflict.diff.trim_end())?;
                self.ask(
                    &format!(
                        "Overwrite `{}`? Your edits shown above (lines marked -) are lost",
                        conflict.path
                    ),
                    false,
                )
            }
            Question::RunInstall { install } => self.ask(
                &format!(
                    "Run `{}` in `{}` now?",
                    billing_changeset::preview::shell_words(&install.argv),
                    install.cwd
                ),
                true,
            ),
        }
    }

    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Wrote { path, action } => {
                let verb = match action {
                    FileAction::Create => "Created",
                    FileAction::Modify => "Updated",
                };
                self.printer.status(verb, path);
            }
            Event::InstallStarted { command, cwd } => {
                self.printer
                    .status("Running", format!("{command} (in {cwd})"));
            }
            Event::InstallOutput { line } => self.printer.info(format!("    | {line}")),
            Event::InstallFinished { command, success } => {
                if !success {
                    self.printer.warn(format!("`{command}` failed"));
                }
            }
            Event::RemoteStarted { steps, environment } => self.printer.status(
                "Remote",
                format!("{steps} step(s) in {}", environment.as_str()),
            ),
            Event::Writing { preview } => {
                if self.checks
                    && let Some(package) = preview.profile.package(&preview.package)
                {
                    self.printer
                        .status("Checking", "your project's own checks, before");
                    let touched = preview.changes.files.iter().map(|f| f.path.clone());
                    self.baseline = Some(billing_ops::gates::baseline(
                        std::path::Path::new(&preview.root),
                        package,
                        touched.collect(),
                    ));
                }
            }
        }
    }
}

pub fn run(args: ApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let (json, yes) = (args.json.json, args.yes.yes);
    if json && !yes && !args.dry_run {
        return Err(UsageError::new("`--json` output cannot ask questions")
            .with_hint("pass `--yes` (with `--plan <HASH>` to apply exactly a reviewed plan)")
            .into());
    }
    let options = ApplyOptions {
        plan: plan_options(args.project.path, args.environment.environment),
        expected_hash: args.plan,
        yes: yes || (json && args.dry_run),
        dry_run: args.dry_run,
        overwrite_edited: args.overwrite_edited,
        skip_installs: args.no_install.no_install,
    };
    let mut hooks = TerminalHooks {
        printer,
        interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        shown_preview: false,
        checks: !args.no_checks && !json,
        baseline: None,
    };
    let report = block_on(engine(args.server.server_url).apply(&options, &mut hooks))??;
    if json {
        printer.data(crate::json::versioned(&report)?)?;
        return Ok(ExitStatus::Success);
    }
    print_report(&report, !hooks.shown_preview, printer)?;
    // Only problems this apply introduced fail the run (issue 15).
    let mut new_problems = false;
    if let Some(baseline) = hooks.baseline.take() {
        printer.status("Checking", "your project's own checks, after");
        let checks = baseline.after();
        if !checks.outcomes.is_empty() || !checks.unavailable.is_empty() {
            printer.data(super::checks::render(&checks).trim_end())?;
        }
        new_problems = checks.has_new_problems();
    }
    let install_failed = report
        .installs
        .iter()
        .any(|i| matches!(i.outcome, InstallOutcome::Failed { .. }));
    Ok(if install_failed || new_problems {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn print_report(report: &ApplyReport, warnings: bool, printer: &Printer) -> anyhow::Result<()> {
    if report.nothing_to_do {
        printer.data(format!(
            "Nothing to change: the project already matches plan {} ({}).",
            report.hash,
            report.environment.as_str()
        ))?;
        if !report.remote_pending.is_empty() {
            let mut out = String::from("Dashboard steps — pending (see `spaire-billing plan`):\n");
            for line in &report.remote_pending {
                out.push_str(&format!("  {line}\n"));
            }
            printer.data(out.trim_end())?;
        }
        printer.data(super::metering::render(&report.metering))?;
        return Ok(());
    }
    let mut out = String::new();
    if report.dry_run {
        out.push_str(&format!(
            "{BOLD}Dry run{BOLD:#} of plan {} ({}): nothing was written\n",
            report.hash,
            report.environment.as_str()
        ));
    } else {
        out.push_str(&format!(
            "{BOLD}Applied{BOLD:#} plan {} ({})\n",
            report.hash,
            report.environment.as_str()
        ));
    }
    for file in &report.files {
        let verb = match file.action {
            FileAction::Create => "create",
            FileAction::Modify => "modify",
        };
        out.push_str(&format!("  {verb} {}\n", file.path));
    }
    if !report.installs.is_empty() {
        out.push_str("\nPackage installs:\n");
        for install in &report.installs {
            let status = match &install.outcome {
                InstallOutcome::Succeeded { .. } => "done".to_owned(),
                InstallOutcome::Failed { reason, .. } => format!(
                    "{RED}FAILED{RED:#}: {reason}; run it yourself. Until it succeeds your \
                     app will NOT start: the generated code imports what it installs"
                ),
                InstallOutcome::Skipped { reason } => {
                    format!("skipped ({reason}); run it yourself")
                }
            };
            out.push_str(&format!(
                "  (in {}) {}: {status}\n",
                install.cwd, install.command
            ));
        }
    }
    if !report.remote_completed.is_empty() || !report.remote_pending.is_empty() {
        out.push_str("\nDashboard steps — completed:\n");
        if report.remote_completed.is_empty() {
            out.push_str("  (none)\n");
        }
        for line in &report.remote_completed {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str("Dashboard steps — pending:\n");
        if report.remote_pending.is_empty() {
            out.push_str("  (none)\n");
        }
        for line in &report.remote_pending {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if !report.env_vars.is_empty() {
        out.push_str(
            "\nSet these environment variables (names only were written to .env.example):\n",
        );
        for var in &report.env_vars {
            out.push_str(&format!("  {}: {}\n", var.name, var.purpose));
        }
    }
    if report.journal.is_some() {
        out.push_str("\nRollback steps: `spaire-billing undo` ");
        out.push_str(
            match (report.files.is_empty(), report.remote_completed.is_empty()) {
                (false, true) => "restores every file listed above",
                (false, false) => {
                    "restores every file listed above and reverts the remote objects created"
                }
                (true, false) => "reverts the remote objects created",
                (true, true) => "restores the manifests the installs changed",
            },
        );
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&super::metering::render(&report.metering));
    printer.data(out.trim_end())?;
    if warnings {
        for warning in &report.warnings {
            printer.warn(warning);
        }
    }
    Ok(())
}
