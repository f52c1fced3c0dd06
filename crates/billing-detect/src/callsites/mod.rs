//! Finding the places later stages wire: LLM calls, S3 uploads, app constructions and route
//! registrations. Source files are parsed with tree-sitter, and only after a cheap text
//! pre-filter says the file can contain something of interest.

pub mod python;
pub mod typescript;

use tree_sitter::Node;

/// An app object being constructed (`express()`, `new Hono()`, `FastAPI()`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Construction {
    /// Module the constructor was imported from ("express", "hono", "fastapi", ...).
    pub module: String,
    /// Constructor name as imported ("default" for a default import).
    pub imported: String,
    pub line: u32,
    /// Variable it is assigned to, when it is.
    pub variable: Option<String>,
    /// Built inside a `catch` clause: an error fallback, not the app that serves requests.
    pub in_fallback: bool,
}

/// Calls every node under `root` (pre-order, iterative so deep nesting cannot overflow).
pub(crate) fn visit<'t>(root: Node<'t>, mut f: impl FnMut(Node<'t>)) {
    let mut cursor = root.walk();
    loop {
        f(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

pub(crate) fn text<'s>(node: Node<'_>, src: &'s str) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

/// Content of a string literal node without quotes.
pub(crate) fn string_value(node: Node<'_>, src: &str) -> Option<String> {
    let raw = text(node, src);
    let raw = raw.trim_start_matches(['r', 'b', 'u', 'f', 'R', 'B', 'U', 'F']);
    let q = raw.chars().next()?;
    if !matches!(q, '"' | '\'' | '`') {
        return None;
    }
    Some(raw.trim_matches(q).to_owned())
}
