//! Formatter answers remembered for the rest of the process.
//!
//! `setup` plans twice (the preview, then the re-plan whose hash `apply` checks) and nothing
//! is written in between, so every formatter and linter call of the second plan repeats one of
//! the first with the same input. In a monorepo with typed linting each ESLint call costs
//! seconds (create-t3-turbo's setup took 12 minutes, half of it the second plan). A tool's
//! answer depends on its input and on its configuration files, so the key holds both: the
//! call itself and the size and modification time of every configuration file the project's
//! gates name plus the manifests tools read settings from. An MCP server that lives across
//! the user's edits of those files asks the tools again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use billing_detect::gates::Gates;

use super::run::{ToolError, ToolOutput, run_tool};

/// Files beside the gates' own configs whose settings formatters and linters read.
const SETTINGS_FILES: &[&str] = &[
    "package.json",
    "tsconfig.json",
    "pyproject.toml",
    "setup.cfg",
    "tox.ini",
    ".flake8",
    ".editorconfig",
];

/// Enough for every call of a few plans; the map is emptied when it grows past this (a
/// long-lived MCP server planning many projects).
const CAPACITY: usize = 4096;

type Key = (String, PathBuf, Vec<String>, PathBuf, Option<String>);

fn calls() -> &'static Mutex<HashMap<Key, Result<ToolOutput, ToolError>>> {
    static CALLS: OnceLock<Mutex<HashMap<Key, Result<ToolOutput, ToolError>>>> = OnceLock::new();
    CALLS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Runs formatters for one project, answering a call made before under the same
/// configuration from memory.
pub(super) struct Memo {
    settings: String,
}

impl Memo {
    /// The memo for the project at `root` whose tools run in `package_dir`.
    pub(super) fn new(root: &Path, package_dir: &Path, gates: &Gates) -> Self {
        let mut files: Vec<PathBuf> = gates
            .gates
            .iter()
            .filter_map(|gate| gate.config.as_ref().map(|c| root.join(c)))
            .collect();
        for dir in [root, package_dir] {
            files.extend(SETTINGS_FILES.iter().map(|name| dir.join(name)));
        }
        files.sort();
        files.dedup();
        let settings = files
            .iter()
            .filter_map(|file| {
                let meta = std::fs::metadata(file).ok()?;
                let modified = meta.modified().ok()?;
                Some(format!(
                    "{}\0{}\0{modified:?}\n",
                    file.display(),
                    meta.len()
                ))
            })
            .collect();
        Self { settings }
    }

    /// [`run_tool`], or its earlier answer to the same call under the same settings. A
    /// timeout is remembered too: the same call would only time out again.
    pub(super) fn run(
        &self,
        program: &Path,
        args: &[String],
        cwd: &Path,
        stdin: Option<&str>,
        timeout: Duration,
    ) -> Result<ToolOutput, ToolError> {
        let key: Key = (
            self.settings.clone(),
            program.to_path_buf(),
            args.to_vec(),
            cwd.to_path_buf(),
            stdin.map(str::to_owned),
        );
        if let Some(known) = calls().lock().ok().and_then(|m| m.get(&key).cloned()) {
            return known;
        }
        let answer = run_tool(program, args, cwd, stdin, timeout);
        if let Ok(mut memo) = calls().lock() {
            if memo.len() >= CAPACITY {
                memo.clear();
            }
            memo.insert(key, answer.clone());
        }
        answer
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A "formatter" that logs each call and echoes its input.
    fn logging_tool(dir: &Path) -> PathBuf {
        let tool = dir.join("fmt.sh");
        std::fs::write(&tool, "#!/bin/sh\necho \"$@\" >> calls.log\ncat\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        tool
    }

    fn calls_made(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    #[test]
    fn a_call_repeated_under_the_same_settings_runs_the_tool_once() {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path();
        let tool = logging_tool(dir);
        std::fs::write(dir.join("package.json"), "{}").unwrap();
        let gates = Gates::default();
        let args = vec!["--stdin-filepath".to_owned(), "a.ts".to_owned()];
        let timeout = Duration::from_secs(10);
        let run = |memo: &Memo, text: &str| {
            memo.run(&tool, &args, dir, Some(text), timeout)
                .unwrap()
                .stdout
        };

        // The preview and the re-plan of one `setup`.
        assert_eq!(
            run(&Memo::new(dir, dir, &gates), "const a = 1\n"),
            "const a = 1\n"
        );
        assert_eq!(
            run(&Memo::new(dir, dir, &gates), "const a = 1\n"),
            "const a = 1\n"
        );
        assert_eq!(calls_made(dir), 1);

        // Another text is another call.
        run(&Memo::new(dir, dir, &gates), "const b = 2\n");
        assert_eq!(calls_made(dir), 2);

        // The user changed a settings file: the tool is asked again.
        std::fs::write(
            dir.join("package.json"),
            "{\"prettier\": {\"semi\": false}}",
        )
        .unwrap();
        run(&Memo::new(dir, dir, &gates), "const a = 1\n");
        assert_eq!(calls_made(dir), 3);
    }
}
