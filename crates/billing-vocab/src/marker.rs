//! The comment a user puts on a billable call that bills no customer (their own evals, an
//! admin script): `# spaire-billing: not billed` on the call's line or the line above it.
//! Detection then leaves the call out, so setup does not wire it and `status` does not list
//! it as work left.

pub const NOT_BILLED_MARKER: &str = "spaire-billing: not billed";

/// Whether `line` carries the marker (any case, in whatever comment syntax).
pub fn marks_not_billed(line: &str) -> bool {
    line.to_ascii_lowercase().contains(NOT_BILLED_MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_found_in_any_comment_syntax_and_case() {
        assert!(marks_not_billed("    # spaire-billing: not billed (evals)"));
        assert!(marks_not_billed("  // Spaire-Billing: Not Billed"));
        assert!(!marks_not_billed("  // spaire-billing: billed"));
    }
}
