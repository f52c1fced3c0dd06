//! Finding the app's user id in scope at a Python call site, per the plan's `[customer]`.

use std::path::PathBuf;

use billing_plan::model::CustomerSource;
use tree_sitter::Node;

use super::PyFile;
use crate::customer::{CustomerExpr, header_param_name};
use crate::outcome::ImportNeed;
use crate::syntax::{ancestors, descendants, has_token, named_children, parse, text};

pub(crate) fn enclosing_functions(node: Node<'_>) -> Vec<Node<'_>> {
    ancestors(node)
        .filter(|n| n.kind() == "function_definition")
        .collect()
}

pub(crate) fn is_async(function: Node<'_>) -> bool {
    has_token(function, "async")
}

/// A parameter: name, annotation text, default value text.
struct Param {
    name: String,
    annotation: Option<String>,
    default: Option<String>,
}

/// The parameters of `function` as (name, annotation), for [`super::jobs`].
pub(crate) fn param_list(function: Node<'_>, src: &str) -> Vec<(String, Option<String>)> {
    params(function, src)
        .into_iter()
        .map(|p| (p.name, p.annotation))
        .collect()
}

fn params(function: Node<'_>, src: &str) -> Vec<Param> {
    let Some(list) = function.child_by_field_name("parameters") else {
        return Vec::new();
    };
    named_children(list)
        .into_iter()
        .filter_map(|p| {
            let field = |name: &str| p.child_by_field_name(name).map(|n| text(n, src).to_owned());
            match p.kind() {
                "identifier" => Some(Param {
                    name: text(p, src).to_owned(),
                    annotation: None,
                    default: None,
                }),
                "typed_parameter" => Some(Param {
                    name: named_children(p)
                        .into_iter()
                        .find(|c| c.kind() == "identifier")
                        .map(|c| text(c, src).to_owned())?,
                    annotation: field("type"),
                    default: None,
                }),
                "default_parameter" | "typed_default_parameter" => Some(Param {
                    name: field("name")?,
                    annotation: field("type"),
                    default: field("value"),
                }),
                _ => None,
            }
        })
        .collect()
}

pub(crate) fn snake_case(field: &str) -> String {
    let mut out = String::new();
    for (i, c) in field.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The request object in scope: a `request`/`req` parameter (or one annotated `Request` /
/// `HttpRequest`), else Flask's global `request`.
fn request_expr(f: &PyFile<'_>, functions: &[Node<'_>]) -> Option<String> {
    for function in functions {
        for p in params(*function, f.src) {
            let annotated = p.annotation.as_deref().is_some_and(|a| {
                let base = a.rsplit('.').next().unwrap_or(a);
                matches!(
                    base,
                    "Request" | "HttpRequest" | "WSGIRequest" | "ASGIRequest" | "WebSocket"
                )
            });
            if annotated || matches!(p.name.as_str(), "request" | "req") {
                return Some(p.name);
            }
        }
    }
    f.imports
        .local_for("request", Some("flask"))
        .map(str::to_owned)
}

pub(crate) fn resolve(f: &PyFile<'_>, at: Node<'_>) -> Result<CustomerExpr, String> {
    let functions = enclosing_functions(at);
    let q = f.quote;
    // A background job has no request: only its arguments (or the plan's expression, when
    // the job binds it) can name the customer; the request's would find nobody there.
    if let Some(job) = super::jobs::job_at(f, at) {
        if let Some(expression) = f.ctx.call_site.expression.as_deref()
            && let Ok(expr) = expression_in_scope(f, at, &functions, expression)
        {
            return Ok(CustomerExpr::plain(format!("str({expr} or {q}{q})")));
        }
        let field = f.ctx.call_site.job_field.as_deref();
        return match field.and_then(|field| super::jobs::payload_field(f, &job, field)) {
            Some(expr) => Ok(CustomerExpr::plain(expr)),
            None => Err(super::jobs::no_customer(&job, field)),
        };
    }
    if let Some(expression) = f.ctx.call_site.expression.as_deref() {
        return expression_in_scope(f, at, &functions, expression)
            .map(|expr| CustomerExpr::plain(format!("str({expr} or {q}{q})")));
    }
    if let Some(user) = flask_login_user(f, &functions) {
        return Ok(user);
    }
    if let Some(user) = decorator_injected_user_id(f, &functions) {
        return Ok(user);
    }
    in_scope(f, at, &functions).or_else(|reason| {
        super::request::request_customer(f, at, &functions).map_err(|outside| match outside {
            Some(why) => format!("{reason}; {why}"),
            None => reason,
        })
    })
}

/// Flask-Login's `current_user` in a route guarded by `@login_required` (any module's): the
/// signed-in user, read right there.
fn flask_login_user(f: &PyFile<'_>, functions: &[Node<'_>]) -> Option<CustomerExpr> {
    if *f.ctx.customer != CustomerSource::Session {
        return None;
    }
    let local = f.imports.local_for("current_user", Some("flask_login"))?;
    let guarded = functions.iter().any(|function| {
        function
            .parent()
            .filter(|p| p.kind() == "decorated_definition")
            .is_some_and(|d| {
                named_children(d)
                    .into_iter()
                    .filter(|c| c.kind() == "decorator")
                    .any(|c| {
                        let name = text(c, f.src).trim_start_matches('@').trim();
                        name == "login_required" || name.ends_with(".login_required")
                    })
            })
    });
    let q = f.quote;
    guarded.then(|| CustomerExpr::plain(format!("str({local}.get_id() or {q}{q})")))
}

/// A route whose own auth decorator passes the signed-in user's id as the view's first
/// argument (`@token_required` calling `f(user_id, *args, **kwargs)`, then
/// `def generate(user_id):`): that parameter, unless the route's URL names it (`<user_id>`
/// is a path value, someone else's id).
fn decorator_injected_user_id(f: &PyFile<'_>, functions: &[Node<'_>]) -> Option<CustomerExpr> {
    if *f.ctx.customer != CustomerSource::Session {
        return None;
    }
    let q = f.quote;
    functions.iter().find_map(|function| {
        let decorated = function
            .parent()
            .filter(|p| p.kind() == "decorated_definition")?;
        let decorators: Vec<String> = named_children(decorated)
            .into_iter()
            .filter(|c| c.kind() == "decorator")
            .map(|c| text(c, f.src).trim_start_matches('@').trim().to_owned())
            .collect();
        let is_route = |d: &str| {
            let callee = d.split('(').next().unwrap_or(d);
            [".route", ".get", ".post", ".put", ".patch", ".delete"]
                .iter()
                .any(|r| callee.ends_with(r))
        };
        let routes: Vec<&String> = decorators.iter().filter(|d| is_route(d)).collect();
        let auth = decorators.iter().any(|d| {
            !is_route(d) && {
                let name = d.split('(').next().unwrap_or(d).to_ascii_lowercase();
                ["token", "auth", "login", "jwt"]
                    .iter()
                    .any(|w| name.contains(w))
            }
        });
        if routes.is_empty() || !auth {
            return None;
        }
        let first = params(*function, f.src).into_iter().next()?;
        let user_id = matches!(
            first.name.as_str(),
            "user_id" | "userId" | "uid" | "current_user_id" | "current_user_uid"
        ) && first.default.is_none();
        let in_url = routes.iter().any(|r| {
            r.contains(&format!("<{}>", first.name)) || r.contains(&format!(":{}>", first.name))
        });
        (user_id && !in_url).then(|| CustomerExpr::plain(format!("str({} or {q}{q})", first.name)))
    })
}

/// The user id the plan's `[customer]` names, read in the enclosing functions.
fn in_scope(f: &PyFile<'_>, at: Node<'_>, functions: &[Node<'_>]) -> Result<CustomerExpr, String> {
    let functions = functions.to_vec();
    let q = f.quote;
    match f.ctx.customer {
        CustomerSource::Header { header } => {
            let wanted = header_param_name(header);
            for function in &functions {
                for p in params(*function, f.src) {
                    let declared_header = [p.default.as_deref(), p.annotation.as_deref()]
                        .into_iter()
                        .flatten()
                        .any(|t| t.contains("Header("));
                    if declared_header && p.name == wanted {
                        return Ok(CustomerExpr::plain(format!("({} or {q}{q})", p.name)));
                    }
                }
            }
            let Some(request) = request_expr(f, &functions) else {
                return Err(format!(
                    "no `request` parameter (or `{wanted}: str = Header()`) in the enclosing function to read the `{header}` header from"
                ));
            };
            Ok(CustomerExpr::plain(format!(
                "{request}.headers.get({q}{header}{q}, {q}{q})"
            )))
        }
        CustomerSource::Body { field } => body_field(f, at, &functions, field).map(CustomerExpr::plain).ok_or_else(|| {
            format!(
                "no parsed request body with a `{field}` field is in scope (a parameter typed with a model that declares it, or `body = await request.json()`)"
            )
        }),
        CustomerSource::Function { function, module } => {
            call_user_function(f, at, &functions, function, module)
        }
        CustomerSource::Session => functions
            .first()
            .and_then(|inner| session_user_id(f, *inner, at))
            .map(|expr| CustomerExpr::plain(format!("str({expr} or {q}{q})")))
            .ok_or_else(|| {
                "no user id from the session is read in the enclosing function (e.g. `session[\"user_id\"]`, `request.user.id`)".to_owned()
            }),
    }
}

/// `[customer] expression` at a Python call site: its root must be a parameter of an enclosing
/// function or assigned earlier in one (module-level names are not per-request).
fn expression_in_scope(
    f: &PyFile<'_>,
    at: Node<'_>,
    functions: &[Node<'_>],
    expression: &str,
) -> Result<String, String> {
    if expression.contains("?.") {
        return Err(format!(
            "the plan's `[customer] expression = \"{expression}\"` uses `?.`, which Python does not have"
        ));
    }
    let root = expression.split('.').next().unwrap_or(expression);
    let bound = functions.iter().any(|function| {
        params(*function, f.src).iter().any(|p| p.name == root)
            || descendants(*function).into_iter().any(|n| {
                n.kind() == "assignment"
                    && n.end_byte() <= at.start_byte()
                    && n.child_by_field_name("left")
                        .is_some_and(|l| l.kind() == "identifier" && text(l, f.src) == root)
            })
    });
    if bound {
        Ok(expression.to_owned())
    } else {
        Err(format!(
            "`{root}` (the plan's `[customer] expression = \"{expression}\"`) is not a parameter \
             or an earlier assignment of the enclosing functions here"
        ))
    }
}

fn body_field(f: &PyFile<'_>, at: Node<'_>, functions: &[Node<'_>], field: &str) -> Option<String> {
    let q = f.quote;
    let inner = functions.first()?;
    let candidates = [field.to_owned(), snake_case(field)];
    // A parameter typed with a model class of this module that declares the field.
    for p in params(*inner, f.src) {
        let Some(annotation) = p.annotation.as_deref() else {
            continue;
        };
        let Some(fields) = class_fields(f, annotation) else {
            continue;
        };
        if let Some(attr) = candidates.iter().find(|c| fields.contains(c)) {
            return Some(format!("str({}.{attr} or {q}{q})", p.name));
        }
    }
    // `body = await request.json()` / `request.get_json()` / `json.loads(...)` before the call.
    for node in descendants(*inner) {
        if node.kind() != "assignment" || node.start_byte() >= at.start_byte() {
            continue;
        }
        let (Some(left), Some(right)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            continue;
        };
        let value = text(right, f.src).trim_start_matches("await ").trim();
        let parsed = value.ends_with(".json()")
            || value.ends_with(".get_json()")
            || value.starts_with("json.loads(");
        if left.kind() == "identifier" && parsed {
            return Some(format!(
                "str({}.get({q}{field}{q}) or {q}{q})",
                text(left, f.src)
            ));
        }
    }
    None
}

/// Annotated field names of `class <name>` defined at the top level of this module.
fn class_fields(f: &PyFile<'_>, class: &str) -> Option<Vec<String>> {
    let class_node = named_children(f.module).into_iter().find_map(|s| {
        let def = if s.kind() == "decorated_definition" {
            s.child_by_field_name("definition")?
        } else {
            s
        };
        (def.kind() == "class_definition"
            && def
                .child_by_field_name("name")
                .is_some_and(|n| text(n, f.src) == class))
        .then_some(def)
    })?;
    let body = class_node.child_by_field_name("body")?;
    let mut fields = Vec::new();
    for stmt in named_children(body) {
        if stmt.kind() != "expression_statement" {
            continue;
        }
        for a in named_children(stmt) {
            if a.kind() == "assignment"
                && a.child_by_field_name("type").is_some()
                && let Some(left) = a.child_by_field_name("left")
            {
                fields.push(text(left, f.src).to_owned());
            }
        }
    }
    Some(fields)
}

/// A user id read from the session earlier in `function`, exactly as written there:
/// `session["user_id"]`, `session.get("user_id")`, `request.session[...]`, `request.user.id`.
fn session_user_id(f: &PyFile<'_>, function: Node<'_>, at: Node<'_>) -> Option<String> {
    descendants(function).into_iter().find_map(|node| {
        if !matches!(node.kind(), "subscript" | "call" | "attribute")
            || node.start_byte() >= at.start_byte()
        {
            return None;
        }
        let code = text(node, f.src);
        let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let from_session = [
            "session[",
            "session.get(",
            "request.session[",
            "request.session.get(",
        ]
        .iter()
        .any(|p| flat.starts_with(p))
            && ["user_id", "userId", "customer_id", "uid"]
                .iter()
                .any(|k| flat.contains(k));
        let django_user = matches!(flat.as_str(), "request.user.id" | "request.user.pk");
        (from_session || django_user).then(|| code.to_owned())
    })
}

/// `str(get_user_id(request) or "")`, awaited when the user's function is `async def`.
fn call_user_function(
    f: &PyFile<'_>,
    at: Node<'_>,
    functions: &[Node<'_>],
    function: &str,
    module: &str,
) -> Result<CustomerExpr, String> {
    let Some(inner) = functions.first() else {
        return Err(format!(
            "the call is not inside a function that could call `{function}`"
        ));
    };
    let q = f.quote;
    let local_name = f
        .imports
        .local_for(function, Some(module))
        .unwrap_or(function);
    for p in params(*inner, f.src) {
        // FastAPI dependency: `user_id: str = Depends(get_user_id)` already holds the id.
        let depends = p
            .default
            .as_deref()
            .is_some_and(|d| d.replace(' ', "") == format!("Depends({local_name})"))
            || p.annotation.as_deref().is_some_and(|a| {
                a.replace(' ', "")
                    .contains(&format!("Depends({local_name})"))
            });
        if depends {
            return Ok(CustomerExpr::plain(format!("str({} or {q}{q})", p.name)));
        }
    }
    if let Some(variable) = earlier_result_of(f, *inner, at, local_name) {
        return Ok(CustomerExpr::plain(format!("str({variable} or {q}{q})")));
    }
    let signature = user_function_signature(f, module, function).ok_or_else(|| {
        format!(
            "`{function}` was not found as a top-level `def` in module `{module}` of this package"
        )
    })?;
    if signature.is_async && !is_async(*inner) {
        return Err(format!(
            "`{function}` is async but the enclosing function is not"
        ));
    }
    let request = request_expr(f, functions);
    let arg = match (signature.params, &request) {
        (0, _) => String::new(),
        (1, Some(r)) => r.clone(),
        _ => {
            return Err(format!(
                "`{function}` takes {} parameter(s) and spaire-billing only passes the request",
                signature.params
            ));
        }
    };
    let mut imports = Vec::new();
    let local = match f.imports.local_for(function, Some(module)) {
        Some(local) => local.to_owned(),
        None => {
            imports.push(ImportNeed::Named {
                name: function.to_owned(),
                module: module.to_owned(),
            });
            function.to_owned()
        }
    };
    let call = format!(
        "{}{local}({arg})",
        if signature.is_async { "await " } else { "" }
    );
    Ok(CustomerExpr {
        expr: format!("str({call} or {q}{q})"),
        needs_await: signature.is_async,
        imports,
        edits: Vec::new(),
    })
}

/// `user_id = get_user_id(request)` (or awaited) assigned in `function` before the call site.
fn earlier_result_of(
    f: &PyFile<'_>,
    function: Node<'_>,
    at: Node<'_>,
    callee: &str,
) -> Option<String> {
    descendants(function).into_iter().find_map(|node| {
        if node.kind() != "assignment" || node.start_byte() >= at.start_byte() {
            return None;
        }
        let left = node
            .child_by_field_name("left")
            .filter(|l| l.kind() == "identifier")?;
        let mut right = node.child_by_field_name("right")?;
        if right.kind() == "await" {
            right = named_children(right).into_iter().next()?;
        }
        let called = right.kind() == "call"
            && right
                .child_by_field_name("function")
                .is_some_and(|c| text(c, f.src) == callee);
        called.then(|| text(left, f.src).to_owned())
    })
}

struct Signature {
    is_async: bool,
    /// Parameters without a default value.
    params: usize,
}

fn user_function_signature(f: &PyFile<'_>, module: &str, function: &str) -> Option<Signature> {
    let package = f.ctx.root.join(&f.ctx.package.path);
    let rel: PathBuf = module.split('.').collect();
    let candidates = [
        package.join(&rel).with_extension("py"),
        package.join(&rel).join("__init__.py"),
        package.join("src").join(&rel).with_extension("py"),
    ];
    let source = candidates
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())?;
    let tree = parse(tree_sitter_python::LANGUAGE.into(), "Python", &source).ok()?;
    let def = named_children(tree.root_node()).into_iter().find_map(|s| {
        let def = if s.kind() == "decorated_definition" {
            s.child_by_field_name("definition")?
        } else {
            s
        };
        (def.kind() == "function_definition"
            && def
                .child_by_field_name("name")
                .is_some_and(|n| text(n, &source) == function))
        .then_some(def)
    })?;
    let required = params(def, &source)
        .iter()
        .filter(|p| p.default.is_none())
        .count();
    Some(Signature {
        is_async: is_async(def),
        params: required,
    })
}
