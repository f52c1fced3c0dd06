//! Background jobs in Python: a call inside a Modal function, a Celery / Huey task, an RQ job,
//! a Dramatiq actor or an APScheduler job runs outside any request, so neither a request-based
//! customer (header, body, session, the user's function) nor the middleware's
//! `current_customer_id()` can find anyone there (the event would be logged and dropped). The id
//! comes from the job's arguments when the plan names the field (`[customer] job_field`, the
//! same key as for trigger.dev / BullMQ / Inngest in JS); otherwise the call is a manual step
//! that names that choice.
//!
//! A call can also sit in a helper that only jobs call (`analyze_profile` called by
//! `functions.process_slack_member`, called by the Modal function in `modal.py`): callers are
//! followed through the `from .module import name` imports of the same directory, and when every
//! caller found leads to a job, the call is a job's too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use tree_sitter::Node;

use super::PyFile;
use super::imports::Imports;
use crate::syntax::{ancestors, descendants, line_of, named_children, parse, text};

/// The job runner a call belongs to.
pub(crate) struct Job {
    /// What the user calls it, e.g. "Celery task `summarize`".
    pub label: String,
    /// `file:line` of the job function.
    pub at: String,
    /// The job's parameters (name, annotation), when the call is in the job function itself
    /// (not in a helper it calls): where `[customer] job_field` is read.
    params: Option<Vec<(String, Option<String>)>>,
    /// Helpers between the job and the call, innermost first (`analyze_profile`).
    via: Vec<String>,
}

/// Decorators that mark a function as a job, per runner: (module the file imports, decorator
/// name or `.suffix`, label).
const JOB_DECORATORS: &[(&str, &str, &str)] = &[
    ("modal", ".function", "Modal function"),
    ("modal", ".method", "Modal function"),
    ("modal", ".local_entrypoint", "Modal entrypoint"),
    ("celery", "shared_task", "Celery task"),
    ("celery", ".task", "Celery task"),
    ("celery", ".periodic_task", "Celery task"),
    ("huey", ".task", "Huey task"),
    ("huey", ".periodic_task", "Huey task"),
    ("huey", "db_task", "Huey task"),
    ("huey", "db_periodic_task", "Huey task"),
    ("rq", "job", "RQ job"),
    ("rq", ".job", "RQ job"),
    ("dramatiq", "actor", "Dramatiq actor"),
    ("dramatiq", ".actor", "Dramatiq actor"),
    ("apscheduler", ".scheduled_job", "APScheduler job"),
    ("flask_apscheduler", ".task", "APScheduler job"),
];

/// Modal decorators that turn a function into a web endpoint: it serves requests, so it is not
/// a job even though it is also a `@app.function`.
const MODAL_WEB: &[&str] = &[
    "asgi_app",
    "wsgi_app",
    "web_endpoint",
    "fastapi_endpoint",
    "web_server",
];

/// The runner label when `function` is decorated as a job in a module with `imports`.
fn job_label(function: Node<'_>, src: &str, imports: &Imports) -> Option<&'static str> {
    let decorated = function
        .parent()
        .filter(|p| p.kind() == "decorated_definition")?;
    let names: Vec<&str> = named_children(decorated)
        .into_iter()
        .filter(|c| c.kind() == "decorator")
        .map(|d| {
            let code = text(d, src).trim_start_matches('@').trim();
            code.split('(').next().unwrap_or(code).trim()
        })
        .collect();
    if names
        .iter()
        .any(|n| MODAL_WEB.contains(&n.rsplit('.').next().unwrap_or(n)))
    {
        return None;
    }
    names.iter().find_map(|name| {
        JOB_DECORATORS
            .iter()
            .find(|(module, pattern, _)| {
                let shape = match pattern.strip_prefix('.') {
                    Some(suffix) => name.ends_with(&format!(".{suffix}")),
                    None => *name == *pattern || name.ends_with(&format!(".{pattern}")),
                };
                shape && imports.imports_from_prefix(module)
            })
            .map(|(_, _, label)| *label)
    })
}

fn function_name<'s>(function: Node<'_>, src: &'s str) -> &'s str {
    function
        .child_by_field_name("name")
        .map_or("", |n| text(n, src))
}

/// The job `at` runs in: an enclosing function decorated as one, or (for a call in a top-level
/// helper) the jobs every caller in the same directory leads to.
pub(crate) fn job_at(f: &PyFile<'_>, at: Node<'_>) -> Option<Job> {
    let functions: Vec<Node<'_>> = ancestors(at)
        .filter(|n| n.kind() == "function_definition")
        .collect();
    for function in &functions {
        if let Some(label) = job_label(*function, f.src, &f.imports) {
            let params = super::customer::param_list(*function, f.src);
            return Some(Job {
                label: format!("{label} `{}`", function_name(*function, f.src)),
                at: format!("{}:{}", f.ctx.file, line_of(*function)),
                params: Some(params),
                via: Vec::new(),
            });
        }
    }
    // A top-level helper: who calls it?
    let outer = functions
        .last()
        .filter(|fun| fun.parent().is_some_and(is_top_level))?;
    let dir = f.ctx.file.rsplit_once('/').map_or("", |(d, _)| d);
    let stem = module_stem(f.ctx.file)?;
    let name = function_name(*outer, f.src).to_owned();
    let siblings = f.ctx.py_siblings.get(f.ctx.root, dir);
    // Only a folder where some module imports a job runner can hold the job that calls us
    // (and the callers are not parsed at all in the usual web app folder).
    let runner_imported = siblings.files.iter().any(|(_, source)| {
        JOB_DECORATORS.iter().any(|(module, _, _)| {
            source.contains(&format!("import {module}"))
                || source.contains(&format!("from {module}"))
        })
    });
    if !runner_imported {
        return None;
    }
    let mut seen = vec![(stem.to_owned(), name.clone())];
    let mut job = caller_job(&siblings, stem, &name, &mut seen, 0)?;
    job.via.insert(0, name);
    Some(job)
}

fn is_top_level(node: Node<'_>) -> bool {
    match node.kind() {
        "module" => true,
        "decorated_definition" => node.parent().is_some_and(|p| p.kind() == "module"),
        _ => false,
    }
}

fn module_stem(file: &str) -> Option<&str> {
    let name = file.rsplit('/').next()?;
    name.strip_suffix(".py")
}

/// The sibling `.py` files of each directory a call site asked about, read once per wiring run
/// and shared by every call site there (as `ts::PackageSources` shares the TS package's files):
/// without it, each call in a helper read up to [`MAX_SIBLINGS`] files again.
#[derive(Default)]
pub(crate) struct SiblingSources {
    dirs: RefCell<HashMap<String, Rc<SiblingFiles>>>,
}

impl SiblingSources {
    /// The files of `dir` (root-relative; `root` is the same on every call of one run).
    fn get(&self, root: &Path, dir: &str) -> Rc<SiblingFiles> {
        let mut dirs = self.dirs.borrow_mut();
        let files = dirs
            .entry(dir.to_owned())
            .or_insert_with(|| Rc::new(SiblingFiles::read(root, dir)));
        Rc::clone(files)
    }
}

#[cfg(test)]
thread_local! {
    /// Directories [`SiblingFiles::read`] listed and read on this thread (tests count them).
    static DIRS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The `.py` files of one directory (where a package's helpers and jobs live together).
struct SiblingFiles {
    dir: String,
    files: Vec<(String, String)>,
}

/// At most this many sibling files, each at most this big, are read.
const MAX_SIBLINGS: usize = 64;
const MAX_SIBLING_BYTES: u64 = 256 * 1024;
/// Callers followed at most this deep (helper → helper → job).
const MAX_DEPTH: usize = 4;

impl SiblingFiles {
    fn read(root: &Path, dir: &str) -> Self {
        #[cfg(test)]
        DIRS_READ.with(|n| n.set(n.get() + 1));
        let mut files = Vec::new();
        let path = if dir.is_empty() {
            root.to_path_buf()
        } else {
            root.join(dir)
        };
        if let Ok(entries) = std::fs::read_dir(&path) {
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.metadata()
                        .is_ok_and(|m| m.is_file() && m.len() <= MAX_SIBLING_BYTES)
                })
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".py"))
                .collect();
            names.sort();
            names.truncate(MAX_SIBLINGS);
            for name in names {
                if let Ok(source) = std::fs::read_to_string(path.join(&name)) {
                    files.push((name, source));
                }
            }
        }
        Self {
            dir: dir.to_owned(),
            files,
        }
    }
}

/// The job that every call of `name` (defined in module `stem`) in the sibling files leads to.
/// `None` when it is called nowhere there, or some caller is not (or not only) a job's.
fn caller_job(
    siblings: &SiblingFiles,
    stem: &str,
    name: &str,
    seen: &mut Vec<(String, String)>,
    depth: usize,
) -> Option<Job> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let mut found: Option<Job> = None;
    for (file, source) in &siblings.files {
        let Some(caller_stem) = module_stem(file) else {
            continue;
        };
        if caller_stem == stem {
            continue;
        }
        let Ok(tree) = parse(tree_sitter_python::LANGUAGE.into(), "Python", source) else {
            continue;
        };
        let module = tree.root_node();
        let locals = imported_locals(module, source, stem, name);
        if locals.is_empty() {
            continue;
        }
        let imports = Imports::collect(module, source);
        let calls = descendants(module).into_iter().filter(|n| {
            n.kind() == "call"
                && n.child_by_field_name("function")
                    .is_some_and(|c| locals.iter().any(|l| l == text(c, source)))
        });
        for call in calls {
            let functions: Vec<Node<'_>> = ancestors(call)
                .filter(|n| n.kind() == "function_definition")
                .collect();
            let rel = if siblings.dir.is_empty() {
                file.clone()
            } else {
                format!("{}/{file}", siblings.dir)
            };
            let job = match functions
                .iter()
                .find_map(|fun| job_label(*fun, source, &imports).map(|l| (fun, l)))
            {
                Some((function, label)) => Job {
                    label: format!("{label} `{}`", function_name(*function, source)),
                    at: format!("{rel}:{}", line_of(*function)),
                    params: None,
                    via: Vec::new(),
                },
                None => {
                    // Called from another top-level function: follow its callers in turn.
                    let outer = functions
                        .last()
                        .filter(|fun| fun.parent().is_some_and(is_top_level))?;
                    let outer_name = function_name(*outer, source).to_owned();
                    let key = (caller_stem.to_owned(), outer_name.clone());
                    if seen.contains(&key) {
                        return None;
                    }
                    seen.push(key);
                    let mut job = caller_job(siblings, caller_stem, &outer_name, seen, depth + 1)?;
                    job.via.insert(0, format!("{caller_stem}.{outer_name}"));
                    job
                }
            };
            found.get_or_insert(job);
        }
    }
    found
}

/// Local names under which `name` of sibling module `stem` is imported anywhere in `module`
/// (`from .stem import name [as alias]`, also inside a function body).
fn imported_locals(module: Node<'_>, src: &str, stem: &str, name: &str) -> Vec<String> {
    descendants(module)
        .into_iter()
        .filter(|n| n.kind() == "import_from_statement")
        .filter(|stmt| {
            stmt.child_by_field_name("module_name").is_some_and(|m| {
                let m = text(m, src);
                m == format!(".{stem}") || m == stem || m.ends_with(&format!(".{stem}"))
            })
        })
        .flat_map(|stmt| {
            let mut cursor = stmt.walk();
            stmt.children_by_field_name("name", &mut cursor)
                .filter_map(|n| match n.kind() {
                    "dotted_name" if text(n, src) == name => Some(name.to_owned()),
                    "aliased_import"
                        if n.child_by_field_name("name")
                            .is_some_and(|i| text(i, src) == name) =>
                    {
                        n.child_by_field_name("alias")
                            .map(|a| text(a, src).to_owned())
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `[customer] job_field` read from the job's own parameters: a parameter of that name
/// (`customer_id` for `customerId` too), or the field of a parameter typed `dict` / `Mapping`.
pub(crate) fn payload_field(f: &PyFile<'_>, job: &Job, field: &str) -> Option<String> {
    let params = job.params.as_ref()?;
    let q = f.quote;
    let snake = super::customer::snake_case(field);
    if let Some((name, _)) = params
        .iter()
        .find(|(name, _)| *name == field || *name == snake)
    {
        return Some(format!("str({name} or {q}{q})"));
    }
    if field.contains('.') {
        return None;
    }
    params
        .iter()
        .find(|(_, annotation)| {
            annotation.as_deref().is_some_and(|a| {
                let base = a.split('[').next().unwrap_or(a).trim();
                let base = base.rsplit('.').next().unwrap_or(base);
                matches!(base, "dict" | "Dict" | "Mapping" | "MutableMapping")
            })
        })
        .map(|(name, _)| format!("str({name}.get({q}{field}{q}) or {q}{q})"))
}

/// Why a call in `job` has no customer, with the choice to make.
pub(crate) fn no_customer(job: &Job, field: Option<&str>) -> String {
    let place = if job.via.is_empty() {
        format!("the {} ({})", job.label, job.at)
    } else {
        format!(
            "`{}`, which only the {} ({}) calls",
            job.via.join("` ← `"),
            job.label,
            job.at
        )
    };
    match (field, job.via.is_empty()) {
        (Some(field), true) => format!(
            "this call runs in {place}, which has no `{field}` parameter (nor a `dict` payload \
             parameter), so `[customer] job_field = \"{field}\"` cannot be read: add it to the \
             job's parameters and pass the customer's id when the job is queued"
        ),
        (_, false) => format!(
            "this call runs in {place}, outside any request, so no signed-in user is reachable: \
             pass the customer's id in the job's payload down to this function and record with it"
        ),
        (None, true) => format!(
            "this call runs in {place}, outside any request, so the plan's request-based \
             customer cannot be found here: pass the customer's id as an argument of the job \
             (`customer_id`) when it is queued, and name it with `[customer] job_field = \
             \"customer_id\"`, then run `plan` again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use billing_detect::profile::Package;
    use billing_plan::model::BillingPlan;
    use serde_json::json;

    use super::DIRS_READ;
    use crate::outcome::SiteResult;
    use crate::{UsageImports, wire_with_report};

    /// Two call sites in top-level functions of one folder (a helper only the Modal function
    /// calls, and a FastAPI route) both ask who calls them: the folder's files are read once
    /// for the whole run, not once per call site.
    #[test]
    fn a_folder_is_read_once_per_wiring_run() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/wire/py-jobs");
        let site = |file: &str, line: u32| {
            json!({"kind": "agent-run", "file": file, "line": line, "column": 20,
                   "callee": "agent.run"})
        };
        let package: Package = serde_json::from_value(json!({
            "path": ".", "language": "python", "aliases": [], "integrations": [],
            "env_vars": [],
            "frameworks": [{"id": "fastapi", "confidence": "high", "evidence": []}],
            "call_sites": [site("jobsapp/analysis.py", 6), site("jobsapp/main.py", 11)],
        }))
        .expect("package");
        let plan: BillingPlan = serde_json::from_value(json!({
            "environment": "local",
            "project": {"path": "."},
            "customer": {"from": "header", "header": "x-customer-id"},
            "call_site_customer": {"job_field": "customer_id"},
            "meters": [{"name": "t", "event": "llm-usage", "kind": "llm-tokens",
                        "aggregation": {"func": "sum", "property": "totalTokens"}}],
            "prices": [], "credits": [],
        }))
        .expect("plan");
        let imports = UsageImports {
            typescript: None,
            python: Some("jobsapp.usage".to_owned()),
            python_request_customer: true,
            python_app_files: Vec::new(),
            ts_session_customer: false,
        };
        DIRS_READ.with(|n| n.set(0));
        let (_, reports) = wire_with_report(&root, &package, &plan, &imports).expect("wiring");
        assert_eq!(DIRS_READ.with(std::cell::Cell::get), 1);
        // Each site still gets its own answer from the shared read: the helper is the Modal
        // function's (no `customer_id` reaches it, so listed), the route is a request's.
        let result = |file: &str| {
            reports
                .iter()
                .find(|r| r.file == file)
                .map(|r| r.result.clone())
                .expect("a report per site")
        };
        assert!(
            matches!(result("jobsapp/analysis.py"), SiteResult::Manual(ref m) if m.contains("Modal")),
            "{:?}",
            result("jobsapp/analysis.py")
        );
        assert!(
            matches!(result("jobsapp/main.py"), SiteResult::Wired(_)),
            "{:?}",
            result("jobsapp/main.py")
        );
    }
}
