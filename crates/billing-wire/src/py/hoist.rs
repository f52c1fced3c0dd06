//! Moving an expression out of a larger statement into a local assigned just before it
//! (`return await agent.run(..)` → `result = await agent.run(..)` + record + `return result`;
//! `Body=f.read()` → `body = f.read()` so its `len()` is known). Only done when nothing else in
//! the statement is evaluated before the expression (no call or `await` earlier, no
//! short-circuit or lazy construct around it), so the program does the same things in the
//! same order.

use tree_sitter::Node;

use super::PyFile;
use crate::edit::Edit;
use crate::syntax::{ancestors, descendants, text};
use crate::text::indent_at;

/// Nodes an expression may sit in and still be evaluated exactly once, unconditionally.
const TRANSPARENT: &[&str] = &[
    "await",
    "parenthesized_expression",
    "attribute",
    "subscript",
    "argument_list",
    "keyword_argument",
    "call",
    "assignment",
    "expression_list",
    "tuple",
    "list",
    "dictionary",
    "pair",
    "binary_operator",
    "comparison_operator",
];

/// The statement directly in a block that evaluates `expr` as part of it.
pub(crate) fn statement_of<'t>(expr: Node<'t>) -> Result<Node<'t>, String> {
    let mut current = expr;
    loop {
        let parent = current
            .parent()
            .ok_or("the expression is not inside a statement")?;
        if matches!(parent.kind(), "block" | "module") {
            return matches!(current.kind(), "return_statement" | "expression_statement")
                .then_some(current)
                .ok_or_else(|| format!("it is part of a `{}`", current.kind()));
        }
        if !TRANSPARENT.contains(&current.kind()) && current.id() != expr.id() {
            return Err(format!(
                "it is evaluated inside a `{}`, which may not run it exactly once",
                current.kind()
            ));
        }
        current = parent;
    }
}

/// Whether moving `expr` before `statement` keeps the order of evaluation: no call or `await`
/// of the statement finishes before `expr` starts, except inside `allowed` (a receiver such
/// as `s3.Bucket(name)`, which only builds a client object).
pub(crate) fn evaluated_first(
    statement: Node<'_>,
    expr: Node<'_>,
    allowed: Option<Node<'_>>,
    src: &str,
) -> Result<(), String> {
    let inside = |n: Node<'_>, outer: Node<'_>| {
        n.start_byte() >= outer.start_byte() && n.end_byte() <= outer.end_byte()
    };
    let earlier = descendants(statement).into_iter().find(|n| {
        matches!(n.kind(), "call" | "await")
            && n.end_byte() <= expr.start_byte()
            && !allowed.is_some_and(|a| inside(*n, a))
    });
    match earlier {
        Some(n) => Err(format!(
            "`{}` runs before it in the same statement, so moving it first would change the order",
            text(n, src)
        )),
        None => Ok(()),
    }
}

/// A local name for the hoisted value, not used anywhere in `scope`.
pub(crate) fn fresh_name(f: &PyFile<'_>, scope: Node<'_>, candidates: &[&str]) -> Option<String> {
    let used: Vec<&str> = descendants(scope)
        .into_iter()
        .filter(|n| n.kind() == "identifier")
        .map(|n| text(n, f.src))
        .collect();
    candidates
        .iter()
        .find(|c| !used.contains(c))
        .map(|c| (*c).to_owned())
}

/// `name = <expr>` (then `after`, if any) on lines of their own before `statement`, and `expr`
/// replaced by `name` in it.
pub(crate) fn edits(
    f: &PyFile<'_>,
    statement: Node<'_>,
    expr: Node<'_>,
    name: &str,
    after: Option<&str>,
) -> Vec<Edit> {
    let indent = indent_at(f.src, statement.start_byte());
    let nl = f.nl;
    let mut hoisted = format!("{name} = {}{nl}{indent}", text(expr, f.src));
    if let Some(after) = after {
        hoisted.push_str(&format!("{after}{nl}{indent}"));
    }
    // `(await agent.run(..)).output` becomes `result.output`, not `(result).output`.
    let replaced = expr
        .parent()
        .filter(|p| p.kind() == "parenthesized_expression")
        .unwrap_or(expr);
    vec![
        Edit::insert(statement.start_byte(), hoisted),
        Edit::replace(replaced.start_byte(), replaced.end_byte(), name),
    ]
}

/// The innermost function around `node`, else the module: the scope a new local lives in.
pub(crate) fn scope_of<'t>(f: &PyFile<'t>, node: Node<'t>) -> Node<'t> {
    ancestors(node)
        .find(|a| a.kind() == "function_definition")
        .unwrap_or(f.module)
}
