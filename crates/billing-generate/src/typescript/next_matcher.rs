//! Lets Spaire's webhook deliveries past a Next.js `middleware.ts` / Next 16 `proxy.ts`: an
//! auth middleware whose `matcher` covers `/api/:path*` (or everything) redirects every
//! delivery to a login page. The webhook path is added to the matcher's exclusions, editing
//! only the matcher strings; a matcher this cannot read safely is a manual step at its line.

use super::context::WEBHOOK_PATH;

/// What to do with a middleware file.
#[derive(Debug, PartialEq, Eq)]
pub enum MatcherEdit {
    /// The file with the webhook path excluded.
    Edited(String),
    /// The middleware never runs for the webhook path already.
    Unaffected,
    /// A matcher entry may match the webhook path and cannot be edited safely: its line.
    Unsafe(u32),
}

/// `WEBHOOK_PATH` without its leading `/`, as it appears inside a matcher lookahead.
fn webhook_rest() -> &'static str {
    WEBHOOK_PATH.trim_start_matches('/')
}

pub fn exclude_webhook(source: &str) -> MatcherEdit {
    let Some(key) = find_code(source, "matcher") else {
        if let Some(at) = source.find("export const config") {
            return MatcherEdit::Unsafe(line_of(source, at));
        }
        // No matcher: the middleware runs for every path. This config keeps that, minus the
        // webhook path.
        let mut out = source.to_owned();
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "\n// Every path but Spaire's webhook deliveries (signed, no session: the middleware would refuse them).\nexport const config = {{\n  matcher: [\"/((?!{}).*)\"],\n}};\n",
            webhook_rest()
        ));
        return MatcherEdit::Edited(out);
    };
    // The matcher's value: one string, or an array of strings (comments allowed).
    let after_key = &source[key..];
    let Some(colon) = after_key.find(':') else {
        return MatcherEdit::Unsafe(line_of(source, key));
    };
    let value_start = key + colon + 1;
    let value = source[value_start..].trim_start();
    let value_start = source.len() - value.len();
    let value_end = if value.starts_with('[') {
        match value.find(']') {
            Some(close) => value_start + close + 1,
            None => return MatcherEdit::Unsafe(line_of(source, key)),
        }
    } else if value.starts_with('"') || value.starts_with('\'') {
        value_start + value.find([',', '\n', '}']).unwrap_or(value.len())
    } else {
        return MatcherEdit::Unsafe(line_of(source, key));
    };
    let region = &source[value_start..value_end];
    // Object matchers (`{ source, has, missing }`) are conditions this does not rewrite.
    if region.contains('{') || region.contains("source:") {
        return MatcherEdit::Unsafe(line_of(source, key));
    }
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (start, end, pattern) in string_literals(region) {
        let line = line_of(source, value_start + start);
        match classify(pattern) {
            Entry::Unaffected => {}
            Entry::Replace(new) => edits.push((value_start + start, value_start + end, new)),
            Entry::Unsafe => return MatcherEdit::Unsafe(line),
        }
    }
    if edits.is_empty() {
        return MatcherEdit::Unaffected;
    }
    let mut out = source.to_owned();
    for (start, end, new) in edits.into_iter().rev() {
        out.replace_range(start..end, &new);
    }
    MatcherEdit::Edited(out)
}

enum Entry {
    Unaffected,
    Replace(String),
    Unsafe,
}

fn classify(pattern: &str) -> Entry {
    let rest = webhook_rest();
    // `/((?!_next/static|favicon.ico).*)`: everything (under a plain prefix such as `/api/`)
    // but the listed prefixes.
    if let Some((prefix, inner)) = pattern
        .strip_suffix(").*)")
        .and_then(|p| p.split_once("((?!"))
        && prefix.starts_with('/')
        && is_plain(prefix)
    {
        let Some(remainder) = WEBHOOK_PATH.strip_prefix(prefix) else {
            return Entry::Unaffected;
        };
        let excluded = inner
            .split('|')
            .any(|alt| !alt.is_empty() && is_plain(alt) && remainder.starts_with(alt));
        return if excluded {
            Entry::Unaffected
        } else {
            Entry::Replace(format!("{prefix}((?!{remainder}|{inner}).*)"))
        };
    }
    // `/api/:path*`: every API route; keep them all but the webhook.
    if let Some(param) = pattern.strip_prefix("/api/:")
        && let Some(name) = param.strip_suffix('*').or_else(|| param.strip_suffix('+'))
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        let below_api = rest.trim_start_matches("api/");
        return Entry::Replace(format!("/api/((?!{below_api}).*)"));
    }
    let segments: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let webhook: Vec<&str> = rest.split('/').collect();
    let first_fixed = segments.first().is_some_and(|s| is_plain(s));
    if first_fixed && segments[0] != webhook[0] {
        // `/dashboard/:path*`, `/login`: another first segment.
        return Entry::Unaffected;
    }
    let simple = segments
        .iter()
        .all(|s| is_plain(s) || (s.starts_with(':') && is_plain(&s[1..])));
    if simple {
        // Plain segments and single-segment parameters match exactly that many segments.
        let matches = segments.len() == webhook.len()
            && segments
                .iter()
                .zip(&webhook)
                .all(|(s, w)| s.starts_with(':') || s == w);
        return if matches {
            Entry::Unsafe
        } else {
            Entry::Unaffected
        };
    }
    Entry::Unsafe
}

fn is_plain(segment: &str) -> bool {
    segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
}

/// Byte offset of `word` outside comments and strings, at an identifier boundary.
fn find_code(source: &str, word: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'"' | b'\'' | b'`' => i = skip_string(source, i),
            _ if source[i..].starts_with(word)
                && (i == 0 || !is_ident(bytes[i - 1]))
                && !bytes.get(i + word.len()).copied().is_some_and(is_ident) =>
            {
                return Some(i);
            }
            _ => i += 1,
        }
    }
    None
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Index just past the string literal opening at `start`.
fn skip_string(source: &str, start: usize) -> usize {
    let bytes = source.as_bytes();
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The string literals of `region` outside comments: (start, end) of the whole literal and its
/// raw content (escapes as written).
fn string_literals(region: &str) -> Vec<(usize, usize, &str)> {
    let bytes = region.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = region[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = region[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'"' | b'\'' => {
                let end = skip_string(region, i);
                let quote = bytes[i];
                let content_end = if bytes.get(end.saturating_sub(1)) == Some(&quote) {
                    end - 1
                } else {
                    end
                };
                // Keep the quotes: the replacement is written with the same quote character.
                out.push((i + 1, content_end, &region[i + 1..content_end]));
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

fn line_of(source: &str, at: usize) -> u32 {
    u32::try_from(source[..at.min(source.len())].matches('\n').count() + 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ai_chatbot_proxy_excludes_the_webhook_from_both_entries() {
        let source = "export const config = {\n  matcher: [\n    \"/\",\n    \"/chat/:id\",\n    \"/api/:path*\",\n    \"/login\",\n\n    /*\n     * Match all request paths except for the ones starting with:\n     * - _next/static (static files)\n     */\n    \"/((?!_next/static|_next/image|favicon.ico|sitemap.xml|robots.txt).*)\",\n  ],\n};\n";
        let MatcherEdit::Edited(out) = exclude_webhook(source) else {
            panic!("not edited")
        };
        assert!(
            out.contains("    \"/api/((?!webhooks/spaire).*)\",\n"),
            "{out}"
        );
        assert!(out.contains("\"/((?!api/webhooks/spaire|_next/static|_next/image|favicon.ico|sitemap.xml|robots.txt).*)\""), "{out}");
        assert!(
            out.contains("     * - _next/static (static files)\n"),
            "comments stay: {out}"
        );
        assert_eq!(exclude_webhook(&out), MatcherEdit::Unaffected);
    }

    #[test]
    fn clerk_catch_all_and_single_quotes() {
        let source = "export const config = {\n  matcher: ['/((?!.*\\\\..*|_next).*)', '/'],\n};\n";
        let MatcherEdit::Edited(out) = exclude_webhook(source) else {
            panic!("not edited")
        };
        assert!(
            out.contains("matcher: ['/((?!api/webhooks/spaire|.*\\\\..*|_next).*)', '/'],"),
            "{out}"
        );
    }

    #[test]
    fn matchers_that_never_see_the_webhook_are_left_alone() {
        for source in [
            "export const config = { matcher: [\"/dashboard/:path*\", \"/editor/:path*\", \"/login\"] }\n",
            "export const config = { matcher: ['/((?!api|_next/static|_next/image|favicon.ico).*)'] }\n",
            "export const config = { matcher: [\"/\", \"/:id\"] };\n",
        ] {
            assert_eq!(exclude_webhook(source), MatcherEdit::Unaffected, "{source}");
        }
    }

    #[test]
    fn no_matcher_gets_one_that_keeps_every_other_path() {
        let source =
            "export async function middleware(request) {\n  return NextResponse.next();\n}\n";
        let MatcherEdit::Edited(out) = exclude_webhook(source) else {
            panic!("not edited")
        };
        assert!(
            out.ends_with(
                "export const config = {\n  matcher: [\"/((?!api/webhooks/spaire).*)\"],\n};\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn unreadable_matchers_are_a_manual_step_at_their_line() {
        let source = "import x from \"y\";\nexport const config = {\n  matcher: [\"/(api|trpc)(.*)\"],\n};\n";
        assert_eq!(exclude_webhook(source), MatcherEdit::Unsafe(3));
        let objects =
            "export const config = {\n  matcher: [{ source: \"/api/:path*\", missing: [] }],\n};\n";
        assert_eq!(exclude_webhook(objects), MatcherEdit::Unsafe(2));
        let runtime_only = "export const config = { runtime: \"nodejs\" };\n";
        assert_eq!(exclude_webhook(runtime_only), MatcherEdit::Unsafe(1));
    }
}
