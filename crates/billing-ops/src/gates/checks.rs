//! The project's own lint and type-checks, run once before apply and once after, so the
//! report shows only the problems the apply introduced (each with `file:line`), and says so
//! when a check never looked at the files that were written.
//!
//! Type-checkers run on the whole project, as the project's CI does (`tsc --noEmit`,
//! `go vet ./...`); linters run on exactly the touched files (what was there before, then
//! what was written). A problem is identified by file and message, not line, since an edit
//! shifts the lines below it; "new" means more occurrences after than before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use billing_detect::Package;
use billing_detect::gates::{GateTool, Gates, on_path};
use serde::Serialize;

use super::run::run_tool;

const CHECK_TIMEOUT: Duration = Duration::from_secs(600);

/// One problem a check reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Relative to the project root (empty when the tool named no file).
    pub file: String,
    pub line: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.file.is_empty(), self.line) {
            (true, _) => write!(f, "{}", self.message),
            (false, Some(line)) => write!(f, "{}:{line}: {}", self.file, self.message),
            (false, None) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A check this project has, and how to run it.
#[derive(Debug, Clone)]
pub struct Check {
    /// "type-check (tsc)", "lint (eslint)".
    pub name: String,
    pub tool: GateTool,
    program: PathBuf,
    /// Arguments before the file list.
    args: Vec<String>,
    /// The check takes the touched files as arguments (linters); otherwise it checks the
    /// whole project (type-checkers).
    per_file: bool,
    cwd: PathBuf,
}

impl Check {
    /// The command as the user would type it (program name, not its absolute path).
    pub fn command(&self) -> String {
        let program = self.program.file_name().map_or_else(
            || self.program.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut words = vec![program];
        words.extend(self.args.iter().cloned());
        if self.per_file {
            words.push("<touched files>".to_owned());
        }
        words.join(" ")
    }
}

/// A check that exists in the project's config but cannot run here.
#[derive(Debug, Clone, Serialize)]
pub struct Unavailable {
    pub name: String,
    pub reason: String,
}

/// The project's checks for `package`, given the gates detect found.
pub fn project_checks(
    root: &Path,
    package: &Package,
    gates: &Gates,
) -> (Vec<Check>, Vec<Unavailable>) {
    let cwd = super::package_dir(root, package);
    let mut checks = Vec::new();
    let mut unavailable = Vec::new();
    for gate in &gates.gates {
        let (name, args, per_file): (&str, &[&str], bool) = match gate.tool {
            GateTool::Tsc => (
                "type-check",
                &["--noEmit", "--pretty", "false", "--listFiles"],
                false,
            ),
            GateTool::EslintFlat | GateTool::EslintLegacy => ("lint", &["--format", "json"], true),
            GateTool::Biome => (
                "lint",
                &["check", "--reporter=github", "--no-errors-on-unmatched"],
                true,
            ),
            GateTool::Ruff => (
                "lint",
                &["check", "--output-format", "concise", "--no-fix"],
                true,
            ),
            GateTool::Flake8 => ("lint", &[], true),
            GateTool::Mypy => (
                "type-check",
                &["--no-error-summary", "--no-pretty", "--show-column-numbers"],
                true,
            ),
            GateTool::Black => ("format", &["--check"], true),
            GateTool::Isort => ("format", &["--check-only"], true),
            GateTool::Prettier => ("format", &["--check"], true),
            GateTool::Gofmt => ("format", &["-l"], true),
            GateTool::GoVet => ("type-check", &["vet", "./..."], false),
            _ => continue,
        };
        let name = format!(
            "{name} ({})",
            if gate.tool == GateTool::GoVet {
                "go vet"
            } else {
                gate.tool.program()
            }
        );
        match &gate.binary {
            Some(program) => checks.push(Check {
                name,
                tool: gate.tool,
                program: program.clone(),
                args: args.iter().map(|s| (*s).to_owned()).collect(),
                per_file,
                cwd: cwd.clone(),
            }),
            None => unavailable.push(Unavailable {
                name,
                reason: format!(
                    "{} is configured ({}) but not installed where the project runs it; install \
                     the project's dependencies to check the generated code with it",
                    gate.tool.program(),
                    gate.evidence.file
                ),
            }),
        }
    }
    // A Python project with tests keeps its old check: its own test suite.
    if package.language == billing_detect::Language::Python
        && (cwd.join("tests").is_dir() || cwd.join("pytest.ini").is_file())
        && let Some(pytest) = on_path("pytest")
    {
        checks.push(Check {
            name: "tests (pytest)".to_owned(),
            tool: GateTool::Mypy,
            program: pytest,
            args: vec!["-q".to_owned()],
            per_file: false,
            cwd: cwd.clone(),
        });
    }
    (checks, unavailable)
}

/// The result of running one check once.
#[derive(Debug, Clone)]
pub struct Run {
    pub problems: Vec<Problem>,
    /// Touched files the check looked at (`None`: the tool does not say).
    pub covered: Option<Vec<String>>,
    /// Why it could not run (not started, timed out).
    pub error: Option<String>,
}

/// Runs `check` over `files` (relative to `root`; only the ones that exist are passed).
pub fn run_check(root: &Path, check: &Check, files: &[String]) -> Run {
    // A linter given a file of another language reports it as a syntax error (ruff on
    // `.env.example`, black on `requirements.txt`): each gets only the files it reads.
    let existing: Vec<&String> = files
        .iter()
        .filter(|f| root.join(f).is_file() && reads(check.tool, f))
        .collect();
    let mut args = check.args.clone();
    if check.per_file {
        if existing.is_empty() {
            return Run {
                problems: Vec::new(),
                covered: Some(Vec::new()),
                error: None,
            };
        }
        for file in &existing {
            let abs = root.join(file);
            args.push(
                abs.strip_prefix(&check.cwd)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| abs.to_string_lossy().into_owned()),
            );
        }
    }
    let out = match run_tool(&check.program, &args, &check.cwd, None, CHECK_TIMEOUT) {
        Ok(out) => out,
        Err(error) => {
            return Run {
                problems: Vec::new(),
                covered: None,
                error: Some(error.into()),
            };
        }
    };
    let rel = |path: &str| relative_to_root(root, &check.cwd, path);
    let mut parsed = parse(check.tool, &out.stdout, &out.stderr, &rel);
    let covered = match check.tool {
        GateTool::Tsc => Some(
            files
                .iter()
                .filter(|f| parsed.listed.iter().any(|l| l == *f))
                .cloned()
                .collect(),
        ),
        _ if check.per_file => Some(
            existing
                .iter()
                .filter(|f| !parsed.ignored.contains(f))
                .map(|f| (*f).clone())
                .collect(),
        ),
        GateTool::GoVet => Some(existing.iter().map(|f| (*f).clone()).collect()),
        _ => None,
    };
    if !out.success && parsed.problems.is_empty() {
        // It failed without a line we understand: the failure itself is the problem, so a
        // check that failed before and still fails is not reported as new.
        parsed.problems.push(Problem {
            file: String::new(),
            line: None,
            message: format!(
                "`{}` failed (exit {}): {}",
                check.command(),
                out.code
                    .map_or_else(|| "signal".to_owned(), |c| c.to_string()),
                tail(&out.stdout, &out.stderr)
            ),
        });
    }
    Run {
        problems: parsed.problems,
        covered,
        error: None,
    }
}

/// What one check says about the apply.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Verdict {
    /// Ran before and after; nothing new, and it looked at the touched files.
    NoNewProblems { existing: usize },
    /// Problems that were not there before the apply.
    NewProblems {
        problems: Vec<Problem>,
        existing: usize,
    },
    /// Nothing new, but it never looked at these touched files: not evidence of anything.
    DidNotCover { files: Vec<String>, existing: usize },
    /// Could not run.
    Error { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub name: String,
    pub command: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl CheckOutcome {
    pub fn is_failure(&self) -> bool {
        matches!(self.verdict, Verdict::NewProblems { .. })
    }
}

/// Before/after comparison of one check. `touched` are the files the apply wrote.
pub fn compare(check: &Check, before: &Run, after: &Run, touched: &[String]) -> CheckOutcome {
    let verdict = if let Some(reason) = after.error.clone().or_else(|| before.error.clone()) {
        Verdict::Error { reason }
    } else {
        let new = new_problems(&before.problems, &after.problems);
        let existing = after.problems.len() - new.len();
        let code: Vec<&String> = touched.iter().filter(|f| is_code(f)).collect();
        let uncovered: Vec<String> = match &after.covered {
            Some(covered) => code
                .iter()
                .filter(|f| !covered.contains(f))
                .map(|f| (*f).clone())
                .collect(),
            None => Vec::new(),
        };
        if !new.is_empty() {
            Verdict::NewProblems {
                problems: new,
                existing,
            }
        } else if !uncovered.is_empty() {
            Verdict::DidNotCover {
                files: uncovered,
                existing,
            }
        } else {
            Verdict::NoNewProblems { existing }
        }
    };
    CheckOutcome {
        name: check.name.clone(),
        command: check.command(),
        verdict,
    }
}

/// Problems in `after` beyond their count in `before`, keyed by file and message.
pub fn new_problems(before: &[Problem], after: &[Problem]) -> Vec<Problem> {
    let mut budget: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for p in before {
        *budget
            .entry((p.file.as_str(), p.message.as_str()))
            .or_default() += 1;
    }
    after
        .iter()
        .filter(|p| {
            let left = budget
                .entry((p.file.as_str(), p.message.as_str()))
                .or_default();
            if *left > 0 {
                *left -= 1;
                false
            } else {
                true
            }
        })
        .cloned()
        .collect()
}

/// Whether `tool` checks files like `path` (by extension).
fn reads(tool: GateTool, path: &str) -> bool {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    let js = matches!(
        ext,
        "ts" | "tsx" | "mts" | "cts" | "js" | "jsx" | "mjs" | "cjs" | "vue" | "svelte"
    );
    match tool {
        GateTool::Ruff | GateTool::Flake8 | GateTool::Mypy | GateTool::Black | GateTool::Isort => {
            ext == "py"
        }
        GateTool::Gofmt | GateTool::GoVet => ext == "go",
        GateTool::EslintFlat | GateTool::EslintLegacy | GateTool::Biome | GateTool::Prettier => js,
        _ => is_code(path),
    }
}

fn is_code(path: &str) -> bool {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    matches!(
        ext,
        "ts" | "tsx"
            | "mts"
            | "cts"
            | "js"
            | "jsx"
            | "mjs"
            | "cjs"
            | "py"
            | "go"
            | "vue"
            | "svelte"
    )
}

/// Paths as tools print them (absolute, or relative to where they ran) → relative to root.
fn relative_to_root(root: &Path, cwd: &Path, path: &str) -> String {
    let path = path.trim();
    let abs = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        cwd.join(path.trim_start_matches("./"))
    };
    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
    abs.strip_prefix(root)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_else(|_| path.to_owned())
}

#[derive(Default)]
struct Parsed {
    problems: Vec<Problem>,
    /// Files the tool listed as part of its program (tsc `--listFiles`).
    listed: Vec<String>,
    /// Files the tool was given but ignored (ESLint "File ignored ...").
    ignored: Vec<String>,
}

fn parse(tool: GateTool, stdout: &str, stderr: &str, rel: &dyn Fn(&str) -> String) -> Parsed {
    let mut parsed = Parsed::default();
    match tool {
        GateTool::EslintFlat | GateTool::EslintLegacy => {
            let Ok(serde_json::Value::Array(results)) = serde_json::from_str(stdout) else {
                return parsed;
            };
            for result in results {
                let file = rel(result
                    .get("filePath")
                    .and_then(|v| v.as_str())
                    .unwrap_or(""));
                for message in result
                    .get("messages")
                    .and_then(|m| m.as_array())
                    .into_iter()
                    .flatten()
                {
                    let text = message
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or("");
                    let rule = message.get("ruleId").and_then(|r| r.as_str());
                    if rule.is_none() && text.starts_with("File ignored") {
                        parsed.ignored.push(file.clone());
                        continue;
                    }
                    parsed.problems.push(Problem {
                        file: file.clone(),
                        line: message
                            .get("line")
                            .and_then(|l| l.as_u64())
                            .map(|l| l as u32),
                        message: match rule {
                            Some(rule) => format!("{text} ({rule})"),
                            None => text.to_owned(),
                        },
                    });
                }
            }
        }
        GateTool::Biome => {
            // `::error title=lint/style/useConst,file=src/a.ts,line=3,...::message`
            for line in stdout.lines().chain(stderr.lines()) {
                let Some(rest) = line
                    .strip_prefix("::error ")
                    .or_else(|| line.strip_prefix("::warning "))
                else {
                    continue;
                };
                let Some((props, message)) = rest.split_once("::") else {
                    continue;
                };
                let prop = |key: &str| {
                    props
                        .split(',')
                        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                };
                parsed.problems.push(Problem {
                    file: rel(prop("file").unwrap_or("")),
                    line: prop("line").and_then(|l| l.parse().ok()),
                    message: format!("{} ({})", message.trim(), prop("title").unwrap_or("biome")),
                });
            }
        }
        GateTool::Tsc => {
            for line in stdout.lines() {
                if let Some((loc, message)) = line.split_once("): error ")
                    && let Some((file, pos)) = loc.rsplit_once('(')
                {
                    parsed.problems.push(Problem {
                        file: rel(file),
                        line: pos.split(',').next().and_then(|l| l.parse().ok()),
                        message: message.to_owned(),
                    });
                } else if !line.contains(": error ") && Path::new(line.trim()).is_absolute() {
                    parsed.listed.push(rel(line));
                }
            }
        }
        GateTool::Black | GateTool::Isort | GateTool::Prettier | GateTool::Gofmt => {
            // "would reformat x.py", "ERROR: x.py Imports are incorrectly sorted",
            // "[warn] src/a.ts", gofmt -l prints the path.
            for line in stdout.lines().chain(stderr.lines()) {
                let line = line.trim();
                let file = if let Some(f) = line.strip_prefix("would reformat ") {
                    f
                } else if let Some(f) = line.strip_prefix("ERROR: ") {
                    f.split(" Imports are").next().unwrap_or(f)
                } else if let Some(f) = line.strip_prefix("[warn] ") {
                    if f.contains(' ') { continue } else { f }
                } else if tool == GateTool::Gofmt && !line.is_empty() {
                    line
                } else {
                    continue;
                };
                parsed.problems.push(Problem {
                    file: rel(file),
                    line: None,
                    message: format!("not formatted as {} formats it", tool.program()),
                });
            }
        }
        _ => {
            // `path:line:col: message` / `path:line: message` (ruff concise, flake8, mypy,
            // go vet).
            for line in stdout.lines().chain(stderr.lines()) {
                let mut parts = line.splitn(4, ':');
                let (Some(file), Some(line_no)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let Ok(line_no) = line_no.trim().parse::<u32>() else {
                    continue;
                };
                let rest: Vec<&str> = parts.collect();
                let message = match rest.as_slice() {
                    [col, msg] if col.trim().parse::<u32>().is_ok() => msg.trim().to_owned(),
                    other => other.join(":").trim().to_owned(),
                };
                if message.starts_with("note:") {
                    continue;
                }
                parsed.problems.push(Problem {
                    file: rel(file),
                    line: Some(line_no),
                    message,
                });
            }
        }
    }
    parsed
}

fn tail(stdout: &str, stderr: &str) -> String {
    let text = format!("{stdout}{stderr}");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(file: &str, line: u32, message: &str) -> Problem {
        Problem {
            file: file.into(),
            line: Some(line),
            message: message.into(),
        }
    }

    #[test]
    fn only_problems_beyond_the_baseline_are_new() {
        let before = [p("a.ts", 3, "x is unused"), p("a.ts", 9, "any")];
        // The edit moved the old problems down two lines and added one more `any`.
        let after = [
            p("a.ts", 5, "x is unused"),
            p("a.ts", 11, "any"),
            p("a.ts", 2, "any"),
        ];
        // Which occurrence counts as new does not matter; how many does.
        assert_eq!(new_problems(&before, &after), [p("a.ts", 2, "any")]);
    }

    #[test]
    fn tsc_lines_and_listed_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let rel = |path: &str| relative_to_root(&root, &root, path);
        let out = format!(
            "{r}/node_modules/typescript/lib/lib.d.ts\nsrc/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n{r}/src/a.ts\n",
            r = root.display()
        );
        let parsed = parse(GateTool::Tsc, &out, "", &rel);
        assert_eq!(
            parsed.problems,
            [p(
                "src/a.ts",
                3,
                "TS2322: Type 'string' is not assignable to type 'number'."
            )]
        );
        assert!(parsed.listed.contains(&"src/a.ts".to_owned()));
    }

    #[test]
    fn eslint_json_ignored_files_are_not_covered() {
        let rel = |path: &str| path.trim_start_matches("/p/").to_owned();
        let out = r#"[{"filePath":"/p/src/a.js","messages":[{"ruleId":"no-var","message":"Unexpected var.","line":2}]},
                      {"filePath":"/p/.hidden/b.js","messages":[{"ruleId":null,"message":"File ignored because of a matching ignore pattern.","line":0,"severity":1}]}]"#;
        let parsed = parse(GateTool::EslintFlat, out, "", &rel);
        assert_eq!(
            parsed.problems,
            [p("src/a.js", 2, "Unexpected var. (no-var)")]
        );
        assert_eq!(parsed.ignored, [".hidden/b.js"]);
    }

    #[test]
    fn colon_separated_tools() {
        let rel = |path: &str| path.to_owned();
        let parsed = parse(
            GateTool::Ruff,
            "app/b.py:1:8: F401 [*] `os` imported but unused\nFound 1 error.\n",
            "",
            &rel,
        );
        assert_eq!(
            parsed.problems,
            [p("app/b.py", 1, "F401 [*] `os` imported but unused")]
        );
        let parsed = parse(
            GateTool::Mypy,
            "app/b.py:4: error: Missing return\n",
            "",
            &rel,
        );
        assert_eq!(parsed.problems, [p("app/b.py", 4, "error: Missing return")]);
    }

    #[test]
    fn biome_github_reporter() {
        let rel = |path: &str| path.to_owned();
        let parsed = parse(
            GateTool::Biome,
            "::error title=lint/style/useConst,file=src/a.ts,line=3,endLine=3,col=1,endColumn=4::This let declares a variable that is only assigned once.\n",
            "",
            &rel,
        );
        assert_eq!(
            parsed.problems,
            [p(
                "src/a.ts",
                3,
                "This let declares a variable that is only assigned once. (lint/style/useConst)"
            )]
        );
    }
}
