//! Whether code in a file always runs while Next.js handles a request (app router), where
//! `auth()`, `headers()` and `after()` read the request from Next.js's request scope:
//!
//! - a route handler, page or layout in the app directory, or a `"use server"` module;
//! - a module imported only by such files (at most three imports deep), like the helper module
//!   a route handler's tools call (`ai/actions.ts` of gemini-chatbot).
//!
//! A module any other file imports (a CLI script, a build step, a pages-router API route, a
//! client component) is not: code there may run with no request, so it is never assumed.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use billing_detect::profile::{FrameworkId, Package};

const SOURCE_EXTENSIONS: &[&str] = &["ts", "tsx", "js", "jsx", "mts", "mjs"];
const SKIPPED_DIRS: &[&str] = &["node_modules", "public", "dist", "build", "out", ".next"];
/// Import hops from the call site's module to a request entry point.
const MAX_DEPTH: usize = 3;

/// The package's source files, each read and its imports resolved once per wiring run: every
/// call site (and every import hop) asks who imports a module, and without this each question
/// walked the package and read every file again. Built on the first question, so a run that
/// never asks (no Next.js, or no session resolver) reads nothing.
#[derive(Default)]
pub(crate) struct PackageSources {
    scanned: OnceLock<Sources>,
}

struct Sources {
    /// Package-relative path → text, for every source file that could be read.
    texts: HashMap<String, String>,
    /// Package-relative paths (sorted), each with the modules it imports: package-relative,
    /// without extension or trailing `/index`.
    imports: Vec<(String, BTreeSet<String>)>,
}

impl PackageSources {
    /// Every source file of `package` (package-relative path → text), read once per run.
    pub(crate) fn texts(&self, root: &Path, package: &Package) -> &HashMap<String, String> {
        &self.get(&root.join(package_dir(package)), package).texts
    }

    /// The scan of the package at `base` (the same package on every call of one run).
    fn get(&self, base: &Path, package: &Package) -> &Sources {
        self.scanned.get_or_init(|| {
            let mut texts = HashMap::new();
            let mut imports = Vec::new();
            let resolver = Resolver { package };
            for file in source_files(base) {
                let Ok(text) = std::fs::read_to_string(base.join(&file)) else {
                    continue;
                };
                let modules = specifiers(&text)
                    .into_iter()
                    .filter_map(|spec| resolver.resolve(&file, spec))
                    .map(|resolved| resolved.trim_end_matches("/index").to_owned())
                    .collect();
                imports.push((file.clone(), modules));
                texts.insert(file, text);
            }
            Sources { texts, imports }
        })
    }
}

/// Whether `file` (root-relative) runs only inside a Next.js app-router request. `sources` is
/// the package's scan, shared by every question of one wiring run.
pub(crate) fn in_request_scope(
    root: &Path,
    package: &Package,
    sources: &PackageSources,
    file: &str,
) -> bool {
    let Some(next) = package
        .frameworks
        .iter()
        .find(|f| f.id == FrameworkId::Nextjs)
    else {
        return false;
    };
    let package_dir = package_dir(package);
    let default_app = if package.src_dir { "src/app" } else { "app" };
    let app_dir = next
        .details
        .app_dir
        .as_deref()
        .map(|d| d.trim_start_matches("./").trim_end_matches('/').to_owned())
        .map(|d| {
            d.strip_prefix(&format!("{package_dir}/"))
                .map_or(d.clone(), str::to_owned)
        })
        .unwrap_or_else(|| default_app.to_owned());
    let Some(relative) = to_package(package_dir, file) else {
        return false;
    };
    let scan = Scan {
        base: root.join(package_dir),
        package,
        sources,
        app_dir,
    };
    scan.scoped(&relative, 0, &mut BTreeSet::new())
}

struct Scan<'a> {
    base: PathBuf,
    package: &'a Package,
    app_dir: String,
    sources: &'a PackageSources,
}

impl Scan<'_> {
    /// The package's scan, made on the first question that needs importers: a file whose
    /// directive or place answers alone reads nothing else.
    fn sources(&self) -> &Sources {
        self.sources.get(&self.base, self.package)
    }

    /// The file's text: the scan's when it was made and lists the file, else from disk.
    fn text(&self, relative: &str) -> Option<Cow<'_, str>> {
        match self
            .sources
            .scanned
            .get()
            .and_then(|s| s.texts.get(relative))
        {
            Some(text) => Some(Cow::Borrowed(text)),
            None => std::fs::read_to_string(self.base.join(relative))
                .ok()
                .map(Cow::Owned),
        }
    }

    fn scoped(&self, relative: &str, depth: usize, seen: &mut BTreeSet<String>) -> bool {
        if !seen.insert(relative.to_owned()) {
            // An import cycle adds no entry point that was not already checked.
            return true;
        }
        let Some(text) = self.text(relative) else {
            return false;
        };
        match directive(&text) {
            Some("use client") => return false,
            Some("use server") => return true,
            _ => {}
        }
        if self.is_app_entry(relative) {
            return true;
        }
        if depth >= MAX_DEPTH {
            return false;
        }
        let target = strip_source_ext(relative).trim_end_matches("/index");
        let importers: Vec<&String> = self
            .sources()
            .imports
            .iter()
            .filter(|(other, modules)| other.as_str() != relative && modules.contains(target))
            .map(|(other, _)| other)
            .collect();
        !importers.is_empty()
            && importers
                .into_iter()
                .all(|importer| self.scoped(importer, depth + 1, seen))
    }

    /// `route.ts`, `page.tsx`, `layout.tsx` in the app directory.
    fn is_app_entry(&self, relative: &str) -> bool {
        let Some(inside) = relative.strip_prefix(&format!("{}/", self.app_dir)) else {
            return false;
        };
        let name = inside.rsplit('/').next().unwrap_or(inside);
        let stem = name.split('.').next().unwrap_or(name);
        matches!(stem, "route" | "page" | "layout")
    }
}

/// Resolves import specifiers against the package's path aliases.
struct Resolver<'a> {
    package: &'a Package,
}

impl Resolver<'_> {
    /// A specifier as a package-relative path without extension (relative or aliased).
    fn resolve(&self, importer: &str, spec: &str) -> Option<String> {
        let spec = strip_source_ext(spec);
        if spec.starts_with('.') {
            let dir = importer.rsplit_once('/').map_or("", |(d, _)| d);
            return Some(normalise(&format!("{dir}/{spec}")));
        }
        self.package.aliases.iter().find_map(|alias| {
            let prefix = alias.prefix.trim_end_matches('*');
            let rest = spec.strip_prefix(prefix)?;
            let target = alias
                .target
                .trim_start_matches("./")
                .trim_end_matches('*')
                .trim_end_matches('/');
            Some(normalise(&format!("{target}/{rest}")))
        })
    }
}

/// The file's leading `"use server"` / `"use client"` directive.
fn directive(text: &str) -> Option<&'static str> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("//"))?;
    let first = first.trim_end_matches(';').trim_matches(['"', '\'']);
    match first {
        "use server" => Some("use server"),
        "use client" => Some("use client"),
        _ => None,
    }
}

/// Module specifiers of `import .. from "x"`, `export .. from "x"`, `import("x")`.
fn specifiers(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for marker in ["from ", "import(", "import "] {
        for (at, _) in text.match_indices(marker) {
            let rest = text[at + marker.len()..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
                continue;
            };
            if let Some(end) = rest[1..].find(quote) {
                out.push(&rest[1..=end]);
            }
        }
    }
    out
}

fn strip_source_ext(path: &str) -> &str {
    SOURCE_EXTENSIONS
        .iter()
        .find_map(|ext| path.strip_suffix(&format!(".{ext}")))
        .unwrap_or(path)
}

/// `a/./b/../c` → `a/c`.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The source of module `spec` as `file` (root-relative) imports it: its root-relative path
/// and text, when it is one of the package's own files (relative or aliased specifier).
pub(crate) fn imported_source<'s>(
    root: &Path,
    package: &Package,
    sources: &'s PackageSources,
    file: &str,
    spec: &str,
) -> Option<(String, &'s str)> {
    let dir = package_dir(package);
    let importer = to_package(dir, file)?;
    let resolved = Resolver { package }.resolve(&importer, spec)?;
    let texts = sources.texts(root, package);
    let candidates = SOURCE_EXTENSIONS
        .iter()
        .map(|ext| format!("{resolved}.{ext}"))
        .chain(
            SOURCE_EXTENSIONS
                .iter()
                .map(|ext| format!("{resolved}/index.{ext}")),
        );
    candidates.into_iter().find_map(|candidate| {
        let text = texts.get(&candidate)?;
        let path = if dir.is_empty() {
            candidate
        } else {
            format!("{dir}/{candidate}")
        };
        Some((path, text.as_str()))
    })
}

/// The package's directory relative to the project root (`""` for the root itself).
pub(crate) fn package_dir(package: &Package) -> &str {
    let dir = package.path.trim_start_matches("./").trim_end_matches('/');
    if dir == "." { "" } else { dir }
}

fn to_package(package_dir: &str, file: &str) -> Option<String> {
    let file = file.trim_start_matches("./");
    if package_dir.is_empty() {
        return Some(file.to_owned());
    }
    file.strip_prefix(&format!("{package_dir}/"))
        .map(str::to_owned)
}

/// The package's own source files, package-relative and sorted.
pub(crate) fn source_files(base: &Path) -> Vec<String> {
    billing_detect::source_walk::files(
        base,
        "",
        8,
        &|dir| !SKIPPED_DIRS.contains(&dir),
        &|name, kind| {
            kind.is_file()
                && !name.ends_with(".d.ts")
                && SOURCE_EXTENSIONS
                    .iter()
                    .any(|ext| name.ends_with(&format!(".{ext}")))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers_and_paths() {
        let text = "import { a } from \"@/ai/actions\";\nexport * from './x';\nconst m = await import(\"../y\");\nimport \"server-only\";\n";
        assert_eq!(
            specifiers(text),
            vec!["@/ai/actions", "./x", "../y", "server-only"]
        );
        assert_eq!(normalise("app/(chat)/api/../../actions"), "app/actions");
        assert_eq!(
            directive("\n// c\n\"use server\";\nimport x"),
            Some("use server")
        );
        assert_eq!(directive("'use client'\n"), Some("use client"));
        assert_eq!(directive("import x from 'y'\n"), None);
    }
}
