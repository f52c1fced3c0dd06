//! Running package installs with the project's own package manager, output streamed to the
//! caller, and the manifests/lockfiles it may touch snapshotted first so undo restores them.

use std::path::Path;
use std::process::Stdio;

use billing_apply::Transaction;
use billing_changeset::PackageInstall;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::hooks::{ApplyHooks, Event};
use crate::produce::hinted_apply;

/// Files a package manager may create or rewrite while adding a dependency.
const MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "bun.lockb",
    "bun.lock",
    "pyproject.toml",
    "uv.lock",
    "poetry.lock",
    "Pipfile",
    "Pipfile.lock",
    "requirements.txt",
    "go.mod",
    "go.sum",
    "composer.json",
    "composer.lock",
    "Gemfile",
    "Gemfile.lock",
];

/// How many trailing output lines a report keeps.
const KEPT_LINES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum InstallOutcome {
    Succeeded {
        output: Vec<String>,
    },
    Failed {
        output: Vec<String>,
        reason: String,
    },
    /// Not run (declined, dry run, or asked not to); the user runs `command` themselves.
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallReport {
    pub cwd: String,
    pub command: String,
    pub outcome: InstallOutcome,
}

fn join(dir: &str, file: &str) -> String {
    if dir == "." || dir.is_empty() {
        file.to_owned()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    }
}

/// Snapshots every manifest in `cwd` and at the root into the journal, then runs `install`
/// (through npx when its package manager is declared but not on PATH).
pub async fn run_install(
    tx: &mut Transaction,
    install: &PackageInstall,
    hooks: &mut dyn ApplyHooks,
) -> anyhow::Result<InstallReport> {
    // Existing manifests are snapshotted before the install; ones the install creates (a
    // first lockfile) are recorded afterwards so undo removes them.
    let absent = snapshot_manifests(tx, &install.cwd)?;
    let cwd = tx
        .project()
        .resolve_dir(&install.cwd)
        .map_err(hinted_apply)?;
    let root = tx.project().resolve_dir(".").map_err(hinted_apply)?;
    let (argv, note) = crate::package_manager::runnable_argv(
        &install.argv,
        &cwd,
        &root,
        &crate::package_manager::on_this_path,
    );
    let command = billing_changeset::preview::shell_words(&argv);
    if let Some(note) = note {
        hooks.event(&Event::InstallOutput { line: &note });
    }
    hooks.event(&Event::InstallStarted {
        command: &command,
        cwd: &install.cwd,
    });
    let outcome = run(&cwd, &argv, hooks).await;
    for rel in absent {
        if tx.project().read(&rel).map_err(hinted_apply)?.is_some() {
            tx.record_created(&rel).map_err(hinted_apply)?;
        }
    }
    hooks.event(&Event::InstallFinished {
        command: &command,
        success: matches!(outcome, InstallOutcome::Succeeded { .. }),
    });
    if !matches!(outcome, InstallOutcome::Succeeded { .. }) {
        record_pending(tx, install, &command)?;
    }
    Ok(InstallReport {
        cwd: install.cwd.clone(),
        command,
        outcome,
    })
}

/// Journals the manifests an install left to the user may change, and the install itself,
/// so `undo` after the user ran exactly that command restores them without `--force`.
pub fn leave_to_user(
    tx: &mut Transaction,
    install: &PackageInstall,
) -> anyhow::Result<InstallReport> {
    let absent = snapshot_manifests(tx, &install.cwd)?;
    // The lockfile the user's run of the command will create is undone with the rest.
    if let Some(lockfile) = install.argv.first().and_then(|p| first_lockfile(p)) {
        let rel = join(&install.cwd, lockfile);
        if absent.contains(&rel) {
            tx.record_created(&rel).map_err(hinted_apply)?;
        }
    }
    let cwd = tx
        .project()
        .resolve_dir(&install.cwd)
        .map_err(hinted_apply)?;
    let root = tx.project().resolve_dir(".").map_err(hinted_apply)?;
    let (argv, _) = crate::package_manager::runnable_argv(
        &install.argv,
        &cwd,
        &root,
        &crate::package_manager::on_this_path,
    );
    let command = billing_changeset::preview::shell_words(&argv);
    record_pending(tx, install, &command)?;
    Ok(InstallReport {
        cwd: install.cwd.clone(),
        command,
        outcome: InstallOutcome::Skipped {
            reason: String::new(),
        },
    })
}

/// The lockfile `program` creates on its first install.
fn first_lockfile(program: &str) -> Option<&'static str> {
    Some(match program {
        "npm" => "package-lock.json",
        "pnpm" => "pnpm-lock.yaml",
        "yarn" => "yarn.lock",
        "bun" => "bun.lock",
        "uv" => "uv.lock",
        "poetry" => "poetry.lock",
        "pipenv" => "Pipfile.lock",
        "go" => "go.sum",
        "composer" => "composer.lock",
        "bundle" => "Gemfile.lock",
        _ => return None,
    })
}

fn record_pending(
    tx: &mut Transaction,
    install: &PackageInstall,
    command: &str,
) -> anyhow::Result<()> {
    tx.record_pending_install(billing_apply::PendingInstall {
        cwd: install.cwd.clone(),
        command: command.to_owned(),
        packages: install.packages.clone(),
    })
    .map_err(hinted_apply)
}

/// Snapshots the manifests that exist in `dir` and at the root; returns the ones that do not.
fn snapshot_manifests(tx: &mut Transaction, dir: &str) -> anyhow::Result<Vec<String>> {
    let mut absent = Vec::new();
    for dir in [dir, "."] {
        for manifest in MANIFESTS {
            let rel = join(dir, manifest);
            if tx.project().read(&rel).map_err(hinted_apply)?.is_some() {
                tx.snapshot(&rel).map_err(hinted_apply)?;
            } else {
                absent.push(rel);
            }
        }
    }
    Ok(absent)
}

async fn run(cwd: &Path, argv: &[String], hooks: &mut dyn ApplyHooks) -> InstallOutcome {
    let Some((program, args)) = argv.split_first() else {
        return InstallOutcome::Failed {
            output: Vec::new(),
            reason: "empty command".to_owned(),
        };
    };
    let spawned = tokio::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return InstallOutcome::Failed {
                output: Vec::new(),
                reason: format!("`{program}` is not installed or not on PATH"),
            };
        }
        Err(err) => {
            return InstallOutcome::Failed {
                output: Vec::new(),
                reason: format!("could not start `{program}`: {err}"),
            };
        }
    };
    let mut output = Vec::new();
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return InstallOutcome::Failed {
            output,
            reason: "could not capture the command's output".to_owned(),
        };
    };
    let mut out_lines = BufReader::new(stdout).lines();
    let mut err_lines = BufReader::new(stderr).lines();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let line = tokio::select! {
            line = out_lines.next_line(), if out_open => line.unwrap_or(None).or_else(|| { out_open = false; None }),
            line = err_lines.next_line(), if err_open => line.unwrap_or(None).or_else(|| { err_open = false; None }),
        };
        if let Some(line) = line {
            hooks.event(&Event::InstallOutput { line: &line });
            output.push(line);
            if output.len() > KEPT_LINES {
                output.remove(0);
            }
        }
    }
    match child.wait().await {
        Ok(status) if status.success() => InstallOutcome::Succeeded { output },
        Ok(status) => InstallOutcome::Failed {
            output,
            reason: format!("`{program}` exited with {status}"),
        },
        Err(err) => InstallOutcome::Failed {
            output,
            reason: format!("waiting for `{program}` failed: {err}"),
        },
    }
}
