//! `spaire-billing undo`.

use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct UndoArgs {}

pub fn run(args: UndoArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let _ = (args, printer);
    Err(super::not_yet("undo"))
}
