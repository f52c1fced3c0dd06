//! `spaire-billing verify`.

use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct VerifyArgs {}

pub fn run(args: VerifyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let _ = (args, printer);
    Err(super::not_yet("verify"))
}
