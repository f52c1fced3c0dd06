//! `spaire-billing apply` and `undo`: exactly the previewed plan, atomic, idempotent and
//! reversible byte for byte; never silent about edited files; nothing outside the root.

use crate::common::{billing, transcript};
use crate::plan::{copy_project, plan_hash, tree};

fn hash_of(dir: &std::path::Path) -> String {
    let output = billing().arg("plan").arg(dir).output().unwrap();
    assert!(output.status.success(), "{}", transcript(&output, &[]));
    plan_hash(&String::from_utf8_lossy(&output.stdout))
}

#[test]
fn apply_then_undo_round_trips_and_a_second_apply_is_a_no_op() {
    let dir = copy_project("express-app");
    let original = tree(dir.path());
    let hash = hash_of(dir.path());

    let output = billing()
        .args(["apply", "--yes", "--plan", &hash])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    assert!(
        stdout.contains(&format!("Applied plan {hash} (sandbox)")),
        "{stdout}"
    );
    assert!(
        stdout.contains("Dashboard steps — pending:\n  [sandbox] create meter `api-calls`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Rollback steps: `spaire-billing undo`"),
        "{stdout}"
    );
    let lock = std::fs::read_to_string(dir.path().join(".spaire-billing/lock.json")).unwrap();
    assert!(lock.contains("\"src/lib/spaire/client.js\""), "{lock}");
    assert!(
        lock.contains("\"pending\""),
        "pending dashboard steps are recorded: {lock}"
    );
    let gitignore = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    assert!(gitignore.contains(".spaire-billing/journal/"));

    // Re-running changes nothing: not the files, not the lock, no new journal entry.
    let applied = tree(dir.path());
    let again = billing().arg("plan").arg(dir.path()).output().unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("Nothing to change"),
        "{}",
        transcript(&again, &[])
    );
    let second = billing()
        .args(["apply", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        transcript(&second, &[])
    );
    assert!(String::from_utf8_lossy(&second.stdout).starts_with("Nothing to change"));
    assert_eq!(tree(dir.path()), applied);

    let undo = billing().arg("undo").arg(dir.path()).output().unwrap();
    assert_eq!(undo.status.code(), Some(0), "{}", transcript(&undo, &[]));
    assert!(String::from_utf8_lossy(&undo.stdout).contains("restored src/index.js"));
    assert_eq!(
        tree(dir.path()),
        original,
        "undo leaves the project byte-identical"
    );
    let nothing = billing().arg("undo").arg(dir.path()).output().unwrap();
    assert_eq!(nothing.status.code(), Some(1));
}

#[test]
fn without_a_terminal_apply_needs_yes() {
    let dir = copy_project("express-app");
    let before = tree(dir.path());
    let output = billing().arg("apply").arg(dir.path()).output().unwrap();
    insta::assert_snapshot!(transcript(&output, &[]));
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_plan_hash_the_project_no_longer_matches_is_refused() {
    let dir = copy_project("express-app");
    let hash = hash_of(dir.path());
    let index = dir.path().join("src/index.js");
    let mut source = std::fs::read_to_string(&index).unwrap();
    source.push_str("// edited after the plan\n");
    std::fs::write(&index, source).unwrap();
    let before = tree(dir.path());
    let output = billing()
        .args(["apply", "--yes", "--plan", &hash])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("the plan changed since `{hash}` was shown")),
        "{text}"
    );
    assert!(
        text.contains("hint: run `spaire-billing plan` again"),
        "{text}"
    );
    assert_eq!(tree(dir.path()), before, "nothing was written");
}

#[test]
fn an_edited_generated_file_is_not_overwritten_without_an_explicit_yes() {
    let dir = copy_project("express-app");
    let ok = billing()
        .args(["apply", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", transcript(&ok, &[]));
    let customer = dir.path().join("src/lib/spaire/customer.js");
    let mut edited = std::fs::read_to_string(&customer).unwrap();
    edited.push_str("// my own tweak\n");
    std::fs::write(&customer, &edited).unwrap();
    // A plan change that regenerates that file.
    let plan_path = dir.path().join("spaire-billing.toml");
    let plan = std::fs::read_to_string(&plan_path).unwrap();
    std::fs::write(
        &plan_path,
        plan.replace("header = \"x-customer-id\"", "header = \"x-user-id\""),
    )
    .unwrap();

    let preview = billing().arg("plan").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&preview.stderr);
    assert!(
        stderr
            .contains("`src/lib/spaire/customer.js` was edited since spaire-billing generated it"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&preview.stdout).contains("-// my own tweak"),
        "the diff shows what is lost"
    );

    let refused = billing()
        .args(["apply", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&refused, &[]);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("--overwrite-edited"), "{text}");
    assert_eq!(std::fs::read_to_string(&customer).unwrap(), edited);

    let forced = billing()
        .args(["apply", "--yes", "--overwrite-edited"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(forced.status.success(), "{}", transcript(&forced, &[]));
    let now = std::fs::read_to_string(&customer).unwrap();
    assert!(now.contains("x-user-id") && !now.contains("my own tweak"));
}

#[cfg(unix)]
#[test]
fn a_symlink_leading_out_of_the_project_is_refused_and_nothing_is_written() {
    let outside = tempfile::tempdir().unwrap();
    let dir = copy_project("express-app");
    std::fs::create_dir_all(dir.path().join("src/lib")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("src/lib/spaire")).unwrap();
    let before = tree(dir.path());
    let output = billing()
        .args(["apply", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("passes through a symlink that points outside the project"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
    assert_eq!(tree(dir.path()), before, "nothing written inside either");
}

#[test]
fn undo_refuses_to_discard_edits_made_after_the_apply() {
    let dir = copy_project("express-app");
    let ok = billing()
        .args(["apply", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", transcript(&ok, &[]));
    let index = dir.path().join("src/index.js");
    let mut source = std::fs::read_to_string(&index).unwrap();
    source.push_str("// work done after the apply\n");
    std::fs::write(&index, &source).unwrap();
    let output = billing().arg("undo").arg(dir.path()).output().unwrap();
    let text = transcript(&output, &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("1 file(s) changed since the last apply: src/index.js"),
        "{text}"
    );
    assert!(text.contains("--force"), "{text}");
    assert_eq!(std::fs::read_to_string(&index).unwrap(), source);
}

#[test]
fn status_lists_what_is_pending_without_printing_the_token() {
    let dir = copy_project("express-app");
    std::fs::write(
        dir.path().join(".env"),
        "SPAIRE_ACCESS_TOKEN=spaire_oat_secret123\n",
    )
    .unwrap();
    // With a token, status asks the API; an unreachable one is reported, not fatal.
    let output = billing()
        .env("SPAIRE_SERVER_URL", "http://127.0.0.1:1")
        .arg("status")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        !text.contains("secret123"),
        "the token is never printed: {text}"
    );
    assert!(
        text.contains("Token:   SPAIRE_ACCESS_TOKEN is set (.env)"),
        "{text}"
    );
    assert!(
        text.contains("Remote:  could not check the remote setup"),
        "{text}"
    );
    let no_token = copy_project("express-app");
    let output = billing()
        .arg("status")
        .arg(no_token.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Token:   missing: SPAIRE_ACCESS_TOKEN is not set"),
        "{text}"
    );
    assert!(
        text.contains("[sandbox] create meter `api-calls`"),
        "{text}"
    );
    assert!(text.contains("Applied: nothing yet"), "{text}");
}
