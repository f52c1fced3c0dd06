//! The import block of a generated Python file, laid out as isort (profile `black`) and ruff's
//! `I` rules lay it out, so the files pass a project's import and line-length checks even
//! where its formatter is not installed for `plan` to run (issue #15): sections (`__future__`,
//! standard library, third party, the app's own modules, relative) one blank line apart;
//! `import x` before `from x import y` in each; modules and names in isort's order (constants,
//! classes, then functions, case-insensitively); one statement per module; a statement longer
//! than the project's line length wrapped in black's parenthesised, one-name-per-line form.
//!
//! Only the top-level block right after the module docstring is touched, and only when it is
//! made of plain import statements (a comment or anything else in it leaves the file as it is):
//! the input is always our own rendered template.

/// How the project checks imports: its line length (ruff / black / isort, default 88) and the
/// top-level names of its own modules (isort's first-party section).
#[derive(Debug, Clone)]
pub struct ImportStyle {
    pub line_length: usize,
    pub first_party: Vec<String>,
}

impl Default for ImportStyle {
    fn default() -> Self {
        ImportStyle {
            line_length: DEFAULT_LINE_LENGTH,
            first_party: Vec::new(),
        }
    }
}

/// The files whose ruff / isort / black settings decide the layout of Python the tool writes
/// ([`configured_line_length`] reads them), looked up from the package's directory to the root.
pub const LAYOUT_CONFIGS: &[&str] = &[
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    ".isort.cfg",
    "setup.cfg",
    "tox.ini",
];

/// ruff's and black's default, and isort's under profile `black`.
pub const DEFAULT_LINE_LENGTH: usize = 88;

/// The line length a project configures for ruff, isort or black (in that order of
/// precedence: ruff and isort are the tools that wrap imports), read from `pyproject.toml`,
/// `ruff.toml` / `.ruff.toml`, `.isort.cfg`, `setup.cfg` or `tox.ini` texts given as
/// `(file name, text)`, nearest directory first.
pub fn configured_line_length(files: &[(&str, &str)]) -> Option<usize> {
    for (name, text) in files {
        let found = match *name {
            "pyproject.toml" => section_value(text, "[tool.ruff]", &["line-length"])
                .or_else(|| section_value(text, "[tool.isort]", &["line_length", "line-length"]))
                .or_else(|| section_value(text, "[tool.black]", &["line-length", "line_length"])),
            "ruff.toml" | ".ruff.toml" => section_value(text, "", &["line-length"]),
            ".isort.cfg" => section_value(text, "[settings]", &["line_length", "line-length"])
                .or_else(|| section_value(text, "[isort]", &["line_length", "line-length"])),
            "setup.cfg" | "tox.ini" => section_value(text, "[isort]", &["line_length"])
                .or_else(|| section_value(text, "[tool:isort]", &["line_length"])),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The `max-line-length` flake8 reads from `.flake8`, `setup.cfg` or `tox.ini` texts given as
/// `(file name, text)`, nearest directory first (flake8's default, 79, is the caller's).
pub fn flake8_line_length(files: &[(&str, &str)]) -> Option<usize> {
    files.iter().find_map(|(name, text)| match *name {
        ".flake8" | "setup.cfg" | "tox.ini" => {
            section_value(text, "[flake8]", &["max-line-length", "max_line_length"])
        }
        _ => None,
    })
}

/// `key = N` inside `[section]` (`""`: before any section header).
fn section_value(text: &str, section: &str, keys: &[&str]) -> Option<usize> {
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            current = line.split('#').next().unwrap_or("").trim().to_owned();
            continue;
        }
        if current != section {
            continue;
        }
        let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            continue;
        };
        if keys.contains(&key.trim()) {
            let value = value.split('#').next().unwrap_or("").trim();
            if let Ok(n) = value.parse::<usize>()
                && (20..=1000).contains(&n)
            {
                return Some(n);
            }
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Future,
    StandardLibrary,
    ThirdParty,
    FirstParty,
    Local,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `import module [as alias]`
    Import {
        module: String,
        alias: Option<String>,
    },
    /// `from module import name [as alias], ...`
    From {
        module: String,
        names: Vec<(String, Option<String>)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    kind: Kind,
    /// Whole-line comments right above it (they stay with it, as in isort).
    above: Vec<String>,
    /// A comment after it (`# type: ignore[...]`); kept on its first line.
    trailing: Option<String>,
}

impl Statement {
    fn module(&self) -> &str {
        match &self.kind {
            Kind::Import { module, .. } | Kind::From { module, .. } => module,
        }
    }

    fn has_comments(&self) -> bool {
        !self.above.is_empty() || self.trailing.is_some()
    }
}

/// `source` with its top-level import block laid out as isort / ruff would.
pub fn format_imports(source: &str, style: &ImportStyle) -> String {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let Some((start, end)) = import_block(&lines) else {
        return source.to_owned();
    };
    let text: String = lines[start..end].concat();
    let Some(block) = parse(&text).and_then(|statements| render(&statements, style)) else {
        return source.to_owned();
    };
    let mut out: String = lines[..start].concat();
    out.push_str(&block);
    // Then isort's `lines_after_imports = -1`: two blank lines when the next statement (past
    // comments) is a `def`, `class` or decorator, one otherwise.
    let rest = &lines[end..];
    let code = rest
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(rest.len());
    if code < rest.len() {
        let next = rest[code..]
            .iter()
            .map(|l| l.trim_end())
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let declaration = ["def ", "class ", "@", "async def "]
            .iter()
            .any(|p| next.starts_with(p));
        out.push_str(if declaration { "\n\n" } else { "\n" });
    }
    out.push_str(&rest[code..].concat());
    out
}

/// Lines `[start, end)` of the import block: from the first top-level `import` / `from` line
/// after the header comments and the module docstring, through the last import statement
/// (blank lines between statements included, the ones after it not).
fn import_block(lines: &[&str]) -> Option<(usize, usize)> {
    let mut i = 0;
    let mut in_docstring: Option<&str> = None;
    let mut start = None;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if let Some(quote) = in_docstring {
            if line.contains(quote) {
                in_docstring = None;
            }
            i += 1;
            continue;
        }
        if start.is_none() {
            if line.is_empty() || line.starts_with('#') {
                i += 1;
                continue;
            }
            if let Some(quote) = ["\"\"\"", "'''"].into_iter().find(|q| line.starts_with(q)) {
                if !line[3..].contains(quote) {
                    in_docstring = Some(quote);
                }
                i += 1;
                continue;
            }
        }
        if is_import_start(line) {
            start.get_or_insert(i);
            // A parenthesised import runs to its closing parenthesis.
            if line.contains('(') && !line.contains(')') {
                while i + 1 < lines.len() && !lines[i].contains(')') {
                    i += 1;
                }
            }
            i += 1;
            // Blank lines and comments up to the next import belong to the block.
            let mut end = i;
            while end < lines.len() && (lines[end].trim().is_empty() || lines[end].starts_with('#'))
            {
                end += 1;
            }
            if end < lines.len() && is_import_start(lines[end].trim_end()) {
                i = end;
                continue;
            }
            return Some((start?, i));
        }
        return None;
    }
    None
}

fn is_import_start(line: &str) -> bool {
    line.starts_with("import ") || line.starts_with("from ")
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_module(s: &str, relative: bool) -> bool {
    let name = if relative {
        s.trim_start_matches('.')
    } else {
        s
    };
    (relative && name.is_empty()) || name.split('.').all(is_identifier)
}

/// One `name` or `name as alias`.
fn parse_alias(part: &str) -> Option<(String, Option<String>)> {
    let words: Vec<&str> = part.split_whitespace().collect();
    match words.as_slice() {
        [name] => Some(((*name).to_owned(), None)),
        [name, "as", alias] if is_identifier(alias) => {
            Some(((*name).to_owned(), Some((*alias).to_owned())))
        }
        _ => None,
    }
}

/// The statements of the block, or `None` when it holds anything but plain imports and
/// comments above or after them.
fn parse(text: &str) -> Option<Vec<Statement>> {
    let mut statements = Vec::new();
    let mut above: Vec<String> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('#') {
            above.push(line.to_owned());
            continue;
        }
        let (code, comment) = split_comment(line);
        let mut code = code.to_owned();
        if code.contains('(') && !code.contains(')') {
            // The names run to the closing parenthesis; a comment among them is not ours.
            if comment.is_some() && !code.trim_end().ends_with('(') {
                return None;
            }
            for inner in lines.by_ref() {
                let (inner, comment) = split_comment(inner);
                if comment.is_some() {
                    return None;
                }
                code.push(' ');
                code.push_str(inner.trim());
                if inner.contains(')') {
                    break;
                }
            }
        }
        if code.contains([';', '\\']) {
            return None;
        }
        let code = code.replace(['(', ')'], " ");
        let code = code.trim();
        let kinds: Vec<Kind> = if let Some(rest) = code.strip_prefix("import ") {
            rest.split(',')
                .map(|part| {
                    let (module, alias) = parse_alias(part)?;
                    is_module(&module, false).then_some(Kind::Import { module, alias })
                })
                .collect::<Option<_>>()?
        } else if let Some(rest) = code.strip_prefix("from ") {
            let (module, names) = rest.split_once(" import ")?;
            let module = module.trim().to_owned();
            if !is_module(&module, module.starts_with('.')) {
                return None;
            }
            let names: Vec<(String, Option<String>)> = names
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(parse_alias)
                .collect::<Option<_>>()?;
            if names.is_empty() || names.iter().any(|(n, _)| !is_identifier(n)) {
                return None;
            }
            vec![Kind::From { module, names }]
        } else {
            return None;
        };
        if kinds.len() > 1 && (comment.is_some() || !above.is_empty()) {
            return None;
        }
        for kind in kinds {
            statements.push(Statement {
                kind,
                above: std::mem::take(&mut above),
                trailing: comment.map(str::to_owned),
            });
        }
    }
    above.is_empty().then_some(statements)
}

/// `code  # comment` → (`code`, `Some("# comment")`); import lines hold no strings.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    match line.find('#') {
        Some(at) => (line[..at].trim_end(), Some(line[at..].trim_end())),
        None => (line.trim_end(), None),
    }
}

fn section_of(module: &str, style: &ImportStyle) -> Section {
    if module.starts_with('.') {
        return Section::Local;
    }
    let top = module.split('.').next().unwrap_or(module);
    if top == "__future__" {
        Section::Future
    } else if STANDARD_LIBRARY.binary_search(&top).is_ok() {
        Section::StandardLibrary
    } else if style.first_party.iter().any(|f| f == top) {
        Section::FirstParty
    } else {
        Section::ThirdParty
    }
}

/// isort's `module_key` for a module (case-insensitive; a relative module's dots come first).
fn module_key(module: &str) -> String {
    let dots = module.len() - module.trim_start_matches('.').len();
    if dots > 0 {
        format!("{}_{}", &module[..dots], module[dots..].to_lowercase())
    } else {
        module.to_lowercase()
    }
}

/// isort's `order_by_type` key for an imported name: CONSTANTS, then Classes, then the rest.
fn name_key(name: &str) -> (u8, String) {
    let kind = if name.len() > 1 && name.to_uppercase() == name && name != name.to_lowercase() {
        0
    } else if name.starts_with(|c: char| c.is_ascii_uppercase()) {
        1
    } else {
        2
    };
    (kind, name.to_lowercase())
}

fn alias_text((name, alias): &(String, Option<String>)) -> String {
    match alias {
        Some(alias) => format!("{name} as {alias}"),
        None => name.clone(),
    }
}

/// `from module import names`, wrapped when longer than the line length (a comment after
/// it counts, and stays on the first line).
fn from_line(
    module: &str,
    names: &[(String, Option<String>)],
    trailing: Option<&str>,
    line_length: usize,
) -> String {
    let parts: Vec<String> = names.iter().map(alias_text).collect();
    let comment = trailing.map(|c| format!("  {c}")).unwrap_or_default();
    let single = format!("from {module} import {}{comment}", parts.join(", "));
    if single.chars().count() <= line_length {
        return format!("{single}\n");
    }
    let mut out = format!("from {module} import ({comment}\n");
    for part in parts {
        out.push_str(&format!("    {part},\n"));
    }
    out.push_str(")\n");
    out
}

/// The block's text, or `None` for a shape we do not lay out (a commented statement of a
/// module imported by another statement too).
fn render(statements: &[Statement], style: &ImportStyle) -> Option<String> {
    let mut sections: Vec<Section> = statements
        .iter()
        .map(|s| section_of(s.module(), style))
        .collect();
    sections.sort();
    sections.dedup();
    let mut blocks = Vec::new();
    for section in sections {
        let in_section: Vec<&Statement> = statements
            .iter()
            .filter(|s| section_of(s.module(), style) == section)
            .collect();
        // `import x` lines first, then `from x import y` lines, each by module.
        let mut straight: Vec<&Statement> = in_section
            .iter()
            .copied()
            .filter(|s| matches!(s.kind, Kind::Import { .. }))
            .collect();
        straight.sort_by_key(|s| match &s.kind {
            Kind::Import { module, alias } => (module_key(module), alias.clone(), module.clone()),
            Kind::From { .. } => unreachable!("filtered above"),
        });
        straight.dedup_by(|a, b| a.kind == b.kind && !a.has_comments() && !b.has_comments());
        let mut modules: Vec<&str> = in_section
            .iter()
            .filter(|s| matches!(s.kind, Kind::From { .. }))
            .map(|s| s.module())
            .collect();
        modules.sort_by_key(|m| (module_key(m), m.to_string()));
        modules.dedup();
        let mut lines: Vec<(Vec<String>, String)> = Vec::new();
        for statement in straight {
            let Kind::Import { module, alias } = &statement.kind else {
                continue;
            };
            let comment = statement
                .trailing
                .as_ref()
                .map(|c| format!("  {c}"))
                .unwrap_or_default();
            lines.push((
                statement.above.clone(),
                format!(
                    "import {}{comment}\n",
                    alias_text(&(module.clone(), alias.clone()))
                ),
            ));
        }
        for module in modules {
            let of_module: Vec<&Statement> = in_section
                .iter()
                .copied()
                .filter(|s| matches!(s.kind, Kind::From { .. }) && s.module() == module)
                .collect();
            if of_module.len() > 1 && of_module.iter().any(|s| s.has_comments()) {
                return None;
            }
            let above = of_module[0].above.clone();
            let trailing = of_module[0].trailing.as_deref();
            let mut names: Vec<(String, Option<String>)> = of_module
                .iter()
                .filter_map(|s| match &s.kind {
                    Kind::From { names, .. } => Some(names.clone()),
                    Kind::Import { .. } => None,
                })
                .flatten()
                .collect();
            names.sort_by(|a, b| (name_key(&a.0), &a.1).cmp(&(name_key(&b.0), &b.1)));
            names.dedup();
            if trailing.is_some() && names.iter().any(|n| n.1.is_some()) && names.len() > 1 {
                return None;
            }
            // Without isort's `combine_as_imports`, each `as` import is a statement of its
            // own, in its name's place: the plain names before and after it form their own.
            let mut text = String::new();
            let mut plain: Vec<(String, Option<String>)> = Vec::new();
            for name in names {
                if name.1.is_some() {
                    if !plain.is_empty() {
                        text.push_str(&from_line(module, &plain, None, style.line_length));
                        plain.clear();
                    }
                    text.push_str(&from_line(module, &[name], trailing, style.line_length));
                } else {
                    plain.push(name);
                }
            }
            if !plain.is_empty() {
                text.push_str(&from_line(module, &plain, trailing, style.line_length));
            }
            lines.push((above, text));
        }
        let mut block = String::new();
        for (i, (above, text)) in lines.into_iter().enumerate() {
            // profile black's `ensure_newline_before_comments`.
            if i > 0 && !above.is_empty() {
                block.push('\n');
            }
            for comment in above {
                block.push_str(&comment);
                block.push('\n');
            }
            block.push_str(&text);
        }
        blocks.push(block);
    }
    Some(blocks.join("\n"))
}

/// Top-level modules of the Python standard library (`sys.stdlib_module_names`, public ones),
/// sorted for a binary search.
const STANDARD_LIBRARY: &[&str] = &[
    "abc",
    "aifc",
    "argparse",
    "array",
    "ast",
    "asynchat",
    "asyncio",
    "asyncore",
    "atexit",
    "audioop",
    "base64",
    "bdb",
    "binascii",
    "bisect",
    "builtins",
    "bz2",
    "cProfile",
    "calendar",
    "cgi",
    "cgitb",
    "chunk",
    "cmath",
    "cmd",
    "code",
    "codecs",
    "codeop",
    "collections",
    "colorsys",
    "compileall",
    "concurrent",
    "configparser",
    "contextlib",
    "contextvars",
    "copy",
    "copyreg",
    "crypt",
    "csv",
    "ctypes",
    "curses",
    "dataclasses",
    "datetime",
    "dbm",
    "decimal",
    "difflib",
    "dis",
    "distutils",
    "doctest",
    "email",
    "encodings",
    "ensurepip",
    "enum",
    "errno",
    "faulthandler",
    "fcntl",
    "filecmp",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "gc",
    "genericpath",
    "getopt",
    "getpass",
    "gettext",
    "glob",
    "graphlib",
    "grp",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "idlelib",
    "imaplib",
    "imghdr",
    "imp",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "lib2to3",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "mailcap",
    "marshal",
    "math",
    "mimetypes",
    "mmap",
    "modulefinder",
    "msilib",
    "msvcrt",
    "multiprocessing",
    "netrc",
    "nis",
    "nntplib",
    "nt",
    "ntpath",
    "nturl2path",
    "numbers",
    "opcode",
    "operator",
    "optparse",
    "os",
    "ossaudiodev",
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "pipes",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "posix",
    "posixpath",
    "pprint",
    "profile",
    "pstats",
    "pty",
    "pwd",
    "py_compile",
    "pyclbr",
    "pydoc",
    "pydoc_data",
    "pyexpat",
    "queue",
    "quopri",
    "random",
    "re",
    "readline",
    "reprlib",
    "resource",
    "rlcompleter",
    "runpy",
    "sched",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "site",
    "smtpd",
    "smtplib",
    "sndhdr",
    "socket",
    "socketserver",
    "spwd",
    "sqlite3",
    "sre_compile",
    "sre_constants",
    "sre_parse",
    "ssl",
    "stat",
    "statistics",
    "string",
    "stringprep",
    "struct",
    "subprocess",
    "sunau",
    "symtable",
    "sys",
    "sysconfig",
    "syslog",
    "tabnanny",
    "tarfile",
    "telnetlib",
    "tempfile",
    "termios",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "tkinter",
    "token",
    "tokenize",
    "tomllib",
    "trace",
    "traceback",
    "tracemalloc",
    "tty",
    "turtle",
    "turtledemo",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib",
    "uu",
    "uuid",
    "venv",
    "warnings",
    "wave",
    "weakref",
    "webbrowser",
    "winreg",
    "winsound",
    "wsgiref",
    "xdrlib",
    "xml",
    "xmlrpc",
    "zipapp",
    "zipfile",
    "zipimport",
    "zlib",
    "zoneinfo",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_library_list_is_sorted() {
        assert!(STANDARD_LIBRARY.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn imports_are_merged_ordered_and_wrapped() {
        let source = "# header\n\"\"\"Doc.\n\nMore.\n\"\"\"\n\nfrom __future__ import annotations\n\nimport os\nfrom collections.abc import Callable\n\nfrom starlette.types import ASGIApp, Scope\nfrom fastapi import FastAPI\n\nfrom .usage import begin_request, end_request, flush_usage, record_api_call, current_customer_id\nfrom .usage import is_billed_api_call\n\nfrom .webhooks import WEBHOOK_PATH\n\n\nclass A:\n    pass\n";
        let out = format_imports(source, &ImportStyle::default());
        assert_eq!(
            out,
            "# header\n\"\"\"Doc.\n\nMore.\n\"\"\"\n\nfrom __future__ import annotations\n\nimport os\nfrom collections.abc import Callable\n\nfrom fastapi import FastAPI\nfrom starlette.types import ASGIApp, Scope\n\nfrom .usage import (\n    begin_request,\n    current_customer_id,\n    end_request,\n    flush_usage,\n    is_billed_api_call,\n    record_api_call,\n)\nfrom .webhooks import WEBHOOK_PATH\n\n\nclass A:\n    pass\n"
        );
        // Idempotent, and a longer line length keeps the statement on one line.
        assert_eq!(format_imports(&out, &ImportStyle::default()), out);
        let wide = ImportStyle {
            line_length: 120,
            first_party: Vec::new(),
        };
        assert!(format_imports(&out, &wide).contains(
            "from .usage import begin_request, current_customer_id, end_request, flush_usage, is_billed_api_call, record_api_call\n"
        ));
    }

    #[test]
    fn names_sort_constants_then_classes_then_functions_and_as_imports_stand_alone() {
        let source = "from genai_prices import calc_price\nfrom genai_prices import Usage as PriceUsage\nfrom .webhooks import handle_webhook, MAX_BODY_BYTES, declared_too_large, WEBHOOK_PATH\nfrom app.auth import current_user\n\nx = 1\n";
        let style = ImportStyle {
            line_length: 88,
            first_party: vec!["app".to_owned()],
        };
        assert_eq!(
            format_imports(source, &style),
            "from genai_prices import Usage as PriceUsage\nfrom genai_prices import calc_price\n\nfrom app.auth import current_user\n\nfrom .webhooks import MAX_BODY_BYTES, WEBHOOK_PATH, declared_too_large, handle_webhook\n\nx = 1\n"
        );
    }

    #[test]
    fn comments_stay_with_their_import_and_a_trailing_one_opens_the_wrapped_form() {
        let source = "from __future__ import annotations\n\nimport logging\n\nfrom pydantic import ValidationError\nfrom spaire_sdk.models import (\n    Order,\n)\n# Re-exported without `__all__`.\nfrom spaire_sdk.webhooks import WebhookVerificationError, validate_event  # type: ignore[attr-defined, unused-ignore]\n\nlogger = logging.getLogger(__name__)\n";
        assert_eq!(
            format_imports(source, &ImportStyle::default()),
            "from __future__ import annotations\n\nimport logging\n\nfrom pydantic import ValidationError\nfrom spaire_sdk.models import Order\n\n# Re-exported without `__all__`.\nfrom spaire_sdk.webhooks import (  # type: ignore[attr-defined, unused-ignore]\n    WebhookVerificationError,\n    validate_event,\n)\n\nlogger = logging.getLogger(__name__)\n"
        );
    }

    #[test]
    fn a_block_with_anything_but_imports_is_left_alone() {
        for source in [
            "import os\nimport re\n",
            "import os\n\nif True:\n    import re\n",
            "from a import (b,  # c\n    d)\n",
            "x = 1\nimport re\nimport os\n",
        ] {
            assert_eq!(format_imports(source, &ImportStyle::default()), source);
        }
    }

    #[test]
    fn flake8_line_length_comes_from_its_own_section() {
        assert_eq!(
            flake8_line_length(&[
                ("pyproject.toml", "[tool.isort]\nline_length = 100\n"),
                (
                    ".flake8",
                    "[flake8]\nignore = E203\nmax-line-length = 119\n"
                ),
            ]),
            Some(119)
        );
        assert_eq!(
            flake8_line_length(&[(
                "setup.cfg",
                "[isort]\nline_length = 99\n[flake8]\nmax_line_length = 100\n"
            )]),
            Some(100)
        );
        assert_eq!(
            flake8_line_length(&[("tox.ini", "[tox]\nenvlist = py311\n")]),
            None
        );
    }

    #[test]
    fn line_length_comes_from_the_projects_config() {
        assert_eq!(
            configured_line_length(&[(
                "pyproject.toml",
                "[tool.black]\nline-length = 100\n\n[tool.ruff]\nline-length = 120\n"
            )]),
            Some(120)
        );
        assert_eq!(
            configured_line_length(&[("pyproject.toml", "[tool.black]\nline-length = 100\n")]),
            Some(100)
        );
        assert_eq!(
            configured_line_length(&[(
                "setup.cfg",
                "[isort]\nprofile = black\nline_length = 99\n"
            )]),
            Some(99)
        );
        assert_eq!(
            configured_line_length(&[(
                "ruff.toml",
                "line-length = 110\n[lint]\nselect = [\"I\"]\n"
            )]),
            Some(110)
        );
        assert_eq!(
            configured_line_length(&[("pyproject.toml", "[project]\nname = \"x\"\n")]),
            None
        );
    }
}
