//! Choosing which source files of a package to read, in priority order, within the budget.

use std::collections::HashSet;

use crate::scan::Scan;
use crate::text::{file_name, parent_rel, strip_dir};

/// Directories named like this hold tests, fixtures or generated code, not app code to wire.
const NON_APP_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "__mocks__",
    "e2e",
    "cypress",
    "playwright",
    "fixtures",
    "migrations",
    "stories",
    "docs",
    "examples",
    "scripts",
];

fn is_test_file(name: &str) -> bool {
    name.contains(".test.")
        || name.contains(".spec.")
        || name.ends_with(".d.ts")
        || (name.starts_with("test_") && name.ends_with(".py"))
        || name.ends_with("_test.py")
        || name.ends_with("_test.go")
        || name == "conftest.py"
}

/// Source files (root-relative) that belong to the package at `dir` — not to a package
/// nested inside it — with one of `extensions`, most promising first.
pub fn package_sources(
    scan: &Scan<'_>,
    dir: &str,
    package_dirs: &HashSet<String>,
    extensions: &[&str],
    is_priority: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut out: Vec<(u8, usize, String)> = Vec::new();
    'files: for file in scan.inv.files_under(dir) {
        let name = file_name(file);
        let Some((_, ext)) = name.rsplit_once('.') else {
            continue;
        };
        if !extensions.contains(&ext) || is_test_file(name) {
            continue;
        }
        // Nearest enclosing package must be `dir` itself.
        let mut parent = parent_rel(file);
        while parent != dir {
            if package_dirs.contains(parent) {
                continue 'files;
            }
            if NON_APP_DIRS.contains(&file_name(parent)) {
                continue 'files;
            }
            if parent == "." {
                break;
            }
            parent = parent_rel(parent);
        }
        let rel = strip_dir(file, dir).unwrap_or(file);
        let depth = rel.matches('/').count();
        let rank = if is_priority(rel) { 0 } else { 1 };
        out.push((rank, depth, file.to_owned()));
    }
    out.sort();
    out.into_iter().map(|(_, _, f)| f).collect()
}
