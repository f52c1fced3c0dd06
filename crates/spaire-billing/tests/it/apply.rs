//! `spaire-billing apply` and `undo`: exactly the previewed plan, atomic, idempotent and
//! reversible byte for byte; never silent about edited files; nothing outside the root.

use crate::common::tree;
use crate::common::{billing, transcript};
use crate::plan::{copy_project, plan_hash};

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

    // A local plan needs no token: the emulator's built-in one is used.
    let local = copy_project("express-app");
    let plan = local.path().join("spaire-billing.toml");
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &plan,
        text.replace("environment = \"sandbox\"", "environment = \"local\""),
    )
    .unwrap();
    let output = billing()
        .env("SPAIRE_SERVER_URL", "http://127.0.0.1:1")
        .arg("status")
        .arg(local.path())
        .output()
        .unwrap();
    let text = transcript(&output, &[]);
    assert!(
        text.contains("Plan:    spaire-billing.toml (local environment)"),
        "{text}"
    );
    assert!(
        text.contains("Token:   not needed (local environment"),
        "{text}"
    );
    assert!(!text.contains("SPAIRE_ACCESS_TOKEN is not set"), "{text}");
}

/// The whole flow against the emulator: files and remote objects applied after one preview,
/// a second apply changes nothing, undo reverts both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_remote_objects_round_trip_against_the_emulator() {
    use billing_api::MeterListQuery;

    let (emulator, client) = crate::common::account::serve_with_pro().await;
    let url = emulator.base_url();

    let dir = copy_project("express-app");
    let original = tree(dir.path());
    let root = dir.path().to_path_buf();
    // The CLI blocks; the emulator runs on the runtime's other worker.
    let run = move |args: &[String]| {
        let mut cmd = billing();
        cmd.args(args)
            .args(["--server-url", &url])
            .env("SPAIRE_ACCESS_TOKEN", "spaire_oat_local-emulator-token")
            .arg(&root);
        cmd.output().unwrap()
    };
    let run = std::sync::Arc::new(run);
    let cli = |args: &[&str]| {
        let run = run.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || run(&args))
    };

    let plan = cli(&["plan", "--environment", "local"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(plan.status.success(), "{}", transcript(&plan, &[]));
    assert!(
        stdout.contains("[local] create meter `api-calls`"),
        "{stdout}"
    );
    let hash = plan_hash(&stdout);

    let applied = cli(&["apply", "--environment", "local", "--yes", "--plan", &hash])
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&applied.stdout).into_owned();
    assert!(applied.status.success(), "{}", transcript(&applied, &[]));
    assert!(
        stdout.contains("Dashboard steps — completed:\n  [local] created meter `api-calls`"),
        "{stdout}"
    );
    let meters = client
        .meters(&MeterListQuery::default())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(meters.iter().filter(|m| m.name == "api-calls").count(), 1);

    let again = cli(&["apply", "--environment", "local", "--yes"])
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("Nothing to change"),
        "{}",
        transcript(&again, &[])
    );
    let meters = client
        .meters(&MeterListQuery::default())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(meters.len(), 1, "no duplicate meter");

    let undo = cli(&["undo"]).await.unwrap();
    assert!(undo.status.success(), "{}", transcript(&undo, &[]));
    assert!(String::from_utf8_lossy(&undo.stdout).contains("[local] archived meter `api-calls`"));
    let meters = client
        .meters(&MeterListQuery::default())
        .collect_all()
        .await
        .unwrap();
    assert!(
        meters.iter().all(|m| m.is_archived()),
        "the meter created is archived"
    );
    let products = client
        .products(&billing_api::ProductListQuery::default())
        .collect_all()
        .await
        .unwrap();
    let active: Vec<_> = products[0]
        .prices
        .iter()
        .filter(|p| !p.is_archived)
        .collect();
    assert_eq!(active.len(), 1, "the product keeps only its fixed price");
    assert_eq!(active[0].amount_type, "fixed");
    assert_eq!(tree(dir.path()), original);
}

/// On a terminal, apply shows the plan and asks; for an edited generated file it shows the
/// diff and asks again, and "no" leaves everything as it was.
#[cfg(unix)]
#[test]
fn on_a_terminal_apply_asks_and_shows_the_diff_of_an_edited_file() {
    let dir = copy_project("express-app");
    let spawn = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
        cmd.args(args)
            .arg(dir.path())
            .env_remove("RUST_BACKTRACE")
            .env_remove("SPAIRE_ACCESS_TOKEN")
            .env_remove("SPAIRE_SERVER_URL")
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        rexpect::session::spawn_command(cmd, Some(20_000)).unwrap()
    };
    // Yes to the plan: files are written.
    let mut session = spawn(&["apply", "--skip-installs"]);
    session.exp_string("Plan hash:").unwrap();
    session
        .exp_string("Apply these changes (sandbox environment)?")
        .unwrap();
    session.send("y").unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("Applied plan").unwrap();
    session.exp_eof().unwrap();
    let customer = dir.path().join("src/lib/spaire/customer.js");
    let mut edited = std::fs::read_to_string(&customer).unwrap();
    edited.push_str("// my own tweak\n");
    std::fs::write(&customer, &edited).unwrap();
    let plan_path = dir.path().join("spaire-billing.toml");
    let plan = std::fs::read_to_string(&plan_path).unwrap();
    std::fs::write(&plan_path, plan.replace("x-customer-id", "x-user-id")).unwrap();
    let before = tree(dir.path());

    // Yes to the plan, no to overwriting the edited file: cancelled, nothing changed.
    let mut session = spawn(&["apply", "--skip-installs"]);
    session.exp_string("Apply these changes").unwrap();
    session.send("y").unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("-// my own tweak").unwrap();
    session
        .exp_string("Overwrite `src/lib/spaire/customer.js`?")
        .unwrap();
    session.send("n").unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session
        .exp_string("cancelled: `src/lib/spaire/customer.js` was not overwritten")
        .unwrap();
    session.exp_eof().unwrap();
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_fastapi_project_round_trips_with_the_sdk_recorded_in_requirements() {
    let dir = copy_project("fastapi-app");
    let original = tree(dir.path());
    // Without pip's resolver (tested with real pip in billing-ops): the line stays unpinned
    // whatever PyPI answers today, so plan and apply agree on the hash.
    let billing = || {
        let mut cmd = billing();
        cmd.env("SPAIRE_BILLING_PYTHON", "off");
        cmd
    };
    let preview = billing().arg("plan").arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&preview.stdout).into_owned();
    assert!(preview.status.success(), "{}", transcript(&preview, &[]));
    assert!(
        stdout.contains("(in .) python -m pip install spaire-sdk"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" uvicorn==0.32.1\n+spaire-sdk\n"),
        "{stdout}"
    );
    assert!(stdout.contains("+++ b/.env.example\n"), "{stdout}");
    assert!(
        stdout.contains("[sandbox] dashboard step: create meter `llm-token-usage`"),
        "{stdout}"
    );

    let applied = billing()
        .args([
            "apply",
            "--yes",
            "--skip-installs",
            "--plan",
            &plan_hash(&stdout),
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", transcript(&applied, &[]));
    let env_example = std::fs::read_to_string(dir.path().join(".env.example")).unwrap();
    assert!(
        env_example.contains("\nSPAIRE_ACCESS_TOKEN=\n"),
        "names only: {env_example}"
    );
    let again = billing().arg("plan").arg(dir.path()).output().unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("Nothing to change"),
        "the SDK is now listed, so no install either: {}",
        transcript(&again, &[])
    );
    let undo = billing().arg("undo").arg(dir.path()).output().unwrap();
    assert!(undo.status.success(), "{}", transcript(&undo, &[]));
    assert_eq!(tree(dir.path()), original);
}

/// gpt-tools pins `pydantic==1.10.9`, below what spaire-sdk requires. When pip gives no
/// answer (it ran past its 90 s on a loaded machine; here it is off), that pin alone says
/// the SDK cannot be added: the plan writes the variant without it (`standardwebhooks`), not
/// an unpinned `spaire-sdk` line that leaves the file unresolvable.
#[test]
fn a_pin_below_the_sdks_requirements_keeps_it_out_when_pip_cannot_answer() {
    let dir = copy_project("fastapi-app");
    std::fs::write(
        dir.path().join("requirements.txt"),
        "fastapi==0.97.0\npydantic==1.10.9\nuvicorn==0.22.0\n",
    )
    .unwrap();
    let preview = billing()
        .env("SPAIRE_BILLING_PYTHON", "off")
        .arg("plan")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&preview.stdout).into_owned();
    assert!(preview.status.success(), "{}", transcript(&preview, &[]));
    assert!(!stdout.contains("pip install spaire-sdk"), "{stdout}");
    assert!(
        stdout.contains(" uvicorn==0.22.0\n+standardwebhooks\n"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&preview.stderr);
    assert!(
        stderr.contains("requirements.txt:2 `pydantic==1.10.9`"),
        "the pin to raise is named: {stderr}"
    );
}

/// pip's resolver (up to 90 s) runs once per set of requirement bytes: a second `plan`, and
/// `status`, answer from `.spaire-billing/cache/`; a pin changed in a file the requirements
/// include with `-r` asks pip again. A fake interpreter counts the resolver's runs.
#[cfg(unix)]
#[test]
fn plan_and_status_ask_pip_once_per_requirement_bytes_including_r_includes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = copy_project("fastapi-app");
    let bin = tempfile::tempdir().unwrap();
    let runs = bin.path().join("runs");
    let python = bin.path().join("python");
    std::fs::write(
        &python,
        format!(
            r#"#!/bin/sh
if [ "$1" = "-c" ]; then echo "3.12.3 linux 24.0"; exit 0; fi
echo run >> '{}'
while [ "$1" != "--report" ]; do shift; done
printf '{{"install":[{{"metadata":{{"name":"spaire-sdk","version":"0.28.4"}}}}]}}' > "$2"
"#,
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("requirements.txt"),
        "-r requirements-base.txt\nuvicorn==0.32.1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("requirements-base.txt"),
        "fastapi==0.115.6\n",
    )
    .unwrap();
    let runs_so_far = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let run = |command: &str| {
        let output = billing()
            .env("SPAIRE_BILLING_PYTHON", &python)
            .arg(command)
            .arg(dir.path())
            .output()
            .unwrap();
        // `status` exits 1 while the plan is not applied; it must still have run.
        let expected = if command == "status" { 1 } else { 0 };
        assert_eq!(
            output.status.code(),
            Some(expected),
            "{}",
            transcript(&output, &[])
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let first = run("plan");
    assert!(
        first.contains(" uvicorn==0.32.1\n+spaire-sdk==0.28.4\n"),
        "pinned at the fake resolver's version: {first}"
    );
    assert_eq!(runs_so_far(), 1);
    assert_eq!(run("plan"), first);
    run("status");
    assert_eq!(
        runs_so_far(),
        1,
        "same bytes: plan and status read the cache"
    );

    std::fs::write(
        dir.path().join("requirements-base.txt"),
        "fastapi==0.115.7\n",
    )
    .unwrap();
    run("plan");
    assert_eq!(
        runs_so_far(),
        2,
        "the `-r` include changed: pip is asked again"
    );
    run("status");
    assert_eq!(runs_so_far(), 2);
}

#[test]
fn a_dry_run_reports_everything_and_writes_nothing() {
    let dir = copy_project("express-app");
    let before = tree(dir.path());
    let output = billing()
        .args(["apply", "--dry-run"])
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
    assert!(stdout.starts_with("Dry run of plan "), "{stdout}");
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("(sandbox): nothing was written")
    );
    assert!(stdout.contains("  modify src/index.js"), "{stdout}");
    assert!(
        stdout.contains("Dashboard steps — pending:\n  [sandbox] create meter `api-calls`"),
        "{stdout}"
    );
    assert!(!stdout.contains("Rollback steps"), "{stdout}");
    let json = billing()
        .args(["apply", "--dry-run", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["journal"], serde_json::Value::Null);
    assert_eq!(tree(dir.path()), before);
}
