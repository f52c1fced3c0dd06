//! Phase 8: the report — checks run, dashboard steps completed / pending, rollback steps and
//! the testing checklist. Printed as sections for people, or as one JSON object (`--json`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub environment: String,
    pub package: String,
    pub plan_hash: String,
    pub files: Vec<String>,
    pub checks: Vec<CheckResult>,
    pub dashboard_completed: Vec<String>,
    pub dashboard_pending: Vec<String>,
    pub rollback: Vec<String>,
    /// Package installs that did not run, with the command to run by hand.
    pub install_steps: Vec<String>,
    pub checklist: Vec<String>,
    /// `meters[]`, `manual_steps[]`, `complete`: what feeds each meter, what is left by hand.
    #[serde(flatten)]
    pub metering: billing_ops::Metering,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub command: String,
    pub status: CheckStatus,
    /// Why it was skipped, or the tail of its output when it failed.
    pub detail: String,
}

/// A check the project itself configures, run from the package directory.
struct ProjectCheck {
    name: &'static str,
    program: String,
    args: Vec<&'static str>,
    /// Why it is skipped when it does not apply to this project.
    applies: Result<(), String>,
}

/// Runs the project's own type-check / lint / tests when they are configured and installed;
/// otherwise reports them as skipped with the reason.
pub fn run_project_checks(
    package_dir: &Path,
    language: billing_detect::Language,
) -> Vec<CheckResult> {
    use billing_detect::Language;
    let mut checks = Vec::new();
    match language {
        Language::TypeScript | Language::JavaScript => {
            let tsc = package_dir.join("node_modules/.bin/tsc");
            checks.push(ProjectCheck {
                name: "type-check",
                program: tsc.display().to_string(),
                args: vec!["--noEmit"],
                applies: if !package_dir.join("tsconfig.json").is_file() {
                    Err("no tsconfig.json".to_owned())
                } else if !tsc.is_file() {
                    Err("typescript is not installed in node_modules".to_owned())
                } else {
                    Ok(())
                },
            });
        }
        Language::Python => {
            let has = |tool: &str| which(tool).is_some();
            let pyproject =
                std::fs::read_to_string(package_dir.join("pyproject.toml")).unwrap_or_default();
            checks.push(ProjectCheck {
                name: "lint",
                program: "ruff".to_owned(),
                args: vec!["check", "."],
                applies: if !(pyproject.contains("[tool.ruff")
                    || package_dir.join("ruff.toml").is_file())
                {
                    Err("ruff is not configured".to_owned())
                } else if !has("ruff") {
                    Err("ruff is not on PATH".to_owned())
                } else {
                    Ok(())
                },
            });
            checks.push(ProjectCheck {
                name: "tests",
                program: "pytest".to_owned(),
                args: vec!["-q"],
                applies: if !(package_dir.join("tests").is_dir()
                    || pyproject.contains("[tool.pytest")
                    || package_dir.join("pytest.ini").is_file())
                {
                    Err("no tests configured".to_owned())
                } else if !has("pytest") {
                    Err("pytest is not on PATH".to_owned())
                } else {
                    Ok(())
                },
            });
        }
        Language::Go => checks.push(ProjectCheck {
            name: "build",
            program: "go".to_owned(),
            args: vec!["build", "./..."],
            applies: if which("go").is_some() {
                Ok(())
            } else {
                Err("go is not on PATH".to_owned())
            },
        }),
        Language::Php | Language::Ruby => {}
    }
    checks
        .into_iter()
        .map(|check| {
            let command = format!(
                "{} {}",
                display_program(&check.program),
                check.args.join(" ")
            );
            match check.applies {
                Err(reason) => CheckResult {
                    name: check.name.to_owned(),
                    command,
                    status: CheckStatus::Skipped,
                    detail: reason,
                },
                Ok(()) => {
                    let output = Command::new(&check.program)
                        .args(&check.args)
                        .current_dir(package_dir)
                        .output();
                    match output {
                        Ok(out) if out.status.success() => CheckResult {
                            name: check.name.to_owned(),
                            command,
                            status: CheckStatus::Pass,
                            detail: String::new(),
                        },
                        Ok(out) => CheckResult {
                            name: check.name.to_owned(),
                            command,
                            status: CheckStatus::Fail,
                            detail: tail(&format!(
                                "{}{}",
                                String::from_utf8_lossy(&out.stdout),
                                String::from_utf8_lossy(&out.stderr)
                            )),
                        },
                        Err(err) => CheckResult {
                            name: check.name.to_owned(),
                            command,
                            status: CheckStatus::Skipped,
                            detail: format!("could not start: {err}"),
                        },
                    }
                }
            }
        })
        .collect()
}

fn display_program(program: &str) -> &str {
    // `node_modules/.bin/tsc` reads better than an absolute path in the report.
    Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(program)
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    })
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    lines[start..].join("\n")
}

/// The testing checklist from the seed, with our commands. `local_server` is the emulator's
/// URL on a local run: the app needs both variables exported to reach it (without the token
/// the generated recorder's events are refused with a 401).
pub fn checklist(
    environment: &str,
    token_present: bool,
    local_server: Option<&str>,
) -> Vec<String> {
    let mut items = Vec::new();
    if let Some(url) = local_server {
        items.push(format!(
            "Run your app with `SPAIRE_ACCESS_TOKEN={} SPAIRE_SERVER_URL={url}` exported (or in its .env), so its events reach the emulator",
            billing_remote::EMULATOR_DEFAULT_TOKEN
        ));
    }
    if !token_present {
        items.push(format!(
            "Set SPAIRE_ACCESS_TOKEN in your environment or .env ({environment} token first), then run `spaire-billing apply` again to finish the pending steps"
        ));
    }
    items.push(if environment == "local" {
        "You are on the local emulator: run `spaire-billing emulator` while you test, then set `environment = \"sandbox\"` in spaire-billing.toml and apply again".to_owned()
    } else if environment == "production" {
        "This is production: make sure the same plan was tested in sandbox first".to_owned()
    } else {
        "Test in sandbox first; switch `environment` to production only when the checklist passes".to_owned()
    });
    items.push("Run your app and trigger the code paths that record usage".to_owned());
    items.push(
        "Run `spaire-billing verify` to send a test event per meter and see it counted".to_owned(),
    );
    items.push(
        if environment == "local" {
            "The emulator has no dashboard: `spaire-billing status` shows what feeds each meter, `spaire-billing verify --from-app` the app's own events".to_owned()
        } else {
            "Create a test checkout for the product and watch the customer's meters in the dashboard"
                .to_owned()
        },
    );
    items
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\nChecks");
        if self.checks.is_empty() {
            let _ = writeln!(out, "  (none configured for this project)");
        }
        for check in &self.checks {
            let status = match check.status {
                CheckStatus::Pass => "PASS",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skipped => "SKIPPED",
            };
            let _ = write!(out, "  {status:<8} {} (`{}`)", check.name, check.command);
            if !check.detail.is_empty() {
                if check.status == CheckStatus::Fail {
                    let _ = write!(out, "\n{}", indent(&check.detail, "           "));
                } else {
                    let _ = write!(out, ": {}", check.detail);
                }
            }
            out.push('\n');
        }
        section(
            &mut out,
            &format!("Dashboard steps ({}) — completed", self.environment),
            &self.dashboard_completed,
        );
        section(
            &mut out,
            &format!("Dashboard steps ({}) — pending", self.environment),
            &self.dashboard_pending,
        );
        if !self.install_steps.is_empty() {
            section(&mut out, "Installs still to run", &self.install_steps);
        }
        section(&mut out, "Rollback steps", &self.rollback);
        section(&mut out, "Testing checklist", &self.checklist);
        out.push('\n');
        out.push_str(&crate::commands::metering::render(&self.metering));
        out
    }
}

fn section(out: &mut String, title: &str, items: &[String]) {
    let _ = writeln!(out, "\n{title}");
    if items.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (i, item) in items.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, indent(item, "     ").trim_start());
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
