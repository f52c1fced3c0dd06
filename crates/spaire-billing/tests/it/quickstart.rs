//! The README's quick start: with no token and no emulator running, `setup` on the bundled
//! sample app ends with a counted event, and a later `verify` passes on the same state
//! (the built-in emulator's, kept in the project).

use crate::common::{billing, copy_dir, repo_root, transcript};

/// The built-in emulator takes the default port while a command runs: these tests take
/// turns, or one would find the other's emulator answering there.
static DEFAULT_PORT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The local environment's default URL answers nobody (the precondition of the flow).
fn nothing_listens_on_the_local_default() -> bool {
    std::net::TcpStream::connect_timeout(
        &"127.0.0.1:8787".parse().unwrap(),
        std::time::Duration::from_millis(300),
    )
    .is_err()
}

#[test]
fn setup_then_verify_on_the_sample_app_with_no_token_and_no_emulator() {
    let _turn = DEFAULT_PORT.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        nothing_listens_on_the_local_default(),
        "something listens on 127.0.0.1:8787; this test needs the port free"
    );
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples/quickstart"), dir.path());
    let root = dir.path().display().to_string();

    let setup = billing()
        .args(["setup", "--yes", "--no-install"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&setup, &[(&root, "[PROJECT]")]);
    assert_eq!(setup.status.code(), Some(0), "{text}");
    assert!(
        text.contains("using the built-in one for this run"),
        "{text}"
    );
    assert!(
        text.contains("Created product `Local demo plan` in the local emulator"),
        "{text}"
    );
    assert!(
        text.contains("PASS  api-calls  event `api-call`, count: expected 1, observed 1"),
        "setup ends with a counted event:\n{text}"
    );
    assert!(
        text.contains("spaire-billing emulator --db .spaire-billing/emulator.sqlite"),
        "{text}"
    );
    let ignore = std::fs::read_to_string(dir.path().join(".spaire-billing/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "emulator.sqlite*"), "{ignore}");
    assert!(dir.path().join(".spaire-billing/emulator.sqlite").is_file());
    // The plan keeps no port of this run's emulator.
    let plan = std::fs::read_to_string(dir.path().join("spaire-billing.toml")).unwrap();
    assert!(!plan.contains("server_url"), "{plan}");
    // Nor does the generated code: it reads SPAIRE_SERVER_URL (the report says to export
    // it) and falls back to sandbox, where the same plan goes next.
    let client = std::fs::read_to_string(dir.path().join("src/lib/spaire/client.js")).unwrap();
    assert!(
        client.contains("const DEFAULT_SERVER_URL = \"https://sandbox-api.spairehq.com\";"),
        "{client}"
    );
    assert!(!client.contains("127.0.0.1"), "{client}");
    assert!(
        text.contains("SPAIRE_SERVER_URL=http://127.0.0.1:8787` exported"),
        "{text}"
    );

    // A later command sees the same meters: nothing else to set up.
    let verify = billing().arg("verify").arg(dir.path()).output().unwrap();
    let text = transcript(&verify, &[(&root, "[PROJECT]")]);
    assert_eq!(verify.status.code(), Some(0), "{text}");
    assert!(text.contains("verified: 1 of 1 meters"), "{text}");

    // So does `status`: the remote steps are done in the project's emulator state.
    let status = billing().arg("status").arg(dir.path()).output().unwrap();
    let text = transcript(&status, &[(&root, "[PROJECT]")]);
    assert!(text.contains("Pending: no remote steps"), "{text}");

    // Running setup again changes nothing and still counts.
    let again = billing()
        .args(["setup", "--yes", "--no-install"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&again, &[(&root, "[PROJECT]")]);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(text.contains("Files: none to change"), "{text}");
    assert!(text.contains("reuse: meter `api-calls` exists"), "{text}");
    assert!(text.contains("verified: 1 of 1 meters"), "{text}");

    // Promotion: the same plan goes to sandbox. The emulator's demo product is not carried
    // over (a real product is asked for), and the generated code needs no change but its
    // comment naming the environment.
    let client_before =
        std::fs::read_to_string(dir.path().join("src/lib/spaire/client.js")).unwrap();
    let sandbox = billing()
        .args([
            "setup",
            "--environment",
            "sandbox",
            "--yes",
            "--no-install",
            "--no-checks",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&sandbox, &[(&root, "[PROJECT]")]);
    assert_eq!(sandbox.status.code(), Some(2), "{text}");
    assert!(text.contains("hint: pass `--product NAME_OR_ID`"), "{text}");
    let sandbox = billing()
        .args(["setup", "--environment", "sandbox", "--product", "Pro"])
        .args(["--yes", "--no-install", "--no-checks"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&sandbox, &[(&root, "[PROJECT]")]);
    assert_eq!(sandbox.status.code(), Some(0), "{text}");
    let plan = std::fs::read_to_string(dir.path().join("spaire-billing.toml")).unwrap();
    assert!(plan.contains("environment = \"sandbox\""), "{plan}");
    assert!(plan.contains("product = \"Pro\""), "{plan}");
    let client_after =
        std::fs::read_to_string(dir.path().join("src/lib/spaire/client.js")).unwrap();
    assert_eq!(
        client_after.replace("(sandbox)", "(local)"),
        client_before,
        "only the comment naming the environment changes"
    );
    // The checklist is sandbox's now, not the emulator's.
    assert!(text.contains("Create a test checkout"), "{text}");
    assert!(!text.contains("spaire-billing emulator --db"), "{text}");
}

/// On a terminal with no token, the first question offers the built-in emulator, and
/// taking it (enter) ends the conversation with a counted event.
#[cfg(unix)]
#[test]
fn with_no_token_the_wizard_offers_the_built_in_emulator_first() {
    const DOWN: &str = "\x1b[B";
    const ENTER: &str = "\r";
    let _turn = DEFAULT_PORT.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        nothing_listens_on_the_local_default(),
        "something listens on 127.0.0.1:8787; this test needs the port free"
    );
    let dir = crate::common::copy_fixture("detect", "express");
    let original = crate::common::tree(dir.path());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
    cmd.arg("setup")
        .arg(dir.path())
        .args(["--no-install", "--no-checks"])
        .env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_ACCESS_TOKEN")
        .env_remove("SPAIRE_SERVER_URL")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut s = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    let mut answer = |prompt: &str, keys: &[&str]| {
        s.exp_string(prompt)
            .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
        for key in keys {
            s.send(key).unwrap();
            s.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(60));
        }
    };
    answer(
        "SPAIRE_ACCESS_TOKEN is not set. Where should billing be set up?",
        &[],
    );
    answer("Try it now on the built-in emulator", &[ENTER]);
    answer("What do you want to meter?", &[DOWN, " ", ENTER]);
    answer("How do you want to price it?", &[ENTER]);
    answer("Create `Local demo plan`", &[ENTER]);
    answer("Which product should these prices attach to?", &[ENTER]);
    answer("Price per call", &["0.001", ENTER]);
    answer("Maximum metered charge", &[ENTER]);
    // The signed-in user comes first; a client-set header is further down.
    answer("which customer it serves?", &[]);
    answer("My framework's session", &[ENTER]);
    answer("Generate a webhook handler", &["n", ENTER]);
    answer("Apply these changes (local environment)?", &["y", ENTER]);
    let rest = s.exp_eof().unwrap();
    assert!(
        rest.contains("PASS  api-calls  event `api-call`, count: expected 1, observed 1"),
        "{rest}"
    );
    let plan = std::fs::read_to_string(dir.path().join("spaire-billing.toml")).unwrap();
    assert!(plan.contains("environment = \"local\""), "{plan}");
    assert!(plan.contains("product = \"Local demo plan\""), "{plan}");
    assert!(plan.contains("from = \"session\""), "{plan}");

    // Undo needs no emulator either: the built-in one reverts the objects it recorded (same
    // server, same organization) and the project is as it was, but for the emulator's state.
    let undo = billing()
        .args(["undo", "--yes"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = transcript(&undo, &[]);
    assert_eq!(undo.status.code(), Some(0), "{text}");
    assert!(
        text.contains("[local] archived meter `api-calls`"),
        "{text}"
    );
    let mut after = crate::common::tree(dir.path());
    after.retain(|path, _| !path.starts_with(".spaire-billing"));
    assert_eq!(after, original);
}
