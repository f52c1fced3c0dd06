//! Lexical scope in JavaScript / TypeScript: which declaration a name refers to at a point,
//! looking through every enclosing block and function (closures see their parents' locals and
//! parameters). Module-level names are not per-request, so they are never returned.

use tree_sitter::Node;

use super::customer::{is_function, parameters};
use crate::syntax::{named_children, text};

/// The identifier node that declares `name` as seen from `at`: a parameter (also destructured)
/// of an enclosing function, or a `const` / `let` / `var` declared earlier in an enclosing
/// block. `None` when the name is module-level, global or unknown.
pub(crate) fn binding_at<'t>(name: &str, at: Node<'t>, src: &str) -> Option<Node<'t>> {
    let mut child = at;
    while let Some(scope) = child.parent() {
        if scope.kind() == "program" {
            return None;
        }
        if is_function(scope) {
            let in_params = parameters(scope)
                .into_iter()
                .flat_map(bound_identifiers)
                .find(|id| text(*id, src) == name);
            if in_params.is_some() {
                return in_params;
            }
        }
        match scope.kind() {
            "statement_block" | "switch_case" | "switch_default" | "class_body" => {
                if let Some(found) = declared_in_block(name, scope, at, src) {
                    return Some(found);
                }
            }
            "for_in_statement" | "for_statement" => {
                let left = scope
                    .child_by_field_name("left")
                    .or_else(|| scope.child_by_field_name("initializer"));
                if let Some(found) = left
                    .into_iter()
                    .flat_map(declared_by)
                    .find(|id| text(*id, src) == name)
                {
                    return Some(found);
                }
            }
            "catch_clause" => {
                if let Some(found) = scope
                    .child_by_field_name("parameter")
                    .into_iter()
                    .flat_map(bound_identifiers)
                    .find(|id| text(*id, src) == name)
                {
                    return Some(found);
                }
            }
            _ => {}
        }
        child = scope;
    }
    None
}

/// A declaration of `name` among the statements of `block` that is initialised before `at`
/// (or whose binding pattern contains `at`, so a name resolves to itself).
fn declared_in_block<'t>(name: &str, block: Node<'t>, at: Node<'t>, src: &str) -> Option<Node<'t>> {
    named_children(block)
        .into_iter()
        .filter(|s| s.start_byte() <= at.start_byte())
        .flat_map(|s| {
            let pattern_holds_at = s.end_byte() > at.start_byte();
            declared_by(s)
                .into_iter()
                .filter(move |id| !pattern_holds_at || id.id() == at.id())
        })
        .find(|id| text(*id, src) == name)
}

/// Identifiers a declaration statement (or a `for (const x of ..)` head) binds.
fn declared_by(statement: Node<'_>) -> Vec<Node<'_>> {
    match statement.kind() {
        "lexical_declaration" | "variable_declaration" => named_children(statement)
            .into_iter()
            .filter(|d| d.kind() == "variable_declarator")
            .filter_map(|d| d.child_by_field_name("name"))
            .flat_map(bound_identifiers)
            .collect(),
        _ => bound_identifiers(statement),
    }
}

/// The identifiers a binding pattern introduces (`a`, `{ a, b: c, ...d }`, `[a, b = 1]`).
pub(crate) fn bound_identifiers(pattern: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![pattern];
    while let Some(p) = stack.pop() {
        match p.kind() {
            "identifier" | "shorthand_property_identifier_pattern" => out.push(p),
            "pair_pattern" => stack.extend(p.child_by_field_name("value")),
            "object_assignment_pattern" | "assignment_pattern" => {
                stack.extend(p.child_by_field_name("left"));
            }
            "object_pattern" | "array_pattern" | "rest_pattern" => {
                stack.extend(named_children(p).into_iter().rev());
            }
            "required_parameter" | "optional_parameter" => {
                stack.extend(p.child_by_field_name("pattern"));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{descendants, parse};

    fn binding_line(src: &str, name: &str, nth_use: usize) -> Option<usize> {
        let tree = parse(
            tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            "TypeScript",
            src,
        )
        .expect("grammar");
        let uses: Vec<_> = descendants(tree.root_node())
            .into_iter()
            .filter(|n| n.kind() == "identifier" && text(*n, src) == name)
            .collect();
        binding_at(name, uses[nth_use], src).map(|b| b.start_position().row + 1)
    }

    #[test]
    fn closures_see_outer_locals_and_destructured_parameters() {
        let src = "const session = 0;
export async function POST({ session: s, user }: Props) {
  try {
    const session = await auth();
    run(async () => { use(session, s, user); });
  } finally {}
  use(session);
}
";
        // `session` inside the closure: the `const` in the `try` block (line 4).
        assert_eq!(binding_line(src, "session", 2), Some(4));
        // After the `try` block only the module-level one exists: not per-request.
        assert_eq!(binding_line(src, "session", 3), None);
        assert_eq!(binding_line(src, "s", 1), Some(2));
        assert_eq!(binding_line(src, "user", 0), Some(2));
    }

    #[test]
    fn a_declaration_after_the_use_does_not_count() {
        let src = "async function f() {\n  use(userId);\n  const userId = 1;\n}\n";
        assert_eq!(binding_line(src, "userId", 0), None);
        assert_eq!(binding_line(src, "userId", 1), Some(3));
    }
}
