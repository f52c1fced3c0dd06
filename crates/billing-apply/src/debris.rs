//! What a killed apply can leave behind besides its journal: the temporary files of
//! [`crate::atomic::write_atomic`] (`.spaire-billing-XXXXXX.tmp`, renamed over the target on
//! success, so any that exist belong to a write that never finished) and an empty journal
//! directory. Apply and undo clean them before they start.
//!
//! Temporary files are only ever created next to a file the journal lists (the entry is
//! persisted before the write), next to the journal entry itself, or next to the lock file,
//! so those directories are the only ones searched.

use std::collections::BTreeSet;

use crate::error::ApplyError;
use crate::journal::{self, JOURNAL_DIR};
use crate::project::Project;

const STATE_DIR: &str = ".spaire-billing";

/// True for the names `write_atomic` gives its temporary files.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(".spaire-billing-")
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|middle| !middle.is_empty() && !middle.contains('/'))
}

/// Removes leftover temporary files and an empty journal directory; returns the
/// project-relative paths removed.
pub fn clean(project: &Project) -> Result<Vec<String>, ApplyError> {
    let mut dirs: BTreeSet<String> = [String::new(), STATE_DIR.to_owned(), JOURNAL_DIR.to_owned()]
        .into_iter()
        .collect();
    for entry in journal::entries(project)? {
        for record in &entry.files {
            dirs.insert(
                record
                    .path
                    .rsplit_once('/')
                    .map_or(String::new(), |(dir, _)| dir.to_owned()),
            );
        }
    }
    let mut removed = Vec::new();
    for dir in dirs {
        let Ok(path) = (if dir.is_empty() {
            Ok(project.root().to_path_buf())
        } else {
            project.resolve(&dir)
        }) else {
            continue;
        };
        let Ok(read_dir) = std::fs::read_dir(&path) else {
            continue;
        };
        for item in read_dir.filter_map(Result::ok) {
            let name = item.file_name().to_string_lossy().into_owned();
            let is_file = item.file_type().is_ok_and(|t| t.is_file());
            if !is_file || !is_temp_name(&name) {
                continue;
            }
            let rel = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            std::fs::remove_file(item.path()).map_err(|source| ApplyError::Io {
                path: rel.clone(),
                action: "remove the leftover temporary file",
                source,
            })?;
            removed.push(rel);
        }
    }
    // A kill between creating the journal directory and writing the first entry leaves it
    // empty; `remove_dir` only succeeds on an empty directory.
    for dir in [JOURNAL_DIR, STATE_DIR] {
        if let Ok(path) = project.resolve(dir)
            && std::fs::remove_dir(&path).is_ok()
        {
            removed.push(format!("{dir}/"));
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_temp_names_match() {
        assert!(is_temp_name(".spaire-billing-AbC123.tmp"));
        assert!(!is_temp_name(".spaire-billing-.tmp"));
        assert!(!is_temp_name("spaire-billing-x.tmp"));
        assert!(!is_temp_name(".spaire-billing-x.tmp.bak"));
    }

    #[test]
    fn leftovers_next_to_journaled_files_are_removed_and_user_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::open(dir.path()).unwrap();
        let mut tx = crate::Transaction::begin(&project, "abcd", "local").unwrap();
        tx.write("src/lib/a.ts", b"x").unwrap();
        drop(tx);
        for rel in [
            "src/lib/.spaire-billing-k1LL3d.tmp",
            ".spaire-billing/journal/.spaire-billing-q.tmp",
            ".spaire-billing-root.tmp",
        ] {
            std::fs::write(dir.path().join(rel), "half").unwrap();
        }
        std::fs::write(dir.path().join("src/lib/notes.tmp"), "mine").unwrap();
        let mut removed = clean(&project).unwrap();
        removed.sort();
        assert_eq!(
            removed,
            [
                ".spaire-billing-root.tmp",
                ".spaire-billing/journal/.spaire-billing-q.tmp",
                "src/lib/.spaire-billing-k1LL3d.tmp"
            ]
        );
        assert!(dir.path().join("src/lib/notes.tmp").exists());
        assert!(dir.path().join("src/lib/a.ts").exists());
    }

    #[test]
    fn an_empty_journal_directory_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(JOURNAL_DIR)).unwrap();
        let project = Project::open(dir.path()).unwrap();
        clean(&project).unwrap();
        assert!(!dir.path().join(".spaire-billing").exists());
    }
}
