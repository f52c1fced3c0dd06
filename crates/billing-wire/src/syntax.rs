//! Small helpers over tree-sitter nodes, shared by the language modules.

use tree_sitter::{Language, Node, Parser, Tree};

use crate::WireError;

pub(crate) fn parse(
    language: Language,
    name: &'static str,
    source: &str,
) -> Result<Tree, WireError> {
    let mut parser = Parser::new();
    parser
        .set_language(&language)
        .map_err(|e| WireError::Grammar(name, e))?;
    // `parse` only returns None without a language or after a cancellation; neither applies.
    Ok(parser
        .parse(source, None)
        .expect("a parser with a language always returns a tree"))
}

pub(crate) fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    &source[node.byte_range()]
}

pub(crate) fn named_children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|c| c.kind() != "comment")
        .collect()
}

pub(crate) fn children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

/// Parent, grandparent, ... up to the root.
pub(crate) fn ancestors(node: Node<'_>) -> impl Iterator<Item = Node<'_>> {
    std::iter::successors(node.parent(), |n| n.parent())
}

/// Every node below `node` (pre-order), `node` included.
pub(crate) fn descendants(node: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        out.push(n);
        let mut kids = children(n);
        kids.reverse();
        stack.extend(kids);
    }
    out
}

/// The next named sibling that is not a comment.
pub(crate) fn next_statement(node: Node<'_>) -> Option<Node<'_>> {
    let mut next = node.next_named_sibling();
    while let Some(n) = next {
        if n.kind() != "comment" {
            return Some(n);
        }
        next = n.next_named_sibling();
    }
    None
}

/// Whether the node has an anonymous child token `token` (e.g. `async`).
pub(crate) fn has_token(node: Node<'_>, token: &str) -> bool {
    children(node)
        .iter()
        .any(|c| !c.is_named() && c.kind() == token)
}

/// 1-based line of a node.
pub(crate) fn line_of(node: Node<'_>) -> u32 {
    u32::try_from(node.start_position().row + 1).unwrap_or(u32::MAX)
}
