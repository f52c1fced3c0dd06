//! Shared test harness: run the real binary with a clean environment, and snapshot filters.

#![allow(dead_code)]

pub mod account;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `spaire-billing` binary with an environment that cannot leak into results:
/// no backtraces (this machine exports RUST_BACKTRACE=1), no colours, no real tokens.
pub fn billing() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spaire-billing"));
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("SPAIRE_ACCESS_TOKEN")
        .env_remove("SPAIRE_SERVER_URL")
        .env_remove("SPAIRE_BILLING_LOG")
        .env("NO_COLOR", "1");
    cmd
}

/// Root of the repository (for fixtures under `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crate lives two levels below the repository root")
        .to_path_buf()
}

/// Directory with fixture projects.
pub fn fixtures() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// Output of a finished command as one snapshot-friendly block.
pub fn transcript(output: &std::process::Output, replacements: &[(&str, &str)]) -> String {
    let mut text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    text
}

/// True when the test runs in CI, where a missing toolchain must fail instead of skipping.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Copies a directory tree (fixtures are never touched by tests: they run on copies).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of `tests/fixtures/<group>/<name>` in a fresh temporary directory.
pub fn copy_fixture(group: &str, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join(group).join(name), dir.path());
    dir
}

/// Every file and directory under `root` with its bytes (directories map to `None`), for
/// byte-for-byte "nothing changed" assertions.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, Option<Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
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
