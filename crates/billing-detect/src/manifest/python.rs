//! `pyproject.toml` (PEP 621, PEP 735 groups, Poetry old and new group formats, uv
//! workspaces), `requirements*.txt` (with `-r` includes) and `Pipfile`.

use toml_edit::{Document, Item, Table};

use super::{Dependency, Problem};
use crate::text::{LineIndex, Lines};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PyProject {
    pub file: String,
    pub name: Option<String>,
    /// A `[project]` table exists (a uv workspace root often has none).
    pub has_project: bool,
    /// `[tool.poetry]` exists, with its line.
    pub poetry: Option<u32>,
    /// `[tool.uv]` exists, with its line.
    pub uv: Option<u32>,
    /// `[tool.uv.workspace] members`, with the line of the table.
    pub uv_workspace: Option<(Vec<String>, u32)>,
    pub dependencies: Vec<Dependency>,
}

/// Normalised distribution name (PEP 503): lower case, runs of `-_.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Splits a PEP 508 requirement ("pydantic-ai-slim[openai]>=0.4 ; python_version>'3.9'")
/// into a normalised name and the version part.
pub fn split_requirement(req: &str) -> Option<(String, String)> {
    let req = req.split(';').next()?.trim();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    if name.is_empty() {
        return None;
    }
    let mut rest = req[end..].trim_start();
    if rest.starts_with('[') {
        rest = rest.find(']').map_or("", |i| &rest[i + 1..]).trim_start();
    }
    let rest = rest.trim_start_matches('(').trim_end_matches(')');
    Some((normalize(name), rest.trim().to_owned()))
}

/// Top-level package directories a `pyproject.toml` declares for its wheel, which may be
/// namespace packages without `__init__.py` (imported by their full dotted path all the same):
/// hatch `[tool.hatch.build.targets.wheel] packages = ["src/pkg"]`, setuptools
/// `[tool.setuptools] packages = ["pkg"]`, poetry `packages = [{ include = "pkg" }]`. Paths
/// relative to the pyproject's directory, `/`-separated, as written.
pub fn declared_packages(text: &str) -> Vec<String> {
    let Ok(doc) = Document::parse(text) else {
        return Vec::new();
    };
    let tool = doc.get("tool");
    let lists = [
        tool.and_then(|t| t.get("hatch"))
            .and_then(|h| h.get("build"))
            .and_then(|b| b.get("targets"))
            .and_then(|t| t.get("wheel"))
            .and_then(|w| w.get("packages")),
        tool.and_then(|t| t.get("setuptools"))
            .and_then(|s| s.get("packages")),
        tool.and_then(|t| t.get("poetry"))
            .and_then(|p| p.get("packages")),
    ];
    let mut out = Vec::new();
    for value in lists
        .into_iter()
        .flatten()
        .filter_map(Item::as_array)
        .flatten()
    {
        let path = value.as_str().or_else(|| {
            value
                .as_inline_table()
                .and_then(|t| t.get("include"))
                .and_then(|i| i.as_str())
        });
        if let Some(path) = path.filter(|p| !p.contains('*')) {
            out.push(path.trim_end_matches('/').to_owned());
        }
    }
    out
}

pub fn parse_pyproject(file: &str, text: &str) -> (Option<PyProject>, Option<Problem>) {
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => return (None, Some(toml_problem(file, text, &e))),
    };
    let index = LineIndex::new(text);
    let lines = Lines::new(text);
    let line_of = |span: Option<std::ops::Range<usize>>| span.map_or(1, |s| index.line(s.start));
    let mut py = PyProject {
        file: file.to_owned(),
        ..PyProject::default()
    };
    let push = |name: String, spec: String, line: u32, dev: bool, py: &mut PyProject| {
        py.dependencies.push(Dependency {
            name,
            spec,
            file: file.to_owned(),
            line,
            text: lines.text(line),
            dev,
        });
    };

    if let Some(project) = doc.get("project").and_then(Item::as_table_like) {
        py.has_project = true;
        py.name = project
            .get("name")
            .and_then(Item::as_str)
            .map(str::to_owned);
        if let Some(deps) = project.get("dependencies").and_then(Item::as_array) {
            for v in deps {
                if let Some((n, s)) = v.as_str().and_then(split_requirement) {
                    push(n, s, line_of(v.span()), false, &mut py);
                }
            }
        }
        if let Some(extras) = project
            .get("optional-dependencies")
            .and_then(Item::as_table_like)
        {
            for (_, list) in extras.iter() {
                for v in list.as_array().into_iter().flatten() {
                    if let Some((n, s)) = v.as_str().and_then(split_requirement) {
                        push(n, s, line_of(v.span()), false, &mut py);
                    }
                }
            }
        }
    }
    // `dynamic = ["dependencies"]` with hatch metadata hooks (e.g. uv-dynamic-versioning):
    // the dependency list lives in `[tool.hatch.metadata.hooks.<hook>] dependencies`.
    let hatch_hooks = doc
        .get("tool")
        .and_then(|t| t.get("hatch"))
        .and_then(|h| h.get("metadata"))
        .and_then(|m| m.get("hooks"))
        .and_then(Item::as_table_like);
    for (_, hook) in hatch_hooks.into_iter().flat_map(|h| h.iter()) {
        let list = hook.as_table_like().and_then(|h| h.get("dependencies"));
        for v in list.and_then(Item::as_array).into_iter().flatten() {
            if let Some((n, s)) = v.as_str().and_then(split_requirement) {
                push(n, s, line_of(v.span()), false, &mut py);
            }
        }
    }
    if let Some(groups) = doc.get("dependency-groups").and_then(Item::as_table_like) {
        for (_, list) in groups.iter() {
            for v in list.as_array().into_iter().flatten() {
                if let Some((n, s)) = v.as_str().and_then(split_requirement) {
                    push(n, s, line_of(v.span()), true, &mut py);
                }
            }
        }
    }
    let tool = doc.get("tool").and_then(Item::as_table_like);
    if let Some(poetry) = tool.and_then(|t| t.get("poetry")) {
        py.poetry = Some(line_of(poetry.span().or_else(|| key_span(&doc, "poetry"))));
        if let Some(p) = poetry.as_table_like() {
            if py.name.is_none() {
                py.name = p.get("name").and_then(Item::as_str).map(str::to_owned);
            }
            let mut tables: Vec<(&Item, bool)> = Vec::new();
            if let Some(d) = p.get("dependencies") {
                tables.push((d, false));
            }
            // Poetry < 1.2: `[tool.poetry.dev-dependencies]`.
            if let Some(d) = p.get("dev-dependencies") {
                tables.push((d, true));
            }
            // Poetry ≥ 1.2: `[tool.poetry.group.<name>.dependencies]`.
            if let Some(groups) = p.get("group").and_then(Item::as_table_like) {
                for (group, g) in groups.iter() {
                    if let Some(d) = g.as_table_like().and_then(|g| g.get("dependencies")) {
                        tables.push((d, group != "main"));
                    }
                }
            }
            for (table, dev) in tables {
                let Some(table) = table.as_table_like() else {
                    continue;
                };
                for (name, value) in table.iter() {
                    if name.eq_ignore_ascii_case("python") {
                        continue;
                    }
                    let spec = value
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| {
                            value
                                .as_table_like()
                                .and_then(|t| t.get("version"))
                                .and_then(Item::as_str)
                                .map(str::to_owned)
                        })
                        .unwrap_or_default();
                    let line = table
                        .get_key_value(name)
                        .and_then(|(k, _)| k.span())
                        .map_or_else(|| line_of(value.span()), |s| index.line(s.start));
                    push(normalize(name), spec, line, dev, &mut py);
                }
            }
        }
    }
    if let Some(uv) = tool.and_then(|t| t.get("uv")) {
        py.uv = Some(line_of(uv.span()));
        if let Some(ws) = uv.as_table_like().and_then(|u| u.get("workspace")) {
            let members = ws
                .as_table_like()
                .and_then(|w| w.get("members"))
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            py.uv_workspace = Some((members, line_of(ws.span())));
        }
    }
    (Some(py), None)
}

fn key_span(doc: &Table, key: &str) -> Option<std::ops::Range<usize>> {
    doc.get_key_value(key).and_then(|(k, _)| k.span())
}

pub(crate) fn toml_problem(file: &str, text: &str, e: &toml_edit::TomlError) -> Problem {
    let index = LineIndex::new(text);
    let (line, column) = e.span().map_or((1, 1), |s| index.line_col(text, s.start));
    Problem {
        file: file.to_owned(),
        line,
        column,
        message: e.message().trim().to_owned(),
    }
}

/// One `requirements*.txt` file: its requirements and the files it includes with `-r`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requirements {
    pub dependencies: Vec<Dependency>,
    /// Paths from `-r`/`--requirement` (and `-c`), relative to the including file's directory.
    pub includes: Vec<String>,
}

pub fn parse_requirements(file: &str, text: &str) -> Requirements {
    let mut out = Requirements::default();
    let lines = Lines::new(text);
    let mut logical = String::new();
    let mut start_line = 0u32;
    for (i, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if logical.is_empty() {
            start_line = line_no;
        }
        // A `#` starts a comment at line start or after whitespace (not inside URLs' `#egg=`).
        let without_comment = match raw.find(" #").or_else(|| raw.starts_with('#').then_some(0)) {
            Some(i) => &raw[..i],
            None => raw,
        };
        if let Some(cont) = without_comment.trim_end().strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(without_comment);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        if let Some(path) = option_value(entry, &["-r", "--requirement", "-c", "--constraint"]) {
            out.includes.push(path.to_owned());
            continue;
        }
        if entry.starts_with('-') && !entry.starts_with("-e") && !entry.starts_with("--editable") {
            continue; // --index-url, --hash lines, ...
        }
        let spec = option_value(entry, &["-e", "--editable"]).unwrap_or(entry);
        let parsed = if let Some((_, egg)) = spec.split_once("#egg=") {
            Some((
                normalize(egg.split('&').next().unwrap_or(egg)),
                String::new(),
            ))
        } else if let Some((name, _)) = spec.split_once(" @ ") {
            Some((normalize(name.trim()), String::new()))
        } else if spec.contains("://") || spec.starts_with('.') || spec.starts_with('/') {
            None
        } else {
            split_requirement(spec.split(" --").next().unwrap_or(spec))
        };
        if let Some((name, version)) = parsed {
            out.dependencies.push(Dependency {
                name,
                spec: version,
                file: file.to_owned(),
                line: start_line,
                text: lines.text(start_line),
                dev: false,
            });
        }
    }
    out
}

fn option_value<'a>(entry: &'a str, flags: &[&str]) -> Option<&'a str> {
    for flag in flags {
        if let Some(rest) = entry.strip_prefix(flag) {
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            if rest.starts_with(char::is_whitespace) || flag.starts_with("--") || !rest.is_empty() {
                let value = rest.trim();
                if !value.is_empty() {
                    return Some(value);
                }
            }
        }
    }
    None
}

pub fn parse_pipfile(file: &str, text: &str) -> (Vec<Dependency>, Option<Problem>) {
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => return (Vec::new(), Some(toml_problem(file, text, &e))),
    };
    let index = LineIndex::new(text);
    let lines = Lines::new(text);
    let mut deps = Vec::new();
    for (section, dev) in [("packages", false), ("dev-packages", true)] {
        let Some(table) = doc.get(section).and_then(Item::as_table_like) else {
            continue;
        };
        for (name, value) in table.iter() {
            let line = table
                .get_key_value(name)
                .and_then(|(k, _)| k.span())
                .map_or(1, |s| index.line(s.start));
            let spec = value.as_str().unwrap_or_default().to_owned();
            deps.push(Dependency {
                name: normalize(name),
                spec,
                file: file.to_owned(),
                line,
                text: lines.text(line),
                dev,
            });
        }
    }
    (deps, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names_are_normalised() {
        assert_eq!(
            split_requirement("Pydantic_AI-slim[openai]>=0.4 ; python_version > '3.9'"),
            Some(("pydantic-ai-slim".into(), ">=0.4".into()))
        );
        assert_eq!(
            split_requirement("Django"),
            Some(("django".into(), "".into()))
        );
        assert_eq!(split_requirement(""), None);
    }

    #[test]
    fn declared_packages_name_namespace_packages() {
        let text = "[project]\nname = \"x\"\n[tool.hatch.build.targets.wheel]\npackages = [\"pydantic_ai_examples\"]\n";
        assert_eq!(declared_packages(text), vec!["pydantic_ai_examples"]);
        let poetry = "[tool.poetry]\npackages = [{ include = \"app\" }, { include = \"src/*\" }]\n";
        assert_eq!(declared_packages(poetry), vec!["app"]);
        assert!(declared_packages("[project]\nname = \"x\"\n").is_empty());
    }

    #[test]
    fn dynamic_dependencies_from_hatch_metadata_hooks() {
        let text = r#"[project]
name = "examples"
dynamic = ["version", "dependencies"]

[tool.hatch.metadata.hooks.uv-dynamic-versioning]
dependencies = [
    "pydantic-ai-slim[openai]=={{ version }}",
    "fastapi>=0.117.0",
]
"#;
        let (py, p) = parse_pyproject("pyproject.toml", text);
        assert!(p.is_none());
        let names: Vec<_> = py
            .unwrap()
            .dependencies
            .iter()
            .map(|d| (d.name.clone(), d.line))
            .collect();
        assert_eq!(
            names,
            [
                ("pydantic-ai-slim".to_owned(), 7),
                ("fastapi".to_owned(), 8)
            ]
        );
    }

    #[test]
    fn pep621_and_groups() {
        let text = r#"[project]
name = "api"
dependencies = [
  "fastapi>=0.115",
  "pydantic-ai-slim[openai]>=0.4",
]
[dependency-groups]
dev = ["pytest>=8"]
"#;
        let (py, p) = parse_pyproject("pyproject.toml", text);
        assert!(p.is_none());
        let py = py.unwrap();
        assert!(py.has_project);
        let names: Vec<_> = py
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.line, d.dev))
            .collect();
        assert_eq!(
            names,
            [
                ("fastapi", 4, false),
                ("pydantic-ai-slim", 5, false),
                ("pytest", 8, true)
            ]
        );
    }

    #[test]
    fn poetry_old_and_new_groups() {
        let old = "[tool.poetry]\nname = \"a\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\nflask = \"^3.0\"\n[tool.poetry.dev-dependencies]\npytest = \"^7\"\n";
        let (py, _) = parse_pyproject("pyproject.toml", old);
        let py = py.unwrap();
        assert!(py.poetry.is_some());
        assert!(!py.has_project);
        let d: Vec<_> = py
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.line, d.dev))
            .collect();
        assert_eq!(d, [("flask", 5, false), ("pytest", 7, true)]);

        let new = "[tool.poetry]\nname = \"a\"\n[tool.poetry.dependencies]\nfastapi = { version = \"^0.115\", extras = [\"all\"] }\n[tool.poetry.group.dev.dependencies]\nmypy = \"^1\"\n";
        let (py, _) = parse_pyproject("pyproject.toml", new);
        let py = py.unwrap();
        let d: Vec<_> = py
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.spec.as_str(), d.dev))
            .collect();
        assert_eq!(d, [("fastapi", "^0.115", false), ("mypy", "^1", true)]);
    }

    #[test]
    fn uv_workspace_root_without_project() {
        let text = "[tool.uv.workspace]\nmembers = [\"backend\", \"libs/*\"]\n";
        let (py, _) = parse_pyproject("pyproject.toml", text);
        let py = py.unwrap();
        assert!(!py.has_project);
        assert_eq!(py.uv_workspace.unwrap().0, ["backend", "libs/*"]);
    }

    #[test]
    fn bad_toml_has_a_position() {
        let (py, p) = parse_pyproject("pyproject.toml", "[project]\nname = \"x\nversion = 1\n");
        assert!(py.is_none());
        let p = p.unwrap();
        assert_eq!(p.line, 2, "{p:?}");
    }

    #[test]
    fn a_50k_line_requirements_file_keeps_every_entry_and_its_line() {
        let text: String = (0..50_000).map(|i| format!("p{i}>=1 # x\n")).collect();
        let r = parse_requirements("requirements.txt", &text);
        assert_eq!(r.dependencies.len(), 50_000);
        let last = &r.dependencies[49_999];
        assert_eq!((last.name.as_str(), last.line), ("p49999", 50_000));
        assert_eq!(last.text, "p49999>=1 # x");
    }

    #[test]
    fn requirements_with_includes_and_odd_lines() {
        let text = "-r base.txt\n--requirement=extra.txt\n# comment\nDjango>=5.0  # web\n-e git+https://x/y.git#egg=my_lib\ngunicorn==22.0 \\\n  --hash=sha256:abc\n--index-url https://pypi.org/simple\nrequests @ https://example.com/r.whl\n";
        let r = parse_requirements("requirements.txt", text);
        assert_eq!(r.includes, ["base.txt", "extra.txt"]);
        let d: Vec<_> = r
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.line))
            .collect();
        assert_eq!(
            d,
            [
                ("django", 4),
                ("my-lib", 5),
                ("gunicorn", 6),
                ("requests", 9)
            ]
        );
    }
}
