//! Reads the package's source files (as they are on disk, or as they will be after the planned
//! changes) and finds where the app's own code uses the names that record usage.
//!
//! A file that *defines* one of a meter's names (the generated usage module, the generated
//! Express adapter) is not a feeder of that meter: generating a middleware is not registering
//! it. Any other file that references a name is: the app's own call, or a generated file the
//! framework loads by convention (a Nuxt `server/middleware` file, Rails initializers).

use std::collections::BTreeMap;
use std::path::Path;

use billing_changeset::FileChange;

/// Extensions of files that may call a usage helper or register middleware.
const SOURCE_EXTENSIONS: &[&str] = &[
    "ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "vue", "svelte", "astro", "py", "go",
    "php", "rb",
];

/// Directories that never hold the app's own request path.
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "vendor",
    ".venv",
    "venv",
    "dist",
    "build",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".output",
    "target",
    "__pycache__",
    "__tests__",
    "tests",
    "test",
    "spec",
    ".spaire-billing",
];

/// Larger files are bundles or data, not code someone wires by hand.
const MAX_FILE_BYTES: u64 = 512 * 1024;

/// Project-relative path → text of every source file of one package.
#[derive(Debug, Clone, Default)]
pub struct SourceView {
    pub files: BTreeMap<String, String>,
}

fn is_source(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    // Test files exercise helpers; they do not feed a meter in production.
    let test_file = stem.ends_with(".test")
        || stem.ends_with(".spec")
        || stem.ends_with("_test")
        || stem.starts_with("test_");
    SOURCE_EXTENSIONS.contains(&ext) && !test_file
}

fn in_package(package_dir: &str, path: &str) -> bool {
    package_dir.is_empty()
        || package_dir == "."
        || path
            .strip_prefix(package_dir.trim_end_matches('/'))
            .is_some_and(|rest| rest.starts_with('/'))
}

impl SourceView {
    /// The package's source files on disk, with `overlay` (planned changes) applied on top.
    pub fn read(root: &Path, package_dir: &str, overlay: &[FileChange]) -> Self {
        let mut files = BTreeMap::new();
        let base = if package_dir.is_empty() || package_dir == "." {
            root.to_path_buf()
        } else {
            root.join(package_dir)
        };
        let walker = ignore::WalkBuilder::new(&base)
            .hidden(true)
            .git_ignore(true)
            .require_git(false)
            .filter_entry(|entry| {
                !(entry.file_type().is_some_and(|t| t.is_dir())
                    && entry
                        .file_name()
                        .to_str()
                        .is_some_and(|name| SKIPPED_DIRS.contains(&name)))
            })
            .build();
        for entry in walker.flatten() {
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(root) else {
                continue;
            };
            let relative = relative.to_string_lossy().replace('\\', "/");
            if !is_source(&relative) || entry.metadata().map_or(true, |m| m.len() > MAX_FILE_BYTES)
            {
                continue;
            }
            // Unreadable or non-UTF-8 files cannot hold a call we would recognise.
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                files.insert(relative, text);
            }
        }
        for change in overlay {
            if is_source(&change.path)
                && in_package(package_dir, &change.path)
                && !change
                    .path
                    .split('/')
                    .any(|part| SKIPPED_DIRS.contains(&part))
            {
                files.insert(change.path.clone(), change.after.clone());
            }
        }
        Self { files }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// Byte offsets where `word` occurs in `line` as a whole identifier.
fn word_positions(line: &str, word: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = line[from..].find(word) {
        let start = from + found;
        let end = start + word.len();
        let before = line[..start].chars().next_back();
        let after = line[end..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            out.push(start);
        }
        from = end;
    }
    out
}

/// Lines that are comments (the generated modules document their helpers in comments).
fn is_comment(code: &str) -> bool {
    ["//", "#", "*", "/*", "<!--"]
        .iter()
        .any(|p| code.starts_with(p))
}

/// Import lines name a helper without calling it.
fn is_import(code: &str) -> bool {
    code.starts_with("import ")
        || code.starts_with("import{")
        || (code.starts_with("from ") && code.contains(" import "))
        || code.starts_with("use ")
        || code.starts_with("require ")
        || code.starts_with("require_relative ")
        || ((code.starts_with("const ") || code.starts_with("let ") || code.starts_with("var "))
            && code.contains("require(")
            && !code.contains(")("))
}

/// Whether `line` declares `word` (function, class, constant, method).
fn defines(line: &str, word: &str) -> bool {
    word_positions(line, word).into_iter().any(|start| {
        let before = line[..start].trim_end();
        let after = line[start + word.len()..].trim_start();
        [
            "function",
            "function*",
            "def",
            "func",
            "class",
            "const",
            "let",
            "var",
            "fn",
            "module",
        ]
        .iter()
        .any(|kw| {
            before == *kw
                || before
                    .strip_suffix(kw)
                    .is_some_and(|rest| rest.ends_with(char::is_whitespace))
        }) || (before.is_empty() && after.starts_with('=') && !after.starts_with("=="))
    })
}

/// Whether any line of `text` declares one of `names`.
pub fn file_defines(text: &str, names: &[String]) -> bool {
    text.lines()
        .any(|line| names.iter().any(|name| defines(line, name)))
}

/// One use of a name in the app's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub file: String,
    pub line: u32,
    pub name: String,
}

/// Every line (outside comments, imports and files that define one of `group`) that uses one
/// of `names`; with `literal`, only lines that also contain it (a generic helper called with
/// this meter's event name).
pub fn uses(
    view: &SourceView,
    group: &[String],
    names: &[String],
    literal: Option<&str>,
) -> Vec<Use> {
    let mut out = Vec::new();
    for (path, text) in &view.files {
        if file_defines(text, group) {
            continue;
        }
        for (index, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if is_comment(code) || is_import(code) {
                continue;
            }
            if let Some(literal) = literal
                && ![
                    format!("\"{literal}\""),
                    format!("'{literal}'"),
                    format!("`{literal}`"),
                ]
                .iter()
                .any(|quoted| code.contains(quoted.as_str()))
            {
                continue;
            }
            if let Some(name) = names
                .iter()
                .find(|name| !word_positions(code, name).is_empty())
            {
                out.push(Use {
                    file: path.clone(),
                    line: u32::try_from(index + 1).unwrap_or(u32::MAX),
                    name: name.clone(),
                });
            }
        }
    }
    out
}

/// The first line that declares `name` (where a manual step points the user).
pub fn definition(view: &SourceView, name: &str) -> Option<(String, u32)> {
    view.files.iter().find_map(|(path, text)| {
        text.lines()
            .position(|line| defines(line, name))
            .map(|index| (path.clone(), u32::try_from(index + 1).unwrap_or(u32::MAX)))
    })
}

/// Files and 1-based lines containing `needle`.
pub fn find_text(view: &SourceView, needle: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (path, text) in &view.files {
        for (index, line) in text.lines().enumerate() {
            if line.contains(needle) {
                out.push((path.clone(), u32::try_from(index + 1).unwrap_or(u32::MAX)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn definitions_are_recognised_in_every_language() {
        assert!(defines(
            "export function recordApiCall(customerId: string) {",
            "recordApiCall"
        ));
        assert!(defines(
            "export const spaireApiCalls = new Elysia()",
            "spaireApiCalls"
        ));
        assert!(defines(
            "def record_api_call(customer_id: str) -> None:",
            "record_api_call"
        ));
        assert!(defines(
            "func RecordAPICall(customerID string) {",
            "RecordAPICall"
        ));
        assert!(defines(
            "    public static function recordApiCall(string $id): void",
            "recordApiCall"
        ));
        assert!(defines("class ApiCallMiddleware:", "ApiCallMiddleware"));
        assert!(!defines("app.use(spaireApiCalls());", "spaireApiCalls"));
        assert!(!defines(
            "const x = recordApiCall(id, '/');",
            "recordApiCall"
        ));
    }

    #[test]
    fn uses_skip_comments_imports_and_defining_files() {
        let mut view = SourceView::default();
        view.files.insert(
            "src/server.js".into(),
            "const { spaireApiCalls } = require(\"./lib/spaire/express\");\n// app.use(spaireApiCalls());\nconst app = express();\napp.use(spaireApiCalls());\n".into(),
        );
        view.files.insert(
            "src/lib/spaire/express.js".into(),
            "function spaireApiCalls() {\n  return (req, res, next) => { recordApiCall(id, req.path); next(); };\n}\n".into(),
        );
        let group = names(&["spaireApiCalls", "recordApiCall"]);
        let found = uses(&view, &group, &group, None);
        assert_eq!(
            found,
            vec![Use {
                file: "src/server.js".into(),
                line: 4,
                name: "spaireApiCalls".into()
            }]
        );
    }

    #[test]
    fn generic_helpers_count_only_with_the_event_name() {
        let mut view = SourceView::default();
        view.files.insert(
            "src/a.ts".into(),
            "recordUsage(id, \"image-generated\");\nrecordUsage(id, \"other\");\n".into(),
        );
        let group = names(&["recordUsage"]);
        let found = uses(&view, &group, &group, Some("image-generated"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 1);
    }

    #[test]
    fn test_files_are_not_sources() {
        assert!(is_source("src/app.ts"));
        assert!(!is_source("src/app.test.ts"));
        assert!(!is_source("pkg/usage_test.go"));
        assert!(!is_source("README.md"));
    }
}
