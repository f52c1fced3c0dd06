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
    billing_detect::source_walk::files(
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

/// A Go source file of the app (not of the generated package).
pub struct GoFile {
    /// Root-relative path.
    pub path: String,
    pub text: String,
}

/// The app's own Go files with their text: the generated package is not the app (its
/// recorder's `signal.Notify` is no shutdown path of the app's).
pub fn app_files(target: &Target<'_>) -> Vec<GoFile> {
    go_files(target)
        .into_iter()
        .filter(|path| !is_generated(target, path))
        .filter_map(|path| {
            let text = std::fs::read_to_string(target.root.join(&path)).ok()?;
            Some(GoFile { path, text })
        })
        .collect()
}

fn is_generated(target: &Target<'_>, path: &str) -> bool {
    let dir = crate::python::join(&target.package.path, super::PACKAGE_DIR);
    path.starts_with(&format!("{dir}/"))
}

/// Where the app already handles SIGINT / SIGTERM, if it does.
pub fn find_shutdown(target: &Target<'_>) -> Option<(String, u32)> {
    for file in go_files(target) {
        if is_generated(target, &file) {
            continue;
        }
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

/// Where the app's auth middleware stores the signed-in user in the gin / echo context
/// (`c.Set("my_user_id", id)`, `c.Set("user", userID)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextUserKey {
    pub key: String,
    /// Root-relative path.
    pub file: String,
    /// 1-based.
    pub line: u32,
}

/// The context key the app's auth middleware stores the user under: among the
/// `<ctx>.Set("<key>", ...)` calls whose key names a user (`user`, `userID`, `my_user_id`,
/// `uid`, `sub`), one that names an id is preferred (`my_user_id` over `my_user_model`), as
/// the id is what Spaire bills. Keys that are not plain string literals are skipped.
pub fn find_context_user_key(target: &Target<'_>) -> Option<ContextUserKey> {
    let mut found: Vec<(u8, ContextUserKey)> = Vec::new();
    for file in go_files(target) {
        let Ok(text) = std::fs::read_to_string(target.root.join(&file)) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.starts_with("//") {
                continue;
            }
            let Some(key) = set_call_key(trimmed) else {
                continue;
            };
            let Some(rank) = user_key_rank(key) else {
                continue;
            };
            found.push((
                rank,
                ContextUserKey {
                    key: key.to_owned(),
                    file: file.clone(),
                    line: u32::try_from(index + 1).unwrap_or(u32::MAX),
                },
            ));
        }
    }
    // Stable: the best rank, then the first in file order.
    found
        .into_iter()
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, k)| k)
}

/// `c.Set("key", value)` → `key`, for a receiver that is a plain identifier.
fn set_call_key(line: &str) -> Option<&str> {
    let at = line.find(".Set(\"")?;
    let receiver = line[..at]
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()?;
    // `w.Header().Set("X-User-Id", ...)` sets a header, not a context value.
    if receiver.is_empty() || receiver == "Header" || line[..at].ends_with(')') {
        return None;
    }
    let rest = &line[at + ".Set(\"".len()..];
    let key = &rest[..rest.find('"')?];
    let after = rest[key.len() + 1..].trim_start();
    let plain = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    (plain && !key.is_empty() && after.starts_with(',')).then_some(key)
}

/// 0 for a user id key, 1 for a user key, `None` for keys that name no user.
fn user_key_rank(key: &str) -> Option<u8> {
    let lower = key.to_ascii_lowercase();
    if matches!(lower.as_str(), "uid" | "sub" | "user_id" | "userid") {
        return Some(0);
    }
    if !lower.contains("user") {
        return None;
    }
    let names_id = lower.ends_with("id") || lower.ends_with("_id") || lower.contains("id_");
    Some(if names_id { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::{set_call_key, user_key_rank};

    #[test]
    fn set_calls_give_their_literal_key() {
        assert_eq!(
            set_call_key("c.Set(\"my_user_id\", my_user_id)"),
            Some("my_user_id")
        );
        assert_eq!(set_call_key("ctx.Set(\"user\", userID)"), Some("user"));
        assert_eq!(set_call_key("c.Set(key, v)"), None);
        assert_eq!(set_call_key("os.Setenv(\"USER\", v)"), None);
        assert_eq!(set_call_key("h.Set(\"user\")"), None);
        assert_eq!(set_call_key("w.Header().Set(\"X-User-Id\", id)"), None);
        assert_eq!(set_call_key("r.Header.Set(\"X-User-Id\", id)"), None);
    }

    #[test]
    fn user_id_keys_rank_before_user_objects() {
        assert_eq!(user_key_rank("my_user_id"), Some(0));
        assert_eq!(user_key_rank("userID"), Some(0));
        assert_eq!(user_key_rank("user"), Some(1));
        assert_eq!(user_key_rank("my_user_model"), Some(1));
        assert_eq!(user_key_rank("request_id"), None);
    }
}
