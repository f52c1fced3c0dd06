//! `spaire-billing detect`.

use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct DetectArgs {}

pub fn run(args: DetectArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let _ = (args, printer);
    Err(super::not_yet("detect"))
}
