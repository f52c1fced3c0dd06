//! How an operation talks to whoever drives it: questions that need a yes (the CLI asks on a
//! terminal, the wizard inside its conversation, MCP never — it passes `yes` with a plan hash
//! the human approved) and progress events (files written, install output).

use billing_changeset::{FileAction, PackageInstall};
use billing_plan::Environment;

use crate::plan::{Conflict, Preview};

/// A question an operation needs answered before it goes on.
#[derive(Debug)]
pub enum Question<'a> {
    /// Apply everything in this preview?
    Apply { preview: &'a Preview },
    /// The plan changes the production account: really?
    Production { environment: Environment },
    /// Overwrite a file the user edited since spaire-billing generated it (diff attached)?
    OverwriteEdited { conflict: &'a Conflict },
    /// Run this package install now (it runs the package manager and its scripts)?
    RunInstall { install: &'a PackageInstall },
}

/// Something that happened, for live output.
#[derive(Debug)]
pub enum Event<'a> {
    /// Confirmed; the files are about to be written (a project check's baseline runs now).
    Writing {
        preview: &'a Preview,
    },
    Wrote {
        path: &'a str,
        action: FileAction,
    },
    InstallStarted {
        command: &'a str,
        cwd: &'a str,
    },
    InstallOutput {
        line: &'a str,
    },
    InstallFinished {
        command: &'a str,
        success: bool,
    },
    RemoteStarted {
        steps: usize,
        environment: Environment,
    },
}

pub trait ApplyHooks: Send {
    /// `Ok(false)` declines (the operation stops without changing anything it has not
    /// already reported); `Err` aborts with that error (e.g. "no terminal: pass `--yes`").
    fn confirm(&mut self, question: &Question<'_>) -> anyhow::Result<bool>;

    fn event(&mut self, event: &Event<'_>) {
        let _ = event;
    }
}

/// Answers every question with the same value and ignores events (MCP, tests).
#[derive(Debug, Clone, Copy)]
pub struct Answer(pub bool);

impl ApplyHooks for Answer {
    fn confirm(&mut self, _question: &Question<'_>) -> anyhow::Result<bool> {
        Ok(self.0)
    }
}
