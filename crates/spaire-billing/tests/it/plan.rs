//! `spaire-billing plan`: the preview of every change, and plan-file errors that name the key
//! path, line and column. Writes nothing.

use crate::common::{billing, copy_fixture, fixtures, transcript, tree};

/// Copies a fixture project into a fresh temporary directory (tests never touch fixtures).
pub fn copy_project(name: &str) -> tempfile::TempDir {
    copy_fixture("plan", name)
}

/// The hash on the `Plan hash:` line.
pub fn plan_hash(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Plan hash: "))
        .expect("the preview ends with the plan hash")
        .trim()
        .to_owned()
}

#[test]
fn plan_shows_every_change_and_a_hash_and_writes_nothing() {
    let dir = copy_project("express-app");
    let before = tree(dir.path());
    let output = billing().arg("plan").arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    // Files as unified diffs: created ones against /dev/null, the app entry as a patch.
    assert!(
        stdout.contains("--- /dev/null\n+++ b/src/lib/spaire/client.js\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--- a/src/index.js\n+++ b/src/index.js\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+.spaire-billing/journal/\n"),
        "the journal is git-ignored"
    );
    // Env names, remote steps naming their environment, and the hash.
    assert!(
        stdout.contains("  SPAIRE_ACCESS_TOKEN  required"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[sandbox] dashboard step: create meter `api-calls`"),
        "{stdout}"
    );
    let hash = plan_hash(&stdout);
    assert_eq!(hash.len(), 16);
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains(&format!("spaire-billing apply --plan {hash}"))
    );
    // The SDK is already a dependency: no install.
    assert!(!stdout.contains("Package installs:"), "{stdout}");
    assert_eq!(tree(dir.path()), before, "plan must not write");

    // --json carries the same hash and the same files.
    let json = billing()
        .args(["plan", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(json.status.success());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["hash"], hash.as_str());
    assert_eq!(value["environment"], "sandbox");
    let files: Vec<&str> = value["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"src/index.js") && files.contains(&".env.example"),
        "{files:?}"
    );
    assert!(
        value["remote"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["environment"] == "sandbox")
    );
}

#[test]
fn plan_names_the_environment_it_was_asked_for() {
    let dir = copy_project("express-app");
    let output = billing()
        .args(["plan", "--environment", "production"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", transcript(&output, &[]));
    assert!(
        stdout.contains("[production] dashboard step: create meter `api-calls`"),
        "{stdout}"
    );
    assert!(stdout.contains("https://api.spairehq.com"), "{stdout}");
}

fn plan_error(toml: &str) -> String {
    let dir = copy_project("express-app");
    std::fs::write(dir.path().join("spaire-billing.toml"), toml).unwrap();
    let output = billing().arg("plan").arg(dir.path()).output().unwrap();
    transcript(&output, &[])
}

#[test]
fn bad_toml_names_key_path_line_and_fix() {
    let toml = std::fs::read_to_string(fixtures().join("plan/bad-unit-amount.toml")).unwrap();
    insta::assert_snapshot!(plan_error(&toml));
}

#[test]
fn several_problems_are_reported_at_once() {
    let toml = std::fs::read_to_string(fixtures().join("plan/typos.toml")).unwrap();
    insta::assert_snapshot!(plan_error(&toml));
}

#[test]
fn a_package_path_outside_the_project_is_refused() {
    let toml = "[project]\npath = \"../elsewhere\"\n[[meters]]\npreset = \"api-calls\"\n";
    insta::assert_snapshot!(plan_error(toml));
}

#[test]
fn a_missing_plan_file_says_how_to_create_one() {
    let dir = copy_project("express-app");
    std::fs::remove_file(dir.path().join("spaire-billing.toml")).unwrap();
    let output = billing().arg("plan").arg(dir.path()).output().unwrap();
    let root = dir.path().canonicalize().unwrap();
    insta::assert_snapshot!(transcript(&output, &[(root.to_str().unwrap(), "[ROOT]")]));
}

#[test]
fn in_a_monorepo_the_package_must_be_named_and_code_goes_into_it() {
    let dir = copy_project("monorepo");
    let output = billing().arg("plan").arg(dir.path()).output().unwrap();
    insta::assert_snapshot!(transcript(&output, &[]));

    let plan_path = dir.path().join("spaire-billing.toml");
    let mut plan = std::fs::read_to_string(&plan_path).unwrap();
    plan.push_str("[project]\npath = \"apps/api\"\n");
    std::fs::write(&plan_path, plan).unwrap();
    let output = billing().arg("plan").arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", transcript(&output, &[]));
    let created: Vec<&str> = stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("  create ")
                .or_else(|| l.strip_prefix("  modify "))
        })
        .map(|l| l.split("  (").next().unwrap())
        .collect();
    assert!(created.contains(&"apps/api/src/index.ts"), "{created:?}");
    assert!(
        created
            .iter()
            .all(|p| p.starts_with("apps/api/") || *p == ".gitignore"),
        "nothing outside the chosen package but the journal's .gitignore entry: {created:?}"
    );
}

#[test]
fn plan_warns_about_uncommitted_changes() {
    let dir = copy_project("express-app");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
    };
    match git(&["init", "-q"]) {
        Ok(out) if out.status.success() => {}
        _ => {
            assert!(!crate::common::in_ci(), "git is required in CI");
            eprintln!("skipped: git is not installed");
            return;
        }
    }
    assert!(git(&["add", "-A"]).unwrap().status.success());
    assert!(
        git(&["commit", "-q", "-m", "init"])
            .unwrap()
            .status
            .success()
    );
    let clean = billing().arg("plan").arg(dir.path()).output().unwrap();
    assert!(!String::from_utf8_lossy(&clean.stderr).contains("uncommitted"));

    std::fs::write(dir.path().join("notes.txt"), "wip\n").unwrap();
    let dirty = billing().arg("plan").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&dirty.stderr);
    assert!(dirty.status.success());
    assert!(
        stderr.contains("warning: the git work tree has uncommitted changes"),
        "{stderr}"
    );
}

/// Issue #18 (openai-realtime-console): model-API calls that no meter of the plan bills are
/// listed with the meter that would bill them, in `plan`'s text and `--json`, and the exit
/// code stays 0; with that meter added they become manual steps saying why they cannot be
/// wired where they are (browser code; a Realtime session, whose usage arrives as events).
#[test]
fn calls_no_meter_bills_are_listed_with_the_meter_that_would() {
    let dir = copy_project("unmetered-realtime");
    let output = billing().arg("plan").arg(dir.path()).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let section = &stdout[stdout.find("Not metered").expect("listed")..];
    insta::assert_snapshot!("unmetered_plan_text", section);

    let output = billing()
        .args(["plan", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    insta::assert_json_snapshot!("unmetered_plan_json", json["metering"]["unmetered_calls"]);

    let plan = dir.path().join("spaire-billing.toml");
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &plan,
        format!("{text}\n[[meters]]\npreset = \"llm-tokens\"\n"),
    )
    .unwrap();
    let output = billing()
        .args(["plan", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["metering"].get("unmetered_calls").is_none(), "{json}");
    let steps: Vec<&serde_json::Value> = json["metering"]["manual_steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "call-site")
        .collect();
    insta::assert_json_snapshot!("unmetered_then_metered_steps", steps);
}
