//! One parallel walk of the project that only *lists* paths: manifests, configs and source
//! files by name. Nothing is read or even `stat`ed here, which is what lets `detect` keep up
//! with `rg --files` on large monorepos; the detectors then read the few files they need.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::{WalkBuilder, WalkState};

/// Directories that never hold the user's own sources: dependencies, virtualenvs, build
/// output and caches. Skipped even when no `.gitignore` says so.
pub const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    ".venv",
    "venv",
    "vendor",
    "target",
    "dist",
    "build",
    ".next",
    ".nuxt",
    ".output",
    ".svelte-kit",
    ".astro",
    ".vercel",
    ".netlify",
    ".turbo",
    ".react-router",
    ".cache",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    "site-packages",
    "coverage",
    ".git",
    ".hg",
    ".svn",
];

/// Hidden directories that do matter (deploy workflows).
const HIDDEN_DIRS_KEPT: &[&str] = &[".github"];

const SOURCE_EXTENSIONS: &[&str] = &[
    "ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "py", "go", "php", "rb", "vue", "svelte",
    "astro",
];

const NAMED_FILES: &[&str] = &[
    "package.json",
    "pnpm-workspace.yaml",
    "pnpm-lock.yaml",
    "yarn.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "bun.lock",
    "bun.lockb",
    "turbo.json",
    "nx.json",
    "lerna.json",
    "pyproject.toml",
    "uv.lock",
    "poetry.lock",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "setup.cfg",
    "go.mod",
    "go.work",
    "composer.json",
    "composer.lock",
    "artisan",
    "Gemfile",
    "Gemfile.lock",
    "config.ru",
    "tsconfig.json",
    "jsconfig.json",
    "vercel.json",
    "netlify.toml",
    "fly.toml",
    "railway.json",
    "railway.toml",
    "render.yaml",
    "serverless.yml",
    "serverless.yaml",
    "Procfile",
];

/// Config files recognised by prefix (`next.config.mjs`, `astro.config.ts`, ...).
const CONFIG_PREFIXES: &[&str] = &[
    "next.config.",
    "nuxt.config.",
    "astro.config.",
    "svelte.config.",
    "vite.config.",
    "react-router.config.",
    "remix.config.",
    "tsconfig.",
];

/// What the walk found. Paths are relative to the root with `/` separators.
#[derive(Debug, Default, Clone)]
pub struct Inventory {
    /// Manifests, configs and source files (sorted, unique).
    pub files: Vec<String>,
    /// Every directory that was walked, "." included (sorted).
    pub dirs: BTreeSet<String>,
    /// Paths that could not be walked and why.
    pub notes: Vec<String>,
    /// Indices into `files` by parent directory (filled once the walk is done).
    by_dir: std::collections::HashMap<String, Vec<u32>>,
}

impl Inventory {
    pub fn has_file(&self, rel: &str) -> bool {
        self.files.binary_search_by(|f| f.as_str().cmp(rel)).is_ok()
    }

    pub fn has_dir(&self, rel: &str) -> bool {
        self.dirs.contains(rel)
    }

    /// Files directly inside `dir`, sorted.
    pub fn files_in<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.by_dir
            .get(dir)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|i| self.files[*i as usize].as_str())
    }

    fn index_by_dir(&mut self) {
        let mut by_dir: std::collections::HashMap<String, Vec<u32>> =
            std::collections::HashMap::new();
        for (i, f) in self.files.iter().enumerate() {
            let parent = crate::text::parent_rel(f);
            // Files are sorted, so siblings are adjacent: one lookup per directory.
            match by_dir.get_mut(parent) {
                Some(v) => v.push(u32::try_from(i).unwrap_or(u32::MAX)),
                None => {
                    by_dir.insert(
                        parent.to_owned(),
                        vec![u32::try_from(i).unwrap_or(u32::MAX)],
                    );
                }
            }
        }
        self.by_dir = by_dir;
    }

    /// Files anywhere below `dir` ("." = everything).
    pub fn files_under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = if dir == "." {
            String::new()
        } else {
            format!("{dir}/")
        };
        let start = self.files.partition_point(|f| f.as_str() < prefix.as_str());
        self.files[start..]
            .iter()
            .take_while(move |f| f.starts_with(&prefix))
            .map(String::as_str)
    }

    /// Directories anywhere below `dir` (excluding `dir`).
    pub fn dirs_under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = if dir == "." {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.dirs
            .range(prefix.clone()..)
            .take_while(move |d| d.starts_with(&prefix))
            .filter(|d| d.as_str() != ".")
            .map(String::as_str)
    }
}

pub fn is_source_file(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && SOURCE_EXTENSIONS.contains(&ext))
}

/// Whether a file is worth listing, judged by its path alone (no allocation: this runs for
/// every file of the project).
fn is_relevant(path: &Path, name: &str) -> bool {
    if NAMED_FILES.contains(&name) || is_source_file(name) {
        return true;
    }
    if CONFIG_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    if name.starts_with("requirements") && (name.ends_with(".txt") || name.ends_with(".in")) {
        return true;
    }
    let parent = path.parent();
    let parent_name = parent.and_then(Path::file_name).and_then(|n| n.to_str());
    if parent_name == Some("requirements") && name.ends_with(".txt") {
        return true;
    }
    let grandparent_name = parent
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    parent_name == Some("workflows")
        && grandparent_name == Some(".github")
        && (name.ends_with(".yml") || name.ends_with(".yaml"))
}

/// Per-thread buffer, merged once when the thread's visitor is dropped (no lock per file).
struct Collector {
    files: Vec<String>,
    dirs: Vec<String>,
    notes: Vec<String>,
    shared: Arc<Mutex<Inventory>>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(mut inv) = self.shared.lock() {
            inv.files.append(&mut self.files);
            inv.dirs.extend(self.dirs.drain(..));
            inv.notes.append(&mut self.notes);
        }
    }
}

/// Lists the project under `root` (which must be an existing directory).
pub fn inventory(root: &Path) -> Inventory {
    let shared = Arc::new(Mutex::new(Inventory::default()));
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        // Not following links keeps the walk at one `readdir` per directory (following
        // costs a `stat` per entry); symlinked directories are reported in notes instead.
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            if !is_dir || entry.depth() == 0 {
                return true;
            }
            let name = entry.file_name().to_string_lossy();
            if SKIPPED_DIRS.contains(&name.as_ref()) {
                return false;
            }
            !name.starts_with('.') || HIDDEN_DIRS_KEPT.contains(&name.as_ref())
        })
        .build_parallel();

    walker.run(|| {
        let mut collector = Collector {
            files: Vec::new(),
            dirs: Vec::new(),
            notes: Vec::new(),
            shared: Arc::clone(&shared),
        };
        let root = root.to_path_buf();
        let canonical_root = canonical_root.clone();
        Box::new(move |result| {
            let entry = match result {
                Ok(entry) => entry,
                Err(err) => {
                    collector.notes.push(describe_walk_error(&root, &err));
                    return WalkState::Continue;
                }
            };
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let is_link = entry.path_is_symlink();
            if !is_dir && !is_link {
                let name = entry.file_name().to_string_lossy();
                if !is_relevant(entry.path(), &name) {
                    return WalkState::Continue;
                }
            }
            let Some(rel) = relative(&root, entry.path()) else {
                return WalkState::Continue;
            };
            if is_link && let Some(note) = symlink_note(&canonical_root, entry.path(), &rel) {
                collector.notes.push(note);
                return WalkState::Continue;
            }
            if is_dir {
                collector.dirs.push(rel);
            } else if !is_link || is_relevant(entry.path(), &entry.file_name().to_string_lossy()) {
                collector.files.push(rel);
            }
            WalkState::Continue
        })
    });

    let mut inv = Arc::try_unwrap(shared)
        .map(|m| m.into_inner().unwrap_or_default())
        .unwrap_or_else(|arc| arc.lock().map(|g| g.clone()).unwrap_or_default());
    inv.dirs.insert(".".to_owned());
    inv.files.sort_unstable();
    inv.files.dedup();
    inv.index_by_dir();
    inv.notes.sort();
    inv.notes.dedup();
    inv
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    if rel.as_os_str().is_empty() {
        return Some(".".to_owned());
    }
    #[cfg(unix)]
    if let Some(s) = rel.to_str() {
        return Some(s.to_owned());
    }
    let mut out = String::new();
    for part in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        // Non-UTF-8 names are shown lossily; such files are never manifests we parse.
        out.push_str(&part.as_os_str().to_string_lossy());
    }
    Some(out)
}

/// Symlinks to directories are not followed and get a note (they may hide sources); `None`
/// means the link points to a file, which is listed like any other file.
fn symlink_note(canonical_root: &Path, path: &Path, rel: &str) -> Option<String> {
    let Ok(target) = path.canonicalize() else {
        return Some(format!("`{rel}`: broken symlink, skipped"));
    };
    if !target.is_dir() {
        return None;
    }
    if !target.starts_with(canonical_root) {
        return Some(format!(
            "`{rel}`: symlink to a directory outside the project, not followed"
        ));
    }
    let parent = path.parent().and_then(|p| p.canonicalize().ok());
    if parent.is_some_and(|p| p.starts_with(&target)) {
        return Some(format!("`{rel}`: symlink loop, skipped"));
    }
    Some(format!("`{rel}`: symlinked directory, not followed"))
}

fn describe_walk_error(root: &Path, err: &ignore::Error) -> String {
    let mut path: Option<PathBuf> = None;
    let mut current = err;
    loop {
        match current {
            ignore::Error::WithPath { path: p, err } => {
                path.get_or_insert_with(|| p.clone());
                current = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                current = err;
            }
            ignore::Error::Loop { child, .. } => {
                let rel = relative(root, child).unwrap_or_else(|| child.display().to_string());
                return format!("`{rel}`: symlink loop, skipped");
            }
            other => {
                let rel = path
                    .as_deref()
                    .and_then(|p| relative(root, p))
                    .unwrap_or_else(|| ".".to_owned());
                return format!("`{rel}`: {other}, skipped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn lists_manifests_and_sources_and_skips_dependency_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "package.json", "{}");
        write(root, "src/index.ts", "");
        write(root, "node_modules/next/package.json", "{}");
        write(root, ".venv/lib/x.py", "");
        write(root, "README.md", "");
        write(root, "ignored/package.json", "{}");
        write(root, ".gitignore", "ignored/\n");
        write(root, ".github/workflows/deploy.yml", "");
        write(root, "requirements/base.txt", "");
        let inv = inventory(root);
        let files: Vec<_> = inv.files.iter().map(String::as_str).collect();
        assert_eq!(
            files,
            [
                ".github/workflows/deploy.yml",
                "package.json",
                "requirements/base.txt",
                "src/index.ts"
            ]
        );
        assert!(inv.has_dir("src"));
        assert!(!inv.has_dir("node_modules"));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_noted_not_followed_forever() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "a/package.json", "{}");
        std::os::unix::fs::symlink(root.join("a"), root.join("a/loop")).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::fs::create_dir(root.join("linked")).unwrap();
        std::os::unix::fs::symlink(
            root.join("a/package.json"),
            root.join("linked/package.json"),
        )
        .unwrap();
        let inv = inventory(root);
        assert!(inv.has_file("a/package.json"));
        // A symlinked file is listed like a regular one.
        assert!(inv.has_file("linked/package.json"));
        assert_eq!(
            inv.files_in("linked").collect::<Vec<_>>(),
            ["linked/package.json"]
        );
        assert!(
            inv.notes.iter().any(|n| n.contains("symlink loop")),
            "{:?}",
            inv.notes
        );
        assert!(
            inv.notes.iter().any(|n| n.contains("outside the project")),
            "{:?}",
            inv.notes
        );
    }
}
