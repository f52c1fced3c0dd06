//! Renders a failed command as
//!
//! ```text
//! error: <top-level message>
//!   Caused by: <cause>
//!
//! hint: <what to do>
//! ```
//!
//! and decides the exit status: usage errors exit 2, an apply stopped by Ctrl-C 130,
//! everything else 1, and a broken pipe
//! (the reader went away, e.g. `| head`) is a silent success.

#![allow(clippy::print_stderr)]

use std::io::Write;

use crate::ExitStatus;
use crate::printer::{Printer, RED, YELLOW};

pub fn report(err: &anyhow::Error, _printer: &Printer) -> ExitStatus {
    if is_broken_pipe(err) {
        return ExitStatus::Success;
    }
    let text = billing_errors::render_report(
        err.as_ref(),
        &format!("{RED}error{RED:#}"),
        &format!("{YELLOW}hint{YELLOW:#}"),
    );
    if let Some(why) = interrupted_apply(err) {
        let _ = writeln!(anstream::stderr().lock(), "{RED}error{RED:#}: apply {why}");
        return ExitStatus::Interrupted;
    }
    let _ = anstream::stderr().lock().write_all(text.as_bytes());
    if billing_errors::is_usage_error(err.as_ref()) {
        ExitStatus::Usage
    } else {
        ExitStatus::Failure
    }
}

/// An apply stopped by Ctrl-C: what it says about the files and the account (the generic
/// "cancelled …; nothing was changed" of `billing_ops::Cancelled` is false once files were
/// written, so only its own words are shown).
pub fn interrupted_apply(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<billing_ops::Cancelled>())
        .map(|cancelled| cancelled.0.as_str())
        .filter(|why| why.starts_with("interrupted"))
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
