//! One module per subcommand. Each exposes its clap `Args` and a `run` that returns an
//! [`ExitStatus`]; the work itself lives in the library crates so the MCP server and the
//! setup wizard share it.

pub mod agent;
pub mod apply;
pub mod checks;
pub mod detect;
pub mod emulator;
pub mod mcp;
pub mod metering;
pub mod plan;
pub mod setup;
pub mod status;
pub mod undo;
mod undo_confirm;
pub mod verify;

use crate::ExitStatus;
use crate::cli::Command;
use crate::printer::Printer;

pub fn run(command: Command, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Detect(args) => detect::run(args, printer),
        Command::Setup(args) => setup::run(*args, printer),
        Command::Plan(args) => plan::run(args, printer),
        Command::Apply(args) => apply::run(args, printer),
        Command::Undo(args) => undo::run(args, printer),
        Command::Verify(args) => verify::run(args, printer),
        Command::Status(args) => status::run(args, printer),
        Command::Emulator(args) => emulator::run(args, printer),
        Command::Mcp(args) => mcp::run(args, printer),
        Command::Agent(command) => agent::run(command, printer),
    }
}
