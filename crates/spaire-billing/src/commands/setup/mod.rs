//! `spaire-billing setup`: the conversation that replaces the seed's AI-agent command.
//!
//! Phases, in order: pre-flight → discovery (what was found, which package, what to meter,
//! how to price it) → prerequisites (SDK, token, product) → plan preview → confirm → apply →
//! report. Every question has a flag; without a terminal a missing answer is exit 2 naming
//! that flag. Each typed answer is checked where it is typed ([`rules`]) and kept in
//! `.spaire-billing/answers.toml` ([`draft`]) until it is applied; nothing else is written
//! before the final confirmation, so Ctrl-C at a question leaves the code and the account
//! unchanged and the next run offers the answers again.

pub(crate) mod answers;
pub(crate) mod ask;
mod draft;
pub(crate) mod flow;
pub(crate) mod money;
mod report;
mod rules;
mod summary;

use clap::Args;

use crate::ExitStatus;
use crate::args::{EnvironmentFlag, JsonArg, NoInstallArg, ProjectArg, ServerUrlArg, YesArg};
use crate::flag_values;
use crate::printer::Printer;

pub use answers::Pricing;

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub project: ProjectArg,
    /// Package to set up, relative to the project (for monorepos), e.g. `apps/web`.
    #[arg(long, value_name = "PATH")]
    pub package: Option<String>,
    /// What to meter: llm-tokens, llm-tokens-split, llm-cached-tokens, llm-reasoning-tokens,
    /// llm-cost, api-calls, storage, compute-time.
    #[arg(long, value_name = "PRESET", value_parser = flag_values::preset)]
    pub meter: Vec<String>,
    /// With `--meter llm-cost`: the factor the model's cost is multiplied by (1.2 = cost + 20%).
    #[arg(long, value_name = "FACTOR", value_parser = flag_values::markup)]
    pub llm_markup: Option<String>,
    /// A meter of your own: NAME:EVENT:AGGREGATION[:PROPERTY] (aggregation: count, sum, max,
    /// min, avg, unique), e.g. `images:image-generated:sum:pixels`.
    #[arg(long, value_name = "SPEC", value_parser = flag_values::custom_meter)]
    pub custom_meter: Vec<billing_plan::Meter>,
    /// Pricing model.
    #[arg(long, value_enum)]
    pub pricing: Option<Pricing>,
    /// Price per unit in dollars, for every priced meter (`0.00001`) or one (`METER=0.00001`).
    #[arg(long, value_name = "[METER=]DOLLARS", value_parser = flag_values::unit_price)]
    pub unit_price: Vec<String>,
    /// Credits per billing cycle, for every meter (`100000`) or one (`METER=100000`).
    #[arg(long, value_name = "[METER=]UNITS", value_parser = flag_values::credits)]
    pub credits: Vec<String>,
    /// Roll unused credits over to the next cycle.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub rollover: Option<bool>,
    /// Maximum metered charge per billing period, in dollars (whole cents).
    #[arg(long, value_name = "DOLLARS", value_parser = flag_values::cap)]
    pub cap: Option<i64>,
    /// Product the prices and credits attach to (name or id).
    #[arg(long, value_name = "NAME_OR_ID")]
    pub product: Option<String>,
    /// How request code finds your user id: `header:NAME`, `body:FIELD`,
    /// `function:MODULE#NAME` or `session`.
    #[arg(long, value_name = "SOURCE", value_parser = flag_values::customer)]
    pub customer: Option<billing_plan::CustomerSource>,
    /// Bill a team or organization at wired call sites: a variable or property path in scope
    /// there, e.g. `teamId` or `session.user?.orgId` (`[customer] expression`).
    #[arg(long, value_name = "PATH", value_parser = flag_values::customer_expression)]
    pub customer_expression: Option<String>,
    /// The field of a background job's payload that holds the customer id, e.g. `userId`
    /// (`[customer] job_field`).
    #[arg(long, value_name = "FIELD", value_parser = flag_values::customer_job_field)]
    pub customer_job_field: Option<String>,
    /// Generate a webhook handler.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub webhooks: Option<bool>,
    /// Public https URL to register as a webhook endpoint.
    #[arg(long, value_name = "URL", value_parser = flag_values::webhook_url)]
    pub webhook_url: Option<String>,
    #[command(flatten)]
    pub environment: EnvironmentFlag,
    // Also read from `SPAIRE_SERVER_URL` (see `run`).
    #[command(flatten)]
    pub server: ServerUrlArg,
    // Confirms apply, installs, a dirty tree and production.
    #[command(flatten)]
    pub yes: YesArg,
    #[command(flatten)]
    pub no_install: NoInstallArg,
    /// Do not run the project's own checks (type-check, lint, tests) after applying.
    #[arg(long)]
    pub no_checks: bool,
    /// Show the preview and stop: nothing is written and nothing is asked after the answers
    /// (works without a terminal; with `--json`, prints the preview as `plan --json` does).
    #[arg(long)]
    pub dry_run: bool,
    /// Show every file of the preview as a diff (by default new files are listed with their
    /// length and only the edits of existing files are shown in full).
    #[arg(long)]
    pub diff: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(mut args: SetupArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // setup has always taken the API URL from `SPAIRE_SERVER_URL` too (and saves it in the
    // plan); the other commands resolve that variable when they connect.
    if args.server.server_url.is_none()
        && let Ok(url) = std::env::var("SPAIRE_SERVER_URL")
        && !url.is_empty()
    {
        args.server.server_url = Some(flag_values::server_url(&url).map_err(|why| {
            billing_errors::UsageError::new(format!("SPAIRE_SERVER_URL={url}: {why}"))
        })?);
    }
    flow::run(args, printer)
}
