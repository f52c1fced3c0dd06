//! Plan errors that point into the file: `spaire-billing.toml:12:15: prices[0].unit_amount: …`.

use std::fmt;
use std::ops::Range;

/// One problem in the plan, located by key path and (when read from a file) line and column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Key path in the file, e.g. `prices[0].unit_amount` (empty for the whole document).
    pub path: String,
    /// 1-based line and column of the offending key or value; `None` for plans not read from
    /// a file (built by the wizard or the MCP server) or for keys that are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What is wrong, including what was expected and what was found.
    pub message: String,
    /// What to write instead.
    pub fix: String,
}

impl Diagnostic {
    pub fn new(
        path: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// Sets the line and column from a byte span of `source`.
    pub fn at(mut self, source: &str, span: Option<Range<usize>>) -> Self {
        if let Some(span) = span {
            let (line, column) = line_col(source, span.start);
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }
}

/// 1-based line and column (in characters) of byte offset `offset`.
pub fn line_col(source: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Every problem found in one plan file (parsing reports all of them at once, so a user fixes
/// the file in one go instead of one error per run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// File name as shown to the user, e.g. `spaire-billing.toml` or `apps/web/spaire-billing.toml`.
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl PlanError {
    /// A one-line hint for the whole error: the fix of the first problem, or several.
    pub fn hint(&self) -> String {
        match self.diagnostics.as_slice() {
            [only] => only.fix.clone(),
            _ => {
                "fix each key listed above; every key is documented in docs/plan-file.md".to_owned()
            }
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.diagnostics.len();
        if count > 1 {
            writeln!(f, "{count} problems in `{}`:", self.file)?;
        }
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if count > 1 {
                f.write_str("  ")?;
            }
            f.write_str(&self.file)?;
            if let (Some(line), Some(column)) = (d.line, d.column) {
                write!(f, ":{line}:{column}")?;
            }
            f.write_str(": ")?;
            if !d.path.is_empty() {
                write!(f, "{}: ", d.path)?;
            }
            f.write_str(&d.message)?;
            if count > 1 {
                write!(f, " (fix: {})", d.fix)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for PlanError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let src = "a = 1\nb = \"é\"x\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        // The byte after the two-byte `é` is the 7th character of line 2.
        let x = src.find('x').unwrap();
        assert_eq!(line_col(src, x), (2, 8));
    }
}
