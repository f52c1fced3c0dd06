//! The request-scoped customer: a call site with no user id in its enclosing functions, reached
//! while the app handles a request, is wired with `current_customer_id()`, which the generated
//! middleware (FastAPI / Flask / Django) sets per request. Code that runs outside any request
//! (module level, scripts, evals, `if __name__ == "__main__":`) has no requester, so it stays a
//! manual step with that reason.

use billing_detect::FrameworkId;
use tree_sitter::Node;

use super::PyFile;
use crate::customer::CustomerExpr;
use crate::helpers::PY_CURRENT_CUSTOMER;
use crate::syntax::{ancestors, descendants, named_children, text};

/// Folders whose code runs from a command line or a job, not in the app's requests.
const OUTSIDE_REQUEST_DIRS: &[&str] = &[
    "evals",
    "eval",
    "scripts",
    "script",
    "bin",
    "cli",
    "benchmarks",
    "notebooks",
];

/// Text that shows a file serves HTTP requests itself (a script may start its own server).
const WEB_APP_MARKERS: &[&str] = &[
    "FastAPI(",
    "APIRouter(",
    "Starlette(",
    "Flask(",
    "Blueprint(",
    "@app.",
    "@router.",
    "urlpatterns",
];

/// `current_customer_id()` when the call runs inside a request of an app whose generated
/// middleware names the customer; `Err(Some(why))` when it runs outside any request;
/// `Err(None)` when the app has no such middleware (the caller's own reason stands).
pub(crate) fn request_customer(
    f: &PyFile<'_>,
    at: Node<'_>,
    functions: &[Node<'_>],
) -> Result<CustomerExpr, Option<String>> {
    if !f.ctx.request_customer {
        return Err(None);
    }
    if let Some(why) = outside_request(f, at, functions) {
        return Err(Some(why));
    }
    Ok(CustomerExpr {
        expr: format!("{PY_CURRENT_CUSTOMER}()"),
        needs_await: false,
        imports: vec![f.usage_import(PY_CURRENT_CUSTOMER)],
        edits: Vec::new(),
    })
}

fn outside_request(f: &PyFile<'_>, at: Node<'_>, functions: &[Node<'_>]) -> Option<String> {
    let file = f.ctx.file;
    if let Some(dir) = file
        .split('/')
        .rev()
        .skip(1)
        .find(|d| OUTSIDE_REQUEST_DIRS.contains(d))
    {
        return Some(format!(
            "`{file}` is under `{dir}/`, whose code runs outside any request, so no signed-in user is reachable"
        ));
    }
    if file.contains("management/commands/") {
        return Some(format!(
            "`{file}` is a Django management command, which runs outside any request"
        ));
    }
    if ancestors(at).any(|a| is_main_guard(a, f.src)) {
        return Some(
            "the call runs under `if __name__ == \"__main__\":`, outside any request".to_owned(),
        );
    }
    if functions.is_empty() {
        return Some(
            "the call runs at module level (when the module is imported), outside any request"
                .to_owned(),
        );
    }
    let script = named_children(f.module)
        .into_iter()
        .any(|s| is_main_guard(s, f.src));
    if script && !WEB_APP_MARKERS.iter().any(|m| f.src.contains(m)) {
        return Some(format!(
            "`{file}` is a script (it has `if __name__ == \"__main__\":` and serves no web routes), so it runs outside any request and no signed-in user is reachable"
        ));
    }
    if let Some(sample) = sample_without_the_app(f) {
        return Some(format!(
            "`{file}` is sample code in `{sample}/`, which runs on its own (the app set up is not there), outside any request, so no signed-in user is reachable"
        ));
    }
    if let Some(entry) = other_app_entry(f) {
        return Some(format!(
            "`{file}` creates an app of its own, and the billing middleware that names each request's customer is registered only on the app in `{entry}`"
        ));
    }
    let streams_after_middleware = [FrameworkId::Flask, FrameworkId::Django]
        .into_iter()
        .any(|id| f.ctx.package.has_framework(id))
        && !f.ctx.package.has_framework(FrameworkId::Fastapi);
    if streams_after_middleware && functions.first().is_some_and(|g| is_generator(*g)) {
        return Some(
            "the call runs in a generator, which Flask / Django iterate after the request's middleware finished, so the request's customer is gone by then"
                .to_owned(),
        );
    }
    None
}

/// The sample directory (`examples/assistant-basic`) of a file that is not where the app set
/// up lives: a CLI script beside the sample apps, or a sample app not chosen.
fn sample_without_the_app(f: &PyFile<'_>) -> Option<String> {
    let package = f.ctx.package.path.trim_matches('/');
    let dir = if package.is_empty() { "." } else { package };
    let sample = billing_detect::example_root(f.ctx.file, dir)?;
    let in_app = f
        .ctx
        .package
        .frameworks
        .iter()
        .filter_map(|fw| fw.details.entry_file.as_deref())
        .any(|entry| {
            let entry = if dir == "." {
                entry.to_owned()
            } else {
                format!("{dir}/{entry}")
            };
            billing_detect::example_root(&entry, dir).as_deref() == Some(sample.as_str())
        });
    (!in_app).then_some(sample)
}

/// The entry file the middleware is registered in, when this file builds a different app.
fn other_app_entry(f: &PyFile<'_>) -> Option<String> {
    let builds_app = ["FastAPI(", "Flask(", "Starlette("]
        .iter()
        .any(|m| f.src.contains(m));
    if !builds_app {
        return None;
    }
    let package = f.ctx.package.path.trim_matches('/');
    let entries: Vec<String> = f
        .ctx
        .package
        .frameworks
        .iter()
        .filter(|fw| matches!(fw.id, FrameworkId::Fastapi | FrameworkId::Flask))
        .filter_map(|fw| fw.details.entry_file.clone())
        .map(|e| {
            if package.is_empty() || package == "." {
                e
            } else {
                format!("{package}/{e}")
            }
        })
        .collect();
    if entries.iter().any(|e| e == f.ctx.file) || f.ctx.app_files.iter().any(|a| a == f.ctx.file) {
        return None;
    }
    entries.into_iter().next()
}

fn is_main_guard(node: Node<'_>, src: &str) -> bool {
    node.kind() == "if_statement"
        && node
            .child_by_field_name("condition")
            .is_some_and(|c| text(c, src).contains("__name__"))
}

/// A `yield` in `function`'s own body (not in a nested function).
fn is_generator(function: Node<'_>) -> bool {
    descendants(function).into_iter().any(|n| {
        n.kind() == "yield"
            && ancestors(n)
                .find(|a| matches!(a.kind(), "function_definition" | "lambda"))
                .is_some_and(|owner| owner.id() == function.id())
    })
}
