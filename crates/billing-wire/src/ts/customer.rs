//! Finding the app's user id in scope at a JS/TS call site, per the plan's `[customer]`.

use billing_detect::profile::FrameworkId;
use billing_plan::model::CustomerSource;
use tree_sitter::Node;

use super::TsFile;
use crate::customer::CustomerExpr;
use crate::outcome::ImportNeed;
use crate::syntax::{ancestors, descendants, has_token, named_children, text};
use crate::text::is_identifier;

const FUNCTION_KINDS: &[&str] = &[
    "function_declaration",
    "function_expression",
    "function",
    "arrow_function",
    "method_definition",
    "generator_function_declaration",
    "generator_function",
];

pub(crate) fn is_function(node: Node<'_>) -> bool {
    FUNCTION_KINDS.contains(&node.kind())
}

/// Enclosing functions of `node`, innermost first.
pub(crate) fn enclosing_functions(node: Node<'_>) -> Vec<Node<'_>> {
    ancestors(node).filter(|n| is_function(*n)).collect()
}

pub(crate) fn is_async(function: Node<'_>) -> bool {
    has_token(function, "async")
}

/// How the request object exposes headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestApi {
    /// Fetch `Request` (Next.js app router, SvelteKit, Remix, ...): `req.headers.get(name)`.
    Fetch,
    /// Node `IncomingMessage` (Express, Fastify, Next.js pages API): `req.headers[name]`.
    Node,
    /// Hono's context `c`: `c.req.header(name)`.
    Hono,
}

pub(crate) struct RequestParam {
    pub expr: String,
    pub api: Option<RequestApi>,
}

/// Parameter patterns of a function (identifiers or destructuring patterns).
pub(crate) fn parameters(function: Node<'_>) -> Vec<Node<'_>> {
    if let Some(single) = function.child_by_field_name("parameter") {
        return vec![single];
    }
    let Some(params) = function.child_by_field_name("parameters") else {
        return Vec::new();
    };
    named_children(params)
        .into_iter()
        .filter_map(|p| match p.kind() {
            "required_parameter" | "optional_parameter" => p.child_by_field_name("pattern"),
            "identifier" => Some(p),
            _ => None,
        })
        .collect()
}

/// The type annotation of a parameter pattern, without the colon.
fn type_text(pattern: Node<'_>, src: &str) -> Option<String> {
    let ty = pattern.parent()?.child_by_field_name("type")?;
    Some(text(ty, src).trim_start_matches(':').trim().to_owned())
}

fn api_of_type(ty: &str, f: &TsFile<'_>) -> Option<RequestApi> {
    let base = ty.rsplit('.').next().unwrap_or(ty);
    let base = base.split('<').next().unwrap_or(base).trim();
    match base {
        "NextRequest" => Some(RequestApi::Fetch),
        "Request" => {
            let from = f
                .imports
                .bindings
                .iter()
                .find(|b| b.local == "Request")
                .map(|b| b.module.as_str());
            match from {
                Some("express" | "express-serve-static-core") => Some(RequestApi::Node),
                _ if ty.starts_with("express.") => Some(RequestApi::Node),
                _ => Some(RequestApi::Fetch),
            }
        }
        "NextApiRequest" | "IncomingMessage" | "FastifyRequest" => Some(RequestApi::Node),
        _ => None,
    }
}

/// Request API implied by the file and the project when the parameter has no type.
fn api_of_context(f: &TsFile<'_>) -> Option<RequestApi> {
    for b in &f.imports.bindings {
        match b.module.as_str() {
            "express" | "fastify" | "http" | "node:http" => return Some(RequestApi::Node),
            "next/server" | "@sveltejs/kit" | "@remix-run/node" | "react-router" => {
                return Some(RequestApi::Fetch);
            }
            _ => {}
        }
    }
    let path = format!("/{}", f.ctx.file);
    if path.contains("/pages/api/") {
        return Some(RequestApi::Node);
    }
    let p = f.ctx.package;
    let fetch_frameworks = [
        FrameworkId::Nextjs,
        FrameworkId::Sveltekit,
        FrameworkId::Remix,
        FrameworkId::ReactRouter,
        FrameworkId::Astro,
    ];
    let node_frameworks = [
        FrameworkId::Express,
        FrameworkId::Fastify,
        FrameworkId::NodeServerless,
    ];
    let fetch = fetch_frameworks.iter().any(|id| p.has_framework(*id));
    let node = node_frameworks.iter().any(|id| p.has_framework(*id));
    match (fetch, node) {
        (true, false) => Some(RequestApi::Fetch),
        (false, true) => Some(RequestApi::Node),
        _ => None,
    }
}

pub(crate) fn find_request(f: &TsFile<'_>, functions: &[Node<'_>]) -> Option<RequestParam> {
    let hono = f
        .imports
        .bindings
        .iter()
        .any(|b| b.module == "hono" || b.module.starts_with("hono/"));
    for function in functions {
        for pattern in parameters(*function) {
            match pattern.kind() {
                "identifier" => {
                    let name = text(pattern, f.src);
                    let ty = type_text(pattern, f.src);
                    if hono && (matches!(name, "c" | "ctx") || ty.as_deref() == Some("Context")) {
                        return Some(RequestParam {
                            expr: name.to_owned(),
                            api: Some(RequestApi::Hono),
                        });
                    }
                    let typed = ty.as_deref().and_then(|t| api_of_type(t, f));
                    if typed.is_some() || matches!(name, "req" | "request") {
                        return Some(RequestParam {
                            expr: name.to_owned(),
                            api: typed.or_else(|| api_of_context(f)),
                        });
                    }
                }
                "object_pattern" => {
                    // SvelteKit / Remix / React Router: `({ request }) => ...`.
                    for prop in named_children(pattern) {
                        let local = match prop.kind() {
                            "shorthand_property_identifier_pattern" => Some(text(prop, f.src)),
                            "pair_pattern" => prop
                                .child_by_field_name("key")
                                .filter(|k| text(*k, f.src) == "request")
                                .and_then(|_| prop.child_by_field_name("value"))
                                .filter(|v| v.kind() == "identifier")
                                .map(|v| text(v, f.src)),
                            _ => None,
                        };
                        if prop.kind() == "shorthand_property_identifier_pattern"
                            && local != Some("request")
                        {
                            continue;
                        }
                        if let Some(local) = local {
                            return Some(RequestParam {
                                expr: local.to_owned(),
                                api: Some(RequestApi::Fetch),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }
    None
}

fn property_access(object: &str, field: &str, f: &TsFile<'_>) -> String {
    if is_identifier(field) {
        format!("{object}.{field}")
    } else {
        format!("{object}[{}]", f.style.string(field))
    }
}

/// Resolves the customer id at `at` per the plan, or says why it cannot be found.
/// `own_async_scope`: the expression goes into a callback spaire-billing writes (and can make
/// `async`), not into the enclosing function.
pub(crate) fn resolve(
    f: &TsFile<'_>,
    at: Node<'_>,
    own_async_scope: bool,
) -> Result<CustomerExpr, String> {
    let functions = enclosing_functions(at);
    let empty = f.style.string("");
    let plain = |expr: &str| CustomerExpr::plain(format!("String({expr} ?? {empty})"));
    let expression = f.ctx.call_site.expression.as_deref();
    let expression_in_scope =
        expression.filter(|e| super::scope::binding_at(path_root(e), at, f.src).is_some());
    // A background job has no request: only its payload (or the plan's expression, when the
    // job binds it) can name the customer; a request-based lookup would find nothing.
    if let Some(job) = super::jobs::job_at(f, at) {
        if let Some(expr) = expression_in_scope {
            return Ok(plain(expr));
        }
        let field = f.ctx.call_site.job_field.as_deref();
        return match field.and_then(|field| super::jobs::payload_field(f, &job, field)) {
            Some(expr) => Ok(plain(&expr)),
            None => Err(super::jobs::no_customer(&job, field)),
        };
    }
    if let Some(expression) = expression {
        // Team / organization billing: the plan's own variable, when it is in scope here.
        return match expression_in_scope {
            Some(expr) => Ok(plain(expr)),
            None => Err(format!(
                "`{}` (the plan's `[customer] expression = \"{expression}\"`) is not a parameter \
                 or an earlier local of the enclosing functions here",
                path_root(expression)
            )),
        };
    }
    match f.ctx.customer {
        CustomerSource::Header { header } => {
            let Some(req) = find_request(f, &functions) else {
                if let Some(customer) = server_action_header(f, &functions, header, own_async_scope)
                {
                    return Ok(customer);
                }
                return Err(format!(
                    "no `request`/`req` parameter in the enclosing function to read the `{header}` header from"
                ));
            };
            match req.api {
                Some(RequestApi::Fetch) => Ok(CustomerExpr::plain(format!(
                    "{}.headers.get({}) ?? {empty}",
                    req.expr,
                    f.style.string(header)
                ))),
                Some(RequestApi::Hono) => Ok(CustomerExpr::plain(format!(
                    "{}.req.header({}) ?? {empty}",
                    req.expr,
                    f.style.string(header)
                ))),
                Some(RequestApi::Node) => Ok(CustomerExpr::plain(format!(
                    "String({}.headers[{}] ?? {empty})",
                    req.expr,
                    f.style.string(&header.to_ascii_lowercase())
                ))),
                None => Err(format!(
                    "cannot tell whether `{}` is a Fetch `Request` or a Node request (add a type annotation)",
                    req.expr
                )),
            }
        }
        CustomerSource::Body { field } => {
            if let Some((expr, edits)) = parsed_body_field(f, at, &functions, field) {
                let mut customer = CustomerExpr::plain(format!("String({expr} ?? {empty})"));
                customer.edits = edits;
                return Ok(customer);
            }
            if let Some(req) = find_request(f, &functions)
                && req.api == Some(RequestApi::Node)
            {
                // Express / Fastify parse the body before the handler runs.
                let body = format!("{}.body", req.expr);
                return Ok(CustomerExpr::plain(format!(
                    "String({} ?? {empty})",
                    property_access(&format!("{body}?"), field, f).replacen("?[", "?.[", 1)
                )));
            }
            Err(format!(
                "no parsed request body with a `{field}` field is in scope (e.g. `const body = await request.json()`) before this call"
            ))
        }
        CustomerSource::Function { function, module } => {
            let Some(inner) = functions.first() else {
                return Err(format!(
                    "the call is not inside a function that could call `{function}`"
                ));
            };
            let local_name = f.imports.local_for(function).unwrap_or(function);
            if let Some(variable) = earlier_result_of(f, *inner, at, local_name) {
                // The handler already asked for the user id: reuse it, do not call again.
                return Ok(CustomerExpr::plain(format!(
                    "String({variable} ?? {empty})"
                )));
            }
            if !own_async_scope && !is_async(*inner) {
                return Err(format!(
                    "the enclosing function is not `async`, so `await {function}(...)` cannot be added"
                ));
            }
            let mut imports = Vec::new();
            let local = if let Some(local) = f.imports.local_for(function) {
                local.to_owned()
            } else if declares_top_level(f, function) {
                function.clone()
            } else {
                imports.push(ImportNeed::Named {
                    name: function.clone(),
                    module: module.clone(),
                });
                function.clone()
            };
            // The user's function gets the request object (Hono: the Fetch request inside `c`).
            let arg = find_request(f, &functions)
                .map(|r| match r.api {
                    Some(RequestApi::Hono) => format!("{}.req.raw", r.expr),
                    _ => r.expr,
                })
                .unwrap_or_default();
            Ok(CustomerExpr {
                expr: format!("String((await {local}({arg})) ?? {empty})"),
                needs_await: true,
                imports,
                edits: Vec::new(),
            })
        }
        CustomerSource::Session => match super::session::user_id_at(f, at) {
            Ok((expr, edits)) => {
                let mut customer = CustomerExpr::plain(format!("String({expr} ?? {empty})"));
                customer.edits = edits;
                Ok(customer)
            }
            Err(missing) => {
                // Where the app's auth layer keeps the user (passport's `req.user`, Logto's
                // `event.context.logtoUser`, Hono's context storage).
                if !missing.contains("keys its data by")
                    && let Some(customer) =
                        super::app_session::user_id(f, at, &functions, own_async_scope)
                {
                    return Ok(customer);
                }
                request_session(f, &functions, own_async_scope, &missing)
            }
        },
    }
}

/// The variable an `a?.b.c` path starts with.
fn path_root(path: &str) -> &str {
    path.split(['.', '?']).next().unwrap_or(path)
}

/// `const userId = await getUserId(..)` declared before `at` in `function`: `userId`.
fn earlier_result_of(
    f: &TsFile<'_>,
    function: Node<'_>,
    at: Node<'_>,
    callee: &str,
) -> Option<String> {
    descendants(function).into_iter().find_map(|decl| {
        if decl.kind() != "variable_declarator" || decl.start_byte() >= at.start_byte() {
            return None;
        }
        let name = decl
            .child_by_field_name("name")
            .filter(|n| n.kind() == "identifier")?;
        let value = unwrap_expr(decl.child_by_field_name("value")?);
        let called = value.kind() == "call_expression"
            && value
                .child_by_field_name("function")
                .is_some_and(|c| text(c, f.src) == callee);
        called.then(|| text(name, f.src).to_owned())
    })
}

/// In a Next.js `"use server"` file (server actions run inside a request), the header comes
/// from `headers()` of `next/headers`: `(await headers()).get(name) ?? ""`.
fn server_action_header(
    f: &TsFile<'_>,
    functions: &[Node<'_>],
    header: &str,
    own_async_scope: bool,
) -> Option<CustomerExpr> {
    let directive = |s: &Node<'_>| {
        s.kind() == "expression_statement"
            && matches!(
                text(*s, f.src).trim_end_matches(';'),
                "\"use server\"" | "'use server'"
            )
    };
    // A `"use server"` file, or an inline server action (`async () => { "use server"; .. }`).
    let use_server = named_children(f.program).first().is_some_and(directive)
        || functions.iter().any(|function| {
            function
                .child_by_field_name("body")
                .filter(|b| b.kind() == "statement_block")
                .and_then(|b| named_children(b).into_iter().next())
                .is_some_and(|s| directive(&s))
        });
    if !use_server || !(own_async_scope || functions.first().is_some_and(|inner| is_async(*inner)))
    {
        return None;
    }
    let mut imports = Vec::new();
    let local = match f
        .imports
        .bindings
        .iter()
        .find(|b| b.module == "next/headers" && b.imported.as_deref() == Some("headers"))
    {
        Some(binding) => binding.local.clone(),
        None if f.imports.binds("headers") || declares_top_level(f, "headers") => return None,
        None => {
            imports.push(ImportNeed::Named {
                name: "headers".to_owned(),
                module: "next/headers".to_owned(),
            });
            "headers".to_owned()
        }
    };
    Some(CustomerExpr {
        expr: format!(
            "(await {local}()).get({}) ?? {}",
            f.style.string(header),
            f.style.string("")
        ),
        needs_await: true,
        imports,
        edits: Vec::new(),
    })
}

fn declares_top_level(f: &TsFile<'_>, name: &str) -> bool {
    named_children(f.program).iter().any(|s| {
        let decl = if s.kind() == "export_statement" {
            s.child_by_field_name("declaration")
        } else {
            Some(*s)
        };
        decl.and_then(|d| d.child_by_field_name("name"))
            .is_some_and(|n| text(n, f.src) == name)
    })
}

/// Strips `await`, parentheses, `as T` and `satisfies T` around an expression.
pub(crate) fn unwrap_expr(mut node: Node<'_>) -> Node<'_> {
    loop {
        match node.kind() {
            "await_expression"
            | "parenthesized_expression"
            | "as_expression"
            | "satisfies_expression"
            | "non_null_expression" => match named_children(node).into_iter().next() {
                Some(inner) => node = inner,
                None => return node,
            },
            _ => return node,
        }
    }
}

/// `await req.json()`, `req.body`, `await readBody(event)`, `JSON.parse(..)`.
fn is_parsed_body(value: Node<'_>, src: &str) -> bool {
    let value = unwrap_expr(value);
    match value.kind() {
        "call_expression" => {
            let Some(function) = value.child_by_field_name("function") else {
                return false;
            };
            let callee = text(function, src);
            callee.ends_with(".json") || callee == "readBody" || callee == "JSON.parse"
        }
        "member_expression" => value
            .child_by_field_name("property")
            .is_some_and(|p| text(p, src) == "body"),
        _ => false,
    }
}

/// A variable declared before `at` in the enclosing function that holds the parsed body, as
/// `body.field` (or the destructured local).
fn parsed_body_field(
    f: &TsFile<'_>,
    at: Node<'_>,
    functions: &[Node<'_>],
    field: &str,
) -> Option<(String, Vec<crate::edit::Edit>)> {
    let inner = functions.first()?;
    for decl in descendants(*inner) {
        if decl.kind() != "variable_declarator" || decl.start_byte() >= at.start_byte() {
            continue;
        }
        // Declared in a block that also contains the call site, so it is in scope there.
        let scope = decl.parent().and_then(|d| d.parent())?;
        if !(scope.start_byte() <= at.start_byte() && at.end_byte() <= scope.end_byte()) {
            continue;
        }
        let (Some(name), Some(value)) = (
            decl.child_by_field_name("name"),
            decl.child_by_field_name("value"),
        ) else {
            continue;
        };
        if !is_parsed_body(value, f.src) {
            continue;
        }
        if let Some(ty) = decl.child_by_field_name("type")
            && !text(ty, f.src).contains(field)
        {
            continue;
        }
        match name.kind() {
            "identifier" => {
                return Some((property_access(text(name, f.src), field, f), Vec::new()));
            }
            // `const { prompt } = await req.json()`: the field is added to the destructuring
            // (renamed when the name is taken), or its existing binding is used.
            "object_pattern" if is_identifier(field) => {
                return super::llm::bind_in_pattern(f, name, field, *inner).ok();
            }
            _ => {}
        }
    }
    None
}

/// No user id in the enclosing scopes, but the generated session resolver reads Next.js's
/// request scope and the call always runs in a request: `await sessionCustomerId()` at the
/// call site. Not when the app keys its data by another field (`missing` says which), nor in a
/// callback spaire-billing writes (it may run after the response, when the scope is gone).
/// `Err`: why not, when the resolver exists but cannot be used here.
fn request_session(
    f: &TsFile<'_>,
    functions: &[Node<'_>],
    own_async_scope: bool,
    missing: &str,
) -> Result<CustomerExpr, String> {
    let helper = crate::helpers::TS_SESSION_CUSTOMER;
    if !f.ctx.session_customer || missing.contains("keys its data by") {
        return Err(missing.to_owned());
    }
    if own_async_scope {
        return Err(format!(
            "{missing}; the usage arrives in a callback that may run after the response, where \
             `{helper}()` no longer sees the request"
        ));
    }
    if !functions.first().is_some_and(|inner| is_async(*inner)) {
        return Err(format!(
            "{missing}; the enclosing function is not `async`, so `await {helper}()` cannot be added"
        ));
    }
    if !super::request_scope::in_request_scope(
        f.ctx.root,
        f.ctx.package,
        f.ctx.package_sources,
        f.ctx.file,
    ) {
        return Err(format!(
            "{missing}; this file is not only reached from a Next.js request (route handler, \
             server action, page), e.g. a script imports it, so `{helper}()` may find no request"
        ));
    }
    Ok(CustomerExpr {
        expr: format!("(await {helper}()) ?? {}", f.style.string("")),
        needs_await: true,
        imports: vec![f.usage_import(helper)],
        edits: Vec::new(),
    })
}
