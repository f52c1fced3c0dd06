//! Adding the Python SDK to a plain-pip `requirements.txt` without breaking the project's pins.
//!
//! Before the line is written, pip's own resolver is asked whether the SDK installs together
//! with everything the file already pins (`pip install --dry-run --ignore-installed --report`,
//! nothing is installed). The line is then pinned the way the file pins its other packages
//! (`spaire-sdk==<resolved>` in a fully pinned file). When no version of the SDK fits the pins,
//! nothing is written and the caller lists pip's conflict with its fix. When the check cannot
//! run (no `python3` with pip, offline), the line is written unpinned and the step says so.
//!
//! `SPAIRE_BILLING_PYTHON` names the interpreter whose pip resolves (default `python3`);
//! `off` skips the check.

use billing_detect::manifest::python::{normalize, parse_requirements};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the resolver may take (it downloads package metadata).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The SDK resolves with the file's pins, at this version.
    Resolved(String),
    /// No SDK version fits the pins: pip's explanation, one line each.
    Conflict(Vec<String>),
    /// The check could not run; why.
    Unchecked(String),
}

/// Whether a requirement of the requirements text `current` names `package` (any PEP 503
/// spelling), read by the same parser detect uses (continuations, `-e`, `name @ url`).
pub(crate) fn lists(current: &str, package: &str) -> bool {
    let package = normalize(package);
    parse_requirements("", current)
        .dependencies
        .iter()
        .any(|dependency| dependency.name == package)
}

/// Asks the pip of `SPAIRE_BILLING_PYTHON` (default `python3`) in `dir`; `root` is the
/// project root whose `.spaire-billing/cache/` remembers pip's answers across runs (see
/// [`crate::pip_cache`]), so `status` does not wait for the resolver every time.
///
/// The answer is also remembered for the rest of the process, keyed by the files' bytes:
/// `setup` plans twice (the preview, then the re-plan whose hash `apply` checks).
pub(crate) fn resolve(root: &Path, dir: &Path, requirements: &str, sdk: &str) -> Resolution {
    let python = std::env::var("SPAIRE_BILLING_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if python == "off" {
        return Resolution::Unchecked("SPAIRE_BILLING_PYTHON=off".to_owned());
    }
    let key = (
        dir.to_path_buf(),
        crate::pip_cache::requirement_files(dir, requirements),
        format!("{python}\0{sdk}"),
    );
    if let Some(known) = remembered().lock().ok().and_then(|m| m.get(&key).cloned()) {
        return known;
    }
    let answer = resolve_cached(Path::new(&python), root, dir, requirements, sdk);
    if let Ok(mut memo) = remembered().lock() {
        memo.insert(key, answer.clone());
    }
    answer
}

/// pip's answer from the project's cache when the files, the requirement and the toolchain
/// are the ones it was computed for; otherwise pip is asked and a definite answer kept.
pub(crate) fn resolve_cached(
    python: &Path,
    root: &Path,
    dir: &Path,
    requirements: &str,
    sdk: &str,
) -> Resolution {
    let bytes = crate::pip_cache::requirement_files(dir, requirements);
    let key = crate::pip_cache::toolchain(python)
        .map(|toolchain| crate::pip_cache::key(&bytes, sdk, &toolchain));
    if let Some(hit) = key
        .as_deref()
        .and_then(|k| crate::pip_cache::lookup(root, k))
    {
        return hit;
    }
    let answer = resolve_with(python, dir, requirements, sdk);
    if let Some(key) = key {
        crate::pip_cache::store(root, &key, &answer);
    }
    answer
}

type MemoKey = (std::path::PathBuf, Vec<u8>, String);

fn remembered() -> &'static std::sync::Mutex<std::collections::HashMap<MemoKey, Resolution>> {
    static MEMO: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<MemoKey, Resolution>>,
    > = std::sync::OnceLock::new();
    MEMO.get_or_init(Default::default)
}

pub(crate) fn resolve_with(python: &Path, dir: &Path, requirements: &str, sdk: &str) -> Resolution {
    let Ok(report_dir) = tempfile::tempdir() else {
        return Resolution::Unchecked("no temporary directory for pip's report".to_owned());
    };
    let report = report_dir.path().join("report.json");
    // Not `--quiet`: pip prints why pins conflict ("The conflict is caused by: The user
    // requested httpx==0.26.0 ...") on stdout at its normal verbosity only, and those lines
    // name the pins the user has to change. stdout goes to a file so a long log never fills
    // a pipe nobody reads while pip runs.
    let log = report_dir.path().join("pip.log");
    let Ok(stdout) = std::fs::File::create(&log) else {
        return Resolution::Unchecked("no temporary file for pip's output".to_owned());
    };
    let child = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--disable-pip-version-check",
            "--no-input",
            "--report",
        ])
        .arg(&report)
        .arg("-r")
        .arg(requirements)
        .arg(sdk)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            return Resolution::Unchecked(format!("`{}` could not be run ({e})", python.display()));
        }
    };
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > RESOLVE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Resolution::Unchecked(format!(
                    "pip did not finish resolving within {}s",
                    RESOLVE_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Resolution::Unchecked(format!("waiting for pip failed ({e})")),
        }
    };
    let stderr = child
        .stderr
        .take()
        .map(|mut s| {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
            text
        })
        .unwrap_or_default();
    if !status.success() {
        if stderr.contains("ResolutionImpossible") || stderr.contains("conflicting dependencies") {
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            return Resolution::Conflict(conflict_lines(&format!("{stderr}\n{output}")));
        }
        let first = stderr
            .lines()
            .find(|l| l.starts_with("ERROR"))
            .unwrap_or("pip failed")
            .to_owned();
        return Resolution::Unchecked(first);
    }
    match std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|r| resolved_version(&r, sdk))
    {
        Some(version) => Resolution::Resolved(version),
        None => Resolution::Unchecked("pip's report does not name the SDK".to_owned()),
    }
}

fn resolved_version(report: &serde_json::Value, sdk: &str) -> Option<String> {
    report["install"].as_array()?.iter().find_map(|item| {
        let meta = &item["metadata"];
        (normalize(meta["name"].as_str()?) == normalize(sdk))
            .then(|| meta["version"].as_str().map(str::to_owned))
            .flatten()
    })
}

/// pip's explanation of a conflict: the `ERROR: Cannot install ...` line and the
/// "The conflict is caused by" block (who requested what).
fn conflict_lines(stderr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_cause = false;
    for line in stderr.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("ERROR: Cannot install") {
            out.push(trimmed.trim_start_matches("ERROR: ").to_owned());
        } else if trimmed.starts_with("The conflict is caused by") {
            in_cause = true;
        } else if in_cause {
            if trimmed.is_empty()
                || trimmed.starts_with("To fix")
                || trimmed.starts_with("Additionally")
            {
                in_cause = false;
            } else {
                out.push(trimmed.to_owned());
            }
        }
    }
    if out.is_empty() {
        out.push("pip reports that the requirements cannot be resolved together".to_owned());
    }
    out
}

/// The SDK's line, pinned like most requirement lines of `current` are (`==`, `~=`, `>=`),
/// unpinned when the file does not pin or the version is unknown.
pub(crate) fn requirement_line(current: &str, sdk: &str, version: Option<&str>) -> String {
    let mut counts = [("==", 0usize), ("~=", 0), (">=", 0)];
    let mut unpinned = 0usize;
    for line in current.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        match counts.iter_mut().find(|(op, _)| line.contains(*op)) {
            Some((_, n)) => *n += 1,
            None => unpinned += 1,
        }
    }
    let (op, n) = counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .copied()
        .unwrap_or(("==", 0));
    match version {
        Some(version) if n > 0 && n >= unpinned => format!("{sdk}{op}{version}"),
        _ => sdk.to_owned(),
    }
}

/// `current` with `line` appended in the file's own newline style.
pub(crate) fn append_line(current: &str, line: &str) -> String {
    let nl = if current.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut after = current.to_owned();
    if !after.is_empty() && !after.ends_with('\n') {
        after.push_str(nl);
    }
    after.push_str(line);
    after.push_str(nl);
    after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_like_the_file_and_keeps_its_newlines() {
        let pinned = "Django==5.1.2\r\ntyping_extensions==4.9.0\r\n";
        assert_eq!(
            requirement_line(pinned, "spaire-sdk", Some("0.28.4")),
            "spaire-sdk==0.28.4"
        );
        assert_eq!(requirement_line(pinned, "spaire-sdk", None), "spaire-sdk");
        assert_eq!(
            requirement_line(
                "flask>=3\n# web\nboto3>=1.30\n",
                "spaire-sdk",
                Some("0.28.4")
            ),
            "spaire-sdk>=0.28.4"
        );
        assert_eq!(
            requirement_line("flask\nboto3\n-r base.txt\n", "spaire-sdk", Some("0.28.4")),
            "spaire-sdk"
        );
        assert_eq!(
            append_line(pinned, "spaire-sdk==0.28.4"),
            "Django==5.1.2\r\ntyping_extensions==4.9.0\r\nspaire-sdk==0.28.4\r\n"
        );
        assert_eq!(append_line("a==1", "b==2"), "a==1\nb==2\n");
    }

    /// A fake interpreter: a shell script standing in for `python3 -m pip`.
    #[cfg(unix)]
    fn fake_python(dir: &Path, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("python");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A fake interpreter whose resolver always finds `spaire-sdk` 0.28.4 and appends a line
    /// to the returned file per resolver run (the toolchain query `-c` is not counted).
    #[cfg(unix)]
    fn counting_python(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let runs = dir.join("runs");
        let python = fake_python(
            dir,
            &format!(
                r#"if [ "$1" = "-c" ]; then echo "3.12.3 linux 24.0"; exit 0; fi
echo run >> '{}'
while [ "$1" != "--report" ]; do shift; done
printf '{{"install":[{{"metadata":{{"name":"spaire-sdk","version":"0.28.4"}}}}]}}' > "$2""#,
                runs.display()
            ),
        );
        (python, runs)
    }

    fn resolver_runs(runs: &Path) -> usize {
        std::fs::read_to_string(runs)
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// The second `status` of an unchanged project does not run pip's resolver again: the
    /// fake interpreter counts its resolver runs in a file.
    #[cfg(unix)]
    #[test]
    fn the_projects_cache_answers_until_the_file_changes() {
        let bin = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let (python, runs) = counting_python(bin.path());
        let count = || resolver_runs(&runs);
        let root = project.path();
        std::fs::write(root.join("requirements.txt"), "flask==3.0.0\n").unwrap();
        let ask = || resolve_cached(&python, root, root, "requirements.txt", "spaire-sdk");
        let resolved = Resolution::Resolved("0.28.4".to_owned());
        assert_eq!(ask(), resolved);
        assert_eq!(count(), 1);
        assert_eq!(ask(), resolved, "answered from the cache");
        assert_eq!(count(), 1, "the resolver is not run the second time");

        std::fs::write(root.join("requirements.txt"), "flask==3.0.1\n").unwrap();
        assert_eq!(ask(), resolved);
        assert_eq!(count(), 2, "a changed file is checked again");

        let cache = root
            .join(crate::pip_cache::CACHE_DIR)
            .join("pip-resolve.json");
        std::fs::write(&cache, [0xff, 0x00, b'{']).unwrap();
        assert_eq!(
            ask(),
            resolved,
            "a corrupt cache is recomputed, not an error"
        );
        assert_eq!(count(), 3);
        std::fs::remove_dir_all(root.join(crate::pip_cache::CACHE_DIR)).unwrap();
        assert_eq!(ask(), resolved, "a missing cache is recomputed");
        assert_eq!(count(), 4);
        assert_eq!(ask(), resolved);
        assert_eq!(count(), 4);
    }

    /// A pin changed in a file the requirements include (`-r base.txt`) asks pip again; the
    /// same bytes everywhere do not, in this process or the next.
    #[cfg(unix)]
    #[test]
    fn a_changed_included_file_is_checked_again() {
        let bin = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let (python, runs) = counting_python(bin.path());
        let count = || resolver_runs(&runs);
        let root = project.path();
        std::fs::create_dir_all(root.join("requirements")).unwrap();
        std::fs::write(
            root.join("requirements/prod.txt"),
            "-r base.txt\ngunicorn==23.0.0\n",
        )
        .unwrap();
        std::fs::write(root.join("requirements/base.txt"), "flask==3.0.0\n").unwrap();
        let ask = || resolve_cached(&python, root, root, "requirements/prod.txt", "spaire-sdk");
        ask();
        assert_eq!(count(), 1);
        ask();
        assert_eq!(
            count(),
            1,
            "same bytes in every file: answered from the cache"
        );
        std::fs::write(root.join("requirements/base.txt"), "flask==3.0.1\n").unwrap();
        ask();
        assert_eq!(count(), 2, "the included file changed: pip is asked again");
        ask();
        assert_eq!(count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn reads_the_resolved_version_or_pips_conflict() {
        let dir = tempfile::tempdir().unwrap();
        // The report path follows `--report`; write a report naming the SDK there.
        let ok = fake_python(
            dir.path(),
            r#"while [ "$1" != "--report" ]; do shift; done
printf '{"install":[{"metadata":{"name":"Spaire_SDK","version":"0.28.4"}}]}' > "$2""#,
        );
        assert_eq!(
            resolve_with(&ok, dir.path(), "requirements.txt", "spaire-sdk"),
            Resolution::Resolved("0.28.4".to_owned())
        );
        let conflict = fake_python(
            dir.path(),
            r#"cat >&2 <<'EOF'
ERROR: Cannot install -r requirements.txt (line 16), spaire-sdk and typing_extensions==4.9.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested typing_extensions==4.9.0
    pydantic 2.12.0 depends on typing-extensions>=4.14.1

To fix this you could try to:
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io
EOF
exit 1"#,
        );
        assert_eq!(
            resolve_with(&conflict, dir.path(), "requirements.txt", "spaire-sdk"),
            Resolution::Conflict(vec![
                "Cannot install -r requirements.txt (line 16), spaire-sdk and typing_extensions==4.9.0 because these package versions have conflicting dependencies.".to_owned(),
                "The user requested typing_extensions==4.9.0".to_owned(),
                "pydantic 2.12.0 depends on typing-extensions>=4.14.1".to_owned(),
            ])
        );
        let offline = fake_python(
            dir.path(),
            "echo 'ERROR: Could not find a version that satisfies the requirement spaire-sdk' >&2; exit 1",
        );
        assert!(matches!(
            resolve_with(&offline, dir.path(), "requirements.txt", "spaire-sdk"),
            Resolution::Unchecked(why) if why.contains("Could not find")
        ));
        assert!(matches!(
            resolve_with(
                &dir.path().join("missing"),
                dir.path(),
                "requirements.txt",
                "spaire-sdk"
            ),
            Resolution::Unchecked(_)
        ));
    }
}
