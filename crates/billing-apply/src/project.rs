//! The project root and the only way to turn a change-set path into a file system path.
//!
//! Every path a producer hands us is untrusted: it could be absolute, climb out with `..`, or
//! pass through a symlink that points outside the project. [`Project::resolve`] refuses all
//! three, so nothing `apply` or `undo` writes can land outside the root.

use std::path::{Component, Path, PathBuf};

use crate::error::ApplyError;

/// A canonicalised project root.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
}

impl Project {
    /// Opens the project at `root` (which must be an existing directory).
    pub fn open(root: &Path) -> Result<Self, ApplyError> {
        let canonical = root.canonicalize().map_err(|source| ApplyError::Io {
            path: root.display().to_string(),
            action: "open the project directory",
            source,
        })?;
        if !canonical.is_dir() {
            return Err(ApplyError::NotADirectory {
                path: root.display().to_string(),
            });
        }
        Ok(Self { root: canonical })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path for `rel` (a `/`-separated path relative to the root), after checking
    /// that it is relative, has no `..`, and that no existing component is a symlink leading
    /// outside the root. A symlink that stays inside the root is followed.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, ApplyError> {
        let refuse = |reason: &str| ApplyError::UnsafePath {
            path: rel.to_owned(),
            reason: reason.to_owned(),
        };
        if rel.is_empty() {
            return Err(refuse("the path is empty"));
        }
        if rel.contains('\0') || rel.contains('\\') {
            return Err(refuse("it contains a NUL byte or a backslash"));
        }
        let relative = Path::new(rel);
        let mut joined = self.root.clone();
        for component in relative.components() {
            match component {
                Component::Normal(part) => joined.push(part),
                Component::CurDir => {}
                Component::ParentDir => return Err(refuse("it contains `..`")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse("it is absolute"));
                }
            }
        }
        if joined == self.root {
            return Err(refuse("it names the project root itself"));
        }
        // Canonicalise the deepest existing ancestor (or the file itself): that resolves every
        // symlink on the way, and the result must still be inside the root.
        let mut existing = joined.as_path();
        let mut rest = Vec::new();
        loop {
            if existing.symlink_metadata().is_ok() {
                break;
            }
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => break,
            }
        }
        let resolved = match existing.canonicalize() {
            Ok(resolved) => resolved,
            // A dangling symlink: its target cannot be checked, so refuse it.
            Err(_) => {
                return Err(refuse(
                    "it passes through a symlink whose target does not exist",
                ));
            }
        };
        if !resolved.starts_with(&self.root) {
            return Err(refuse(
                "it passes through a symlink that points outside the project",
            ));
        }
        let mut full = resolved;
        for name in rest.into_iter().rev() {
            full.push(name);
        }
        Ok(full)
    }

    /// Like [`Project::resolve`] for a directory to run a command in, where `.` (the root
    /// itself) is allowed.
    pub fn resolve_dir(&self, rel: &str) -> Result<PathBuf, ApplyError> {
        if rel.is_empty() || rel == "." || rel == "./" {
            return Ok(self.root.clone());
        }
        self.resolve(rel)
    }

    /// The current content of `rel`, `None` when it does not exist.
    pub fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, ApplyError> {
        let path = self.resolve(rel)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ApplyError::Io {
                path: rel.to_owned(),
                action: "read",
                source,
            }),
        }
    }

    /// The current content of `rel` as text (`None` when missing or not text: UTF-8, or
    /// UTF-16 with a byte-order mark, see [`billing_changeset::TextEncoding`]).
    pub fn read_text(&self, rel: &str) -> Result<Option<String>, ApplyError> {
        Ok(self
            .read(rel)?
            .and_then(|b| billing_changeset::TextEncoding::decode(&b))
            .map(|(text, _)| text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::open(dir.path()).unwrap();
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a\\b", "."] {
            assert!(
                matches!(project.resolve(bad), Err(ApplyError::UnsafePath { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            project.resolve("src/new/file.ts").unwrap(),
            project.root().join("src/new/file.ts")
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_may_not_lead_outside() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("inside")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("dangling")).unwrap();
        let project = Project::open(dir.path()).unwrap();
        assert!(project.resolve("out/x.ts").is_err());
        assert!(project.resolve("out").is_err());
        assert!(project.resolve("dangling").is_err());
        assert_eq!(
            project.resolve("inside/x.ts").unwrap(),
            project.root().join("real/x.ts")
        );
    }
}
