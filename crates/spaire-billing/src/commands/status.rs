//! `spaire-billing status`: what is still pending — dashboard steps, the access token (whether
//! it is set, never its value), the SDK, generated files edited or missing, and the metering
//! account re-read from the files (what feeds each meter, manual steps pending or done).
//! Exit 1 while anything is left to do (an unfed meter, a pending step), 0 when complete, so
//! teams can keep it as a CI gate.

use billing_ops::PlanFileStatus;
use clap::Args;

use super::plan::block_on;
use crate::ExitStatus;
use crate::args::{JsonArg, ProjectArg};
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub project: ProjectArg,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: StatusArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // A local plan with no emulator running is checked against the built-in one.
    let local_plan = billing_plan::load(&args.project.path)
        .ok()
        .flatten()
        .filter(|plan| plan.environment == billing_plan::Environment::Local);
    let server = match &local_plan {
        Some(plan) => crate::embedded::RunServer::start(
            plan.environment,
            None,
            plan.server_url.as_deref(),
            &args.project.path,
            true,
            printer,
        )?,
        None => crate::embedded::RunServer::none(None),
    };
    let engine = billing_ops::Engine::default().with_server_url(server.url());
    let status = block_on(engine.status(&args.project.path))??;
    if args.json.json {
        printer.data(crate::json::versioned(&status)?)?;
    } else {
        let mut out = String::new();
        match &status.plan_file {
            PlanFileStatus::Missing => out.push_str(
                "Plan:    missing: no spaire-billing.toml (run `spaire-billing setup`)\n",
            ),
            PlanFileStatus::Invalid { error } => {
                out.push_str(&format!("Plan:    invalid: {error}\n"));
            }
            PlanFileStatus::Valid { environment } => out.push_str(&format!(
                "Plan:    spaire-billing.toml ({} environment)\n",
                environment.as_str()
            )),
        }
        if status.token.source.as_deref() == Some(billing_ops::status::LOCAL_TOKEN_SOURCE) {
            out.push_str(
                "Token:   not needed (local environment: the emulator's built-in token is used)\n",
            );
        } else if status.token.present {
            let source = status.token.source.as_deref().unwrap_or("environment");
            out.push_str(&format!("Token:   SPAIRE_ACCESS_TOKEN is set ({source})\n"));
        } else {
            out.push_str(
                "Token:   missing: SPAIRE_ACCESS_TOKEN is not set (create an organization access \
                 token in the dashboard's settings, sandbox first; remote steps stay pending \
                 until then)\n",
            );
        }
        if let Some(sdk) = &status.sdk {
            if sdk.installed {
                out.push_str(&format!("SDK:     {} is installed\n", sdk.sdk));
            } else {
                out.push_str(&format!(
                    "SDK:     missing: {} (install: {})\n",
                    sdk.sdk,
                    sdk.install_command.as_deref().unwrap_or("see README.md")
                ));
            }
        }
        match &status.last_apply {
            Some(last) => out.push_str(&format!(
                "Applied: plan {} ({}){}\n",
                last.plan_hash,
                last.environment,
                if last.complete {
                    ""
                } else {
                    ", interrupted: run `spaire-billing undo` or apply again"
                }
            )),
            None => {
                out.push_str("Applied: nothing yet (run `spaire-billing plan`, then `apply`)\n")
            }
        }
        if let Some(error) = &status.remote_error {
            out.push_str(&format!(
                "Remote:  could not check the remote setup: {error}\n"
            ));
        } else if status.pending_remote.is_empty() {
            out.push_str("Pending: no remote steps\n");
        } else {
            out.push_str("Pending remote steps:\n");
            for step in &status.pending_remote {
                out.push_str(&format!("  [{}] {}\n", step.environment, step.summary));
                for (i, line) in step.dashboard_steps.iter().enumerate() {
                    out.push_str(&format!("      {}. {line}\n", i + 1));
                }
            }
        }
        for path in &status.edited_files {
            out.push_str(&format!(
                "Edited:  {path} (changed since it was generated)\n"
            ));
        }
        for path in &status.missing_files {
            out.push_str(&format!(
                "Missing: {path} (generated, since deleted; apply again)\n"
            ));
        }
        if let Some(error) = &status.metering_error {
            out.push_str(&format!(
                "Metering: could not read what feeds the meters: {error}\n"
            ));
        } else if matches!(status.plan_file, PlanFileStatus::Valid { .. }) {
            out.push('\n');
            out.push_str(&super::metering::render(&billing_ops::Metering {
                meters: status.meters.clone(),
                manual_steps: status.manual_steps.clone(),
                complete: status.meters.iter().all(|m| !m.feeders.is_empty())
                    && status.manual_steps.iter().all(|s| s.done),
                unmetered_calls: status.unmetered_calls.clone(),
                not_billed: status.not_billed.clone(),
            }));
            out.push('\n');
        }
        printer.data(out.trim_end())?;
    }
    Ok(if status.is_complete() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
