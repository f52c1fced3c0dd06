//! `spaire-billing apply`.

use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct ApplyArgs {}

pub fn run(args: ApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let _ = (args, printer);
    Err(super::not_yet("apply"))
}
