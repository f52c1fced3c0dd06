//! `spaire-billing setup`: the conversation that replaces the seed's AI-agent command.
//!
//! Phases, in order: pre-flight → discovery (what was found, which package, what to meter,
//! how to price it) → prerequisites (SDK, token, product) → plan preview → confirm → apply →
//! report. Every question has a flag; without a terminal a missing answer is exit 2 naming
//! that flag. Nothing is written before the final confirmation, so Ctrl-C at any point
//! leaves the project and the account unchanged.

mod answers;
mod ask;
mod flow;
mod money;
mod report;

use std::path::PathBuf;

use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

pub use answers::Pricing;

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Project directory.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Package to set up, relative to the project (for monorepos), e.g. `apps/web`.
    #[arg(long, value_name = "PATH")]
    pub package: Option<String>,
    /// What to meter: llm-tokens, llm-tokens-split, api-calls, storage, compute-time.
    #[arg(long, value_name = "PRESET")]
    pub meter: Vec<String>,
    /// A meter of your own: NAME:EVENT:AGGREGATION[:PROPERTY] (aggregation: count, sum, max,
    /// min, avg, unique), e.g. `images:image-generated:sum:pixels`.
    #[arg(long, value_name = "SPEC")]
    pub custom_meter: Vec<String>,
    /// Pricing model.
    #[arg(long, value_enum)]
    pub pricing: Option<Pricing>,
    /// Price per unit in dollars, for every priced meter (`0.00001`) or one (`METER=0.00001`).
    #[arg(long, value_name = "[METER=]DOLLARS")]
    pub unit_price: Vec<String>,
    /// Credits per billing cycle, for every meter (`100000`) or one (`METER=100000`).
    #[arg(long, value_name = "[METER=]UNITS")]
    pub credits: Vec<String>,
    /// Roll unused credits over to the next cycle.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub rollover: Option<bool>,
    /// Maximum metered charge per billing period, in dollars (whole cents).
    #[arg(long, value_name = "DOLLARS")]
    pub cap: Option<String>,
    /// Product the prices and credits attach to (name or id).
    #[arg(long, value_name = "NAME_OR_ID")]
    pub product: Option<String>,
    /// How request code finds your user id: `header:NAME`, `body:FIELD`,
    /// `function:MODULE#NAME` or `session`.
    #[arg(long, value_name = "SOURCE")]
    pub customer: Option<String>,
    /// Generate a webhook handler.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub webhooks: Option<bool>,
    /// Public https URL to register as a webhook endpoint.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Spaire environment: sandbox (default), production, or local (the built-in emulator).
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
    /// API base URL (overrides the environment's host), e.g. the emulator's.
    #[arg(long, value_name = "URL", env = "SPAIRE_SERVER_URL")]
    pub server_url: Option<String>,
    /// Answer yes to every confirmation (apply, installs, dirty tree, production).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Do not run package installs (print the command instead).
    #[arg(long)]
    pub no_install: bool,
    /// Do not run the project's own checks (type-check, lint, tests) after applying.
    #[arg(long)]
    pub no_checks: bool,
    /// Print the final report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SetupArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    flow::run(args, printer)
}
