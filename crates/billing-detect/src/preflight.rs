//! Warnings to read before changing the project: uncommitted changes, and signs that this
//! is (or deploys to) production.

use std::process::{Command, Stdio};

use crate::profile::Warning;
use crate::scan::Scan;
use crate::text::{file_name, line_text};

fn warning(code: &str, message: String, file: Option<String>, line: Option<u32>) -> Warning {
    Warning {
        code: code.to_owned(),
        message,
        file,
        line,
        column: None,
    }
}

pub fn warnings(scan: &mut Scan<'_>) -> Vec<Warning> {
    let mut out = Vec::new();
    if scan.options.check_git
        && let Some(changed) = git_changes(scan)
        && changed > 0
    {
        out.push(warning(
            "dirty-git",
            format!(
                "{changed} uncommitted change{} in the git tree; commit or stash them so the \
                 changes `apply` makes are easy to review and undo",
                if changed == 1 { "" } else { "s" }
            ),
            None,
            None,
        ));
    }
    if std::env::var("NODE_ENV").is_ok_and(|v| v.trim() == "production") {
        out.push(warning(
            "production-env",
            "NODE_ENV=production is set in this shell; make sure you are not about to change \
             a production deployment"
                .to_owned(),
            None,
            None,
        ));
    }
    let deploy_files: Vec<String> = scan
        .inv
        .files
        .iter()
        .filter(|f| {
            matches!(
                file_name(f),
                "vercel.json"
                    | "fly.toml"
                    | "railway.json"
                    | "railway.toml"
                    | "render.yaml"
                    | "netlify.toml"
                    | "Procfile"
            )
        })
        .cloned()
        .collect();
    for f in deploy_files {
        out.push(warning(
            "production-deploy-config",
            format!(
                "`{f}` deploys this project; use sandbox credentials until the setup is verified"
            ),
            Some(f),
            None,
        ));
    }
    let workflows: Vec<String> = scan
        .inv
        .files
        .iter()
        .filter(|f| f.contains(".github/workflows/"))
        .cloned()
        .collect();
    for f in workflows {
        let Some(text) = scan.read(&f) else { continue };
        if let Some(line) = deploy_line(&text) {
            out.push(warning(
                "production-deploy-workflow",
                format!(
                    "`{f}:{line}` deploys on push (`{}`); billing changes reach production \
                     when merged",
                    line_text(&text, line)
                ),
                Some(f),
                Some(line),
            ));
        }
    }
    out
}

/// First line of a workflow that looks like a deployment step.
fn deploy_line(text: &str) -> Option<u32> {
    const MARKERS: &[&str] = &[
        "deploy",
        "vercel",
        "flyctl",
        "superfly/",
        "railway",
        "render.com",
        "netlify",
        "heroku",
        "aws-actions/",
        "cloudflare/wrangler",
    ];
    text.lines().enumerate().find_map(|(i, l)| {
        let l = l.to_ascii_lowercase();
        let code = l.split('#').next().unwrap_or("");
        MARKERS
            .iter()
            .any(|m| code.contains(m))
            .then(|| u32::try_from(i + 1).unwrap_or(u32::MAX))
    })
}

/// Number of changed/untracked paths under the scanned root, or `None` when git is not
/// installed or this is not a repository.
fn git_changes(scan: &Scan<'_>) -> Option<usize> {
    let output = Command::new("git")
        .arg("-C")
        .arg(&scan.root)
        .args([
            "status",
            "--porcelain",
            "--untracked-files=normal",
            "--",
            ".",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(
        output
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
    )
}
