//! pip's answers about the SDK requirement, remembered across runs in the project's state.
//!
//! Asking pip's resolver whether `spaire-sdk` installs together with a fully pinned
//! `requirements.txt` takes up to a minute and a half (it downloads package metadata), and
//! `status` / `plan` ask it on every run until the line is written. The answer only changes
//! when the file's bytes (and those of every file it includes with `-r` / `-c`, see
//! [`requirement_files`]), the requirement, or the interpreter and its pip change, so it is
//! kept under [`CACHE_DIR`] keyed by a SHA-256 of exactly those. A definite answer (resolved
//! at a version, or a conflict) is kept; "could not check" (offline, timeout) is not, so the
//! next run tries again.
//!
//! The cache is an optimisation only: a missing, unreadable, corrupt or unwritable cache
//! means pip is asked again, never an error. The directory carries its own `.gitignore`
//! (`*`), so it never shows up as a change in the user's repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pip_requirement::Resolution;

/// Where the answers live, relative to the project root.
pub(crate) const CACHE_DIR: &str = ".spaire-billing/cache";
const CACHE_FILE: &str = "pip-resolve.json";
/// Enough for a few requirement files and edits; the oldest answers are dropped first.
const MAX_ENTRIES: usize = 32;
/// Requirement files followed through `-r` / `-c` at the most (a cycle stops earlier).
const MAX_INCLUDED: usize = 64;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CacheFile {
    /// Key (hex SHA-256) → answer, with a sequence number so the oldest can be dropped.
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conflict: Option<Vec<String>>,
}

/// Removes the cache (and `.spaire-billing/` when nothing else is left in it): the undo of the
/// first apply returns the project to how it was before `spaire-billing` ran there. Best
/// effort: a cache that cannot be removed only costs a re-check.
pub(crate) fn forget(root: &Path) {
    let _ = std::fs::remove_dir_all(root.join(CACHE_DIR));
    if let Some(state) = Path::new(CACHE_DIR).parent() {
        // Fails, as it should, while the directory still holds anything.
        let _ = std::fs::remove_dir(root.join(state));
    }
}

/// The interpreter's and its pip's versions (`sys.version`, `pip.__version__`): a different
/// Python or pip may resolve differently. `None` when the interpreter cannot say, in which
/// case nothing is cached.
pub(crate) fn toolchain(python: &Path) -> Option<String> {
    let output = Command::new(python)
        .args([
            "-c",
            "import sys, pip; print(sys.version.split()[0], sys.platform, pip.__version__)",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}

/// Everything pip reads of `requirements` (in `dir`): its bytes and, recursively, those of
/// every file it includes with `-r` / `--requirement` / `-c` / `--constraint`, each with its
/// path, in the order pip meets them. A pin changed in an included `base.txt` changes pip's
/// answer, so it must change the key; an include that is missing is recorded as missing, so
/// creating it does too. Includes are relative to the including file's directory, as pip
/// reads them; URLs are left to the including line's own bytes.
pub(crate) fn requirement_files(dir: &Path, requirements: &str) -> Vec<u8> {
    let mut out = Vec::new();
    visit(dir, requirements, |relative, bytes| {
        let name = relative.to_string_lossy();
        out.extend((name.len() as u64).to_le_bytes());
        out.extend(name.as_bytes());
        match bytes {
            None => out.push(0),
            Some(bytes) => {
                out.push(1);
                out.extend((bytes.len() as u64).to_le_bytes());
                out.extend(bytes);
            }
        }
    });
    out
}

/// The text of `requirements` and of every file it includes, in the order pip meets them:
/// what the project pins, wherever the pins live (django-styleguide's `requirements.txt` is
/// one `-r requirements/base.txt`, whose lines pin everything).
pub(crate) fn requirement_texts(dir: &Path, requirements: &str) -> String {
    let mut out = String::new();
    visit(dir, requirements, |_, bytes| {
        if let Some(bytes) = bytes {
            out.push_str(&String::from_utf8_lossy(bytes));
            out.push('\n');
        }
    });
    out
}

/// Calls `each` with `requirements` and, depth-first in file order, every file it includes,
/// each once (relative to `dir`; its bytes, `None` when it cannot be read).
fn visit(dir: &Path, requirements: &str, mut each: impl FnMut(&Path, Option<&[u8]>)) {
    let mut seen = BTreeSet::new();
    let mut queue = vec![PathBuf::from(requirements)];
    while let Some(relative) = queue.pop() {
        if seen.len() >= MAX_INCLUDED || !seen.insert(relative.clone()) {
            continue;
        }
        let Ok(bytes) = std::fs::read(dir.join(&relative)) else {
            each(&relative, None);
            continue;
        };
        let parent = relative.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut found: Vec<PathBuf> = included(&String::from_utf8_lossy(&bytes))
            .into_iter()
            .map(|include| lexical(&parent.join(include)))
            .collect();
        each(&relative, Some(&bytes));
        // Depth-first in file order: the stack pops the first include first.
        found.reverse();
        queue.extend(found);
    }
}

/// `a/../b.txt` as `b.txt`, so an include cycle meets a path it has seen.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The files a requirements text includes (`-r base.txt`, `--constraint=c.txt`, …), as
/// written; URLs are not files.
fn included(text: &str) -> Vec<String> {
    // pip joins lines ending in `\` before it reads options.
    let joined = text.replace("\\\r\n", "").replace("\\\n", "");
    let mut out = Vec::new();
    for line in joined.lines() {
        // A comment starts a line or follows white space.
        let line = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(at) => &line[..at],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        let line = line.trim();
        let value = ["--requirement", "--constraint", "-r", "-c"]
            .iter()
            .find_map(|option| line.strip_prefix(option))
            .map(|rest| rest.trim().trim_start_matches('=').trim());
        if let Some(value) = value.filter(|v| !v.is_empty() && !v.contains("://")) {
            out.push(value.to_owned());
        }
    }
    out
}

/// The cache key: the dependency files' bytes (see [`requirement_files`]), the requirement
/// and the toolchain.
pub(crate) fn key(file_bytes: &[u8], requirement: &str, toolchain: &str) -> String {
    let mut hasher = Sha256::new();
    // v2: conflicts carry pip's "The conflict is caused by" lines (resolved without --quiet).
    hasher.update(b"v2");
    for part in [file_bytes, requirement.as_bytes(), toolchain.as_bytes()] {
        // Length-prefixed so that moving bytes between parts changes the key.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(root: &Path) -> CacheFile {
    std::fs::read(root.join(CACHE_DIR).join(CACHE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The remembered definite answer for `key`, if any.
pub(crate) fn lookup(root: &Path, key: &str) -> Option<Resolution> {
    let entry = read(root).entries.remove(key)?;
    match (entry.resolved, entry.conflict) {
        (Some(version), None) if !version.is_empty() => Some(Resolution::Resolved(version)),
        (None, Some(lines)) if !lines.is_empty() => Some(Resolution::Conflict(lines)),
        _ => None,
    }
}

/// Remembers a definite answer; an unchecked one, or any failure to write, is ignored.
pub(crate) fn store(root: &Path, key: &str, answer: &Resolution) {
    let (resolved, conflict) = match answer {
        Resolution::Resolved(version) => (Some(version.clone()), None),
        Resolution::Conflict(lines) => (None, Some(lines.clone())),
        Resolution::Unchecked(_) => return,
    };
    let mut cache = read(root);
    let seq = cache.entries.values().map(|e| e.seq).max().unwrap_or(0) + 1;
    cache.entries.insert(
        key.to_owned(),
        Entry {
            seq,
            resolved,
            conflict,
        },
    );
    while cache.entries.len() > MAX_ENTRIES {
        let Some(oldest) = cache
            .entries
            .iter()
            .min_by_key(|(_, e)| e.seq)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        cache.entries.remove(&oldest);
    }
    let _ = write(root, &cache);
}

fn write(root: &Path, cache: &CacheFile) -> std::io::Result<()> {
    let dir = root.join(CACHE_DIR);
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "# spaire-billing's cache; safe to delete\n*\n")?;
    }
    // Written beside and renamed, so a concurrent reader sees the old file or the new one.
    let mut tmp = tempfile::Builder::new()
        .prefix(".pip-resolve")
        .suffix(".part")
        .tempfile_in(&dir)?;
    std::io::Write::write_all(
        &mut tmp,
        billing_apply::state_json::render(cache).as_bytes(),
    )?;
    tmp.persist(dir.join(CACHE_FILE)).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_unchecked_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let k = key(b"flask==3.0.0\n", "spaire-sdk", "3.12.3 linux 24.0");
        assert_eq!(lookup(root, &k), None, "no cache is a miss, not an error");
        store(root, &k, &Resolution::Unchecked("offline".into()));
        assert_eq!(lookup(root, &k), None);
        assert!(!root.join(CACHE_DIR).exists(), "nothing written for it");

        store(root, &k, &Resolution::Resolved("0.28.4".into()));
        assert_eq!(
            lookup(root, &k),
            Some(Resolution::Resolved("0.28.4".into()))
        );
        assert_eq!(
            std::fs::read_to_string(root.join(CACHE_DIR).join(".gitignore")).unwrap(),
            "# spaire-billing's cache; safe to delete\n*\n"
        );
        let other = key(b"flask==3.0.1\n", "spaire-sdk", "3.12.3 linux 24.0");
        assert_ne!(other, k, "a changed file is another key");
        assert_eq!(lookup(root, &other), None);
        let conflict = Resolution::Conflict(vec!["The user requested x==1".into()]);
        store(root, &other, &conflict);
        assert_eq!(lookup(root, &other), Some(conflict));
        assert_eq!(
            lookup(root, &k),
            Some(Resolution::Resolved("0.28.4".into()))
        );

        // Corrupt: a miss; the next store replaces it.
        std::fs::write(root.join(CACHE_DIR).join(CACHE_FILE), "{not json").unwrap();
        assert_eq!(lookup(root, &k), None);
        store(root, &k, &Resolution::Resolved("0.28.5".into()));
        assert_eq!(
            lookup(root, &k),
            Some(Resolution::Resolved("0.28.5".into()))
        );
    }

    #[test]
    fn includes_are_part_of_the_key_and_cycles_end() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("requirements")).unwrap();
        std::fs::write(
            root.join("requirements.txt"),
            "-r requirements/base.txt  # shared\n--constraint=constraints.txt\nflask==3.0.0\n",
        )
        .unwrap();
        // Relative to the including file's directory, and a cycle back to the top.
        std::fs::write(
            root.join("requirements/base.txt"),
            "-r common.txt\n-r ../requirements.txt\n",
        )
        .unwrap();
        std::fs::write(root.join("requirements/common.txt"), "boto3==1.35.0\n").unwrap();
        let first = requirement_files(root, "requirements.txt");
        assert_eq!(first, requirement_files(root, "requirements.txt"));

        std::fs::write(root.join("requirements/common.txt"), "boto3==1.35.1\n").unwrap();
        let changed = requirement_files(root, "requirements.txt");
        assert_ne!(first, changed, "a pin changed two includes deep");

        std::fs::write(root.join("constraints.txt"), "urllib3<2\n").unwrap();
        assert_ne!(
            changed,
            requirement_files(root, "requirements.txt"),
            "a missing include that appears"
        );
        assert_eq!(
            included(
                "# -r not.txt\n-rdirect.txt\n-c https://x/c.txt\n--requirement \\\n  joined.txt\nflask # -r no.txt\n"
            ),
            vec!["direct.txt", "joined.txt"]
        );
    }

    #[test]
    fn the_sdk_is_pinned_like_the_included_files_pin() {
        // django-styleguide: the top file only includes the one that pins everything.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("requirements")).unwrap();
        std::fs::write(
            dir.path().join("requirements.txt"),
            "-r requirements/base.txt\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("requirements/base.txt"),
            "Django==5.2.7\npsycopg[binary]==3.2.3\n",
        )
        .unwrap();
        let texts = requirement_texts(dir.path(), "requirements.txt");
        assert!(texts.contains("Django==5.2.7"), "{texts}");
        assert_eq!(
            crate::pip_requirement::requirement_line(&texts, "spaire-sdk", Some("0.28.4")),
            "spaire-sdk==0.28.4"
        );
    }

    #[test]
    fn keys_differ_by_requirement_and_toolchain_and_the_oldest_are_dropped() {
        let base = key(b"a==1\n", "spaire-sdk", "3.12 linux 24.0");
        assert_ne!(
            base,
            key(b"a==1\n", "spaire-sdk==0.28.4", "3.12 linux 24.0")
        );
        assert_ne!(base, key(b"a==1\n", "spaire-sdk", "3.13 linux 24.0"));
        assert_ne!(base, key(b"a==1\n", "spaire-sdk", "3.12 linux 25.0"));

        let dir = tempfile::tempdir().unwrap();
        for i in 0..(MAX_ENTRIES + 3) {
            store(
                dir.path(),
                &format!("k{i}"),
                &Resolution::Resolved(format!("0.{i}")),
            );
        }
        assert_eq!(read(dir.path()).entries.len(), MAX_ENTRIES);
        assert_eq!(lookup(dir.path(), "k0"), None);
        assert!(lookup(dir.path(), &format!("k{}", MAX_ENTRIES + 2)).is_some());
    }
}
