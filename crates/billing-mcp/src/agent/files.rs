//! Reading and writing files inside the project root for `agent install`, through
//! billing-apply's [`Project`] (refuses absolute paths, `..` and symlinks leading out of the
//! root) and its atomic write (temp file + rename, permissions kept).
//!
//! Before writing, each file is checked against the content the preview was computed from,
//! so a file edited between the preview and the confirmation is never overwritten blindly.

use std::path::Path;

use billing_apply::{ApplyError, Project};
use billing_changeset::{FileAction, FileChange};
use billing_errors::Hinted;

/// The file's current text, `None` when it does not exist.
pub fn read_existing(project: &Project, relative: &str) -> anyhow::Result<Option<String>> {
    match project.read(relative).map_err(hinted)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            Hinted::new(
                format!("`{relative}` is not UTF-8 text"),
                format!("convert `{relative}` to UTF-8 or move it away, then run again"),
            )
            .into()
        }),
    }
}

pub fn open(root: &Path) -> anyhow::Result<Project> {
    Project::open(root).map_err(hinted)
}

/// Writes every change, each atomically, after checking none of them drifted since the preview.
/// All checks happen before the first write, so a drift leaves the project untouched.
pub fn apply(project: &Project, changes: &[FileChange]) -> anyhow::Result<()> {
    for change in changes {
        let current = read_existing(project, &change.path)?;
        let expected = match change.action {
            FileAction::Create => None,
            FileAction::Modify => change.before.as_deref(),
        };
        if current.as_deref() != expected {
            return Err(Hinted::new(
                format!("`{}` changed after the plan was shown", change.path),
                "run `spaire-billing agent install` again to see an up-to-date plan",
            )
            .into());
        }
    }
    for change in changes {
        let path = project.resolve(&change.path).map_err(hinted)?;
        billing_apply::atomic::write_atomic(&path, change.after.as_bytes()).map_err(|source| {
            hinted(ApplyError::Io {
                path: change.path.clone(),
                action: "write",
                source,
            })
        })?;
    }
    Ok(())
}

fn hinted(err: ApplyError) -> anyhow::Error {
    match err.hint() {
        Some(hint) => anyhow::Error::new(Hinted::new(err.to_string(), hint).with_source(err)),
        None => anyhow::Error::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_changeset::FileOrigin;

    fn change(path: &str, before: Option<&str>, after: &str) -> FileChange {
        FileChange {
            path: path.into(),
            action: if before.is_some() {
                FileAction::Modify
            } else {
                FileAction::Create
            },
            origin: FileOrigin::Config,
            before: before.map(Into::into),
            after: after.into(),
            summary: String::new(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_that_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join(".cursor")).unwrap();
        let project = open(dir.path()).unwrap();
        let err = read_existing(&project, ".cursor/mcp.json").unwrap_err();
        assert!(
            err.to_string().contains("points outside the project"),
            "{err}"
        );
        let err = apply(&project, &[change(".cursor/mcp.json", None, "{}")]).unwrap_err();
        assert!(
            err.to_string().contains("points outside the project"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn writes_and_detects_drift_before_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let project = open(dir.path()).unwrap();
        apply(&project, &[change("a/new.txt", None, "one\n")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a/new.txt")).unwrap(),
            "one\n"
        );
        // `b.txt` would be created, but `a/new.txt` no longer matches: nothing is written.
        let err = apply(
            &project,
            &[
                change("b.txt", None, "b\n"),
                change("a/new.txt", Some("stale\n"), "two\n"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("changed after the plan was shown"));
        assert!(!dir.path().join("b.txt").exists());
    }
}
