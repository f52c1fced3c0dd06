//! `spaire-billing emulator`.

use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct EmulatorArgs {}

pub fn run(args: EmulatorArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let _ = (args, printer);
    Err(super::not_yet("emulator"))
}
