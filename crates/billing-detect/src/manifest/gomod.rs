//! `go.mod` (module path and requirements) and `go.work` (`use` directories).

use super::Dependency;
use crate::text::shorten;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoMod {
    pub module: Option<(String, u32)>,
    pub go_version: Option<String>,
    pub requires: Vec<Dependency>,
}

/// Strips a `//` comment and surrounding space.
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or("").trim()
}

pub fn parse_go_mod(file: &str, text: &str) -> GoMod {
    let mut out = GoMod::default();
    let mut in_require = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = code(raw);
        if in_require {
            if line.starts_with(')') {
                in_require = false;
            } else if !line.is_empty() {
                push_require(&mut out, file, line, line_no, raw);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("module ") {
            out.module = Some((rest.trim().trim_matches('"').to_owned(), line_no));
        } else if let Some(rest) = line.strip_prefix("go ") {
            out.go_version = Some(rest.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("require") {
            let rest = rest.trim();
            if rest.starts_with('(') {
                in_require = true;
            } else if !rest.is_empty() {
                push_require(&mut out, file, rest, line_no, raw);
            }
        }
    }
    out
}

fn push_require(out: &mut GoMod, file: &str, entry: &str, line: u32, raw: &str) {
    let mut parts = entry.split_whitespace();
    let (Some(path), version) = (parts.next(), parts.next()) else {
        return;
    };
    out.requires.push(Dependency {
        name: path.trim_matches('"').to_owned(),
        spec: version.unwrap_or_default().to_owned(),
        file: file.to_owned(),
        line,
        text: shorten(raw.trim(), 100),
        dev: raw.contains("// indirect"),
    });
}

/// Directories listed by `use` in a `go.work` file.
pub fn parse_go_work(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_use = false;
    for raw in text.lines() {
        let line = code(raw);
        if in_use {
            if line.starts_with(')') {
                in_use = false;
            } else if !line.is_empty() {
                out.push(clean_dir(line));
            }
        } else if let Some(rest) = line.strip_prefix("use") {
            let rest = rest.trim();
            if rest.starts_with('(') {
                in_use = true;
            } else if !rest.is_empty() {
                out.push(clean_dir(rest));
            }
        }
    }
    out
}

fn clean_dir(s: &str) -> String {
    let s = s.trim_matches('"');
    let s = s.strip_prefix("./").unwrap_or(s);
    if s.is_empty() {
        ".".to_owned()
    } else {
        s.trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_and_requires() {
        let text = "module example.com/shop // the app\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.10.0\nrequire (\n\tgithub.com/labstack/echo/v4 v4.12.0\n\tgolang.org/x/net v0.1.0 // indirect\n)\n";
        let m = parse_go_mod("go.mod", text);
        assert_eq!(m.module, Some(("example.com/shop".into(), 1)));
        assert_eq!(m.go_version.as_deref(), Some("1.22"));
        let r: Vec<_> = m
            .requires
            .iter()
            .map(|d| (d.name.as_str(), d.line, d.dev))
            .collect();
        assert_eq!(
            r,
            [
                ("github.com/gin-gonic/gin", 5, false),
                ("github.com/labstack/echo/v4", 7, false),
                ("golang.org/x/net", 8, true)
            ]
        );
    }

    #[test]
    fn go_work_uses() {
        assert_eq!(
            parse_go_work("go 1.22\nuse (\n ./api\n ./tools/\n)\nuse ./cli\n"),
            ["api", "tools", "cli"]
        );
    }
}
