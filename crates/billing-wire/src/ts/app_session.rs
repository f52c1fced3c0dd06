//! `[customer] from = "session"` when the call's own scopes never read the user id, but the
//! app's auth layer keeps the signed-in user for the whole request in a place it documents:
//!
//! - **passport** (Express): `req.user`, the user `deserializeUser` loaded; the id is the
//!   field the app's own `serializeUser((user, done) => done(null, user.id))` keeps in the
//!   session (`id` or `_id`), so it is the id the app knows its users by.
//! - **Logto for Nuxt** (`@logto/nuxt` declared): `event.context.logtoUser`, the signed-in
//!   user's claims; `sub` is Logto's user id.
//! - **Hono's context storage** (the app mounts `contextStorage()` of `hono/context-storage`):
//!   `getContext().var.<key>…`, exactly the path the app itself reads the user id from a Hono
//!   context with (`c.var.session.userId`, `c.get("session")?.userId`). This reaches a call
//!   in a service class the route handler calls, where no `c` is in scope. `getContext()`
//!   throws outside a request, so the read is guarded and gives no customer there.
//!
//! Each needs the request object (passport, Logto) to be the enclosing handler's own
//! parameter at the call, not shadowed.

use billing_detect::profile::FrameworkId;
use tree_sitter::Node;

use super::TsFile;
use super::customer::{RequestApi, find_request, parameters};
use super::scope::binding_at;
use crate::customer::CustomerExpr;
use crate::outcome::ImportNeed;
use crate::syntax::text;

/// The customer id where the app's auth layer keeps it, or `None` when no known one applies.
/// `own_async_scope`: the expression runs in a callback spaire-billing writes, possibly after
/// the response.
pub(crate) fn user_id(
    f: &TsFile<'_>,
    at: Node<'_>,
    functions: &[Node<'_>],
    own_async_scope: bool,
) -> Option<CustomerExpr> {
    if functions.is_empty() {
        return None;
    }
    let empty = f.style.string("");
    let plain = |expr: String| CustomerExpr::plain(format!("String({expr} ?? {empty})"));
    if let Some(expr) = passport(f, at, functions) {
        return Some(plain(expr));
    }
    if let Some(expr) = logto_nuxt(f, at, functions) {
        return Some(plain(expr));
    }
    if own_async_scope {
        return None;
    }
    let (expr, imports) = hono_context_storage(f)?;
    let mut customer = plain(expr);
    customer.imports = imports;
    Some(customer)
}

fn is_typescript(f: &TsFile<'_>) -> bool {
    [".ts", ".tsx", ".mts", ".cts"]
        .iter()
        .any(|ext| f.ctx.file.ends_with(ext))
}

/// `{ a?: { b?: unknown } | null }` for the path `a.b`: the cast that lets a TS file read the
/// path from an object typed without it.
fn shape(path: &[String]) -> String {
    match path {
        [] => "unknown".to_owned(),
        [first, rest @ ..] => {
            let inner = shape(rest);
            let inner = if rest.is_empty() {
                inner
            } else {
                format!("{inner} | null")
            };
            format!("{{ {first}?: {inner} }}")
        }
    }
}

fn optional_chain(root: &str, path: &[String]) -> String {
    let mut out = root.to_owned();
    for p in path {
        out.push_str("?.");
        out.push_str(p);
    }
    out
}

fn package_json(f: &TsFile<'_>) -> String {
    let dir = super::request_scope::package_dir(f.ctx.package);
    std::fs::read_to_string(f.ctx.root.join(dir).join("package.json")).unwrap_or_default()
}

fn declares(manifest: &str, package: &str) -> bool {
    manifest.contains(&format!("\"{package}\":"))
}

/// The request parameter of the enclosing functions, when it is the one visible at `at`.
fn visible_request(
    f: &TsFile<'_>,
    at: Node<'_>,
    functions: &[Node<'_>],
) -> Option<(String, Option<RequestApi>)> {
    let req = find_request(f, functions)?;
    let binding = binding_at(&req.expr, at, f.src)?;
    let is_param = functions.iter().any(|function| {
        parameters(*function)
            .into_iter()
            .any(|p| p.id() == binding.id())
    });
    is_param.then_some((req.expr, req.api))
}

/// passport: `req.user?.<field>` with the field the app's `serializeUser` keeps.
fn passport(f: &TsFile<'_>, at: Node<'_>, functions: &[Node<'_>]) -> Option<String> {
    let (req, api) = visible_request(f, at, functions)?;
    if api != Some(RequestApi::Node) {
        return None;
    }
    let field = f
        .ctx
        .package_sources
        .texts(f.ctx.root, f.ctx.package)
        .values()
        .find_map(|text| serialized_field(text))?;
    Some(if is_typescript(f) {
        // `@types/passport` types `req.user` as the app's own (often empty) `Express.User`,
        // and without it the request has no `user` at all.
        let path = ["user".to_owned(), field.clone()];
        format!("({req} as unknown as {}).user?.{field}", shape(&path))
    } else {
        format!("{req}.user?.{field}")
    })
}

/// The field of `passport.serializeUser((user, done) => done(null, user.<field>))`: `id` or
/// `_id` (a `.toString()` after it is fine: the customer id is a string either way).
pub(crate) fn serialized_field(text: &str) -> Option<String> {
    let at = text.find("serializeUser(")?;
    let rest = &text[at + "serializeUser(".len()..];
    let rest = &rest[..rest.len().min(400)];
    // The callback's first parameter: `(user, done) =>` / `function (user, cb)`.
    let params = rest.split_once('(').map(|(_, p)| p)?;
    let user = params
        .split([',', ')'])
        .next()?
        .trim()
        .split(':')
        .next()?
        .trim();
    if user.is_empty() || !crate::text::is_identifier(user) {
        return None;
    }
    let (_, after_null) = rest.split_once("null,")?;
    let value = after_null.trim_start();
    let field = value
        .strip_prefix(user)?
        .strip_prefix('.')?
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .next()?;
    matches!(field, "id" | "_id").then(|| field.to_owned())
}

/// Logto for Nuxt: `event.context.logtoUser?.sub` in a server handler whose `event` is the H3
/// event the module put the user on.
fn logto_nuxt(f: &TsFile<'_>, at: Node<'_>, functions: &[Node<'_>]) -> Option<String> {
    if !f.ctx.package.has_framework(FrameworkId::Nuxt) || !declares(&package_json(f), "@logto/nuxt")
    {
        return None;
    }
    let binding = binding_at("event", at, f.src)?;
    let is_param = functions.iter().any(|function| {
        parameters(*function)
            .into_iter()
            .any(|p| p.id() == binding.id() && text(p, f.src) == "event")
    });
    is_param.then(|| "event.context.logtoUser?.sub".to_owned())
}

/// Hono's context storage: the guarded `getContext()` read of the path the app reads the
/// user id with, and the import it needs.
fn hono_context_storage(f: &TsFile<'_>) -> Option<(String, Vec<ImportNeed>)> {
    let texts = f.ctx.package_sources.texts(f.ctx.root, f.ctx.package);
    let mounted = texts
        .values()
        .any(|t| t.contains("hono/context-storage") && t.contains("contextStorage()"));
    if !mounted {
        return None;
    }
    let user_key = f.ctx.package.user_key.as_ref().map(|k| k.field.as_str());
    let mut counts: Vec<((String, Vec<String>), usize)> = Vec::new();
    let mut files: Vec<_> = texts.iter().collect();
    files.sort();
    for (_, text) in files {
        if !(text.contains("from 'hono") || text.contains("from \"hono")) {
            continue;
        }
        for read in hono_context_reads(text) {
            if !super::session::is_user_id_path(&read.0, &read.1, user_key) {
                continue;
            }
            match counts.iter_mut().find(|(r, _)| *r == read) {
                Some((_, n)) => *n += 1,
                None => counts.push((read, 1)),
            }
        }
    }
    // The path the app reads most often (the first one on a tie).
    let mut best: Option<&((String, Vec<String>), usize)> = None;
    for entry in &counts {
        if best.is_none_or(|b| entry.1 > b.1) {
            best = Some(entry);
        }
    }
    let ((key, path), _) = best?;
    let (local, imports) =
        match f.imports.bindings.iter().find(|b| {
            b.module == "hono/context-storage" && b.imported.as_deref() == Some("getContext")
        }) {
            Some(b) => (b.local.clone(), Vec::new()),
            None if f.imports.binds("getContext") || f.src.contains("function getContext") => {
                return None;
            }
            None => (
                "getContext".to_owned(),
                vec![ImportNeed::Named {
                    name: "getContext".to_owned(),
                    module: "hono/context-storage".to_owned(),
                }],
            ),
        };
    let mut full = vec![key.clone()];
    full.extend(path.iter().cloned());
    let vars = if is_typescript(f) {
        format!("({local}().var as {})", shape(&full))
    } else {
        format!("{local}().var")
    };
    let read = optional_chain(&format!("{vars}.{key}"), path);
    let end = f.style.end();
    Some((
        format!("(() => {{ try {{ return {read}{end} }} catch {{ return undefined{end} }} }})()"),
        imports,
    ))
}

/// Reads of a value on a Hono context in `text`: `.var.<key>.<path>` and
/// `.get('<key>')?.<path>` (the key and the property path after it).
pub(crate) fn hono_context_reads(text: &str) -> Vec<(String, Vec<String>)> {
    let ident = |s: &str| -> usize {
        s.char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '$'))
            .map_or(s.len(), |(i, _)| i)
    };
    let path_after = |mut rest: &str| -> Vec<String> {
        let mut path = Vec::new();
        loop {
            let next = rest
                .strip_prefix("?.")
                .or_else(|| rest.strip_prefix('.'))
                .or_else(|| rest.strip_prefix("!."));
            let Some(after) = next else { break };
            let len = ident(after);
            if len == 0 {
                break;
            }
            path.push(after[..len].to_owned());
            rest = &after[len..];
        }
        path
    };
    let mut reads = Vec::new();
    for (at, _) in text.match_indices(".var.") {
        let rest = &text[at + ".var.".len()..];
        let len = ident(rest);
        if len > 0 {
            reads.push((rest[..len].to_owned(), path_after(&rest[len..])));
        }
    }
    for (at, _) in text.match_indices(".get(") {
        let rest = &text[at + ".get(".len()..];
        let Some(quote) = rest.chars().next().filter(|c| matches!(c, '\'' | '"')) else {
            continue;
        };
        let inner = &rest[1..];
        let Some(close) = inner.find(quote) else {
            continue;
        };
        let key = &inner[..close];
        let Some(after) = inner[close + 1..].strip_prefix(')') else {
            continue;
        };
        if crate::text::is_identifier(key) {
            reads.push((key.to_owned(), path_after(after)));
        }
    }
    reads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passport_serialized_fields_and_hono_reads() {
        assert_eq!(
            serialized_field("passport.serializeUser((user, done) => done(null, user.id));"),
            Some("id".to_owned())
        );
        assert_eq!(
            serialized_field(
                "passport.serializeUser(function (u, cb) {\n  cb(null, u._id.toString());\n});"
            ),
            Some("_id".to_owned())
        );
        assert_eq!(
            serialized_field("passport.serializeUser((user, done) => done(null, user));"),
            None
        );
        assert_eq!(
            hono_context_reads(
                "const id = c.var.session.userId;\nreturn getContext().get('session')?.userId;\nc.var.session;"
            ),
            vec![
                ("session".to_owned(), vec!["userId".to_owned()]),
                ("session".to_owned(), Vec::new()),
                ("session".to_owned(), vec!["userId".to_owned()]),
            ]
        );
        assert_eq!(
            shape(&["session".to_owned(), "userId".to_owned()]),
            "{ session?: { userId?: unknown } | null }"
        );
    }
}
