//! One apply as a transaction over the project's files: snapshot, journal, write atomically,
//! and on any failure put back what was already written, so an apply either happens completely
//! or leaves the project as it was.

use billing_changeset::{FileAction, FileChange};

use crate::atomic::write_atomic;
use crate::error::ApplyError;
use crate::journal::{FileRecord, JOURNAL_DIR, JOURNAL_VERSION, JournalEntry, Snapshot};
use crate::lock::sha256_hex;
use crate::project::Project;

pub struct Transaction {
    project: Project,
    entry: JournalEntry,
}

impl Transaction {
    /// Starts an apply of the plan with `plan_hash` against `environment`.
    pub fn begin(
        project: &Project,
        plan_hash: &str,
        environment: &str,
    ) -> Result<Self, ApplyError> {
        let now = chrono::Utc::now();
        let entry = JournalEntry {
            version: JOURNAL_VERSION,
            id: format!("{}-{plan_hash}", now.format("%Y%m%dT%H%M%S%.3fZ")),
            plan_hash: plan_hash.to_owned(),
            environment: environment.to_owned(),
            created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            files: Vec::new(),
            created_dirs: Vec::new(),
            remote: Vec::new(),
            installs: Vec::new(),
            pending_installs: Vec::new(),
            complete: false,
        };
        let mut tx = Self {
            project: project.clone(),
            entry,
        };
        tx.note_missing_dirs(JOURNAL_DIR)?;
        tx.persist()?;
        Ok(tx)
    }

    /// Continues `entry`, an apply that was interrupted (`complete: false`): files it already
    /// snapshotted keep their original bytes (first touch wins) and its remote records stay,
    /// so one undo still reverts both runs.
    pub fn resume(
        project: &Project,
        entry: JournalEntry,
        plan_hash: &str,
    ) -> Result<Self, ApplyError> {
        let mut tx = Self {
            project: project.clone(),
            entry,
        };
        tx.entry.plan_hash = plan_hash.to_owned();
        tx.entry.complete = false;
        tx.persist()?;
        Ok(tx)
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    pub fn entry(&self) -> &JournalEntry {
        &self.entry
    }

    fn persist(&self) -> Result<(), ApplyError> {
        let rel = self.entry.relative_path();
        let path = self.project.resolve(&rel)?;
        let text = crate::state_json::render(&self.entry);
        write_atomic(&path, text.as_bytes()).map_err(|source| ApplyError::Io {
            path: rel,
            action: "write the journal",
            source,
        })
    }

    /// Records directories on the way to `rel_dir` that do not exist yet (parents first).
    fn note_missing_dirs(&mut self, rel_dir: &str) -> Result<(), ApplyError> {
        let mut prefix = String::new();
        for part in rel_dir.split('/').filter(|p| !p.is_empty() && *p != ".") {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            let path = self.project.resolve(&prefix)?;
            if path.symlink_metadata().is_err() && !self.entry.created_dirs.contains(&prefix) {
                self.entry.created_dirs.push(prefix.clone());
            }
        }
        Ok(())
    }

    /// Remembers `rel`'s current bytes for undo (first touch wins) and persists the journal.
    /// Call it before anything else (a package manager) modifies the file.
    pub fn snapshot(&mut self, rel: &str) -> Result<(), ApplyError> {
        if self.entry.files.iter().any(|f| f.path == rel) {
            return Ok(());
        }
        let before = self.project.read(rel)?.map(Snapshot::of);
        if let Some((dir, _)) = rel.rsplit_once('/') {
            self.note_missing_dirs(dir)?;
        }
        self.entry.files.push(FileRecord {
            path: rel.to_owned(),
            before,
            after_sha256: None,
        });
        self.persist()
    }

    /// Records that something else (a package manager) created `rel` during this apply, so
    /// undo removes it.
    pub fn record_created(&mut self, rel: &str) -> Result<(), ApplyError> {
        if self.entry.files.iter().any(|f| f.path == rel) {
            return Ok(());
        }
        self.entry.files.push(FileRecord {
            path: rel.to_owned(),
            before: None,
            after_sha256: None,
        });
        self.persist()
    }

    /// Writes `contents` to `rel` after journaling its previous bytes.
    pub fn write(&mut self, rel: &str, contents: &[u8]) -> Result<(), ApplyError> {
        let path = self.project.resolve(rel)?;
        self.snapshot(rel)?;
        // A rewrite (the lock is written twice) forgets the hash of the previous write first:
        // a crash right after this write must not make undo see the new bytes as a user edit.
        if let Some(record) = self.entry.files.iter_mut().find(|f| f.path == rel)
            && record.after_sha256.take().is_some()
        {
            self.persist()?;
        }
        write_atomic(&path, contents).map_err(|source| ApplyError::Io {
            path: rel.to_owned(),
            action: "write",
            source,
        })?;
        if let Some(record) = self.entry.files.iter_mut().find(|f| f.path == rel) {
            record.after_sha256 = Some(sha256_hex(contents));
        }
        Ok(())
    }

    /// Applies one file change, refusing if the file on disk is no longer what the plan saw.
    pub fn apply_change(&mut self, change: &FileChange) -> Result<(), ApplyError> {
        let current = self.project.read(&change.path)?;
        let expected = match change.action {
            FileAction::Create => None,
            FileAction::Modify => change.before.as_deref().map(str::as_bytes),
        };
        if current.as_deref() == expected {
            return self.write(&change.path, change.after.as_bytes());
        }
        // A UTF-16 file (read as text by its BOM) is compared as text and written back in
        // its own encoding.
        let decoded = current
            .as_deref()
            .and_then(billing_changeset::TextEncoding::decode);
        match (decoded, change.action, change.before.as_deref()) {
            (Some((text, encoding)), FileAction::Modify, Some(before))
                if encoding != billing_changeset::TextEncoding::Utf8 && text == before =>
            {
                self.write(&change.path, &encoding.encode(&change.after))
            }
            _ => Err(ApplyError::Drifted {
                path: change.path.clone(),
            }),
        }
    }

    /// Notes a package install command that ran, persisted at once.
    pub fn record_install(&mut self, command: &str) -> Result<(), ApplyError> {
        self.entry.installs.push(command.to_owned());
        self.persist()
    }

    /// Notes an install left to the user (see [`crate::journal::PendingInstall`]).
    pub fn record_pending_install(
        &mut self,
        install: crate::journal::PendingInstall,
    ) -> Result<(), ApplyError> {
        self.entry.pending_installs.push(install);
        self.persist()
    }

    /// Adds an opaque remote record (from `billing-remote`) for undo, persisted at once.
    pub fn record_remote(&mut self, record: serde_json::Value) -> Result<(), ApplyError> {
        self.entry.remote.push(record);
        self.persist()
    }

    /// Marks the apply complete: records the final hash of every touched file (also those a
    /// package manager changed) so undo can tell later edits apart.
    pub fn commit(mut self) -> Result<JournalEntry, ApplyError> {
        for i in 0..self.entry.files.len() {
            let rel = self.entry.files[i].path.clone();
            let now = self.project.read(&rel)?;
            self.entry.files[i].after_sha256 = now.as_deref().map(sha256_hex);
        }
        self.entry.complete = true;
        self.persist()?;
        Ok(self.entry)
    }

    /// Puts back every file touched so far and deletes the journal entry: the project is as
    /// it was before [`Transaction::begin`]. Remote records are returned for the caller.
    ///
    /// When remote records exist (a resumed apply whose first run already called the API),
    /// the entry stays, without its files, so `undo` can still revert those remote changes.
    pub fn rollback(mut self) -> Result<Vec<serde_json::Value>, ApplyError> {
        crate::undo::restore(&self.project, &self.entry, true)?;
        if !self.entry.remote.is_empty() {
            self.entry.files.clear();
            self.persist()?;
        }
        Ok(self.entry.remote)
    }
}
