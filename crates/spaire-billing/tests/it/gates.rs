//! Issue 15: generated and edited files pass the project's own gates. Each fixture in
//! `tests/fixtures/gates/` configures a formatter and linter the way real projects do; after
//! `apply`, the project's own tools (from the shared toolchains) must find nothing to fix,
//! a second plan must be a no-op (the lock holds the formatted bytes), and `undo` must
//! restore the project byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{billing, copy_fixture, in_ci, repo_root, transcript};

/// The toolchain directory with `probe` in it, or `None` (a skip, outside CI) when it is not
/// installed. `GATES_TOOLCHAIN_NODE` / `GATES_TOOLCHAIN_VENV` point elsewhere for local runs.
#[allow(clippy::print_stderr)]
fn toolchain(env: &str, default: &str, probe: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(default));
    if dir.join(probe).exists() {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "`{}` is missing from {} (run scripts/install-test-deps.sh)",
        probe,
        dir.display()
    );
    eprintln!("skipping: `{probe}` is not installed in {}", dir.display());
    None
}

fn node_modules(probe: &str) -> Option<PathBuf> {
    toolchain(
        "GATES_TOOLCHAIN_NODE",
        "tests/toolchains/node/node_modules",
        probe,
    )
}

fn venv(probe: &str) -> Option<PathBuf> {
    toolchain(
        "GATES_TOOLCHAIN_VENV",
        "tests/toolchains/python/.venv",
        probe,
    )
}

/// The project's files (not the linked toolchain), for the byte-for-byte undo check.
fn project_tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // The toolchain links, and the caches the gate runs below leave behind.
            if [
                "node_modules",
                ".venv",
                ".ruff_cache",
                "__pycache__",
                ".eslintcache",
            ]
            .contains(&name.as_str())
            {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn link(target: &Path, at: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, at).unwrap();
    #[cfg(not(unix))]
    let _ = (target, at);
}

/// Runs the project's tool; it must succeed (nothing to fix, no lint error).
fn gate(dir: &Path, program: &Path, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{} {}` failed on the applied project:\n{}{}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// apply → the gates pass → plan is a no-op → undo restores every byte.
fn apply_passes_gates(dir: &Path, gates: &[(PathBuf, &[&str])]) {
    let original = project_tree(dir);
    let out = billing()
        .args(["apply", "--yes", "--no-install"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("could not format"),
        "every formatter ran: {stderr}"
    );
    for (program, args) in gates {
        gate(dir, program, args);
    }
    let again = billing().arg("plan").arg(dir).output().unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("Nothing to change"),
        "the formatted files are what the plan produces:\n{}",
        transcript(&again, &[])
    );
    let undo = billing().arg("undo").arg(dir).output().unwrap();
    assert_eq!(undo.status.code(), Some(0), "{}", transcript(&undo, &[]));
    let restored = project_tree(dir);
    let differ: Vec<&String> = restored
        .keys()
        .chain(original.keys())
        .filter(|k| restored.get(*k) != original.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "undo restores every byte; these differ: {differ:?}"
    );
}

#[cfg(unix)]
#[test]
fn prettier_and_eslint_project() {
    let Some(modules) = node_modules(".bin/eslint") else {
        return;
    };
    let project = copy_fixture("gates", "prettier-eslint");
    let dir = project.path();
    link(&modules, &dir.join("node_modules"));
    let bin = dir.join("node_modules/.bin");
    apply_passes_gates(
        dir,
        &[
            (bin.join("prettier"), &["--check", "src"]),
            (bin.join("eslint"), &["--max-warnings", "0", "src"]),
            (bin.join("tsc"), &["--noEmit", "-p", "."]),
        ],
    );
}

#[cfg(unix)]
#[test]
fn biome_project() {
    let Some(modules) = node_modules(".bin/biome") else {
        return;
    };
    let project = copy_fixture("gates", "biome");
    let dir = project.path();
    link(&modules, &dir.join("node_modules"));
    let bin = dir.join("node_modules/.bin");
    apply_passes_gates(dir, &[(bin.join("biome"), &["check", "src"])]);
}

#[cfg(unix)]
#[test]
fn ruff_black_isort_project() {
    let Some(venv) = venv("bin/ruff") else {
        return;
    };
    let project = copy_fixture("gates", "ruff-black-isort");
    let dir = project.path();
    link(&venv, &dir.join(".venv"));
    let bin = dir.join(".venv/bin");
    apply_passes_gates(
        dir,
        &[
            (bin.join("ruff"), &["check", "app"]),
            (bin.join("black"), &["--check", "app"]),
            (bin.join("isort"), &["--check-only", "app"]),
        ],
    );
}
