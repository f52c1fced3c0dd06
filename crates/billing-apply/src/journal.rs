//! The undo journal under `.spaire-billing/journal/` (git-ignored): one JSON file per apply
//! with every touched file's previous bytes, the directories it created and the remote
//! records `billing-remote` needs to reverse its calls.
//!
//! The entry is written *before* each file write (atomically), so even a crash in the middle
//! of an apply leaves a journal that undoes exactly what happened.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::project::Project;

pub const JOURNAL_DIR: &str = ".spaire-billing/journal";
pub const JOURNAL_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub version: u32,
    /// File stem under the journal directory; sorts by time.
    pub id: String,
    pub plan_hash: String,
    pub environment: String,
    pub created_at: String,
    /// Files in the order they were first touched.
    pub files: Vec<FileRecord>,
    /// Directories the apply created (parents first), removed by undo when empty.
    #[serde(default)]
    pub created_dirs: Vec<String>,
    /// Opaque records from `billing-remote` (objects created, lists replaced) for undo.
    #[serde(default)]
    pub remote: Vec<serde_json::Value>,
    /// Package install commands the apply ran (undo restores manifests, not installed files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installs: Vec<String>,
    /// Installs left to the user (skipped or failed): the manifest and lockfile changes their
    /// command makes are expected, so `undo` restores those files without `--force`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_installs: Vec<PendingInstall>,
    /// False while the apply runs; an incomplete entry means the apply was interrupted.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInstall {
    /// Directory the command runs in, relative to the project root.
    pub cwd: String,
    /// The command the user was told to run.
    pub command: String,
    /// The packages it adds.
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    /// Content before the apply; absent when the file did not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Snapshot>,
    /// SHA-256 of the content the apply left (set when written / on commit); undo refuses to
    /// discard later edits without `--force`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_sha256: Option<String>,
}

/// File bytes: as text when UTF-8 (readable journals), else base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Snapshot {
    Text(String),
    Base64(String),
}

impl Snapshot {
    pub fn of(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Snapshot::Text(text),
            Err(err) => {
                Snapshot::Base64(base64::engine::general_purpose::STANDARD.encode(err.as_bytes()))
            }
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Snapshot::Text(text) => text.as_bytes().to_vec(),
            Snapshot::Base64(data) => base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap_or_default(),
        }
    }
}

impl JournalEntry {
    pub fn relative_path(&self) -> String {
        format!("{JOURNAL_DIR}/{}.json", self.id)
    }
}

/// Every journal entry, oldest first.
pub fn entries(project: &Project) -> Result<Vec<JournalEntry>, ApplyError> {
    let dir = project.resolve(JOURNAL_DIR)?;
    let read_dir = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ApplyError::Io {
                path: JOURNAL_DIR.to_owned(),
                action: "list",
                source,
            });
        }
    };
    let mut names: Vec<String> = read_dir
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let rel = format!("{JOURNAL_DIR}/{name}");
        let Some(bytes) = project.read(&rel)? else {
            continue;
        };
        let entry = serde_json::from_slice(&bytes)
            .map_err(|source| ApplyError::Corrupt { path: rel, source })?;
        out.push(entry);
    }
    Ok(out)
}

/// The most recent journal entry, if any.
pub fn latest(project: &Project) -> Result<Option<JournalEntry>, ApplyError> {
    Ok(entries(project)?.pop())
}

/// Appends remote records to the journal entry `id` (undo's progress), atomically.
pub fn append_remote(
    project: &Project,
    id: &str,
    records: Vec<serde_json::Value>,
) -> Result<(), ApplyError> {
    if records.is_empty() {
        return Ok(());
    }
    let rel = format!("{JOURNAL_DIR}/{id}.json");
    let Some(bytes) = project.read(&rel)? else {
        return Err(ApplyError::NothingToUndo);
    };
    let mut entry: JournalEntry =
        serde_json::from_slice(&bytes).map_err(|source| ApplyError::Corrupt {
            path: rel.clone(),
            source,
        })?;
    entry.remote.extend(records);
    let text = crate::state_json::render(&entry);
    let path = project.resolve(&rel)?;
    crate::atomic::write_atomic(&path, text.as_bytes()).map_err(|source| ApplyError::Io {
        path: rel,
        action: "write the journal",
        source,
    })
}
