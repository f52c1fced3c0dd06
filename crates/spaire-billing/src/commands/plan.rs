//! `spaire-billing plan`: every file as a unified diff, package installs, env names, remote
//! steps (each naming its environment), manual steps and the plan hash. Writes nothing.
//! The work is `billing_ops::Engine::plan`; this module renders it. Helpers shared by
//! `apply`, `undo` and `status` (runtime, environment flag, JSON views) live here too.

use std::path::PathBuf;

use anyhow::Context as _;
use billing_changeset::{
    EnvVarName, FileAction, FileOrigin, ManualStep, PackageInstall, RemoteStep,
};
use billing_ops::{Conflict, PlanOptions, Preview};
use billing_plan::Environment;
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::ExitStatus;
use crate::printer::{BOLD, Printer};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Project directory (where `spaire-billing.toml` is).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Print the preview as one JSON object (files with their diffs, installs, env names,
    /// remote steps, manual steps, hash).
    #[arg(long)]
    pub json: bool,
    /// Plan remote steps for this environment instead of the plan file's `environment`.
    #[arg(long, value_enum)]
    pub environment: Option<EnvironmentArg>,
    /// API base URL for remote steps (e.g. a running emulator); overrides `SPAIRE_SERVER_URL`
    /// and the plan's `server_url`.
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
}

/// `--environment` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvironmentArg {
    /// Spaire's sandbox (test mode); the default.
    Sandbox,
    /// The live account: real money.
    Production,
    /// The built-in emulator (`spaire-billing emulator`).
    Local,
}

impl From<EnvironmentArg> for Environment {
    fn from(arg: EnvironmentArg) -> Self {
        match arg {
            EnvironmentArg::Sandbox => Environment::Sandbox,
            EnvironmentArg::Production => Environment::Production,
            EnvironmentArg::Local => Environment::Local,
        }
    }
}

/// A current-thread runtime for one command: the ops are async for the MCP server's sake,
/// and the CLI needs no more than one thread to drive them.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    Ok(runtime.block_on(future))
}

pub(crate) fn engine(server_url: Option<String>) -> billing_ops::Engine {
    billing_ops::Engine::default()
        .with_server_url(server_url)
        .with_interrupt_guard(true)
}

pub(crate) fn plan_options(path: PathBuf, environment: Option<EnvironmentArg>) -> PlanOptions {
    PlanOptions {
        root: path,
        environment: environment.map(Into::into),
        ..PlanOptions::default()
    }
}

pub fn run(args: PlanArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let options = plan_options(args.path, args.environment);
    let preview = block_on(engine(args.server_url).plan(&options))??;
    if args.json {
        let json = serde_json::to_string_pretty(&PreviewJson::new(&preview))
            .context("failed to serialise the plan")?;
        printer.data(json)?;
        return Ok(ExitStatus::Success);
    }
    for warning in &preview.warnings {
        printer.warn(warning);
    }
    if preview.is_noop() {
        printer.data(format!(
            "Nothing to change: the project already matches the plan ({}).",
            preview.environment.as_str()
        ))?;
        print_leftovers(&preview, printer)?;
        return Ok(ExitStatus::Success);
    }
    printer.data(preview.text.trim_end())?;
    print_conflicts(&preview.conflicts, printer);
    printer.info(format!(
        "\n{BOLD}Apply exactly this plan:{BOLD:#} spaire-billing apply --plan {}",
        preview.hash
    ));
    Ok(ExitStatus::Success)
}

/// Env names and manual steps still matter when no file changes.
fn print_leftovers(preview: &Preview, printer: &Printer) -> anyhow::Result<()> {
    let changes = &preview.changes;
    if !changes.manual_steps.is_empty() || !changes.env_vars.is_empty() {
        let only = billing_changeset::ChangeSet {
            env_vars: changes.env_vars.clone(),
            manual_steps: changes.manual_steps.clone(),
            ..Default::default()
        };
        let text = billing_changeset::render_text(&only, &preview.hash);
        let body = text
            .trim_start_matches("Files: none to change\n")
            .trim_end();
        printer.data(body)?;
    }
    Ok(())
}

pub(crate) fn print_conflicts(conflicts: &[Conflict], printer: &Printer) {
    for conflict in conflicts {
        let why = match conflict.reason {
            billing_ops::ConflictReason::EditedSinceGenerated => {
                "was edited since spaire-billing generated it"
            }
            billing_ops::ConflictReason::NotGeneratedBySpaireBilling => {
                "exists and was not generated by spaire-billing"
            }
        };
        printer.warn(format!(
            "`{}` {why}; apply will show the diff and ask before overwriting it (or pass \
             `--overwrite-edited`)",
            conflict.path
        ));
    }
}

/// `plan --json`: the preview without the (large) profile, files with their diffs.
#[derive(Debug, Serialize)]
pub(crate) struct PreviewJson<'a> {
    pub hash: &'a str,
    pub environment: Environment,
    pub root: &'a str,
    pub package: &'a str,
    pub files: Vec<FileJson<'a>>,
    pub installs: &'a [PackageInstall],
    pub env_vars: &'a [EnvVarName],
    pub remote: &'a [RemoteStep],
    pub manual_steps: &'a [ManualStep],
    pub conflicts: &'a [Conflict],
    pub warnings: &'a [String],
    /// What will feed each meter once applied, and the steps left by hand (docs/metering.md).
    pub metering: &'a billing_ops::Metering,
}

#[derive(Debug, Serialize)]
pub(crate) struct FileJson<'a> {
    pub path: &'a str,
    pub action: FileAction,
    pub origin: FileOrigin,
    pub summary: &'a str,
    pub diff: String,
}

impl<'a> PreviewJson<'a> {
    pub(crate) fn new(preview: &'a Preview) -> Self {
        let changes = &preview.changes;
        Self {
            hash: &preview.hash,
            environment: preview.environment,
            root: &preview.root,
            package: &preview.package,
            files: changes
                .files
                .iter()
                .map(|f| FileJson {
                    path: &f.path,
                    action: f.action,
                    origin: f.origin,
                    summary: &f.summary,
                    diff: billing_changeset::file_diff(f),
                })
                .collect(),
            installs: &changes.installs,
            env_vars: &changes.env_vars,
            remote: &changes.remote,
            manual_steps: &changes.manual_steps,
            conflicts: &preview.conflicts,
            warnings: &preview.warnings,
            metering: &preview.metering,
        }
    }
}
