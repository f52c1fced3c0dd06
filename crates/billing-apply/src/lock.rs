//! `.spaire-billing/lock.json` (committed): what spaire-billing generated, so a later run can
//! tell "our file, unchanged" from "our file, edited by the user" (never overwritten without a
//! diff and an explicit yes), plus opaque per-environment remote state owned by
//! `billing-remote` (ids of meters, prices and benefits it created, pending dashboard steps).

use std::collections::BTreeMap;

use billing_changeset::FileOrigin;
use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::project::Project;

/// Path of the lock file relative to the project root.
pub const LOCK_PATH: &str = ".spaire-billing/lock.json";

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// Generated and wired files, by project-relative path.
    #[serde(default)]
    pub files: BTreeMap<String, LockedFile>,
    /// Remote state per environment ("sandbox", "production", "local"), opaque to this crate.
    #[serde(default)]
    pub environments: BTreeMap<String, serde_json::Value>,
}

impl Default for Lock {
    fn default() -> Self {
        Self {
            version: LOCK_VERSION,
            files: BTreeMap::new(),
            environments: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    /// SHA-256 (hex) of the content spaire-billing last wrote.
    pub sha256: String,
    pub origin: FileOrigin,
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl Lock {
    /// Reads the lock file; a missing file is an empty lock.
    pub fn read(project: &Project) -> Result<Self, ApplyError> {
        let Some(bytes) = project.read(LOCK_PATH)? else {
            return Ok(Self::default());
        };
        serde_json::from_slice(&bytes).map_err(|source| ApplyError::Corrupt {
            path: LOCK_PATH.to_owned(),
            source,
        })
    }

    /// The file as written: sorted keys, laid out as Prettier and Biome format JSON
    /// ([`crate::state_json`]), and a final newline, so diffs of the committed file stay small
    /// and a project checking every file's format passes it.
    pub fn render(&self) -> String {
        crate::state_json::render(self)
    }

    /// Whether the file at `path` with content `current` is one we generated and the user has
    /// since edited. `None` when we have no record of the file.
    pub fn edited_since_generated(&self, path: &str, current: &[u8]) -> Option<bool> {
        self.files
            .get(path)
            .map(|locked| locked.sha256 != sha256_hex(current))
    }
}
