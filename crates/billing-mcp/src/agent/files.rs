//! Reading and writing files inside the project root for `agent install`.
//!
//! Writes are atomic (temp file in the same directory, then rename) and refuse paths that leave
//! the root, including through a symlinked directory. Before writing, each file is checked
//! against the content the preview was computed from, so a file edited between the preview and
//! the confirmation is never overwritten blindly.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use billing_changeset::{FileAction, FileChange};
use billing_errors::Hinted;

/// Resolves a `/`-separated relative path under `root`, refusing anything that could escape it.
pub fn resolve(root: &Path, relative: &str) -> anyhow::Result<PathBuf> {
    let rel = Path::new(relative);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        anyhow::bail!("refusing to touch `{relative}`: it is not a plain path inside the project");
    }
    let root = fs_err::canonicalize(root)?;
    let mut current = root.clone();
    for component in rel.components() {
        current.push(component);
        match fs_err::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs_err::canonicalize(&current)?;
                if !target.starts_with(&root) {
                    return Err(Hinted::new(
                        format!("`{relative}` leads outside the project through a symlink"),
                        "replace the symlink with a real file or directory, or run from the directory it points to",
                    )
                    .into());
                }
            }
            _ => {}
        }
    }
    Ok(root.join(rel))
}

/// The file's current text, `None` when it does not exist.
pub fn read_existing(root: &Path, relative: &str) -> anyhow::Result<Option<String>> {
    let path = resolve(root, relative)?;
    match fs_err::read(&path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            Hinted::new(
                format!("`{relative}` is not UTF-8 text"),
                format!("convert `{relative}` to UTF-8 or move it away, then run again"),
            )
            .into()
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Writes every change, each atomically, after checking none of them drifted since the preview.
/// All checks happen before the first write, so a drift leaves the project untouched.
pub fn apply(root: &Path, changes: &[FileChange]) -> anyhow::Result<()> {
    for change in changes {
        let current = read_existing(root, &change.path)?;
        let expected = match change.action {
            FileAction::Create => None,
            FileAction::Modify => change.before.as_deref(),
        };
        if current.as_deref() != expected {
            return Err(Hinted::new(
                format!("`{}` changed after the plan was shown", change.path),
                "run the command again to see an up-to-date plan",
            )
            .into());
        }
    }
    for change in changes {
        write_atomic(&resolve(root, &change.path)?, change.after.as_bytes())?;
    }
    Ok(())
}

fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("`{}` has no parent directory", path.display()))?;
    fs_err::create_dir_all(parent)?;
    // Keep the permission bits of the file being replaced (tempfile creates 0600).
    let permissions = fs_err::metadata(path).ok().map(|m| m.permissions());
    let mut temp = tempfile::NamedTempFile::new_in(parent)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    let permissions = match permissions {
        Some(p) => p,
        None => default_permissions(parent)?,
    };
    fs_err::set_permissions(temp.path(), permissions)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// New files get the usual 0644 instead of tempfile's 0600.
#[cfg(unix)]
fn default_permissions(_parent: &Path) -> anyhow::Result<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions(parent: &Path) -> anyhow::Result<std::fs::Permissions> {
    Ok(fs_err::metadata(parent)?.permissions())
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

    #[test]
    fn refuses_paths_outside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        assert!(resolve(dir.path(), "../x").is_err());
        assert!(resolve(dir.path(), "/etc/passwd").is_err());
        assert!(resolve(dir.path(), "a/../b").is_err());
        assert!(resolve(dir.path(), "a/b").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_that_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join(".cursor")).unwrap();
        let err = resolve(dir.path(), ".cursor/mcp.json").unwrap_err();
        assert!(err.to_string().contains("leads outside the project"));
    }

    #[test]
    fn writes_and_detects_drift_before_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        apply(dir.path(), &[change("a/new.txt", None, "one\n")]).unwrap();
        assert_eq!(
            fs_err::read_to_string(dir.path().join("a/new.txt")).unwrap(),
            "one\n"
        );
        // `b.txt` would be created, but `a/new.txt` no longer matches: nothing is written.
        let err = apply(
            dir.path(),
            &[
                change("b.txt", None, "b\n"),
                change("a/new.txt", Some("stale\n"), "two\n"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("changed after the plan was shown"));
        assert!(!dir.path().join("b.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_of_replaced_files_and_uses_0644_for_new_ones() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sh");
        fs_err::write(&path, "a").unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        apply(
            dir.path(),
            &[change("x.sh", Some("a"), "b"), change("y", None, "c")],
        )
        .unwrap();
        assert_eq!(
            fs_err::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let y = fs_err::metadata(dir.path().join("y")).unwrap();
        assert_eq!(y.permissions().mode() & 0o777, 0o644);
    }
}
