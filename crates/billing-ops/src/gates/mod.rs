//! The project's own gates applied to what spaire-billing writes: its formatters run on the
//! planned files ([`format`]), and its linters and type-checkers run before and after apply
//! so only the problems the apply introduced are reported ([`checks`]).

pub mod checks;
pub mod format;
mod format_memo;
pub mod run;
pub mod syntax;

use std::path::Path;

use billing_changeset::ChangeSet;
use billing_detect::Package;
use billing_detect::gates::{Gates, detect_gates};

/// The gates of `package` in the project at `root`.
pub fn package_gates(root: &Path, package: &Package) -> Gates {
    detect_gates(root, &package_dir(root, package), package.language)
}

pub fn package_dir(root: &Path, package: &Package) -> std::path::PathBuf {
    if package.path.is_empty() || package.path == "." {
        root.to_path_buf()
    } else {
        root.join(&package.path)
    }
}

/// The JSON formatters installed at the project's root (Biome, Prettier), which also check the
/// tool's committed state file: `None` when formatting is turned off.
pub fn state_file_gates(root: &Path) -> Option<Gates> {
    if std::env::var_os("SPAIRE_BILLING_NO_FORMAT").is_some() {
        return None;
    }
    Some(detect_gates(
        root,
        root,
        billing_detect::Language::JavaScript,
    ))
}

/// Formats the planned files with the project's formatters and drops changes formatting
/// made empty (a re-plan of an applied, formatted file). Returns warnings for the preview.
pub fn format_changes(root: &Path, package: &Package, changes: &mut ChangeSet) -> Vec<String> {
    if std::env::var_os("SPAIRE_BILLING_NO_FORMAT").is_some() {
        return Vec::new();
    }
    let gates = package_gates(root, package);
    // Within the project's syntax limit first, so the formatters see what is written.
    if syntax::es_limit(root, &gates).is_some() {
        for file in &mut changes.files {
            let js = Path::new(&file.path)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "js" | "cjs" | "mjs" | "jsx"));
            if js {
                file.after = syntax::downlevel(&file.after);
            }
        }
    }
    let outcome = format::format_files(
        root,
        &package_dir(root, package),
        &gates,
        &mut changes.files,
    );
    changes
        .files
        .retain(|f| f.before.as_deref() != Some(f.after.as_str()));
    outcome.warnings
}

/// The project's checks, run once before apply over the files it is about to touch.
pub struct Baseline {
    root: std::path::PathBuf,
    touched: Vec<String>,
    checks: Vec<checks::Check>,
    before: Vec<checks::Run>,
    unavailable: Vec<checks::Unavailable>,
}

/// Every check's verdict after apply, and the configured checks that could not run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    pub outcomes: Vec<checks::CheckOutcome>,
    pub unavailable: Vec<checks::Unavailable>,
}

impl CheckReport {
    /// True when a check found problems the apply introduced (the exit status's business).
    pub fn has_new_problems(&self) -> bool {
        self.outcomes.iter().any(checks::CheckOutcome::is_failure)
    }
}

/// Runs the project's checks before apply; `touched` are the planned files (root-relative).
pub fn baseline(root: &Path, package: &Package, touched: Vec<String>) -> Baseline {
    let gates = package_gates(root, package);
    let (checks, unavailable) = checks::project_checks(root, package, &gates);
    let before = checks
        .iter()
        .map(|check| checks::run_check(root, check, &touched))
        .collect();
    Baseline {
        root: root.to_path_buf(),
        touched,
        checks,
        before,
        unavailable,
    }
}

impl Baseline {
    /// Runs the checks again after apply and keeps only what is new.
    pub fn after(self) -> CheckReport {
        let outcomes = self
            .checks
            .iter()
            .zip(&self.before)
            .map(|(check, before)| {
                let after = checks::run_check(&self.root, check, &self.touched);
                checks::compare(check, before, &after, &self.touched)
            })
            .collect();
        CheckReport {
            outcomes,
            unavailable: self.unavailable,
        }
    }
}
