//! Transaction-level tests: round trips through apply and undo on real directories.

use std::collections::BTreeMap;
use std::path::Path;

use billing_changeset::{FileAction, FileChange, FileOrigin};

use crate::*;

/// Every file and directory under `root` with its bytes (directories map to `None`).
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(rel, None);
                stack.push(path);
            } else {
                out.insert(rel, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/app.ts"), "const app = express();\n").unwrap();
    std::fs::write(dir.path().join(".gitignore"), "node_modules").unwrap();
    dir
}

fn create(path: &str, after: &str) -> FileChange {
    FileChange {
        path: path.into(),
        action: FileAction::Create,
        origin: FileOrigin::Generated,
        before: None,
        after: after.into(),
        summary: String::new(),
    }
}

fn modify(path: &str, before: &str, after: &str) -> FileChange {
    FileChange {
        path: path.into(),
        action: FileAction::Modify,
        origin: FileOrigin::Wired,
        before: Some(before.into()),
        after: after.into(),
        summary: String::new(),
    }
}

#[test]
fn apply_then_undo_leaves_the_tree_byte_identical() {
    let dir = fixture();
    let original = tree(dir.path());
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "sandbox").unwrap();
    tx.apply_change(&create("src/lib/spaire/client.ts", "// generated\n"))
        .unwrap();
    tx.apply_change(&modify(
        "src/app.ts",
        "const app = express();\n",
        "const app = express();\napp.use(meter);\n",
    ))
    .unwrap();
    let gitignore = gitignore_with_journal(Some("node_modules")).unwrap();
    tx.write(".gitignore", gitignore.as_bytes()).unwrap();
    let mut lock = Lock::default();
    lock.files.insert(
        "src/lib/spaire/client.ts".into(),
        LockedFile {
            sha256: sha256_hex(b"// generated\n"),
            origin: FileOrigin::Generated,
        },
    );
    tx.write(LOCK_PATH, lock.render().as_bytes()).unwrap();
    let entry = tx.commit().unwrap();
    assert!(entry.complete);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
        "node_modules\n# spaire-billing undo journal (previous file contents; not for commits)\n.spaire-billing/journal/\n"
    );
    assert_eq!(Lock::read(&project).unwrap(), lock);

    let outcome = undo_latest(&project, false).unwrap();
    assert_eq!(outcome.restored, [".gitignore", "src/app.ts"]);
    assert_eq!(tree(dir.path()), original);
    assert!(matches!(
        undo_latest(&project, false),
        Err(ApplyError::NothingToUndo)
    ));
}

#[test]
fn a_failure_midway_rolls_back_what_was_written() {
    let dir = fixture();
    let original = tree(dir.path());
    // `src/app.ts/x` cannot be created: its parent is a file.
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "sandbox").unwrap();
    tx.apply_change(&modify(
        "src/app.ts",
        "const app = express();\n",
        "changed\n",
    ))
    .unwrap();
    let err = tx.apply_change(&create("src/app.ts/x", "y")).unwrap_err();
    assert!(matches!(err, ApplyError::Io { .. }), "{err:?}");
    tx.rollback().unwrap();
    assert_eq!(tree(dir.path()), original);
}

#[test]
fn drift_since_the_plan_is_refused() {
    let dir = fixture();
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "sandbox").unwrap();
    let err = tx
        .apply_change(&modify("src/app.ts", "something else\n", "x"))
        .unwrap_err();
    assert!(matches!(err, ApplyError::Drifted { .. }));
    let err = tx.apply_change(&create("src/app.ts", "x")).unwrap_err();
    assert!(matches!(err, ApplyError::Drifted { .. }));
    tx.rollback().unwrap();
}

#[test]
fn undo_refuses_to_discard_later_edits_without_force() {
    let dir = fixture();
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "sandbox").unwrap();
    tx.apply_change(&create("src/billing.ts", "generated\n"))
        .unwrap();
    tx.commit().unwrap();
    std::fs::write(dir.path().join("src/billing.ts"), "generated\n// my edit\n").unwrap();
    let err = undo_latest(&project, false).unwrap_err();
    assert!(
        matches!(err, ApplyError::EditedSinceApply { ref paths } if paths == &["src/billing.ts"])
    );
    assert!(dir.path().join("src/billing.ts").exists());
    let outcome = undo_latest(&project, true).unwrap();
    assert_eq!(outcome.removed[0], "src/billing.ts");
    assert!(!dir.path().join("src/billing.ts").exists());
}

#[cfg(unix)]
#[test]
fn changes_through_a_symlink_out_of_the_project_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let dir = fixture();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("src/lib")).unwrap();
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "sandbox").unwrap();
    let err = tx
        .apply_change(&create("src/lib/spaire.ts", "x"))
        .unwrap_err();
    assert!(matches!(err, ApplyError::UnsafePath { .. }), "{err:?}");
    let err = tx.apply_change(&create("../escape.ts", "x")).unwrap_err();
    assert!(matches!(err, ApplyError::UnsafePath { .. }), "{err:?}");
    tx.rollback().unwrap();
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn binary_snapshots_round_trip() {
    let dir = fixture();
    std::fs::write(dir.path().join("blob.bin"), [0xff, 0x00, 0xfe]).unwrap();
    let original = tree(dir.path());
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "sandbox").unwrap();
    tx.write("blob.bin", b"text now").unwrap();
    tx.commit().unwrap();
    undo_latest(&project, false).unwrap();
    assert_eq!(tree(dir.path()), original);
}

#[test]
fn gitignore_entry_is_added_once() {
    assert_eq!(
        gitignore_with_journal(Some("/.spaire-billing/journal/\n")),
        None
    );
    assert_eq!(gitignore_with_journal(Some(".spaire-billing\n")), None);
    let fresh = gitignore_with_journal(None).unwrap();
    assert!(fresh.ends_with(".spaire-billing/journal/\n"));
    assert_eq!(gitignore_with_journal(Some(&fresh)), None);
}

#[test]
fn a_resumed_apply_keeps_the_first_runs_snapshots_so_one_undo_restores_both() {
    let dir = fixture();
    let original = tree(dir.path());
    let project = Project::open(dir.path()).unwrap();
    let mut first = Transaction::begin(&project, "abcd", "local").unwrap();
    first.write("src/app.ts", b"half-applied\n").unwrap();
    first
        .record_remote(serde_json::json!({"op": "intent"}))
        .unwrap();
    // Killed here: the entry stays incomplete.
    drop(first);
    let entry = journal::latest(&project).unwrap().unwrap();
    assert!(!entry.complete);

    let mut resumed = Transaction::resume(&project, entry, "ef01").unwrap();
    resumed.write("src/app.ts", b"applied\n").unwrap();
    resumed.write("src/new.ts", b"new\n").unwrap();
    let done = resumed.commit().unwrap();
    assert_eq!(done.remote.len(), 1, "the first run's remote records stay");
    assert_eq!(journal::entries(&project).unwrap().len(), 1);

    undo_latest(&project, false).unwrap();
    assert_eq!(tree(dir.path()), original);
}

#[test]
fn a_rollback_keeps_an_entry_that_holds_remote_records() {
    let dir = fixture();
    let original = tree(dir.path());
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "local").unwrap();
    tx.write("src/app.ts", b"changed\n").unwrap();
    tx.record_remote(serde_json::json!({"op": "done"})).unwrap();
    let id = tx.entry().id.clone();
    tx.rollback().unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("src/app.ts")).unwrap(),
        original["src/app.ts"].clone().unwrap()
    );
    let kept = journal::latest(&project).unwrap().expect("kept for undo");
    assert!(kept.files.is_empty());
    journal::append_remote(&project, &id, vec![serde_json::json!({"op": "reverted"})]).unwrap();
    assert_eq!(journal::latest(&project).unwrap().unwrap().remote.len(), 2);
    undo_latest(&project, false).unwrap();
    assert_eq!(tree(dir.path()), original);
}

#[test]
fn an_undo_killed_midway_can_be_run_again_without_force() {
    let dir = fixture();
    let original = tree(dir.path());
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "local").unwrap();
    tx.write("src/app.ts", b"changed\n").unwrap();
    tx.write("src/new.ts", b"new\n").unwrap();
    tx.commit().unwrap();
    // The first undo restored one file, then died.
    std::fs::write(dir.path().join("src/app.ts"), "const app = express();\n").unwrap();
    undo_latest(&project, false).unwrap();
    assert_eq!(tree(dir.path()), original);
}

#[test]
fn a_crash_right_after_rewriting_a_file_still_undoes_without_force() {
    let dir = fixture();
    let original = tree(dir.path());
    let project = Project::open(dir.path()).unwrap();
    let mut tx = Transaction::begin(&project, "abcd", "local").unwrap();
    tx.write(LOCK_PATH, b"{\"v\": 1}\n").unwrap();
    tx.record_remote(serde_json::json!({"op": "intent"}))
        .unwrap();
    tx.write(LOCK_PATH, b"{\"v\": 2}\n").unwrap();
    // Killed before the next journal write.
    drop(tx);
    undo_latest(&project, false).unwrap();
    assert_eq!(tree(dir.path()), original);
}

/// flask-s3-upload's `requirements.txt` is UTF-16 with a BOM and CRLF: read as text, changed,
/// written back as UTF-16; a drifted file is still refused, and undo restores the bytes.
#[test]
fn a_utf16_file_is_modified_in_its_own_encoding() {
    use billing_changeset::TextEncoding;
    let dir = fixture();
    let original_text = "Flask==1.1.1\r\nboto3==1.10.46\r\n";
    let path = dir.path().join("requirements.txt");
    std::fs::write(&path, TextEncoding::Utf16Le.encode(original_text)).unwrap();
    let original = tree(dir.path());
    let project = Project::open(dir.path()).unwrap();
    assert_eq!(
        project.read_text("requirements.txt").unwrap().as_deref(),
        Some(original_text)
    );
    let after = format!("{original_text}spaire-sdk==0.28.4\r\n");
    let mut tx = Transaction::begin(&project, "abcd", "sandbox").unwrap();
    assert!(matches!(
        tx.apply_change(&modify("requirements.txt", "Flask==2\r\n", &after)),
        Err(ApplyError::Drifted { .. })
    ));
    tx.apply_change(&modify("requirements.txt", original_text, &after))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        TextEncoding::Utf16Le.encode(&after)
    );
    undo_latest(&project, false).unwrap();
    assert_eq!(tree(dir.path()), original);
}
