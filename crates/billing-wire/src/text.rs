//! Reading layout facts (newline style, indentation, line numbers) off the original text so
//! inserted code looks like the code around it.

pub(crate) use billing_detect::text::newline;

/// Byte offset of the start of the line containing `at`.
pub(crate) fn line_start(source: &str, at: usize) -> usize {
    source[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// Byte offset where the line containing `at` ends (before `\r\n` / `\n`, or the end of text).
pub(crate) fn line_end(source: &str, at: usize) -> usize {
    let end = source[at..].find('\n').map_or(source.len(), |i| at + i);
    if end > 0 && source.as_bytes().get(end - 1) == Some(&b'\r') && end > at {
        end - 1
    } else {
        end
    }
}

/// Leading whitespace of the line containing `at`.
pub(crate) fn indent_at(source: &str, at: usize) -> &str {
    let start = line_start(source, at);
    let rest = &source[start..];
    let len = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    &rest[..len]
}

/// One level of indentation as the file writes it (a tab, or the smallest run of leading
/// spaces on an indented line), two spaces when nothing is indented.
pub(crate) fn indent_unit(source: &str) -> String {
    let mut smallest: Option<usize> = None;
    for line in source.lines() {
        if line.starts_with('\t') {
            return "\t".to_owned();
        }
        let spaces = line.len() - line.trim_start_matches(' ').len();
        if spaces > 0 && spaces < line.len() {
            smallest = Some(smallest.map_or(spaces, |s: usize| s.min(spaces)));
        }
    }
    " ".repeat(smallest.unwrap_or(2).clamp(1, 8))
}

/// Whether `text` is a plain identifier (safe to splice into generated code as a name).
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_facts() {
        let src = "a\r\n    b();\r\nc";
        assert_eq!(newline(src), "\r\n");
        let b = src.find('b').unwrap();
        assert_eq!(indent_at(src, b), "    ");
        assert_eq!(&src[line_start(src, b)..line_end(src, b)], "    b();");
        assert_eq!(line_end(src, src.len() - 1), src.len());
        assert_eq!(indent_unit("x\n\t\ty\n"), "\t");
        assert_eq!(indent_unit("x\n    y\n  z\n"), "  ");
        assert!(is_identifier("req") && !is_identifier("a.b"));
    }
}
