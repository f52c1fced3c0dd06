//! `spaire-billing detect`: what the project is made of, with the evidence for each
//! conclusion. The work is `billing_detect::detect`; this module only renders it.

use std::fmt::Write as _;

use anyhow::Context as _;
use billing_detect::summary::{framework_name, package_line, package_manager_name};
use billing_detect::{
    CallSiteKind, Confidence, DetectOptions, Evidence, FrameworkId, Package, ProjectProfile,
};
use clap::Args;

use crate::ExitStatus;
use crate::args::{JsonArg, ProjectArg};
use crate::printer::{BOLD, DIM, Printer};

/// Evidence lines shown per framework and call sites shown per package in the summary;
/// `--json` has everything.
const MAX_EVIDENCE: usize = 3;
const MAX_CALL_SITES: usize = 8;

#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub project: ProjectArg,
    // The JSON is the full project profile (docs/detect.md), with its own `schema_version`.
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: DetectArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let profile =
        billing_detect::detect(&args.project.path, &DetectOptions::default()).map_err(|e| {
            billing_errors::Hinted::new(
                format!("cannot detect `{}`", args.project.path.display()),
                "pass the directory of your project, e.g. `spaire-billing detect ./my-app`",
            )
            .with_source(e)
        })?;
    if args.json.json {
        let json = serde_json::to_string_pretty(&profile).context("failed to serialise")?;
        printer.data(json)?;
    } else {
        let report = render(&profile, printer.is_verbose());
        if !report.trim().is_empty() {
            printer.data(report.trim_end())?;
        }
        for w in &profile.warnings {
            printer.warn(&w.message);
        }
        if printer.is_verbose() {
            for n in &profile.notes {
                printer.note(n);
            }
        } else if !profile.notes.is_empty() {
            let n = profile.notes.len();
            printer.note(format!(
                "{n} file{} skipped or not fully read (too large, not UTF-8, symlinked, \
                 read budget, `extends` not installed); run with `-v` to list {}",
                if n == 1 { " was" } else { "s were" },
                if n == 1 { "it" } else { "them" }
            ));
        }
    }
    if profile.packages.iter().all(|p| p.frameworks.is_empty()) {
        return Err(billing_errors::Hinted::new(
            format!(
                "no supported framework found in `{}`",
                args.project.path.display()
            ),
            format!(
                "detect recognises {}; if your project uses one of them, check that its \
                 manifest (package.json, pyproject.toml, requirements.txt, go.mod, \
                 composer.json, Gemfile) is in this directory or below it",
                supported_list()
            ),
        )
        .into());
    }
    Ok(ExitStatus::Success)
}

fn supported_list() -> String {
    FrameworkId::ALL
        .iter()
        .map(|id| framework_name(*id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn confidence(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    }
}

fn location(e: &Evidence) -> String {
    match e.line {
        Some(l) => format!("{}:{l}", e.file),
        None => e.file.clone(),
    }
}

/// The human report (stdout): per package a summary line, then short evidence.
pub fn render(profile: &ProjectProfile, verbose: bool) -> String {
    let mut out = String::new();
    for pkg in &profile.packages {
        render_package(&mut out, pkg, verbose);
        out.push('\n');
    }
    out
}

fn render_package(out: &mut String, pkg: &Package, verbose: bool) {
    let title = match &pkg.name {
        Some(name) => format!("{} ({name})", pkg.path),
        None => pkg.path.clone(),
    };
    let _ = writeln!(out, "{BOLD}{title}{BOLD:#}  {}", package_line(pkg));
    let limit = if verbose { usize::MAX } else { MAX_EVIDENCE };
    for f in &pkg.frameworks {
        let label = format!("{} ({})", framework_name(f.id), confidence(f.confidence));
        for (i, e) in f.evidence.iter().take(limit).enumerate() {
            let head = if i == 0 { label.as_str() } else { "" };
            let _ = writeln!(out, "  {head:<24} {}  {DIM}{}{DIM:#}", location(e), e.text);
        }
    }
    if let Some(pm) = &pkg.package_manager {
        let label = format!(
            "{} ({})",
            package_manager_name(pm.id),
            confidence(pm.confidence)
        );
        for e in &pm.evidence {
            let _ = writeln!(out, "  {label:<24} {}  {DIM}{}{DIM:#}", location(e), e.text);
        }
    }
    for a in &pkg.aliases {
        let label = format!("alias {}", a.prefix);
        let _ = writeln!(
            out,
            "  {label:<24} → {}  {DIM}{}{DIM:#}",
            a.target,
            location(&a.source)
        );
    }
    let call_limit = if verbose { usize::MAX } else { MAX_CALL_SITES };
    for c in pkg.call_sites.iter().take(call_limit) {
        let kind = if c.kind == CallSiteKind::RouteHandler {
            "route"
        } else {
            "call"
        };
        let _ = writeln!(
            out,
            "  {kind:<24} {}:{}:{}  {DIM}{}{DIM:#}",
            c.file, c.line, c.column, c.callee
        );
    }
    if pkg.call_sites.len() > call_limit {
        let _ = writeln!(
            out,
            "  {:<24} … {} more (`--json` or `-v` lists all)",
            "",
            pkg.call_sites.len() - call_limit
        );
    }
    // Marked by the user; listed so a marking that hides a billable call is never silent.
    for c in &pkg.not_billed {
        let _ = writeln!(
            out,
            "  {:<24} {}:{}:{}  {DIM}{} (marked `{}`){DIM:#}",
            "not billed",
            c.file,
            c.line,
            c.column,
            c.callee,
            billing_vocab::NOT_BILLED_MARKER
        );
    }
    for v in &pkg.env_vars {
        let _ = writeln!(out, "  {:<24} {}  {DIM}{}{DIM:#}", "env", v.name, v.file);
    }
}
