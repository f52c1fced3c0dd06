//! The ECMAScript version a project's parser accepts, and generated JavaScript rewritten to
//! stay within it. A CommonJS project whose ESLint config says `ecmaVersion: 2017` rejects a
//! whole file at the first `??`, `?.`, `1_000` or `{ ...rest }`: its lint then reports a
//! parsing error instead of checking anything. The rewrites keep the meaning (`a ?? b` only
//! falls back on null and undefined; `a?.b.c` short-circuits the whole chain).

use std::path::Path;

use billing_detect::gates::{GateTool, Gates};
use tree_sitter::{Node, Parser};

/// The newest ECMAScript year the project's ESLint parser accepts, when it sets one below
/// 2020 (`ecmaVersion: 2017`, `ecmaVersion: 8`); `None` for no limit we need to respect.
pub fn es_limit(root: &Path, gates: &Gates) -> Option<u32> {
    [GateTool::EslintFlat, GateTool::EslintLegacy]
        .iter()
        .filter_map(|tool| gates.get(*tool)?.config.as_ref())
        .filter_map(|config| std::fs::read_to_string(root.join(config)).ok())
        .find_map(|text| ecma_version(&text))
        .filter(|year| *year < 2020)
}

/// `ecmaVersion: 2017` / `"ecmaVersion": 8` in a config's text, as a year.
fn ecma_version(text: &str) -> Option<u32> {
    let at = text.find("ecmaVersion")?;
    let rest = text[at + "ecmaVersion".len()..].trim_start_matches(['"', '\'', ':', ' ', '\t']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: u32 = digits.parse().ok()?;
    Some(match n {
        3 | 5 => 2009,
        6..=20 => n + 2009,
        _ => n,
    })
}

/// `text` (a JavaScript file) with every construct newer than ES2017 that the generated code
/// uses rewritten: numeric separators, `??`, optional chaining, object spread, a `catch`
/// without a binding. Returns the text unchanged when it does not parse.
pub fn downlevel(text: &str) -> String {
    let mut parser = Parser::new();
    if parser
        .set_language(&tree_sitter_typescript::LANGUAGE_TSX.into())
        .is_err()
    {
        return text.to_owned();
    }
    let mut current = text.to_owned();
    // One rewrite per parse, innermost first, so nested constructs see rewritten children.
    for _ in 0..10_000 {
        let Some(tree) = parser.parse(&current, None) else {
            break;
        };
        if tree.root_node().has_error() {
            break;
        }
        let Some((start, end, replacement)) = first_rewrite(tree.root_node(), &current) else {
            break;
        };
        current.replace_range(start..end, &replacement);
    }
    current
}

fn text_of<'t>(node: Node<'_>, text: &'t str) -> &'t str {
    &text[node.byte_range()]
}

/// The innermost construct to rewrite, as `(start, end, replacement)`.
fn first_rewrite(node: Node<'_>, text: &str) -> Option<(usize, usize, String)> {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if let Some(found) = first_rewrite(child, text) {
            return Some(found);
        }
    }
    rewrite(node, text)
}

fn rewrite(node: Node<'_>, text: &str) -> Option<(usize, usize, String)> {
    match node.kind() {
        "number" if text_of(node, text).contains('_') => Some((
            node.start_byte(),
            node.end_byte(),
            text_of(node, text).replace('_', ""),
        )),
        "binary_expression"
            if node
                .child_by_field_name("operator")
                .is_some_and(|op| op.kind() == "??") =>
        {
            let left = node.child_by_field_name("left")?;
            let right = text_of(node.child_by_field_name("right")?, text);
            let replacement = if simple(left) {
                let left = text_of(left, text);
                format!("({left} != null ? {left} : {right})")
            } else {
                format!(
                    "((spaireValue) => (spaireValue != null ? spaireValue : {right}))({})",
                    text_of(left, text)
                )
            };
            Some((node.start_byte(), node.end_byte(), replacement))
        }
        "member_expression" | "subscript_expression" | "call_expression"
            if optional_child(node).is_some() =>
        {
            optional_chain(node, text)
        }
        "object" if has_child(node, "spread_element") => Some((
            node.start_byte(),
            node.end_byte(),
            object_assign(node, text),
        )),
        "catch_clause" if node.child_by_field_name("parameter").is_none() => {
            let body = node.child_by_field_name("body")?;
            Some((
                node.start_byte(),
                body.start_byte(),
                "catch (_error) ".to_owned(),
            ))
        }
        _ => None,
    }
}

fn has_child(node: Node<'_>, kind: &str) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor).any(|c| c.kind() == kind)
}

fn optional_child(node: Node<'_>) -> Option<Node<'_>> {
    let mut cursor = node.walk();
    // `a?.b` has an `optional_chain` node; in a call (`f?.()`) the `?.` is a bare token.
    node.children(&mut cursor)
        .find(|c| matches!(c.kind(), "optional_chain" | "?."))
}

/// `X?.rest` inside the longest chain `P` it heads → `(X == null ? undefined : X.rest)`.
fn optional_chain(node: Node<'_>, text: &str) -> Option<(usize, usize, String)> {
    let target = node
        .child_by_field_name("object")
        .or_else(|| node.child_by_field_name("function"))?;
    let marker = optional_child(node)?;
    // The whole chain short-circuits: climb while we are the object / callee of the parent.
    let mut top = node;
    while let Some(parent) = top.parent() {
        let heads = ["object", "function"]
            .iter()
            .any(|field| parent.child_by_field_name(field) == Some(top));
        if heads
            && matches!(
                parent.kind(),
                "member_expression" | "subscript_expression" | "call_expression"
            )
        {
            top = parent;
        } else {
            break;
        }
    }
    let after_marker = &text[marker.end_byte()..top.end_byte()];
    // `?.name` → `.name`; `?.[i]` and `?.(args)` lose the dot.
    let rest = if after_marker.starts_with(['[', '(']) {
        after_marker.to_owned()
    } else {
        format!(".{after_marker}")
    };
    let between = &text[target.end_byte()..marker.start_byte()];
    let replacement = if simple(target) {
        let x = text_of(target, text);
        format!("({x} == null ? undefined : {x}{between}{rest})")
    } else {
        format!(
            "((spaireValue) => (spaireValue == null ? undefined : spaireValue{between}{rest}))({})",
            text_of(target, text)
        )
    };
    Some((top.start_byte(), top.end_byte(), replacement))
}

/// An expression that can be evaluated twice without a side effect or another result.
fn simple(node: Node<'_>) -> bool {
    match node.kind() {
        "identifier" | "this" | "property_identifier" | "number" | "string" => true,
        "parenthesized_expression" => node.named_child(0).is_some_and(|n| simple(n)),
        "member_expression" => node
            .child_by_field_name("object")
            .is_some_and(|o| simple(o)),
        "subscript_expression" => {
            node.child_by_field_name("object")
                .is_some_and(|o| simple(o))
                && node.child_by_field_name("index").is_some_and(|i| simple(i))
        }
        _ => false,
    }
}

/// `{ a, ...b, c: 1 }` → `Object.assign({}, { a }, b, { c: 1 })`.
fn object_assign(node: Node<'_>, text: &str) -> String {
    let mut parts = vec!["{}".to_owned()];
    let mut pending: Vec<&str> = Vec::new();
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind() == "comment" {
            continue;
        }
        if child.kind() == "spread_element" {
            if !pending.is_empty() {
                parts.push(format!("{{ {} }}", pending.join(", ")));
                pending.clear();
            }
            if let Some(inner) = child.named_child(0) {
                parts.push(text_of(inner, text).to_owned());
            }
        } else {
            pending.push(text_of(child, text));
        }
    }
    if !pending.is_empty() {
        parts.push(format!("{{ {} }}", pending.join(", ")));
    }
    format!("Object.assign({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_configured_version() {
        assert_eq!(
            ecma_version("languageOptions: { ecmaVersion: 2017 }"),
            Some(2017)
        );
        assert_eq!(
            ecma_version("\"parserOptions\": {\"ecmaVersion\": 8}"),
            Some(2017)
        );
        assert_eq!(ecma_version("ecmaVersion: 'latest'"), None);
    }

    #[test]
    fn rewrites_keep_the_meaning() {
        let cases = [
            ("const a = 10_000;", "const a = 10000;"),
            ("const a = b ?? c;", "const a = (b != null ? b : c);"),
            (
                "const a = f() ?? c;",
                "const a = ((spaireValue) => (spaireValue != null ? spaireValue : c))(f());",
            ),
            (
                "const a = b?.c.d;",
                "const a = (b == null ? undefined : b.c.d);",
            ),
            (
                "const a = b?.c?.d;",
                "const a = (b == null ? undefined : (b.c == null ? undefined : b.c.d));",
            ),
            ("t.unref?.();", "(t.unref == null ? undefined : t.unref());"),
            (
                "const a = b[0]?.c;",
                "const a = (b[0] == null ? undefined : b[0].c);",
            ),
            (
                "f({ a: 1, ...m }, { ...n });",
                "f(Object.assign({}, { a: 1 }, m), Object.assign({}, n));",
            ),
            (
                "try { x() } catch { y() }",
                "try { x() } catch (_error) { y() }",
            ),
            (
                "const s = `${a ?? 'x'}`;",
                "const s = `${(a != null ? a : 'x')}`;",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(downlevel(input), want, "{input}");
        }
    }
}
