//! `spaire-billing mcp` driven by the real Python MCP client, and `agent install`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{billing, copy_dir, in_ci, repo_root, transcript, tree};

/// Copies a fixture directory (including dot-files) into a fresh temp dir.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/mcp/fixtures").join(name),
        dir.path(),
    );
    dir
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

fn agent_install(dir: &Path, extra: &[&str]) -> std::process::Output {
    billing()
        .args(["agent", "install", "--dir"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn agent_install_into_a_bare_project_writes_every_file_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let first = agent_install(dir.path(), &["--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", transcript(&first, &[]));
    let stderr = String::from_utf8_lossy(&first.stderr);
    for file in [
        ".claude/commands/setup-usage-billing.md",
        ".mcp.json",
        ".cursor/rules/setup-usage-billing.mdc",
        ".cursor/mcp.json",
        "AGENTS.md",
        ".codex/config.toml",
    ] {
        assert!(stderr.contains(&format!("Created {file}")), "{stderr}");
    }
    insta::assert_snapshot!("bare_mcp_json", read(dir.path(), ".mcp.json"));
    insta::assert_snapshot!("bare_cursor_mcp_json", read(dir.path(), ".cursor/mcp.json"));
    insta::assert_snapshot!("bare_codex_config", read(dir.path(), ".codex/config.toml"));
    insta::assert_snapshot!(
        "claude_command",
        read(dir.path(), ".claude/commands/setup-usage-billing.md")
    );
    insta::assert_snapshot!(
        "cursor_rule",
        read(dir.path(), ".cursor/rules/setup-usage-billing.mdc")
    );
    insta::assert_snapshot!("bare_agents_md", read(dir.path(), "AGENTS.md"));

    let before = tree(dir.path());
    let second = agent_install(dir.path(), &[]);
    // Nothing to write, so no confirmation is needed even without a terminal.
    insta::assert_snapshot!("second_run", transcript(&second, &[]));
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn agent_install_merges_into_other_tools_config_and_is_idempotent() {
    let dir = copy_fixture("agent-existing");
    let output = agent_install(dir.path(), &["--yes"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    insta::assert_snapshot!("merged_mcp_json", read(dir.path(), ".mcp.json"));
    insta::assert_snapshot!(
        "merged_cursor_mcp_json",
        read(dir.path(), ".cursor/mcp.json")
    );
    insta::assert_snapshot!(
        "merged_codex_config",
        read(dir.path(), ".codex/config.toml")
    );
    let agents = read(dir.path(), "AGENTS.md");
    assert!(agents.starts_with(
        "# Agent notes\n\n- Run `pnpm test` before committing.\n- Never edit generated files under `src/gen/`.\n\n<!-- spaire-billing:begin -->\n## Usage-based billing (Spaire)\n"
    ), "{agents}");
    assert!(
        agents.ends_with("<!-- spaire-billing:end -->\n"),
        "{agents}"
    );

    let before = tree(dir.path());
    let again = agent_install(dir.path(), &["--yes"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&again.stderr).contains("Created"));
    assert_eq!(tree(dir.path()), before, "a second run changes nothing");
}

#[test]
fn agent_install_shows_the_plan_and_needs_yes_without_a_terminal() {
    let dir = copy_fixture("agent-existing");
    let before = tree(dir.path());
    let output = agent_install(dir.path(), &["--claude"]);
    let dir_str = dir.path().display().to_string();
    insta::assert_snapshot!("needs_yes", transcript(&output, &[(&dir_str, "[PROJECT]")]));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        tree(dir.path()),
        before,
        "nothing is written without confirmation"
    );

    let dry = agent_install(dir.path(), &["--cursor", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", transcript(&dry, &[]));
    assert!(String::from_utf8_lossy(&dry.stdout).contains("modify .cursor/mcp.json"));
    assert_eq!(tree(dir.path()), before, "a dry run writes nothing");
}

#[test]
fn agent_install_only_touches_the_selected_agent() {
    let dir = tempfile::tempdir().unwrap();
    let output = agent_install(dir.path(), &["--codex", "--yes"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let files: Vec<String> = tree(dir.path())
        .into_iter()
        .filter_map(|(path, bytes)| bytes.map(|_| path))
        .collect();
    assert_eq!(files, vec![".codex/config.toml", "AGENTS.md"]);
}

#[test]
fn agent_install_refuses_broken_config_and_keeps_a_customised_entry() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".mcp.json"), "{\n  \"mcpServers\": {\n").unwrap();
    let output = agent_install(dir.path(), &["--claude", "--yes"]);
    insta::assert_snapshot!("broken_json", transcript(&output, &[]));
    assert!(
        !dir.path().join(".claude").exists(),
        "nothing is written when one file is broken"
    );

    std::fs::write(
        dir.path().join(".mcp.json"),
        r#"{"mcpServers": {"spaire-billing": {"command": "/opt/bin/spaire-billing", "args": ["mcp"]}}}"#,
    )
    .unwrap();
    let output = agent_install(dir.path(), &["--claude", "--yes"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("left as is"));
    assert!(read(dir.path(), ".mcp.json").contains("/opt/bin/spaire-billing"));
}

/// The Python interpreter of the shared test venv, or `None` (with the reason printed) when
/// it is missing outside CI. In CI a missing toolchain fails the test.
#[allow(clippy::print_stderr)] // the skip reason must reach the test output
fn python() -> Option<PathBuf> {
    let python = repo_root().join("tests/toolchains/python/.venv/bin/python");
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", "import mcp"])
            .output()
            .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        !in_ci(),
        "the Python `mcp` package is missing from tests/toolchains/python/.venv (run scripts/install-test-deps.sh)"
    );
    eprintln!(
        "skipping: the Python `mcp` package is not installed in tests/toolchains/python/.venv"
    );
    None
}

fn mcp_client(python: &Path, args: &[&str]) -> std::process::Output {
    Command::new(python)
        .arg(repo_root().join("tests/mcp/mcp_client.py"))
        .args(args)
        .args(["--binary", env!("CARGO_BIN_EXE_spaire-billing")])
        .env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_ACCESS_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn mcp_server_lists_tools_and_resources_and_survives_bad_calls() {
    let Some(python) = python() else { return };
    let dir = copy_fixture("express-ts");
    let output = mcp_client(
        &python,
        &["handshake", "--project", &dir.path().display().to_string()],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let stdout =
        String::from_utf8_lossy(&output.stdout).replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
    insta::assert_snapshot!("handshake", stdout);
    // Logs were requested and must have gone to stderr, never into the protocol stream.
    assert!(String::from_utf8_lossy(&output.stderr).contains("serving MCP over stdio"));
}

/// The whole agent flow against the emulator: detect → propose → (drift refused) → propose →
/// apply → verify → status → undo, then the project is back to what it was before the apply.
#[test]
fn mcp_flow_detect_propose_apply_verify_undo_against_the_emulator() {
    let Some(python) = python() else { return };
    let emulator = billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default())
        .expect("the emulator starts");
    let dir = copy_fixture("express-ts");
    let project = dir.path().display().to_string();
    let output = Command::new(&python)
        .arg(repo_root().join("tests/mcp/mcp_client.py"))
        .args(["flow", "--project", &project, "--edit", "src/server.ts"])
        .args(["--server-url", &emulator.base_url()])
        .args(["--binary", env!("CARGO_BIN_EXE_spaire-billing")])
        .env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_SERVER_URL")
        .env("SPAIRE_ACCESS_TOKEN", emulator.token())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    insta::assert_snapshot!("flow", String::from_utf8_lossy(&output.stdout));

    // Undo restored every file byte for byte: the project is the fixture plus the user's edit.
    let expected = copy_fixture("express-ts");
    let server = expected.path().join("src/server.ts");
    let edited = format!(
        "{}\n// edited after the proposal\n",
        read(expected.path(), "src/server.ts")
    );
    std::fs::write(&server, edited).unwrap();
    let without_state = |mut t: std::collections::BTreeMap<String, Option<Vec<u8>>>| {
        t.retain(|p, _| p != ".spaire-billing" && !p.starts_with(".spaire-billing/"));
        t
    };
    assert_eq!(
        without_state(tree(dir.path())),
        without_state(tree(expected.path()))
    );
}

/// Issue #18: an agent sets the `llm-cost` markup through `propose_plan`; the proposal's
/// generated code and meter explanation carry it, and a markup anywhere else (or out of
/// range) is refused with the reason.
#[test]
fn mcp_propose_plan_takes_the_llm_cost_markup() {
    let Some(python) = python() else { return };
    let dir = copy_fixture("express-ts");
    let output = mcp_client(
        &python,
        &["markup", "--project", &dir.path().display().to_string()],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    insta::assert_snapshot!("markup", String::from_utf8_lossy(&output.stdout));
}

/// Raw JSON-RPC that no SDK client would send: the server answers with errors where the
/// message has an id, keeps serving, and exits cleanly at end of input. stdout carries only
/// protocol messages.
#[test]
fn mcp_server_survives_malformed_json_rpc() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaire-billing"))
        .args(["mcp", "--dir"])
        .arg(dir.path())
        .env_remove("RUST_BACKTRACE")
        .env("SPAIRE_BILLING_LOG", "debug")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "{not json at all",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"verify","arguments":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"no/such/method"}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"apply_plan","arguments":{"plan_hash":7}}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_meter_presets"}}"#,
    ];
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    // Closing stdin ends the session; the server must answer everything first.
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout carries only JSON-RPC"))
        .collect();
    let by_id = |id: i64| messages.iter().find(|m| m["id"] == id);
    assert_eq!(
        by_id(1).unwrap()["result"]["serverInfo"]["name"],
        "spaire-billing"
    );
    // The line that is not JSON has no id to answer (rmcp sometimes sends an id-less
    // -32600, sometimes nothing); what matters is that every later request is answered.
    assert!(by_id(2).unwrap().get("error").is_some(), "{messages:#?}");
    assert_eq!(by_id(3).unwrap()["error"]["code"], -32601);
    let wrong_type = by_id(4).unwrap();
    assert!(
        wrong_type.get("error").is_some() || wrong_type["result"]["isError"] == true,
        "{wrong_type:#}"
    );
    let presets = &by_id(5).unwrap()["result"];
    assert_eq!(presets["isError"], false);
    assert_eq!(
        presets["structuredContent"]["presets"][0]["id"],
        "llm-tokens"
    );
}

#[test]
fn mcp_refuses_a_missing_directory_with_a_usage_error() {
    let output = billing()
        .args(["mcp", "--dir", "/definitely/not/here"])
        .output()
        .unwrap();
    insta::assert_snapshot!("missing_dir", transcript(&output, &[]));
}

/// On a terminal, `agent install` shows the diffs and asks; "no" writes nothing, "yes" writes.
#[cfg(unix)]
#[test]
fn agent_install_asks_on_a_terminal() {
    let dir = copy_fixture("agent-existing");
    let before = tree(dir.path());
    let spawn = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
        cmd.args(["agent", "install", "--cursor", "--dir"])
            .arg(dir.path())
            .env_remove("RUST_BACKTRACE")
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        rexpect::session::spawn_command(cmd, Some(20_000)).unwrap()
    };
    let answer = |session: &mut rexpect::session::PtySession, key: &str| {
        session.send(key).unwrap();
        session.flush().unwrap();
        session.send("\r").unwrap();
        session.flush().unwrap();
    };

    let mut session = spawn();
    session.exp_string("+++ b/.cursor/mcp.json").unwrap();
    session.exp_string("Write these 2 files?").unwrap();
    answer(&mut session, "n");
    session.exp_string("nothing written").unwrap();
    session.exp_eof().unwrap();
    assert_eq!(tree(dir.path()), before, "no means nothing is written");

    let mut session = spawn();
    session.exp_string("Write these 2 files?").unwrap();
    answer(&mut session, "y");
    session.exp_string("Updated .cursor/mcp.json").unwrap();
    session.exp_eof().unwrap();
    assert!(read(dir.path(), ".cursor/mcp.json").contains("\"spaire-billing\""));
    assert!(
        dir.path()
            .join(".cursor/rules/setup-usage-billing.mdc")
            .exists()
    );
}
