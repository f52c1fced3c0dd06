//! All user-facing output goes through [`Printer`]: data to stdout, messages to stderr.
//! Colours come from anstream, which strips them when the stream is not a terminal or
//! `NO_COLOR` is set.

#![allow(clippy::print_stdout, clippy::print_stderr)]
// Styles and levels are used by the commands as they land; keep the full palette here.
#![allow(dead_code)]

use std::fmt::Display;
use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::cli::GlobalArgs;

pub const GREEN: Style = AnsiColor::Green.on_default().bold();
pub const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const CYAN: Style = AnsiColor::Cyan.on_default().bold();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();

#[derive(Debug, Clone)]
pub struct Printer {
    quiet: bool,
    verbose: bool,
}

impl Printer {
    pub fn new(args: &GlobalArgs) -> Self {
        Self {
            quiet: args.quiet,
            verbose: args.verbose > 0,
        }
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// Data the user asked for (reports, `--json`). Goes to stdout even with `--quiet`.
    /// A closed pipe is not an error: `spaire-billing detect | head -1` must exit quietly.
    pub fn data(&self, text: impl Display) -> std::io::Result<()> {
        let mut out = anstream::stdout().lock();
        writeln!(out, "{text}")
    }

    /// A cargo-style status line on stderr: a right-aligned green verb and a message.
    pub fn status(&self, verb: &str, message: impl Display) {
        if self.quiet {
            return;
        }
        eprintln_styled(format_args!("{GREEN}{verb:>12}{GREEN:#} {message}"));
    }

    pub fn warn(&self, message: impl Display) {
        eprintln_styled(format_args!("{YELLOW}warning{YELLOW:#}: {message}"));
    }

    pub fn note(&self, message: impl Display) {
        if self.quiet {
            return;
        }
        eprintln_styled(format_args!("{CYAN}note{CYAN:#}: {message}"));
    }

    /// A plain informational line on stderr (suppressed by `--quiet`).
    pub fn info(&self, message: impl Display) {
        if self.quiet {
            return;
        }
        eprintln_styled(format_args!("{message}"));
    }
}

fn eprintln_styled(args: std::fmt::Arguments<'_>) {
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{args}");
}
