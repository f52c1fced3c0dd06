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
    "scripts",
];

/// Directories of sample code. Skipped like [`NON_APP_DIRS`] while an app exists outside
/// them; when none does, the app may be one of them ([`example_sources`]).
pub const EXAMPLE_DIRS: &[&str] = &["examples", "example", "demo", "demos", "samples", "sample"];

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
/// nested inside it, nor sample code — with one of `extensions`, most promising first.
pub fn package_sources(
    scan: &Scan<'_>,
    dir: &str,
    package_dirs: &HashSet<String>,
    extensions: &[&str],
    is_priority: impl Fn(&str) -> bool,
) -> Vec<String> {
    sources(scan, dir, package_dirs, extensions, is_priority, false)
}

/// The package's sample-code sources (under an [`EXAMPLE_DIRS`] directory), ranked like
/// [`package_sources`]; group them with [`example_root`].
pub fn example_sources(
    scan: &Scan<'_>,
    dir: &str,
    package_dirs: &HashSet<String>,
    extensions: &[&str],
    is_priority: impl Fn(&str) -> bool,
) -> Vec<String> {
    sources(scan, dir, package_dirs, extensions, is_priority, true)
}

/// The sample app a file of `dir` belongs to: the directory right under the outermost
/// example directory (`examples/chat-basic` for `examples/chat-basic/app.py`), or the example
/// directory itself for a file directly in it.
pub fn example_root(file: &str, dir: &str) -> Option<String> {
    let rel = strip_dir(file, dir).unwrap_or(file);
    let parts: Vec<&str> = rel.split('/').collect();
    let at = parts[..parts.len().saturating_sub(1)]
        .iter()
        .position(|p| EXAMPLE_DIRS.contains(p))?;
    let depth = if at + 2 < parts.len() { at + 2 } else { at + 1 };
    let root = parts[..depth].join("/");
    Some(if dir == "." || dir.is_empty() {
        root
    } else {
        format!("{}/{root}", dir.trim_end_matches('/'))
    })
}

fn sources(
    scan: &Scan<'_>,
    dir: &str,
    package_dirs: &HashSet<String>,
    extensions: &[&str],
    is_priority: impl Fn(&str) -> bool,
    examples: bool,
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
        let mut in_example = false;
        let mut parent = parent_rel(file);
        while parent != dir {
            if package_dirs.contains(parent) {
                continue 'files;
            }
            let base = file_name(parent);
            if NON_APP_DIRS.contains(&base) {
                continue 'files;
            }
            in_example |= EXAMPLE_DIRS.contains(&base);
            if parent == "." {
                break;
            }
            parent = parent_rel(parent);
        }
        if in_example != examples {
            continue;
        }
        let rel = strip_dir(file, dir).unwrap_or(file);
        let depth = rel.matches('/').count();
        let rank = if is_priority(rel) { 0 } else { 1 };
        out.push((rank, depth, file.to_owned()));
    }
    out.sort();
    out.into_iter().map(|(_, _, f)| f).collect()
}

#[cfg(test)]
mod tests {
    use super::example_root;

    #[test]
    fn sample_app_roots() {
        assert_eq!(
            example_root("examples/chat-basic/app.py", ".").as_deref(),
            Some("examples/chat-basic")
        );
        assert_eq!(
            example_root("examples/chat-basic/static/x.py", ".").as_deref(),
            Some("examples/chat-basic")
        );
        assert_eq!(example_root("demo/app.py", ".").as_deref(), Some("demo"));
        assert_eq!(
            example_root("svc/samples/a/main.py", "svc").as_deref(),
            Some("svc/samples/a")
        );
        assert_eq!(example_root("app/main.py", "."), None);
    }
}
