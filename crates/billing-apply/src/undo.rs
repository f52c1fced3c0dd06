//! Undo of the latest apply from its journal: changed files get their previous bytes back,
//! created files and directories are removed, and the journal entry is deleted.

use crate::atomic::write_atomic;
use crate::error::ApplyError;
use crate::journal::{self, JournalEntry};
use crate::lock::sha256_hex;
use crate::project::Project;

#[derive(Debug, Clone, PartialEq)]
pub struct UndoOutcome {
    /// The journal entry that was undone (its `remote` records are for `billing-remote`).
    pub entry: JournalEntry,
    /// Files given back their previous content.
    pub restored: Vec<String>,
    /// Files (and empty directories) removed because the apply created them.
    pub removed: Vec<String>,
}

/// Files changed since the apply that undo would overwrite or delete.
pub fn edited_since(project: &Project, entry: &JournalEntry) -> Result<Vec<String>, ApplyError> {
    let mut edited = Vec::new();
    for record in &entry.files {
        let Some(after) = &record.after_sha256 else {
            continue;
        };
        let now = project.read(&record.path)?;
        // Already back to its previous content (an undo that was killed midway): not an edit.
        let restored = now.as_deref() == record.before.as_ref().map(|b| b.bytes()).as_deref();
        let expected = crate::install_drift::expected(entry, record, now.as_deref());
        if now.as_deref().map(sha256_hex).as_ref() != Some(after) && !restored && !expected {
            edited.push(record.path.clone());
        }
    }
    Ok(edited)
}

/// Undoes the latest apply's files. Refuses (listing them) when files were edited since,
/// unless `force`.
pub fn undo_latest(project: &Project, force: bool) -> Result<UndoOutcome, ApplyError> {
    let entry = journal::latest(project)?.ok_or(ApplyError::NothingToUndo)?;
    let (restored, removed) = restore(project, &entry, force)?;
    Ok(UndoOutcome {
        entry,
        restored,
        removed,
    })
}

pub(crate) fn restore(
    project: &Project,
    entry: &JournalEntry,
    force: bool,
) -> Result<(Vec<String>, Vec<String>), ApplyError> {
    if !force {
        let edited = edited_since(project, entry)?;
        if !edited.is_empty() {
            return Err(ApplyError::EditedSinceApply { paths: edited });
        }
    }
    let mut restored = Vec::new();
    let mut removed = Vec::new();
    for record in entry.files.iter().rev() {
        let path = project.resolve(&record.path)?;
        let now = project.read(&record.path)?;
        match &record.before {
            Some(before) => {
                let bytes = before.bytes();
                if now.as_deref() != Some(bytes.as_slice()) {
                    write_atomic(&path, &bytes).map_err(|source| ApplyError::Io {
                        path: record.path.clone(),
                        action: "restore",
                        source,
                    })?;
                    restored.push(record.path.clone());
                }
            }
            None => {
                if now.is_some() {
                    std::fs::remove_file(&path).map_err(|source| ApplyError::Io {
                        path: record.path.clone(),
                        action: "remove",
                        source,
                    })?;
                    removed.push(record.path.clone());
                }
            }
        }
    }
    let journal_file = project.resolve(&entry.relative_path())?;
    match std::fs::remove_file(&journal_file) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ApplyError::Io {
                path: entry.relative_path(),
                action: "remove",
                source,
            });
        }
    }
    // Deepest first; a directory that still holds anything (the user's files, other
    // journal entries) stays.
    for dir in entry.created_dirs.iter().rev() {
        let path = project.resolve(dir)?;
        if std::fs::remove_dir(&path).is_ok() {
            removed.push(format!("{dir}/"));
        }
    }
    Ok((restored, removed))
}
