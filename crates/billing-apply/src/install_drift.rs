//! Which changes since an apply are the ones its install command makes, so `undo` restores
//! them without `--force`: an apply whose install was skipped or failed tells the user to
//! run the command, and that run rewrites the manifest and lockfile the journal holds.
//!
//! Expected: a manifest that differs from before only by the install's packages being added
//! (JSON manifests compared as data, text manifests line by line), and a lockfile that now
//! names every package. Anything else is the user's own edit and still needs `--force`.

use std::collections::BTreeMap;

use crate::journal::{FileRecord, JournalEntry, PendingInstall};

const JSON_MANIFESTS: &[&str] = &["package.json", "composer.json"];
/// Sections a package manager adds a dependency to.
const JSON_SECTIONS: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "require",
    "require-dev",
];
const TEXT_MANIFESTS: &[&str] = &[
    "pyproject.toml",
    "Pipfile",
    "requirements.txt",
    "go.mod",
    "Gemfile",
];
const LOCKFILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "bun.lock",
    "bun.lockb",
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "go.sum",
    "composer.lock",
    "Gemfile.lock",
];

/// True when `record`'s file, now `now`, differs from what the apply left only as a pending
/// install of `entry` would change it.
pub fn expected(entry: &JournalEntry, record: &FileRecord, now: Option<&[u8]>) -> bool {
    let Some(now) = now else {
        return false;
    };
    let (dir, name) = match record.path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => (".", record.path.as_str()),
    };
    let before = record.before.as_ref().map(|b| b.bytes());
    entry
        .pending_installs
        .iter()
        .filter(|p| dir == "." || p.cwd.trim_end_matches('/') == dir)
        .any(|p| {
            if LOCKFILES.contains(&name) {
                p.packages.iter().all(|pkg| mentions(now, pkg))
            } else if JSON_MANIFESTS.contains(&name) {
                before
                    .as_deref()
                    .is_some_and(|before| json_adds_only(before, now, p))
            } else if TEXT_MANIFESTS.contains(&name) {
                before
                    .as_deref()
                    .is_some_and(|before| text_adds_only(before, now, p))
            } else {
                false
            }
        })
}

/// The bytes name `package` (Python lockfiles may spell `-` as `_`).
fn mentions(bytes: &[u8], package: &str) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.contains(package) || text.contains(&package.replace('-', "_"))
}

/// `now` is `before` plus the install's packages in its dependency sections.
fn json_adds_only(before: &[u8], now: &[u8], install: &PendingInstall) -> bool {
    let (Ok(before), Ok(mut now)) = (
        serde_json::from_slice::<serde_json::Value>(before),
        serde_json::from_slice::<serde_json::Value>(now),
    ) else {
        return false;
    };
    let mut added = false;
    for section in JSON_SECTIONS {
        let Some(deps) = now.get_mut(*section).and_then(|d| d.as_object_mut()) else {
            continue;
        };
        for package in &install.packages {
            if before.get(*section).and_then(|d| d.get(package)).is_none() {
                added |= deps.remove(package).is_some();
            }
        }
        // A section the install created holds only the new packages.
        if deps.is_empty()
            && before.get(*section).is_none()
            && let Some(object) = now.as_object_mut()
        {
            object.remove(*section);
        }
    }
    added && now == before
}

/// Every line `now` gains names a package of the install or is layout (brackets, a key whose
/// one-line value became a list); every line it loses is layout too.
fn text_adds_only(before: &[u8], now: &[u8], install: &PendingInstall) -> bool {
    let (before, now) = (
        String::from_utf8_lossy(before),
        String::from_utf8_lossy(now),
    );
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for line in before.lines() {
        *count.entry(line.trim()).or_default() -= 1;
    }
    for line in now.lines() {
        *count.entry(line.trim()).or_default() += 1;
    }
    // Brackets and commas, or a key whose value is only that (`dependencies = []` becoming
    // `dependencies = [`).
    let layout = |line: &str| {
        let value = line.split_once('=').map_or(line, |(_, v)| v);
        value.chars().all(|c| "[](){},\"' ".contains(c))
    };
    let names_package = |line: &str| {
        install
            .packages
            .iter()
            .any(|p| line.contains(p.as_str()) || line.contains(&p.replace('-', "_")))
    };
    let added: Vec<&str> = count
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(l, _)| *l)
        .collect();
    let removed: Vec<&str> = count
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|(l, _)| *l)
        .collect();
    added.iter().any(|l| names_package(l))
        && added.iter().all(|l| layout(l) || names_package(l))
        && removed.iter().all(|l| layout(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Snapshot;

    fn entry(cwd: &str, packages: &[&str]) -> JournalEntry {
        JournalEntry {
            version: 1,
            id: "x".into(),
            plan_hash: "h".into(),
            environment: "sandbox".into(),
            created_at: String::new(),
            files: Vec::new(),
            created_dirs: Vec::new(),
            remote: Vec::new(),
            installs: Vec::new(),
            pending_installs: vec![PendingInstall {
                cwd: cwd.into(),
                command: "pnpm add @spaire/sdk".into(),
                packages: packages.iter().map(|p| (*p).to_owned()).collect(),
            }],
            complete: true,
        }
    }

    fn record(path: &str, before: &str) -> FileRecord {
        FileRecord {
            path: path.into(),
            before: Some(Snapshot::Text(before.into())),
            after_sha256: None,
        }
    }

    #[test]
    fn package_json_gaining_the_package_is_expected_and_nothing_else_is() {
        let e = entry(".", &["@spaire/sdk"]);
        let before = "{\n  \"name\": \"a\",\n  \"dependencies\": {\"express\": \"^5\"}\n}\n";
        let r = record("package.json", before);
        let installed = r#"{"name":"a","dependencies":{"@spaire/sdk":"^0.45.1","express":"^5"}}"#;
        assert!(expected(&e, &r, Some(installed.as_bytes())));
        // The install plus an edit of the user's own: not the command's doing.
        let more = r#"{"name":"b","dependencies":{"@spaire/sdk":"^0.45.1","express":"^5"}}"#;
        assert!(!expected(&e, &r, Some(more.as_bytes())));
        let other = r#"{"name":"a","dependencies":{"lodash":"^4","express":"^5"}}"#;
        assert!(!expected(&e, &r, Some(other.as_bytes())));
        // A section the install created.
        let r = record("package.json", r#"{"name":"a"}"#);
        assert!(expected(
            &e,
            &r,
            Some(br#"{"name":"a","dependencies":{"@spaire/sdk":"^0.45.1"}}"#)
        ));
    }

    #[test]
    fn lockfiles_must_name_the_package_and_other_files_never_drift() {
        let e = entry("web", &["@spaire/sdk"]);
        let lock = record("web/pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
        assert!(expected(
            &e,
            &lock,
            Some(b"lockfileVersion: '9.0'\n  '@spaire/sdk':\n")
        ));
        assert!(!expected(
            &e,
            &lock,
            Some(b"lockfileVersion: '9.0'\n  lodash:\n")
        ));
        // Another package's lockfile is not this install's.
        let elsewhere = record("api/pnpm-lock.yaml", "");
        assert!(!expected(&e, &elsewhere, Some(b"'@spaire/sdk':")));
        let source = record("web/src/index.ts", "");
        assert!(!expected(&e, &source, Some(b"@spaire/sdk")));
    }

    #[test]
    fn pyproject_list_growing_by_the_package() {
        let e = entry(".", &["spaire-sdk"]);
        let r = record(
            "pyproject.toml",
            "[project]\nname = \"a\"\ndependencies = []\n",
        );
        let now = "[project]\nname = \"a\"\ndependencies = [\n    \"spaire-sdk>=0.2.0\",\n]\n";
        assert!(expected(&e, &r, Some(now.as_bytes())));
        let renamed = "[project]\nname = \"b\"\ndependencies = [\n    \"spaire-sdk>=0.2.0\",\n]\n";
        assert!(!expected(&e, &r, Some(renamed.as_bytes())));
    }
}
