//! Renders a failed command as
//!
//! ```text
//! error: <top-level message>
//!   Caused by: <cause>
//!
//! hint: <what to do>
//! ```
//!
//! and decides the exit status: usage errors exit 2, everything else 1, and a broken pipe
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
    let _ = anstream::stderr().lock().write_all(text.as_bytes());
    if billing_errors::is_usage_error(err.as_ref()) {
        ExitStatus::Usage
    } else {
        ExitStatus::Failure
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
