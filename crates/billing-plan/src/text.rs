//! Rules for the free-text values of a plan that end up in generated code or on Spaire:
//! meter names, event names, `customer.module` and URLs.
//!
//! The rules accept what Spaire accepts and what a real project writes, and refuse what can
//! only be a mistake or an attack (line breaks in a name, a `data:` URL as a module, a
//! password in a URL). Generated code escapes every value anyway (`billing-generate`'s
//! `escape` module); these rules make the bad value fail early with a fix instead.

/// Spaire stores event names in a `VARCHAR(128)`; a longer name makes ingestion fail with 500
/// for the whole batch (API reference §2).
pub const MAX_EVENT_NAME: usize = 128;
/// Spaire requires at least 3 characters for a meter name and sets no maximum; 100 keeps
/// names readable in the dashboard and in generated comments.
pub const MIN_METER_NAME: usize = 3;
pub const MAX_METER_NAME: usize = 100;
/// Longest `customer.module` accepted (a module path, not a program).
pub const MAX_MODULE: usize = 200;

/// Why a meter name is refused, or `None` when it is fine. Any printable text is accepted
/// (quotes included: generated code escapes them), but no control characters or Unicode
/// line / paragraph separators, which no dashboard shows and which would break a comment.
pub fn meter_name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if !(MIN_METER_NAME..=MAX_METER_NAME).contains(&chars) {
        return Some(format!(
            "expected a meter name of {MIN_METER_NAME} to {MAX_METER_NAME} characters, found {name:?}"
        ));
    }
    if name.trim() != name {
        return Some(format!(
            "a meter name must not start or end with whitespace, found {name:?}"
        ));
    }
    if let Some(c) = name.chars().find(|c| is_invisible_break(*c)) {
        return Some(format!(
            "a meter name must be one line of printable text, found {:?} in {name:?}",
            c
        ));
    }
    None
}

fn is_invisible_break(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// An event name Spaire stores and the generated code can carry as a plain literal: 1 to 128
/// characters of letters, digits, `-`, `_`, `.` or `:`.
pub fn is_event_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_EVENT_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A module reference in any supported language: `@/lib/auth`, `./auth.js`, `#auth`
/// (JavaScript), `app.auth` (Python), `example.com/shop/auth` (Go), `App/Auth` or `App\Auth`
/// (PHP), `App::Auth` (Ruby). ASCII letters, digits and `@ . _ - / ~ # \`, plus `::` as a
/// whole; a lone `:` is refused so the module can never be a URL such as `data:…` that holds
/// code itself. Each language checks its own form when the code is generated.
pub fn is_module_specifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_MODULE
        && !s.starts_with('-')
        && s.replace("::", "").bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'@' | b'.' | b'_' | b'-' | b'/' | b'~' | b'#' | b'\\')
        })
}

/// Why `url` cannot be written into generated code or `.env.example`, or `None`. Only the
/// characters of RFC 3986 (unreserved, reserved and `%`) are accepted, less `$ ' ( )`, which
/// an API base URL never needs and which `.env` parsers read as expansion or quoting: no
/// whitespace, quotes, backslashes or angle brackets either.
pub fn url_problem(url: &str) -> Option<String> {
    let bad = url
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~:/?#[]@!&*+,;=%".contains(*c)));
    bad.map(|c| format!("{c:?} is not allowed in a URL, found {url:?}"))
}

/// `url` without a `user:password@` part, which must never be copied into generated code or
/// `.env.example` (it would be committed). Everything else is kept as written.
pub fn strip_url_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Whether `url`'s host is this machine (`localhost`, `127.x.x.x`, `[::1]`): an emulator's
/// address, which means nothing on another machine.
pub fn is_loopback_url(url: &str) -> bool {
    let url = strip_url_credentials(url);
    let Some(rest) = url.split_once("://").map(|(_, rest)| rest) else {
        return false;
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` carries a `user:password@` part.
pub fn has_url_credentials(url: &str) -> bool {
    strip_url_credentials(url) != url
}

/// Longest `customer.expression` / `customer.job_field` accepted: a path, not a program.
pub const MAX_CUSTOMER_PATH: usize = 120;

/// Why a `customer.expression` (`optional_chain`: `a?.b` allowed) or `customer.job_field` is
/// refused, or `None`. Wiring pastes it into the user's code, so only a property path is
/// accepted: ASCII identifiers joined by `.` (or `?.`), no calls, brackets, quotes, operators
/// or spaces. Reserved words are refused as the root, where they would change the meaning
/// (`new.target`, `await.x`) or not parse.
pub fn customer_path_problem(path: &str, optional_chain: bool) -> Option<String> {
    if path.is_empty() || path.len() > MAX_CUSTOMER_PATH {
        return Some(format!(
            "expected 1 to {MAX_CUSTOMER_PATH} characters, found {} in {path:?}",
            path.len()
        ));
    }
    let normalized = if optional_chain {
        path.replace("?.", ".")
    } else {
        path.to_owned()
    };
    let segments: Vec<&str> = normalized.split('.').collect();
    if let Some(bad) = segments.iter().find(|s| !is_ascii_identifier(s)) {
        let joiners = if optional_chain { "`.` or `?.`" } else { "`.`" };
        return Some(if *bad == path {
            format!("expected identifiers joined by {joiners}, found {path:?}")
        } else {
            format!("expected identifiers joined by {joiners}, found {bad:?} in {path:?}")
        });
    }
    const RESERVED: &[&str] = &[
        "await",
        "new",
        "typeof",
        "void",
        "delete",
        "function",
        "class",
        "import",
        "export",
        "yield",
        "return",
        "throw",
        "in",
        "instanceof",
        "null",
        "undefined",
        "true",
        "false",
        "None",
        "True",
        "False",
        "lambda",
        "not",
        "and",
        "or",
    ];
    if RESERVED.contains(&segments[0]) {
        return Some(format!(
            "`{}` is a reserved word, not a variable, in {path:?}",
            segments[0]
        ));
    }
    None
}

fn is_ascii_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_recognised() {
        for url in [
            "http://127.0.0.1:8787",
            "http://localhost:3000/x",
            "http://[::1]:8787",
            "http://u:p@127.0.0.2:1",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://sandbox-api.spairehq.com",
            "https://api.example.com:8443/base",
            "http://10.0.0.1:8787",
            "not a url",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn meter_names_accept_printable_text_and_refuse_line_breaks() {
        assert_eq!(
            meter_name_problem("Image \"HD\" */ gens ${x} #{y} ?> é"),
            None
        );
        assert!(meter_name_problem("ab").is_some());
        assert!(meter_name_problem(&"x".repeat(101)).is_some());
        assert!(meter_name_problem("a\nb = 1").is_some());
        assert!(meter_name_problem("a\u{2028}bc").is_some());
        assert!(meter_name_problem(" abc").is_some());
    }

    #[test]
    fn event_names_are_at_most_128_plain_characters() {
        assert!(is_event_name(&"e".repeat(128)));
        assert!(!is_event_name(&"e".repeat(129)));
        assert!(!is_event_name("a\"b") && !is_event_name(""));
    }

    #[test]
    fn module_specifiers_are_plain_references_in_every_language() {
        for ok in [
            "@/lib/auth",
            "./auth.js",
            "#auth",
            "app.auth",
            "App\\Auth",
            "App::Auth",
        ] {
            assert!(is_module_specifier(ok), "{ok}");
        }
        for bad in [
            "data:text/javascript,alert(1)",
            "x\"); process.exit(1); (\"",
            "os; import x",
            "a b",
            "-flag",
            "",
        ] {
            assert!(!is_module_specifier(bad), "{bad}");
        }
    }

    #[test]
    fn credentials_are_stripped_and_the_rest_kept() {
        assert_eq!(
            strip_url_credentials("https://user:pa%40ss@api.example.com:8443/base?x=1"),
            "https://api.example.com:8443/base?x=1"
        );
        assert_eq!(
            strip_url_credentials("https://api.example.com/a@b"),
            "https://api.example.com/a@b"
        );
        assert!(has_url_credentials("http://u@127.0.0.1:9"));
        assert!(url_problem("https://x.example/\"+alert(1)+\"").is_some());
        assert!(url_problem("https://x.example/a b").is_some());
        assert!(url_problem("https://x.example/${HOME}").is_some());
        assert_eq!(url_problem("http://127.0.0.1:8080/"), None);
    }
}
