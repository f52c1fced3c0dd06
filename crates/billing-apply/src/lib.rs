//! Applies a [`ChangeSet`](billing_changeset::ChangeSet)'s files atomically inside the
//! project root, with a journal for undo and a lock file recording what was generated.
//!
//! - [`Project`] turns change-set paths into file paths and refuses `..`, absolute paths and
//!   symlinks that lead outside the root;
//! - [`atomic::write_atomic`] writes through a temporary file in the same directory + rename,
//!   keeping permission bits;
//! - [`Transaction`] journals every file's previous bytes *before* writing it and rolls back
//!   on failure;
//! - [`undo::undo_latest`] restores the latest apply byte for byte;
//! - [`Lock`] is `.spaire-billing/lock.json`: generated files' hashes (to detect user edits)
//!   and opaque per-environment remote state.

pub mod atomic;
pub mod debris;
pub mod error;
pub mod install_drift;
pub mod journal;
pub mod lock;
pub mod project;
pub mod state_json;
pub mod transaction;
pub mod undo;

pub use error::ApplyError;
pub use journal::{JOURNAL_DIR, JournalEntry, PendingInstall};
pub use lock::{LOCK_PATH, Lock, LockedFile, sha256_hex};
pub use project::Project;
pub use transaction::Transaction;
pub use undo::{UndoOutcome, undo_latest};

/// The `.gitignore` line that keeps the journal (previous file contents) out of git.
pub const GITIGNORE_ENTRY: &str = ".spaire-billing/journal/";

/// `.gitignore` content with [`GITIGNORE_ENTRY`] appended, or `None` when it is already
/// ignored (by that line or by ignoring all of `.spaire-billing`).
pub fn gitignore_with_journal(current: Option<&str>) -> Option<String> {
    let current = current.unwrap_or("");
    let covered = current.lines().map(str::trim).any(|line| {
        matches!(
            line.trim_start_matches('/'),
            ".spaire-billing/journal/"
                | ".spaire-billing/journal"
                | ".spaire-billing/"
                | ".spaire-billing"
        )
    });
    if covered {
        return None;
    }
    let mut out = current.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# spaire-billing undo journal (previous file contents; not for commits)\n");
    out.push_str(GITIGNORE_ENTRY);
    out.push('\n');
    Some(out)
}

#[cfg(test)]
mod tests;
