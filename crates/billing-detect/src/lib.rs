//! `detect`: project directory → [`ProjectProfile`].
//!
//! Reads manifests, lockfiles and a bounded sample of source files; never writes anything.
//! The profile is plain data consumed by planning, code generation, call-site wiring, the
//! setup wizard and the MCP server, so its shape is a contract: see [`profile`].

pub mod profile;

pub use profile::*;

use std::path::Path;

/// Knobs for a detection run. `Default` is what the CLI uses.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Files larger than this are not read (noted in `ProjectProfile::notes`).
    pub max_file_bytes: u64,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("`{path}` does not exist or is not a directory")]
    NotADirectory { path: String },
    #[error("failed to read `{path}`")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Detects every package under `root`. Problems with individual files become warnings in the
/// profile; only an unusable `root` is an error.
pub fn detect(root: &Path, options: &DetectOptions) -> Result<ProjectProfile, DetectError> {
    let _ = options;
    if !root.is_dir() {
        return Err(DetectError::NotADirectory {
            path: root.display().to_string(),
        });
    }
    // Placeholder until the detector lands: an empty profile for the given root.
    Ok(ProjectProfile {
        schema_version: SCHEMA_VERSION,
        root: root.display().to_string(),
        packages: Vec::new(),
        warnings: Vec::new(),
        notes: Vec::new(),
    })
}
