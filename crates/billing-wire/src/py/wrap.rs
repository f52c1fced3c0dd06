//! Long lines the wiring wrote into a user's Python file, wrapped the way black does, when
//! the project's linter limits line length (thenewboston-backend: flake8 `max-line-length =
//! 119`, and `return client.images.generate(..)` became `response = client.images.generate(..)`,
//! 121 characters). The user's own files are never marked `# noqa`: the new line is wrapped
//! instead, and only a line the edit added that is longer than the limit.
//!
//! The layout is black's right-hand split: the last bracket pair of the statement opens the
//! first line and closes the last, with its contents indented one level on one line when they
//! fit, else one element per line with a trailing comma:
//!
//! ```text
//! response = client.images.generate(
//!     model=model, prompt=prompt, n=quantity, quality=quality, size=size
//! )
//! ```

use tree_sitter::Node;

use crate::syntax::{descendants, named_children, parse, text};

/// Brackets a statement may be split at, with the elements black puts one per line.
const BRACKETS: &[&str] = &[
    "argument_list",
    "list",
    "tuple",
    "dictionary",
    "set",
    "parameters",
];

/// `after` with every line the edit added (a line of `after` not in `before`, counted as a
/// multiset) that is longer than `limit` characters wrapped in black's style, when it is one
/// whole simple statement ending in a bracket pair whose first line fits. Anything else is
/// left as it is (the project's checks report it).
pub fn wrap_long_lines(before: &str, after: &str, limit: usize) -> String {
    let lines: Vec<&str> = after.split_inclusive('\n').collect();
    let mut old: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for line in before.split_inclusive('\n') {
        *old.entry(line.trim_end_matches(['\n', '\r'])).or_default() += 1;
    }
    let mut long = Vec::new();
    for (row, line) in lines.iter().enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        match old.get_mut(body) {
            Some(n) if *n > 0 => *n -= 1,
            _ if body.chars().count() > limit => long.push(row),
            _ => {}
        }
    }
    if long.is_empty() {
        return after.to_owned();
    }
    let Ok(tree) = parse(tree_sitter_python::LANGUAGE.into(), "Python", after) else {
        return after.to_owned();
    };
    if tree.root_node().has_error() {
        return after.to_owned();
    }
    let statements: Vec<Node<'_>> = descendants(tree.root_node())
        .into_iter()
        .filter(|n| {
            matches!(
                n.kind(),
                "expression_statement" | "return_statement" | "assert_statement"
            ) && n.start_position().row == n.end_position().row
        })
        .collect();
    let mut out = String::with_capacity(after.len() + 64);
    for (row, line) in lines.iter().enumerate() {
        let wrapped = long
            .contains(&row)
            .then(|| {
                statements
                    .iter()
                    .find(|s| s.start_position().row == row)
                    .and_then(|s| wrap_statement(after, line, *s, limit))
            })
            .flatten();
        out.push_str(wrapped.as_deref().unwrap_or(line));
    }
    out
}

/// The physical `line` holding `statement` alone, split at its last bracket pair.
fn wrap_statement(src: &str, line: &str, statement: Node<'_>, limit: usize) -> Option<String> {
    let (body, newline) = match line.strip_suffix("\r\n") {
        Some(b) => (b, "\r\n"),
        None => line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n")),
    };
    let line_start = statement.start_byte() - statement.start_position().column;
    let indent = &body[..body.len() - body.trim_start().len()];
    // Nothing but the statement (and spaces) before it on the line; a `;` after it is another
    // statement, which black would split first: left alone.
    if line_start + indent.len() != statement.start_byte() {
        return None;
    }
    let rest = &src[statement.end_byte()..line_start + body.len()];
    if !rest.trim().is_empty() && !rest.trim_start().starts_with('#') {
        return None;
    }
    // The outermost bracket pair that closes the statement.
    let bracket = descendants(statement)
        .into_iter()
        .filter(|n| BRACKETS.contains(&n.kind()) && n.end_byte() == statement.end_byte())
        .min_by_key(Node::start_byte)?;
    let open = bracket.start_byte() + 1;
    let close = bracket.end_byte() - 1;
    let inside = src[open..close].trim();
    if inside.is_empty() || inside.contains('\n') || inside.contains('#') {
        return None;
    }
    let head = &src[line_start..open];
    let tail = format!("{}{}", &src[close..statement.end_byte()], rest);
    let step = if indent.starts_with('\t') {
        "\t"
    } else {
        "    "
    };
    let width = |s: &str| s.chars().count();
    if width(head) > limit {
        return None;
    }
    let inner = format!("{indent}{step}");
    let one_line = format!("{inner}{inside}");
    let elements = named_children(bracket);
    // A magic trailing comma (`f(a, b,)`) keeps one element per line in black.
    let magic_comma = inside.ends_with(',');
    // A last line without a newline still breaks inside; it ends as it did.
    let nl = if newline.is_empty() { "\n" } else { newline };
    let mut wrapped = format!("{head}{nl}");
    if width(&one_line) <= limit && !magic_comma {
        wrapped.push_str(&format!("{one_line}{nl}"));
    } else if !elements.is_empty() {
        for element in elements {
            wrapped.push_str(&format!("{inner}{},{nl}", text(element, src)));
        }
    } else {
        return None;
    }
    wrapped.push_str(&format!("{indent}{}{newline}", tail.trim_end()));
    Some(wrapped)
}

#[cfg(test)]
mod tests {
    use super::wrap_long_lines;

    #[test]
    fn a_wired_assignment_over_the_limit_is_split_inside_its_call() {
        let before = "def f(self, m, p, q):\n    return self.client.images.generate(model=m, prompt=p, n=q, size=q)\n";
        let after = "def f(self, m, p, q):\n    response = self.client.images.generate(model=m, prompt=p, n=q, size=q)\n    record(response)\n    return response\n";
        assert_eq!(wrap_long_lines(before, after, 60), after.replace(
            "    response = self.client.images.generate(model=m, prompt=p, n=q, size=q)\n",
            "    response = self.client.images.generate(\n        model=m, prompt=p, n=q, size=q\n    )\n",
        ));
        // Within the limit, or a line the user wrote: untouched.
        assert_eq!(wrap_long_lines(before, after, 100), after);
        assert_eq!(wrap_long_lines(after, after, 40), after);
    }

    #[test]
    fn arguments_that_do_not_fit_on_one_line_go_one_per_line() {
        let after = "x = 1\nrecord_image_generation(current_customer_id(), response.data, model=model_name_from_settings)\n";
        assert_eq!(
            wrap_long_lines("x = 1\n", after, 50),
            "x = 1\nrecord_image_generation(\n    current_customer_id(),\n    response.data,\n    model=model_name_from_settings,\n)\n"
        );
    }

    #[test]
    fn what_black_would_not_split_this_way_is_left_alone() {
        // A head longer than the limit, a trailing `;`, a string with no brackets.
        for after in [
            "response_with_a_very_long_name_here = client.images.generate(m)\n",
            "a = f(x, y, z, w, v); b = 2\n",
            "message = 'a long string that goes on and on and on and on'\n",
        ] {
            assert_eq!(wrap_long_lines("", after, 30), after, "{after}");
        }
    }
}
