//! Escaping filters: the only way a value from the plan (or the user's answers) reaches
//! generated code.
//!
//! Plan values are user- or agent-controlled (a meter name can be any text Spaire accepts), so
//! pasting them into source code would let a name close a string or comment and run code when
//! the generated file is loaded. Every template interpolation of such a value goes through one
//! of these filters, chosen by the *syntactic position* it lands in:
//!
//! - string literals: `js_str`, `py_str`, `go_str`, `php_str`, `rb_str` return a complete,
//!   quoted literal (write `{{ x | py_str }}`, never `"{{ x }}"`) in which no quote,
//!   backslash, newline, `${`, `#{`, `?>` or Unicode line separator keeps its meaning
//!   (outside PHP's inert single quotes, everything but printable ASCII becomes an escape);
//! - comments and docstrings: `comment` (any language's line or block comment) and `py_doc`
//!   (inside a Python `"""` docstring) neutralise line breaks, `*/` and `?>`;
//! - JavaScript template literal text: `js_template`; an unquoted `.env` value: `dotenv`;
//! - identifiers: `ident` (and `js_ident`, which also allows `$`) refuse anything that is not
//!   one, so a bad value fails the render instead of producing code;
//! - module specifiers: `js_module`, `py_module`, `go_import`, `php_class`, `rb_const` refuse
//!   anything that is not a plain module reference in that language (no `data:` URL, no
//!   spaces or quotes) and return it unquoted, to be combined with a string filter where the
//!   language quotes it.
//!
//! The plan validator already restricts these fields; the filters are the second line, so
//! code generation is safe even for a plan that bypassed validation.

use std::fmt::Write as _;

use minijinja::{Environment, Error, ErrorKind};

/// Registers every filter on `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("js_str", |s: String| js_str(&s));
    env.add_filter("py_str", |s: String| py_str(&s));
    env.add_filter("go_str", |s: String| go_str(&s));
    env.add_filter("php_str", |s: String| php_str(&s));
    env.add_filter("rb_str", |s: String| rb_str(&s));
    env.add_filter("comment", |s: String| comment(&s));
    env.add_filter("py_doc", |s: String| py_doc(&s));
    env.add_filter("js_template", |s: String| js_template(&s));
    env.add_filter("dotenv", |s: String| {
        checked(
            dotenv(&s),
            s,
            "a plain `.env` value (a URL without spaces or quotes)",
        )
    });
    env.add_filter("ident", |s: String| checked(ident(&s), s, "an identifier"));
    env.add_filter("js_ident", |s: String| {
        checked(js_ident(&s), s, "a JavaScript identifier")
    });
    env.add_filter("js_module", |s: String| {
        checked(js_module(&s), s, "a JavaScript module specifier")
    });
    env.add_filter("py_module", |s: String| {
        checked(py_module(&s), s, "a Python module path (e.g. `app.auth`)")
    });
    env.add_filter("go_import", |s: String| {
        checked(go_import(&s), s, "a Go import path")
    });
    env.add_filter("php_class", |s: String| {
        php_class(&s).ok_or_else(|| refused(&s, "a PHP class name (e.g. `App/Auth/Customer`)"))
    });
    env.add_filter("rb_const", |s: String| {
        checked(
            rb_const(&s),
            s,
            "a Ruby constant path (e.g. `Auth` or `App::Auth`)",
        )
    });
}

fn checked(ok: bool, value: String, what: &str) -> Result<String, Error> {
    if ok {
        Ok(value)
    } else {
        Err(refused(&value, what))
    }
}

fn refused(value: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "{value:?} is not {what}; refusing to write it into generated code (fix the value in \
             spaire-billing.toml)"
        ),
    )
}

/// Printable ASCII, which every string filter writes as is unless it is special there.
fn is_plain(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_control()
}

/// A double-quoted JavaScript/TypeScript string literal.
/// A plan's decimal text (e.g. the LLM cost `markup`, validated positive and finite by the
/// plan) as a number literal valid in JS, Python, Go, PHP and Ruby alike.
pub fn decimal_literal(s: &str) -> String {
    let number = s
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0);
    // The plan validator rejects anything else; 1 (bill the cost itself) is never reached.
    format!("{:?}", number.unwrap_or(1.0))
}

pub fn js_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // `</script>` cannot end an inline script, and `${` is inert in "" anyway.
            '<' => out.push_str("\\x3C"),
            c if is_plain(c) => out.push(c),
            c => {
                // `\uXXXX` with surrogate pairs: `\u{…}` needs an ES2015 target in tsc.
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units).iter() {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

/// A double-quoted Python string literal.
pub fn py_str(s: &str) -> String {
    format!("\"{}\"", py_escape(s))
}

fn py_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_plain(c) => out.push(c),
            c if (c as u32) <= 0xFF => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out
}

/// A Go interpreted string literal.
pub fn go_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_plain(c) => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// A single-quoted PHP string literal: only `\\` and `\'` are special there, so nothing
/// inside (`$`, a line break, `?>`) is interpolated or ends the string or PHP mode.
pub fn php_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A double-quoted Ruby string literal (`#` escaped, so no `#{…}` interpolation).
pub fn rb_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '#' => out.push_str("\\#"),
            c if is_plain(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Text safe inside any generated comment: `//`, `#`, `/* */`, `/** */` in every language.
/// Line breaks (including the ones JavaScript counts: U+2028, U+2029) would end a line
/// comment, `*/` a block comment and `?>` PHP mode, so they are rewritten; other characters
/// stay readable.
pub fn comment(s: &str) -> String {
    let mut out = String::new();
    let mut prev = '\0';
    for c in s.chars() {
        match c {
            '/' if prev == '*' => out.push_str("\\/"),
            '>' if prev == '?' => out.push_str("\\>"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        prev = c;
    }
    out
}

/// Text inside a Python `"""` docstring: comment-safe, with quotes and backslashes escaped.
pub fn py_doc(s: &str) -> String {
    py_escape(&comment(s))
}

/// Text inside a JavaScript template literal (between backticks).
pub fn js_template(s: &str) -> String {
    let inner = js_str(s);
    let inner = &inner[1..inner.len() - 1];
    inner.replace('`', "\\`").replace('$', "\\$")
}

/// A value written unquoted after `NAME=` in `.env.example`: the characters of a URL only, so
/// no dotenv parser reads a comment, a quote, an expansion (`${…}`) or a second line in it.
pub fn dotenv(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~:/?[]@!&*+,;=%".contains(c))
}

/// An ASCII identifier valid in Python, Go, PHP and Ruby (letters, digits, `_`).
pub fn ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A JavaScript identifier (ASCII letters, digits, `_`, `$`).
pub fn js_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A package name or path specifier (`@/lib/auth`, `./auth.js`, `#auth`, `@org/pkg/sub`).
/// No `:`, so no `data:`/`node:`/`http:` URL that would load code from the specifier itself.
pub fn js_module(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && !s.starts_with('-')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b'-' | b'/' | b'~' | b'#')
        })
}

/// A dotted Python module path, optionally relative (`app.auth`, `.auth`).
pub fn py_module(s: &str) -> bool {
    let rest = s.trim_start_matches('.');
    !rest.is_empty() && s.len() <= 256 && rest.split('.').all(ident)
}

/// A Go import path (`example.com/shop/auth`).
pub fn go_import(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && !s.starts_with(['-', '/', '.'])
        && s.split('/').all(|e| !e.is_empty() && e != "." && e != "..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b'~'))
}

/// A fully qualified PHP class name written with `/` or `\` separators, returned with `\`
/// (without the leading one the template writes).
pub fn php_class(s: &str) -> Option<String> {
    let trimmed = s.trim_start_matches(['\\', '/']);
    let parts: Vec<&str> = trimmed.split(['\\', '/']).collect();
    (!trimmed.is_empty() && s.len() <= 256 && parts.iter().all(|p| ident(p)))
        .then(|| parts.join("\\"))
}

/// A Ruby constant path (`Auth`, `App::Auth`).
pub fn rb_const(s: &str) -> bool {
    let trimmed = s.strip_prefix("::").unwrap_or(s);
    !trimmed.is_empty()
        && s.len() <= 256
        && trimmed
            .split("::")
            .all(|p| ident(p) && p.starts_with(|c: char| c.is_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes_backslashes_and_line_breaks() {
        let hostile = "a\"b'c\\d\ne${x}#{y}?>\u{2028}é😀";
        assert_eq!(
            js_str(hostile),
            r#""a\"b'c\\d\u000ae${x}#{y}?>\u2028\u00e9\ud83d\ude00""#
        );
        assert_eq!(
            py_str(hostile),
            r#""a\"b'c\\d\x0ae${x}#{y}?>\u2028\xe9\U0001f600""#
        );
        assert_eq!(
            go_str(hostile),
            r#""a\"b'c\\d\u000ae${x}#{y}?>\u2028\u00e9\U0001f600""#
        );
        assert_eq!(php_str(hostile), "'a\"b\\'c\\\\d\ne${x}#{y}?>\u{2028}é😀'");
        assert_eq!(
            rb_str(hostile),
            r#""a\"b'c\\d\u{a}e${x}\#{y}?>\u{2028}\u{e9}\u{1f600}""#
        );
    }

    #[test]
    fn comments_cannot_be_closed_or_broken() {
        assert_eq!(
            comment("x */ y ?> z\nw\r\u{2028}"),
            "x *\\/ y ?\\> z\\u{a}w\\u{d}\\u{2028}"
        );
        assert_eq!(py_doc("a\"\"\" b\\"), "a\\\"\\\"\\\" b\\\\");
        assert_eq!(js_template("a`${b}\\"), "a\\`\\${b}\\\\");
    }

    #[test]
    fn module_specifiers_are_plain_references() {
        assert!(js_module("@/lib/auth") && js_module("./auth.js") && js_module("#auth"));
        assert!(!js_module("data:text/javascript,alert(1)") && !js_module("a\"b"));
        assert!(py_module("app.auth") && py_module(".auth") && !py_module("os; import x"));
        assert!(go_import("example.com/shop/auth") && !go_import("../x") && !go_import("a\"b"));
        assert_eq!(php_class("App/Auth").as_deref(), Some("App\\Auth"));
        assert_eq!(php_class("\\App\\Auth").as_deref(), Some("App\\Auth"));
        assert_eq!(php_class("App;system('x')"), None);
        assert!(rb_const("App::Auth") && !rb_const("auth") && !rb_const("A; `x`"));
        assert!(ident("getUser") && !ident("get$User") && js_ident("get$User"));
    }
}
