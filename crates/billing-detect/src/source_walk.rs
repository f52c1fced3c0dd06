//! A bounded walk over a package's own source files, for the small scans that generators and
//! wiring make after detection (the router a Go app builds, the login dependency of a FastAPI
//! app, the modules that import a call site).

use std::fs::FileType;
use std::path::Path;

/// Paths (`prefix`/… below `dir`, sorted) of the files `keep_file` accepts. Entries whose name
/// starts with a dot are skipped; a directory is entered when `enter_dir` accepts its name and
/// it lies at most `max_depth` levels below `dir`.
pub fn files(
    dir: &Path,
    prefix: &str,
    max_depth: usize,
    enter_dir: &dyn Fn(&str) -> bool,
    keep_file: &dyn Fn(&str, &FileType) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    collect(dir, prefix, 0, max_depth, enter_dir, keep_file, &mut out);
    out.sort();
    out
}

fn collect(
    dir: &Path,
    prefix: &str,
    depth: usize,
    max_depth: usize,
    enter_dir: &dyn Fn(&str) -> bool,
    keep_file: &dyn Fn(&str, &FileType) -> bool,
    out: &mut Vec<String>,
) {
    if depth > max_depth {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if enter_dir(&name) {
                collect(
                    &entry.path(),
                    &relative,
                    depth + 1,
                    max_depth,
                    enter_dir,
                    keep_file,
                    out,
                );
            }
        } else if keep_file(&name, &kind) {
            out.push(relative);
        }
    }
}
