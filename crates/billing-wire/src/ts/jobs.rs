//! Background jobs in JavaScript / TypeScript: a call inside a trigger.dev task's `run`, a
//! BullMQ / Bull worker's processor or an Inngest function runs outside any request, so a
//! request-based customer (header, body, session, the user's `getUserId(request)`) can only
//! find nothing there. The id comes from the job's payload when the plan names the field
//! (`[customer] job_field`); otherwise the call is a manual step that says so.

use tree_sitter::Node;

use super::TsFile;
use super::customer::{enclosing_functions, parameters};
use crate::syntax::{line_of, named_children, text};

/// The job runner a call belongs to.
pub(crate) struct Job<'t> {
    /// What the user calls it, e.g. "BullMQ `Worker` processor".
    pub label: &'static str,
    /// The processor / `run` function.
    pub function: Node<'t>,
    /// Properties from the processor's first parameter to the payload: none for trigger.dev
    /// (`run(payload)`), `data` for BullMQ (`job.data`), `event.data` for Inngest.
    payload_path: &'static [&'static str],
}

impl Job<'_> {
    /// How the payload is read, for messages: `payload`, `job.data`, `event.data`.
    pub fn payload_hint(&self) -> String {
        match self.payload_path {
            [] => "payload".to_owned(),
            ["data"] => "job.data".to_owned(),
            path => path.join("."),
        }
    }
}

fn imports_from(f: &TsFile<'_>, prefix: &str) -> bool {
    f.imports
        .bindings
        .iter()
        .any(|b| b.module == prefix || b.module.starts_with(&format!("{prefix}/")))
}

/// The innermost job processor enclosing `at`, if the call runs in one.
pub(crate) fn job_at<'t>(f: &TsFile<'t>, at: Node<'t>) -> Option<Job<'t>> {
    let trigger = imports_from(f, "@trigger.dev/sdk");
    let bull = imports_from(f, "bullmq") || imports_from(f, "bull");
    let inngest = imports_from(f, "inngest");
    if !(trigger || bull || inngest) {
        return None;
    }
    enclosing_functions(at).into_iter().find_map(|function| {
        if trigger && is_trigger_run(f, function) {
            return Some(Job {
                label: "trigger.dev task `run`",
                function,
                payload_path: &[],
            });
        }
        if bull && is_worker_processor(f, function) {
            return Some(Job {
                label: "BullMQ `Worker` processor",
                function,
                payload_path: &["data"],
            });
        }
        if inngest && is_inngest_handler(f, function) {
            return Some(Job {
                label: "Inngest function",
                function,
                payload_path: &["event", "data"],
            });
        }
        None
    })
}

/// `task({ id, run: async (payload) => .. })` (also `schemaTask`, `schedules.task`, v2
/// `client.defineJob`): the function is the `run` of an object passed to such a call.
fn is_trigger_run(f: &TsFile<'_>, function: Node<'_>) -> bool {
    let Some(parent) = function.parent() else {
        return false;
    };
    let holder = match (parent.kind(), function.kind()) {
        ("pair", _)
            if parent
                .child_by_field_name("key")
                .is_some_and(|k| text(k, f.src) == "run") =>
        {
            parent.parent()
        }
        ("object", "method_definition")
            if function
                .child_by_field_name("name")
                .is_some_and(|n| text(n, f.src) == "run") =>
        {
            Some(parent)
        }
        _ => None,
    };
    let call = holder
        .filter(|o| o.kind() == "object")
        .and_then(|o| o.parent())
        .filter(|a| a.kind() == "arguments")
        .and_then(|a| a.parent())
        .filter(|c| c.kind() == "call_expression");
    call.and_then(|c| c.child_by_field_name("function"))
        .is_some_and(|callee| {
            let name = text(callee, f.src);
            let last = name.rsplit('.').next().unwrap_or(name);
            matches!(last, "task" | "schemaTask" | "defineJob" | "scheduledTask")
        })
}

/// `new Worker(name, async (job) => ..)` from `bullmq` (or a function declared in the file and
/// passed there by name), and Bull's `queue.process(async (job) => ..)`.
fn is_worker_processor(f: &TsFile<'_>, function: Node<'_>) -> bool {
    let worker_local = f
        .imports
        .bindings
        .iter()
        .find(|b| b.module == "bullmq" && b.imported.as_deref() == Some("Worker"))
        .map(|b| b.local.as_str());
    let passed_to_worker = |arg: Node<'_>| {
        let args = arg.parent().filter(|a| a.kind() == "arguments");
        let Some(call) = args.and_then(|a| a.parent()) else {
            return false;
        };
        let second =
            args.is_some_and(|a| named_children(a).get(1).map(|n| n.id()) == Some(arg.id()));
        match call.kind() {
            "new_expression" => {
                second
                    && call
                        .child_by_field_name("constructor")
                        .is_some_and(|c| Some(text(c, f.src)) == worker_local)
            }
            // Bull (v3): `queue.process(fn)` / `queue.process(name, fn)`.
            "call_expression" => call
                .child_by_field_name("function")
                .is_some_and(|c| text(c, f.src).ends_with(".process")),
            _ => false,
        }
    };
    if passed_to_worker(function) {
        return true;
    }
    // `async function processJob(job) {..}` / `const processJob = async (job) => ..`, then
    // `new Worker("q", processJob)`.
    let name = match function.kind() {
        "function_declaration" => function.child_by_field_name("name"),
        _ => function
            .parent()
            .filter(|p| p.kind() == "variable_declarator")
            .and_then(|p| p.child_by_field_name("name")),
    };
    let Some(name) = name.map(|n| text(n, f.src)) else {
        return false;
    };
    crate::syntax::descendants(f.program)
        .into_iter()
        .any(|n| n.kind() == "identifier" && text(n, f.src) == name && passed_to_worker(n))
}

/// `inngest.createFunction(config, trigger, async ({ event, step }) => ..)`.
fn is_inngest_handler(f: &TsFile<'_>, function: Node<'_>) -> bool {
    function
        .parent()
        .filter(|a| a.kind() == "arguments")
        .and_then(|a| a.parent())
        .and_then(|c| c.child_by_field_name("function"))
        .is_some_and(|c| text(c, f.src).ends_with(".createFunction"))
}

/// The payload field `field` (a validated `a.b` path) read from the job's first parameter:
/// `payload.userId`, `job.data.userId`, or the local a destructuring binds
/// (`({ userId }) =>`, `({ data }) =>`, `({ event }) =>`). `None` when the parameter has
/// another shape (then the caller lists a manual step).
pub(crate) fn payload_field(f: &TsFile<'_>, job: &Job<'_>, field: &str) -> Option<String> {
    let param = *parameters(job.function).first()?;
    let path: Vec<&str> = job
        .payload_path
        .iter()
        .copied()
        .chain(field.split('.'))
        .collect();
    match param.kind() {
        "identifier" => Some(format!("{}.{}", text(param, f.src), path.join("."))),
        "object_pattern" => {
            let (first, rest) = path.split_first()?;
            let local = named_children(param)
                .into_iter()
                .find_map(|prop| match prop.kind() {
                    "shorthand_property_identifier_pattern" if text(prop, f.src) == *first => {
                        Some(text(prop, f.src).to_owned())
                    }
                    "pair_pattern" => prop
                        .child_by_field_name("key")
                        .filter(|k| text(*k, f.src) == *first)
                        .and_then(|_| prop.child_by_field_name("value"))
                        .filter(|v| v.kind() == "identifier")
                        .map(|v| text(v, f.src).to_owned()),
                    _ => None,
                })?;
            Some(
                std::iter::once(local.as_str())
                    .chain(rest.iter().copied())
                    .collect::<Vec<_>>()
                    .join("."),
            )
        }
        _ => None,
    }
}

/// Why a call in `job` has no customer, with what to pass.
pub(crate) fn no_customer(job: &Job<'_>, field: Option<&str>) -> String {
    let line = line_of(job.function);
    match field {
        Some(field) => format!(
            "this call runs in a {} (line {line}) whose payload parameter is not a plain name \
             or a destructuring of `{field}`, so `[customer] job_field = \"{field}\"` cannot be read",
            job.label
        ),
        None => format!(
            "this call runs in a {} (line {line}), outside any request, so the plan's request-based \
             customer cannot be found here: pass the customer's id in the job's payload and read \
             it (`{}.userId`), or name that payload field with `[customer] job_field = \"userId\"` \
             and run `plan` again",
            job.label,
            job.payload_hint()
        ),
    }
}
