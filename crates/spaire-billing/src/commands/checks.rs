//! The "Checks" section of the report: the project's own lint / type-check / format checks,
//! run before and after apply, with only the problems the apply introduced (issue 15).
//! Kept apart from the rest of the report text so each can change on its own.

use std::fmt::Write as _;

use billing_ops::gates::CheckReport;
use billing_ops::gates::checks::Verdict;

/// At most this many new problems are listed per check (the count is always given).
const LISTED: usize = 20;

/// The section, heading included; printed once per run.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::from("\nChecks (your project's own, before and after this apply)\n");
    if report.outcomes.is_empty() && report.unavailable.is_empty() {
        out.push_str("  (no linter, formatter or type-checker configured for this project)\n");
    }
    for outcome in &report.outcomes {
        let _ = write!(out, "  ");
        match &outcome.verdict {
            Verdict::NoNewProblems { existing } => {
                let _ = write!(
                    out,
                    "PASS     {} (`{}`): no new problems",
                    outcome.name, outcome.command
                );
                if *existing > 0 {
                    let _ = write!(out, " ({existing} were already there)");
                }
            }
            Verdict::NewProblems { problems, existing } => {
                let _ = write!(
                    out,
                    "FAIL     {} (`{}`): {} new problem(s)",
                    outcome.name,
                    outcome.command,
                    problems.len()
                );
                if *existing > 0 {
                    let _ = write!(out, ", {existing} already there before");
                }
                for problem in problems.iter().take(LISTED) {
                    let _ = write!(out, "\n           {problem}");
                }
                if problems.len() > LISTED {
                    let _ = write!(out, "\n           ... and {} more", problems.len() - LISTED);
                }
            }
            Verdict::DidNotCover { files, .. } => {
                let _ = write!(
                    out,
                    "NOT RUN  {} (`{}`): did not cover {} (the check ran, but never looked at \
                     these files, so it proves nothing about them)",
                    outcome.name,
                    outcome.command,
                    files
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Verdict::Error { reason } => {
                let _ = write!(
                    out,
                    "ERROR    {} (`{}`): {reason}",
                    outcome.name, outcome.command
                );
            }
        }
        out.push('\n');
    }
    for missing in &report.unavailable {
        let _ = writeln!(out, "  SKIPPED  {}: {}", missing.name, missing.reason);
    }
    out
}
