//! From parsed manifests to [`Package`]s: which directories are packages, which ecosystem
//! each belongs to, and which of them are worth reporting.

mod common;
mod node;
mod other;
mod python;
pub(crate) mod sources;
mod user_key;

use std::collections::{BTreeSet, HashSet};

use crate::manifests::Manifests;
use crate::profile::Package;
use crate::scan::Scan;
use crate::text::{file_name, parent_rel};
use crate::workspace::Workspaces;

#[cfg(test)]
pub(crate) use common::route_export;

/// Files whose presence makes their directory a package.
fn is_package_marker(name: &str) -> bool {
    matches!(
        name,
        "package.json"
            | "pyproject.toml"
            | "Pipfile"
            | "setup.py"
            | "manage.py"
            | "go.mod"
            | "composer.json"
            | "Gemfile"
    ) || (name.starts_with("requirements") && name.ends_with(".txt"))
}

fn is_python_marker(name: &str) -> bool {
    matches!(
        name,
        "pyproject.toml" | "Pipfile" | "setup.py" | "manage.py"
    ) || (name.starts_with("requirements") && name.ends_with(".txt"))
}

pub fn packages(scan: &mut Scan<'_>, m: &Manifests, ws: &Workspaces) -> Vec<Package> {
    let markers: Vec<String> = scan
        .inv
        .files
        .iter()
        .filter(|f| is_package_marker(file_name(f)))
        // `requirements/base.txt` belongs to the package above the folder.
        .filter(|f| file_name(parent_rel(f)) != "requirements")
        .cloned()
        .collect();
    let mut dirs: BTreeSet<String> = markers.iter().map(|f| parent_rel(f).to_owned()).collect();
    // A manage.py inside the project's own Python package belongs to the package above it
    // when that one is a Python package and nothing else marks this directory.
    for manage in markers.iter().filter(|f| file_name(f) == "manage.py") {
        let dir = parent_rel(manage);
        let only_marker = markers.iter().filter(|f| parent_rel(f) == dir).count() == 1;
        let above_is_python = scan
            .inv
            .files_in(parent_rel(dir))
            .any(|f| is_python_marker(file_name(f)));
        if only_marker && above_is_python && python::manage_in_own_package(scan, manage) {
            dirs.remove(dir);
        }
    }
    let package_dirs: HashSet<String> = dirs.iter().cloned().collect();
    let mut out = Vec::new();
    for dir in &dirs {
        let mut found: Vec<Package> = Vec::new();
        if let Some(pkg) = m.package_json.get(dir) {
            let input = node::NodeInput {
                dir,
                pkg,
                manifests: m,
                workspaces: ws,
                package_dirs: &package_dirs,
            };
            found.push(node::analyze(scan, &input));
        }
        let python = scan
            .inv
            .files_in(dir)
            .any(|f| is_python_marker(file_name(f)));
        if python {
            let input = python::PythonInput {
                dir,
                manifests: m,
                workspaces: ws,
                package_dirs: &package_dirs,
            };
            found.extend(python::analyze(scan, &input));
        }
        if let Some(gomod) = m.go_mod.get(dir) {
            found.push(other::analyze_go(scan, dir, gomod, ws, &package_dirs));
        }
        if m.composer.contains_key(dir) {
            found.push(other::analyze_php(scan, dir, m));
        }
        if m.gemfile.contains_key(dir) {
            found.push(other::analyze_ruby(scan, dir, m, &package_dirs));
        }
        for package in &mut found {
            drop_marked_not_billed(scan, package);
        }
        // A stray package.json/lockfile does not turn a Python/PHP/Ruby app into a Node app:
        // when any ecosystem here has a framework, only those with frameworks are reported.
        let any_framework = found.iter().any(|p| !p.frameworks.is_empty());
        out.extend(found.into_iter().filter(|p| {
            if any_framework {
                !p.frameworks.is_empty()
            } else {
                !p.integrations.is_empty() || !p.call_sites.is_empty()
            }
        }));
    }
    out
}

/// Moves the call sites the user marked as billing no customer (`spaire-billing: not billed`
/// on the call's line or the line above: their own evals, an admin script) to `not_billed`,
/// so wiring, metering and `status` leave them alone.
fn drop_marked_not_billed(scan: &mut Scan<'_>, package: &mut Package) {
    let (marked, kept) = std::mem::take(&mut package.call_sites)
        .into_iter()
        .partition(|site| {
            scan.read(&site.file).is_some_and(|src| {
                let first = (site.line as usize).saturating_sub(2);
                let count = if site.line >= 2 { 2 } else { 1 };
                src.lines()
                    .skip(first)
                    .take(count)
                    .any(billing_vocab::marks_not_billed)
            })
        });
    package.call_sites = kept;
    package.not_billed = marked;
}
