//! `[customer] from = "session"` in JavaScript / TypeScript: the signed-in user's id as the
//! app itself reads it, found anywhere in the call's enclosing scopes (the handler that ran
//! `const session = await auth()` around a nested `execute` callback, a destructured
//! `{ session }` parameter, tRPC's `ctx`, SvelteKit / Astro `locals`, Hono's `c.get("user")`).
//!
//! Only an expression the app already uses (or the documented shape of a known auth call) is
//! reused, so the inserted code type-checks wherever the app's own code does. Plain chains are
//! rewritten with `?.` (`session?.user?.id`): the call may run in a closure where a `null`
//! check made before it does not narrow the type.

use tree_sitter::Node;

use super::TsFile;
use super::customer::enclosing_functions;
use super::scope::{binding_at, bound_identifiers};
use crate::edit::Edit;
use crate::syntax::{descendants, line_of, named_children, text};

/// Names of a variable that holds the signed-in user itself (`user.id`).
const USER_OBJECTS: &[&str] = &[
    "user",
    "currentUser",
    "authUser",
    "sessionUser",
    "me",
    "viewer",
];
/// Names of a variable that holds the user id itself.
const USER_IDS: &[&str] = &["userId", "user_id", "currentUserId"];
/// Chains through client-controlled data: never a trusted user id.
const UNTRUSTED: &[&str] = &[
    "body",
    "query",
    "params",
    "headers",
    "input",
    "searchParams",
    "formData",
    "args",
    "payload",
];

/// A reference to the user id: the root variable, the property path after it, and whether it
/// is a plain `a.b.c` chain (only those are rewritten with `?.`).
struct Chain<'t> {
    root: Node<'t>,
    props: Vec<String>,
    plain: bool,
}

fn chain<'t>(node: Node<'t>, src: &str) -> Option<Chain<'t>> {
    match node.kind() {
        "identifier" => Some(Chain {
            root: node,
            props: Vec::new(),
            plain: true,
        }),
        "member_expression" => {
            let property = node.child_by_field_name("property")?;
            if property.kind() != "property_identifier" {
                return None;
            }
            let mut inner = chain(node.child_by_field_name("object")?, src)?;
            inner.props.push(text(property, src).to_owned());
            Some(inner)
        }
        "parenthesized_expression"
        | "as_expression"
        | "non_null_expression"
        | "satisfies_expression" => {
            let mut inner = chain(*named_children(node).first()?, src)?;
            inner.plain = false;
            Some(inner)
        }
        // Hono: `c.get("user")` (the value an auth middleware stored on the context).
        "call_expression" => {
            let function = node.child_by_field_name("function")?;
            let args = named_children(node.child_by_field_name("arguments")?);
            let key = match args.as_slice() {
                [only] if only.kind() == "string" => {
                    text(*only, src).trim_matches(['"', '\'', '`'])
                }
                _ => return None,
            };
            if function.kind() != "member_expression"
                || function
                    .child_by_field_name("property")
                    .is_none_or(|p| text(p, src) != "get")
            {
                return None;
            }
            let mut inner = chain(function.child_by_field_name("object")?, src)?;
            inner.props.push(key.to_owned());
            inner.plain = false;
            Some(inner)
        }
        _ => None,
    }
}

/// Whether the chain reads a signed-in user's id: `….user.id`, `….userId`, `user.id` — or,
/// in an app whose schema keys its users by another column (`user_key`, e.g. `email`), that
/// column (`session.user.email`, `user.email`).
fn is_user_id(chain: &Chain<'_>, src: &str, user_key: Option<&str>) -> bool {
    is_user_id_path(text(chain.root, src), &chain.props, user_key)
}

/// [`is_user_id`] on a path written out: the root variable (or the key a framework stores a
/// value under, as in Hono's `c.var.session.userId`) and the properties read after it.
pub(crate) fn is_user_id_path(root: &str, props: &[String], user_key: Option<&str>) -> bool {
    if UNTRUSTED.contains(&root) || props.iter().any(|p| UNTRUSTED.contains(&p.as_str())) {
        return false;
    }
    let is_key = |p: &str| p == "id" || user_key == Some(p);
    match props {
        [] => USER_IDS.contains(&root),
        [only] if is_key(only) => USER_OBJECTS.contains(&root),
        [.., last] if USER_IDS.contains(&last.as_str()) => true,
        [.., user, id] => user == "user" && is_key(id),
        _ => false,
    }
}

/// The column the app's own schema keys its users by, when it is not an `id`.
fn user_key<'a>(f: &TsFile<'a>) -> Option<&'a str> {
    f.ctx.package.user_key.as_ref().map(|k| k.field.as_str())
}

/// The expression to insert for a chain the app wrote at `node`.
fn render(chain: &Chain<'_>, node: Node<'_>, src: &str) -> String {
    if chain.plain {
        let mut out = text(chain.root, src).to_owned();
        for p in &chain.props {
            out.push_str("?.");
            out.push_str(p);
        }
        out
    } else {
        text(node, src)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Whether `root` (used at `used_at`) is the same variable as the one visible at `at`, and
/// that variable is a local or parameter of an enclosing function.
fn same_binding(root: Node<'_>, used_at: Node<'_>, at: Node<'_>, src: &str) -> bool {
    let name = text(root, src);
    match (binding_at(name, used_at, src), binding_at(name, at, src)) {
        (Some(a), Some(b)) => a.id() == b.id(),
        _ => false,
    }
}

/// A candidate at `node`: the expression to insert when its variable is in scope at `at`.
fn candidate(f: &TsFile<'_>, node: Node<'_>, at: Node<'_>) -> Option<String> {
    let src = f.src;
    match node.kind() {
        // `const userId = session.user.id` / `const uid = (session.user as U).id`: the alias.
        "variable_declarator" => {
            let name = node
                .child_by_field_name("name")
                .filter(|n| n.kind() == "identifier")?;
            let value = chain(node.child_by_field_name("value")?, src)?;
            (is_user_id(&value, src, user_key(f))
                && same_binding(name, name, at, src)
                && same_binding(value.root, node, at, src))
            .then(|| text(name, src).to_owned())
        }
        "member_expression" | "identifier" | "shorthand_property_identifier_pattern" => {
            // Assigned, not read: `session.user.id = x`.
            if node.parent().is_some_and(|p| {
                p.kind() == "assignment_expression"
                    && p.child_by_field_name("left")
                        .is_some_and(|l| l.id() == node.id())
            }) {
                return None;
            }
            let c = if node.kind() == "shorthand_property_identifier_pattern" {
                Chain {
                    root: node,
                    props: Vec::new(),
                    plain: true,
                }
            } else {
                // The outermost cast around a member chain, so `(x as U).id` is kept whole.
                chain(node, src)?
            };
            (is_user_id(&c, src, user_key(f)) && same_binding(c.root, node, at, src))
                .then(|| render(&c, node, src))
        }
        _ => None,
    }
}

/// The user id of a known auth call's result, when the app declared it in scope but never
/// reads the id itself (the shapes are the libraries' documented, typed ones).
fn from_auth_call(f: &TsFile<'_>, declarator: Node<'_>, at: Node<'_>) -> Option<String> {
    let src = f.src;
    let name = declarator.child_by_field_name("name")?;
    let value = super::customer::unwrap_expr(declarator.child_by_field_name("value")?);
    if value.kind() != "call_expression" {
        return None;
    }
    let callee = text(value.child_by_field_name("function")?, src);
    let last = callee.rsplit('.').next().unwrap_or(callee);
    let visible = |id: Node<'_>| same_binding(id, id, at, src);
    let bound = |wanted: &str| {
        bound_identifiers(name)
            .into_iter()
            .find(|id| text(*id, src) == wanted && visible(*id))
    };
    match (name.kind(), last) {
        // Clerk `currentUser()`, Lucia / custom `getUser()` returning the user.
        ("identifier", "currentUser" | "getCurrentUser" | "requireUser") if visible(name) => {
            Some(format!("{}?.id", text(name, src)))
        }
        // better-auth `auth.api.getSession({ headers })`: `{ session, user } | null`.
        ("identifier", "getSession") if callee.ends_with(".api.getSession") && visible(name) => {
            Some(format!("{}?.user?.id", text(name, src)))
        }
        // Clerk `const { userId } = await auth()`.
        ("object_pattern", _) if bound("userId").is_some() => Some("userId".to_owned()),
        // Supabase `const { data: { user } } = await supabase.auth.getUser()`, Lucia
        // `const { user } = await validateRequest()`.
        ("object_pattern", "getUser" | "validateRequest" | "getCurrentSession")
            if bound("user").is_some() =>
        {
            Some("user?.id".to_owned())
        }
        ("object_pattern", "getUser") if callee.ends_with(".auth.getUser") => {
            bound("data").map(|_| "data?.user?.id".to_owned())
        }
        _ => None,
    }
}

/// The signed-in user's id at `at`, as an expression (with the edits that bring it into
/// scope), or why none is in reach.
pub(crate) fn user_id_at(f: &TsFile<'_>, at: Node<'_>) -> Result<(String, Vec<Edit>), String> {
    let functions = enclosing_functions(at);
    if functions.is_empty() {
        return Err("the call is not inside a request handler, so no session is in scope".into());
    }
    // Innermost function first: the nearest reading of the id wins.
    for function in &functions {
        for node in descendants(*function) {
            if let Some(expr) = candidate(f, node, at) {
                return Ok((expr, Vec::new()));
            }
        }
    }
    for function in &functions {
        for node in descendants(*function) {
            if node.kind() == "variable_declarator"
                && let Some(expr) = from_auth_call(f, node, at)
            {
                return Ok((expr, Vec::new()));
            }
        }
    }
    if let Some(found) = super::props::session_from_props(f, &functions) {
        return Ok(found);
    }
    Err(explain_missing(f, &functions, at))
}

/// Why no id was found: a session in scope that the app reads by another key (Auth.js
/// sessions without `id` are keyed by `email`), or no session at all.
fn explain_missing(f: &TsFile<'_>, functions: &[Node<'_>], at: Node<'_>) -> String {
    let outer = functions.last().copied().unwrap_or(at);
    let other_key = descendants(outer).into_iter().find_map(|n| {
        let c = chain(n, f.src)?;
        let key = match c.props.as_slice() {
            [.., user, key] if user == "user" && matches!(key.as_str(), "email" | "sub") => key,
            _ => return None,
        };
        same_binding(c.root, n, at, f.src).then(|| (render(&c, n, f.src), key.clone(), n))
    });
    match other_key {
        Some((expr, key, n)) => format!(
            "the session in scope has no user id the app reads; it keys its data by `{expr}` (line {}), but its schema does not declare `{key}` as the user table's primary key (a Drizzle `{key}: ....primaryKey()` or Prisma `{key} String @id`), so it is not known to be each user's stable id. If it is, bill by it with `[customer] expression = \"{expr}\"`",
            line_of(n)
        ),
        None => "no signed-in user id (`session.user.id`, `user.id`, `userId`, `locals.user.id`, `ctx.session.user.id`) is read in the enclosing functions, and none of their parameters carries a session".to_owned(),
    }
}
