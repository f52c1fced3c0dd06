//! `spaire-billing`: usage-based billing on Spaire, set up in your project.
//!
//! `main` only parses arguments, sets up logging, runs the command and turns its result into
//! an exit code. Errors are rendered once, here, as `error:` / `Caused by:` / `hint:`.

mod args;
mod cli;
mod commands;
mod diagnostics;
mod embedded;
mod flag_values;
mod json;
mod printer;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::printer::Printer;

/// The process exit status of a command, documented in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the command did what was asked.
    Success,
    /// 1: the command ran but the outcome is negative (nothing detected, verify failed, ...).
    Failure,
    /// 2: the invocation was wrong or incomplete (bad flag, missing answer without a terminal).
    Usage,
    /// 130: stopped by Ctrl-C (the shell's convention, 128 + SIGINT).
    Interrupted,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
            ExitStatus::Interrupted => ExitCode::from(130),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with exit 0 and usage errors with exit 2.
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitStatus::Success.into()
                }
                _ => ExitStatus::Usage.into(),
            };
        }
    };

    let is_emulator = matches!(cli.command, cli::Command::Emulator(_));
    init_tracing(cli.global.verbose, is_emulator);
    let printer = Printer::new(&cli.global);
    match commands::run(cli.command, &printer) {
        Ok(status) => status.into(),
        Err(err) => diagnostics::report(&err, &printer).into(),
    }
}

/// Logs go to stderr only: stdout carries data (`--json`, MCP JSON-RPC).
///
/// The emulator logs its warnings by default: its stderr is a server log, and a request the
/// real server would fail (e.g. an ingest batch over the server's parameter ceiling) must
/// say why there, not only in the 500 the client sees.
fn init_tracing(verbose: u8, is_emulator: bool) {
    let default = match verbose {
        0 if is_emulator => "billing_emulator=warn",
        0 => "off",
        1 => "spaire_billing=info,billing_=info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPAIRE_BILLING_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal and never with NO_COLOR: logs piped to a file or read by
        // a test must not carry escape codes.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_target(false)
        .try_init();
}
