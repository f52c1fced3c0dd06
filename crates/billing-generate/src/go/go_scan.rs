//! Reads the app's Go sources for what the registration step has to name: the variable the
//! app builds its router in (`r := gin.Default()`, `e := echo.New()`), and whether the app has
//! a shutdown path at all (`signal.Notify`, `signal.NotifyContext`).

use crate::Target;

/// Where the app builds its router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSite {
    pub variable: String,
    /// The statement as written, trimmed (`r := gin.Default()`).
    pub text: String,
    /// Root-relative path.
    pub file: String,
    /// 1-based.
    pub line: u32,
}

/// Go files of the package (root-relative, sorted), without tests and vendored code.
fn go_files(target: &Target<'_>) -> Vec<String> {
    let base = target.package.path.trim_end_matches('/');
    let base = if base == "." { "" } else { base };
    crate::source_walk::files(
        &target.root.join(base),
        base,
        5,
        &|dir| dir != "vendor" && dir != "testdata",
        &|name, _| name.ends_with(".go") && !name.ends_with("_test.go"),
    )
}

/// The first `<var> := <constructor>(...)` / `<var> = <constructor>(...)` in the package's
/// code, where `constructor` is e.g. `gin.Default`; `gin.New` is accepted for `gin.Default`
/// (both build the engine).
pub fn find_constructor(target: &Target<'_>, constructor: &str) -> Option<RouterSite> {
    let alternatives: Vec<&str> = match constructor {
        "gin.Default" => vec!["gin.Default", "gin.New"],
        other => vec![other],
    };
    for file in go_files(target) {
        let Ok(text) = std::fs::read_to_string(target.root.join(&file)) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.starts_with("//") {
                continue;
            }
            let Some((left, right)) = trimmed
                .split_once(":=")
                .or_else(|| trimmed.split_once(" = "))
            else {
                continue;
            };
            let right = right.trim();
            if !alternatives
                .iter()
                .any(|c| right.strip_prefix(c).is_some_and(|r| r.starts_with('(')))
            {
                continue;
            }
            let variable = left.trim().trim_start_matches("var ").trim();
            if variable.is_empty() || !variable.chars().all(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            return Some(RouterSite {
                variable: variable.to_owned(),
                text: trimmed.to_owned(),
                file,
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            });
        }
    }
    None
}

/// Where the app already handles SIGINT / SIGTERM, if it does.
pub fn find_shutdown(target: &Target<'_>) -> Option<(String, u32)> {
    for file in go_files(target) {
        let Ok(text) = std::fs::read_to_string(target.root.join(&file)) else {
            continue;
        };
        if let Some(index) = text
            .lines()
            .position(|l| l.contains("signal.Notify(") || l.contains("signal.NotifyContext("))
        {
            return Some((file, u32::try_from(index + 1).unwrap_or(u32::MAX)));
        }
    }
    None
}
