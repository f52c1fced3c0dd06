//! Errors of applying and undoing; each says which file and what to do.

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("refusing to write `{path}`: {reason}")]
    UnsafePath { path: String, reason: String },
    #[error("`{path}` is not a directory")]
    NotADirectory { path: String },
    #[error("failed to {action} `{path}`")]
    Io {
        path: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` changed since the plan was made")]
    Drifted { path: String },
    #[error("`{path}` is not valid JSON")]
    Corrupt {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("nothing to undo: no journal under `.spaire-billing/journal/`")]
    NothingToUndo,
    #[error("{} file(s) changed since the last apply: {}", paths.len(), paths.join(", "))]
    EditedSinceApply { paths: Vec<String> },
}

impl ApplyError {
    /// What the user should do, for the CLI's `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            ApplyError::UnsafePath { .. } => Some(
                "spaire-billing only writes inside the project root; remove the symlink or pick \
                 another location"
                    .to_owned(),
            ),
            ApplyError::Drifted { .. } => {
                Some("run `spaire-billing plan` again and apply the new plan".to_owned())
            }
            ApplyError::EditedSinceApply { .. } => Some(
                "undo would discard those edits; commit or copy them, then run \
                 `spaire-billing undo --force`"
                    .to_owned(),
            ),
            ApplyError::Corrupt { path, .. } => Some(format!(
                "restore `{path}` from version control, or delete it to start over"
            )),
            _ => None,
        }
    }
}
