//! `openai` and `anthropic` SDK calls: `record_llm_response(<customer>, <response>)`, which reads
//! the response's `usage` (every token kind), `model` and `id` (the idempotency key), for:
//!
//! | call | recorded |
//! |---|---|
//! | `r = [await] client.chat.completions.create(..)` / `responses.create` / `embeddings.create` / `messages.create` / legacy `openai.ChatCompletion.create` | `r`, after the statement |
//! | `for chunk in <stream>:` over an OpenAI stream created with `stream_options={"include_usage": True}` | each `chunk` at the top of the loop (only the last one carries usage) |
//! | the same loop over a stream created without it (read to its end) | `stream_options` is added to the call (not under an exact `openai` 1.x pin older than 1.26.0, which lacks it), and the loop records then skips the usage chunk (no `choices`) |
//! | such a loop that only `break`s on the chunk's `finish_reason` | also `for usage_chunk in <stream>:` right after the loop, recording the one chunk that follows the finish (see [`drain_after_finish`]) |
//! | `[async] with client.messages.stream(..) as s:` (Anthropic) | `[await] s.get_final_message()`, as the block's last statement |
//! | Assistants runs (`create_and_poll`, `runs.create` + a polling loop, `with runs.stream(..) as s:`) | the finished run, see [`assistant_run_site`] |
//!
//! Everything else is a manual step with the exact change: a loop that `break`s early on
//! anything but the finish reason (or `return`s) never sees the usage chunk, and a run nobody
//! waits for has no usage yet.

use billing_detect::profile::CallSiteKind;
use tree_sitter::Node;

use super::{PyFile, hoist, keyword, owning_statement};
use crate::customer::CustomerExpr;
use crate::edit::Edit;
use crate::helpers::{PY_IMAGES, PY_LLM, PY_LLM_RESPONSE};
use crate::outcome::SiteOutcome;
use crate::syntax::{ancestors, descendants, has_token, named_children, text};
use crate::text::{indent_at, line_end};

fn method_of<'s>(call: Node<'_>, src: &'s str) -> &'s str {
    call.child_by_field_name("function")
        .and_then(|c| c.child_by_field_name("attribute"))
        .map_or("", |a| text(a, src))
}

/// How the call's response arrives.
enum Shape {
    /// One response object.
    Response,
    /// `stream=True`: chunks, the last one with usage only when `include_usage` is set.
    OpenaiStream { include_usage: bool },
    /// The SDK's stream helper (`messages.stream`, `responses.stream`,
    /// `chat.completions.stream`): a context manager with a final message / response.
    StreamHelper,
}

fn shape(f: &PyFile<'_>, call: Node<'_>) -> Shape {
    if method_of(call, f.src) == "stream" {
        return Shape::StreamHelper;
    }
    let streamed = keyword(call, "stream", f.src).is_some_and(|v| text(v, f.src) != "False");
    if !streamed {
        return Shape::Response;
    }
    let include_usage = keyword(call, "stream_options", f.src).is_some_and(|options| {
        let t = text(options, f.src);
        t.contains("include_usage") && t.contains("True")
    });
    Shape::OpenaiStream { include_usage }
}

pub(crate) fn vendor(f: &PyFile<'_>, call: Node<'_>, kind: CallSiteKind) -> SiteOutcome {
    let callee = call
        .child_by_field_name("function")
        .map_or("", |c| text(c, f.src));
    // What is recorded: the response, or for an Assistants run the finished run.
    let recorded = if kind == CallSiteKind::OpenaiAssistantRun {
        "run"
    } else {
        "response"
    };
    let snippet = |customer: &str, what: &str| {
        format!(
            "from {} import {PY_LLM_RESPONSE}\n\n{what}\n{PY_LLM_RESPONSE}({customer}, {recorded})",
            f.usage_module
        )
    };
    let customer = f.customer(call);
    let customer_text = customer
        .as_ref()
        .map_or_else(|_| "customer_id".to_owned(), |c| c.expr.clone());
    let found = if kind == CallSiteKind::OpenaiAssistantRun {
        assistant_run_site(f, call)
    } else {
        match shape(f, call) {
            Shape::Response => response_site(f, call),
            Shape::OpenaiStream { include_usage } => openai_stream_site(f, call, include_usage),
            Shape::StreamHelper => stream_helper_site(f, call),
        }
    };
    let site = match found {
        Ok(site) => site,
        Err((reason, todo, what)) => {
            return SiteOutcome::manual(reason, todo, snippet(&customer_text, &what));
        }
    };
    if site.already_wired {
        return SiteOutcome::AlreadyWired;
    }
    let customer = match customer {
        Ok(c) if flask_request_outside_context(f, call, &c) => {
            return SiteOutcome::manual(
                "the call runs in a generator that Flask iterates after the request ended, where the global `request` is gone",
                "Read the user id in the view (before returning the response) and pass it into the generator, or wrap it with `stream_with_context`",
                snippet("customer_id", &site.note),
            );
        }
        Ok(c) => c,
        Err(reason) => {
            return SiteOutcome::manual(
                reason,
                format!(
                    "Record the usage of `{callee}` with the id of the user who made the request"
                ),
                snippet("customer_id", &site.note),
            );
        }
    };
    wired(f, &site, customer)
}

/// Where and what to record.
struct Site {
    /// The statement to insert after (or, with `first_in`, the block to insert into).
    anchor: usize,
    indent: String,
    /// The expression recorded (`response`, `chunk`, `await s.get_final_message()`).
    recorded: String,
    note: String,
    already_wired: bool,
    /// Statements after the record, at `indent` (a nested line carries its own extra indent).
    then: Vec<String>,
    /// Other edits the recording needs (`stream_options` added to the call).
    edits: Vec<Edit>,
    /// A loop that reads the rest of the stream after the app's own loop ended on the finish
    /// chunk, recording the usage chunk that follows it (see [`drain_after_finish`]).
    drain: Option<Drain>,
}

/// `for <chunk> in <stream>:  # ..` then `record_llm_response(<customer>, <chunk>)`, inserted
/// at `anchor` (the end of the app's loop) at `indent`.
struct Drain {
    anchor: usize,
    indent: String,
    chunk: String,
    stream: String,
}

fn wired(f: &PyFile<'_>, site: &Site, customer: CustomerExpr) -> SiteOutcome {
    let record = format!("{PY_LLM_RESPONSE}({}, {})", customer.expr, site.recorded);
    let mut edits = customer.edits;
    let mut inserted = format!("{}{}{record}", f.nl, site.indent);
    for line in &site.then {
        inserted.push_str(&format!("{}{}{line}", f.nl, site.indent));
    }
    edits.push(Edit::insert(site.anchor, inserted));
    if let Some(drain) = &site.drain {
        let unit = crate::text::indent_unit(f.src);
        let (nl, indent) = (f.nl, &drain.indent);
        edits.push(Edit::insert(
            drain.anchor,
            format!(
                "{nl}{indent}for {} in {}:  # the usage chunk comes after the one that ended the loop{nl}{indent}{unit}{PY_LLM_RESPONSE}({}, {})",
                drain.chunk, drain.stream, customer.expr, drain.chunk
            ),
        ));
    }
    edits.extend(site.edits.iter().cloned());
    let mut imports = vec![f.usage_import(PY_LLM_RESPONSE)];
    imports.extend(customer.imports);
    SiteOutcome::Wired {
        edits,
        imports,
        what: format!("records the usage of `{}`", site.recorded),
    }
}

type Refusal = (String, String, String);

fn refuse(reason: impl Into<String>, todo: impl Into<String>, what: &str) -> Refusal {
    (reason.into(), todo.into(), what.to_owned())
}

/// `response = [await] client.x.create(..)`: recorded after the statement.
fn response_site(f: &PyFile<'_>, call: Node<'_>) -> Result<Site, Refusal> {
    let what = "response = <the call>  # assign the response, then:";
    let statement = owning_statement(call).ok_or_else(|| {
        refuse(
            "the response is not assigned by a statement of its own",
            "Assign the response to a variable (`response = ...create(...)`) and record it after the call",
            what,
        )
    })?;
    let assignment = named_children(statement)
        .into_iter()
        .find(|a| a.kind() == "assignment")
        .and_then(|a| a.child_by_field_name("left"))
        .filter(|l| l.kind() == "identifier")
        .ok_or_else(|| {
            refuse(
                "the response is not assigned to a single variable",
                "Assign the response to a variable and record it after the call",
                what,
            )
        })?;
    let name = text(assignment, f.src).to_owned();
    // `with_raw_response`: the HTTP response; `.parse()` is the SDK object (parsed once, cached).
    let raw = call
        .child_by_field_name("function")
        .is_some_and(|c| text(c, f.src).contains(".with_raw_response."));
    Ok(Site {
        anchor: line_end(f.src, statement.end_byte()),
        indent: indent_at(f.src, statement.start_byte()).to_owned(),
        recorded: if raw {
            format!("{name}.parse()")
        } else {
            name.clone()
        },
        note: format!("# after `{name} = ...` returned:"),
        already_wired: f.wired_after(statement, &[PY_LLM_RESPONSE, PY_LLM]),
        then: Vec::new(),
        edits: Vec::new(),
        drain: None,
    })
}

/// The name an OpenAI stream is read through: `stream = create(..)`, `with create(..) as
/// stream:`, or the call itself in `for chunk in create(..):`.
fn stream_name<'t>(f: &PyFile<'_>, call: Node<'t>) -> Option<(String, Node<'t>)> {
    let parent = call.parent()?;
    let parent = if parent.kind() == "await" {
        parent.parent()?
    } else {
        parent
    };
    match parent.kind() {
        "assignment" => {
            let left = parent
                .child_by_field_name("left")
                .filter(|l| l.kind() == "identifier")?;
            Some((text(left, f.src).to_owned(), parent))
        }
        "as_pattern" => {
            let alias = parent.child_by_field_name("alias")?;
            let alias = named_children(alias).into_iter().next().unwrap_or(alias);
            (alias.kind() == "identifier").then(|| (text(alias, f.src).to_owned(), parent))
        }
        "for_statement" => Some((text(call, f.src).to_owned(), parent)),
        _ => None,
    }
}

/// The `for chunk in <name>:` loop reading the stream, in the same function.
fn stream_loop<'t>(scope: Node<'t>, name: &str, after: usize, src: &str) -> Option<Node<'t>> {
    descendants(scope).into_iter().find(|n| {
        n.kind() == "for_statement"
            && n.start_byte() >= after
            && n.child_by_field_name("right")
                .is_some_and(|r| text(r, src) == name)
    })
}

/// A `break` (or `return`) that leaves `for_node` itself before the stream's end.
fn leaves_early(for_node: Node<'_>) -> bool {
    let Some(body) = for_node.child_by_field_name("body") else {
        return true;
    };
    descendants(body).into_iter().any(|n| match n.kind() {
        "return_statement" => true,
        "break_statement" => ancestors(n)
            .find(|a| matches!(a.kind(), "for_statement" | "while_statement"))
            .is_some_and(|owner| owner.id() == for_node.id()),
        _ => false,
    })
}

fn openai_stream_site(
    f: &PyFile<'_>,
    call: Node<'_>,
    include_usage: bool,
) -> Result<Site, Refusal> {
    let add = "Pass `stream_options={\"include_usage\": True}` (the last chunk then carries the usage and has no `choices`: skip `chunk.choices[0]` when `chunk.choices` is empty), read the stream to its end, and record that chunk";
    let what =
        "for chunk in stream:\n    if chunk.usage:  # the last chunk\n        response = chunk";
    // Without `include_usage` the stream reports no usage: it is added to the call, and the
    // loop below skips the usage chunk (no `choices`) after recording it, so the app's own
    // code sees exactly the chunks it saw before.
    let no_usage = || {
        refuse(
            "this stream reports no token usage (it is created without `stream_options={\"include_usage\": True}`)",
            add,
            what,
        )
    };
    let options_edit = if include_usage {
        None
    } else {
        if let Some(pin) = pinned_without_stream_options(f) {
            return Err(refuse(
                format!(
                    "this stream reports no token usage, and the pinned `openai{pin}` has no `stream_options` (added in openai 1.26.0): passing it raises `TypeError`"
                ),
                format!("Upgrade `openai` to 1.26.0 or later, then: {add}"),
                what,
            ));
        }
        Some(add_include_usage(f, call).ok_or_else(no_usage)?)
    };
    let (name, binder) = stream_name(f, call).ok_or_else(|| {
        refuse(
            "the stream is not read by a `for chunk in ...:` loop spaire-billing can follow",
            "Record the chunk that carries `usage` (the last one)",
            what,
        )
    })?;
    let scope = ancestors(call)
        .find(|a| a.kind() == "function_definition")
        .unwrap_or(f.module);
    let for_node = if binder.kind() == "for_statement" {
        Some(binder)
    } else {
        stream_loop(scope, &name, binder.end_byte().min(call.end_byte()), f.src)
    }
    .ok_or_else(|| {
        refuse(
            format!("no `for chunk in {name}:` loop reads this stream in the same function"),
            "Record the chunk that carries `usage` (the last one) where the stream is read",
            what,
        )
    })?;
    let drain = if leaves_early(for_node) {
        Some(drain_after_finish(f, call, for_node, binder, &name).ok_or_else(|| {
            refuse(
            "the loop over the stream can `break` or `return` before the last chunk, which carries the usage",
            if include_usage {
                "Read the stream to its end (the usage chunk comes after the finish reason) and record that chunk"
            } else {
                add
            },
            what,
        )
        })?)
    } else {
        None
    };
    let chunk = for_node
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")
        .map(|l| text(l, f.src).to_owned())
        .ok_or_else(|| {
            refuse(
                "the loop does not bind each chunk to one name",
                "Record the chunk that carries `usage` (the last one)",
                what,
            )
        })?;
    let body = for_node
        .child_by_field_name("body")
        .ok_or_else(|| refuse("the loop has no body", "Record the last chunk", what))?;
    let first = named_children(body)
        .into_iter()
        .next()
        .ok_or_else(|| refuse("the loop has no body", "Record the last chunk", what))?;
    // The body's first statement on its own line: inserted before it, at its indentation.
    if first.start_position().row == for_node.start_position().row {
        return Err(refuse(
            "the loop's body is on the `for` line",
            "Record the chunk that carries `usage` (the last one)",
            what,
        ));
    }
    let indent = indent_at(f.src, first.start_byte()).to_owned();
    let already_wired = first.kind() == "expression_statement"
        && text(first, f.src).contains(&format!("{PY_LLM_RESPONSE}("));
    // Insert before `first`: after the end of the line that precedes it.
    let line_start = crate::text::line_start(f.src, first.start_byte());
    let anchor = line_start.saturating_sub(if f.nl == "\r\n" { 2 } else { 1 });
    let (then, edits) = match options_edit {
        None => (Vec::new(), Vec::new()),
        Some(edit) => {
            // The loop's own way of reading a chunk: `chunk["choices"]` (openai 0.x dicts)
            // or `chunk.choices`.
            let body_text = text(body, f.src);
            let q = f.quote;
            let choices = if body_text.contains(&format!("{chunk}[\"choices\"]"))
                || body_text.contains(&format!("{chunk}['choices']"))
            {
                format!("{chunk}[{q}choices{q}]")
            } else {
                format!("{chunk}.choices")
            };
            let unit = crate::text::indent_unit(f.src);
            (
                vec![
                    format!("if not {choices}:  # the usage chunk (`include_usage`)"),
                    format!("{unit}continue"),
                ],
                vec![edit],
            )
        }
    };
    Ok(Site {
        anchor,
        indent,
        recorded: chunk.clone(),
        note: format!("# inside `for {chunk} in ...:` (only the last chunk has usage):"),
        already_wired,
        then,
        edits,
        drain,
    })
}

/// A loop that leaves the stream only by a `break` on the chunk's `finish_reason`
/// (openai-quickstart-python `chat-basic`: `if chunk.choices[0].finish_reason == "stop":
/// break`): the usage chunk (`include_usage`, no `choices`) is the one chunk the server sends
/// after that, so reading the rest of the stream after the loop reads exactly that chunk and
/// the end of the stream, and nothing the app would have shown. The rest is read right after
/// the loop, where the stream is still open (inside its `with` block when it has one).
///
/// Not for a loop that can `return` (nothing after the loop runs), a `break` on anything else
/// (a cancel or a length limit would then read the whole rest of the answer), a stream not
/// bound to a name, or `n=` completions (the other choices go on after one finished).
fn drain_after_finish(
    f: &PyFile<'_>,
    call: Node<'_>,
    for_node: Node<'_>,
    binder: Node<'_>,
    stream: &str,
) -> Option<Drain> {
    if binder.kind() == "for_statement" || keyword(call, "n", f.src).is_some() {
        return None;
    }
    let body = for_node.child_by_field_name("body")?;
    let owned_by_loop = |n: Node<'_>| {
        ancestors(n)
            .find(|a| {
                matches!(
                    a.kind(),
                    "for_statement" | "while_statement" | "function_definition"
                )
            })
            .is_some_and(|owner| owner.id() == for_node.id())
    };
    for n in descendants(body) {
        match n.kind() {
            "return_statement" => return None,
            "break_statement" if owned_by_loop(n) => {
                let guard = ancestors(n)
                    .take_while(|a| a.id() != for_node.id())
                    .find(|a| matches!(a.kind(), "if_statement" | "elif_clause"))?;
                let condition = guard.child_by_field_name("condition")?;
                let on_finish = text(condition, f.src).contains("finish_reason")
                    && !descendants(condition)
                        .into_iter()
                        .any(|c| c.kind() == "boolean_operator");
                if !on_finish {
                    return None;
                }
            }
            _ => {}
        }
    }
    let chunk = hoist::fresh_name(
        f,
        hoist::scope_of(f, call),
        &["usage_chunk", "rest_chunk", "last_chunk"],
    )?;
    Some(Drain {
        anchor: line_end(f.src, for_node.end_byte()),
        indent: indent_at(f.src, for_node.start_byte()).to_owned(),
        chunk,
        stream: stream.to_owned(),
    })
}

/// The package's `openai` pin when it is an exact 1.x version older than 1.26.0, whose
/// `create()` has no `stream_options` parameter (openai-quickstart-python pins `==1.11.1`):
/// adding the argument there would make every call raise `TypeError`. openai 0.x passes
/// unknown arguments through to the API, and an unpinned or `>=` requirement installs a
/// newer version.
fn pinned_without_stream_options(f: &PyFile<'_>) -> Option<String> {
    let spec = f.ctx.package.integration("openai")?.version.clone()?;
    let version = spec
        .trim()
        .strip_prefix("===")
        .or_else(|| spec.trim().strip_prefix("=="))
        .or_else(|| spec.trim().strip_prefix("~="))?
        .trim();
    let mut parts = version.split('.').map(str::parse::<u64>);
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        return None;
    };
    (major == 1 && minor < 26).then_some(spec)
}

/// `stream_options={"include_usage": True}` added after the call's `stream=True`, unless the
/// arguments are spread from a dict (`**kwargs` may hold `stream_options` already).
fn add_include_usage(f: &PyFile<'_>, call: Node<'_>) -> Option<Edit> {
    let args = call.child_by_field_name("arguments")?;
    if named_children(args)
        .iter()
        .any(|a| matches!(a.kind(), "dictionary_splat" | "list_splat"))
    {
        return None;
    }
    // Only with a literal `stream=True`: the API rejects `stream_options` on a call that
    // turns out not to stream (`stream=flag`).
    let value = keyword(call, "stream", f.src).filter(|v| text(*v, f.src) == "True")?;
    let stream = value.parent()?;
    let q = f.quote;
    Some(Edit::insert(
        stream.end_byte(),
        format!(", stream_options={{{q}include_usage{q}: True}}"),
    ))
}

/// An Assistants run (`runs.create`, `create_and_poll`, `runs.stream`, ...): its usage is on
/// the finished run (`usage`, `model`, `id`), which `record_llm_response` reads like a
/// completion. Recorded where the run is known to have finished:
///
/// | call | recorded |
/// |---|---|
/// | `run = ...runs.create_and_poll(..)` / `threads.create_and_run_poll(..)` | `run`, after the statement |
/// | `run = ...runs.create(..)`, then a `while` loop that re-reads `run` (`runs.retrieve`) or `run = ...runs.poll(..)` | `run`, after that loop / statement |
/// | `with ...runs.stream(..) as stream:` | `stream.get_final_run()`, as the block's last statement |
fn assistant_run_site(f: &PyFile<'_>, call: Node<'_>) -> Result<Site, Refusal> {
    let what = "# once run.status == \"completed\" (after `create_and_poll`, or the loop that polls `runs.retrieve`):";
    let manual = |reason: &str| {
        refuse(
            format!(
                "an Assistants run reports its usage on the finished run, not on this call; {reason}"
            ),
            "Once the run's status is `completed` (`runs.retrieve` / `runs.poll` / `create_and_poll`), record that run (`run.usage`, `run.model`)",
            what,
        )
    };
    let method = method_of(call, f.src);
    if matches!(
        method,
        "stream" | "create_and_stream" | "create_and_run_stream"
    ) {
        return stream_helper_site(f, call).map_err(|(reason, _, _)| manual(&reason));
    }
    if keyword(call, "stream", f.src).is_some_and(|v| text(v, f.src) != "False") {
        return Err(manual(
            "this run is streamed (`stream=True`): its usage is on the `thread.run.completed` event",
        ));
    }
    let mut site = response_site(f, call).map_err(|(reason, _, _)| manual(&reason))?;
    if matches!(method, "create_and_poll" | "create_and_run_poll") {
        return Ok(site);
    }
    // `runs.create` returns a queued run: find where the app waits for it.
    let statement = owning_statement(call).ok_or_else(|| manual("the run is not assigned"))?;
    let name = site.recorded.clone();
    let mut next = crate::syntax::next_statement(statement);
    while let Some(stmt) = next {
        if rebinds_from(stmt, &name, &["poll"], f.src)
            || (stmt.kind() == "while_statement"
                && stmt
                    .child_by_field_name("body")
                    .is_some_and(|b| rebinds_from(b, &name, &["retrieve", "poll"], f.src)))
        {
            site.anchor = line_end(f.src, stmt.end_byte());
            site.indent = indent_at(f.src, stmt.start_byte()).to_owned();
            site.note = format!("# after the run finished (`{name}` re-read until completed):");
            site.already_wired = f.wired_after(stmt, &[PY_LLM_RESPONSE, PY_LLM]);
            return Ok(site);
        }
        next = crate::syntax::next_statement(stmt);
    }
    Err(manual(&format!(
        "`{name}` is not re-read until it finished (`while ...: {name} = ...runs.retrieve(..)` or `{name} = ...runs.poll(..)`) in the same block"
    )))
}

/// `name = <...>.<method>(..)` somewhere in `node` (a statement or a loop body).
fn rebinds_from(node: Node<'_>, name: &str, methods: &[&str], src: &str) -> bool {
    descendants(node).into_iter().any(|n| {
        if n.kind() != "assignment"
            || !n
                .child_by_field_name("left")
                .is_some_and(|l| l.kind() == "identifier" && text(l, src) == name)
        {
            return false;
        }
        let mut right = n.child_by_field_name("right");
        if let Some(r) = right.filter(|r| r.kind() == "await") {
            right = named_children(r).into_iter().next();
        }
        right.is_some_and(|r| r.kind() == "call" && methods.contains(&method_of(r, src)))
    })
}

/// `[async] with client.messages.stream(..) as stream:`: the final message, read as the
/// block's last statement (the stream is consumed by then; `get_final_message` reads the rest).
fn stream_helper_site(f: &PyFile<'_>, call: Node<'_>) -> Result<Site, Refusal> {
    let what = "# inside the `with` block, after reading the stream:\nresponse = stream.get_final_message()";
    let not_with = || {
        refuse(
            "the stream helper is not opened with `with ... as stream:`",
            "Record `stream.get_final_message()` (Anthropic) / `stream.get_final_response()` (OpenAI) once the stream is read",
            what,
        )
    };
    let as_pattern = call
        .parent()
        .filter(|p| p.kind() == "as_pattern")
        .ok_or_else(not_with)?;
    let alias = as_pattern
        .child_by_field_name("alias")
        .map(|a| named_children(a).into_iter().next().unwrap_or(a))
        .filter(|a| a.kind() == "identifier")
        .ok_or_else(not_with)?;
    let with = ancestors(as_pattern)
        .find(|a| a.kind() == "with_statement")
        .ok_or_else(not_with)?;
    let body = with.child_by_field_name("body").ok_or_else(not_with)?;
    let last = named_children(body)
        .into_iter()
        .last()
        .ok_or_else(not_with)?;
    if matches!(
        last.kind(),
        "return_statement" | "raise_statement" | "break_statement" | "continue_statement"
    ) || last.start_position().row == with.start_position().row
    {
        return Err(refuse(
            "the `with` block ends by leaving it, so there is no place after the stream was read",
            "Record the final message before the block ends",
            what,
        ));
    }
    let callee = text(call.child_by_field_name("function").unwrap_or(call), f.src);
    let final_method = if callee.contains(".threads.") {
        // An Assistants run stream: the finished run carries the usage.
        "get_final_run"
    } else if method_of(call, f.src) == "stream" && callee.contains("messages") {
        "get_final_message"
    } else if text(call.child_by_field_name("function").unwrap_or(call), f.src)
        .contains("responses")
    {
        "get_final_response"
    } else {
        "get_final_completion"
    };
    // `async with` is a `with_statement` carrying an `async` token.
    let awaited = if has_token(with, "async") {
        "await "
    } else {
        ""
    };
    let recorded = format!("{awaited}{}.{final_method}()", text(alias, f.src));
    let already_wired = last.kind() == "expression_statement"
        && text(last, f.src).contains(&format!("{PY_LLM_RESPONSE}("));
    Ok(Site {
        anchor: line_end(f.src, last.end_byte()),
        indent: indent_at(f.src, last.start_byte()).to_owned(),
        recorded: recorded.clone(),
        note: format!("# as the `with` block's last statement: {recorded}"),
        already_wired,
        then: Vec::new(),
        edits: Vec::new(),
        drain: None,
    })
}

/// Flask's global `request` read inside a generator (a streamed response body) that is not
/// wrapped with `stream_with_context`: evaluated after the request ended, it raises.
fn flask_request_outside_context(f: &PyFile<'_>, call: Node<'_>, customer: &CustomerExpr) -> bool {
    let Some(flask_request) = f.imports.local_for("request", Some("flask")) else {
        return false;
    };
    if !customer.expr.contains(&format!("{flask_request}.")) {
        return false;
    }
    let Some(function) = ancestors(call).find(|a| a.kind() == "function_definition") else {
        return false;
    };
    let generator = descendants(function).into_iter().any(|n| {
        n.kind() == "yield"
            && ancestors(n)
                .find(|a| a.kind() == "function_definition")
                .is_some_and(|owner| owner.id() == function.id())
    });
    generator && !f.imports.binds("stream_with_context")
}

/// `client.images.generate(..)`: one `image-generation` event with the number of images the
/// response holds (`response.data`) and the call's `model=`, recorded after
/// `response = ...generate(..)`, or with `return ...generate(..)` assigned to a local first
/// (then recorded, then returned).
pub(crate) fn image(f: &PyFile<'_>, call: Node<'_>) -> SiteOutcome {
    // The model as the call names it, re-read after the call (a literal or a plain name).
    let model = keyword(call, "model", f.src)
        .filter(|m| matches!(m.kind(), "string" | "identifier" | "attribute"))
        .map(|m| format!(", model={}", text(m, f.src)))
        .unwrap_or_default();
    let record =
        |customer: &str, response: &str| format!("{PY_IMAGES}({customer}, {response}.data{model})");
    let expr = call
        .parent()
        .filter(|p| p.kind() == "await")
        .unwrap_or(call);
    let assigned = owning_statement(expr).and_then(|statement| {
        let left = named_children(statement)
            .into_iter()
            .find(|a| a.kind() == "assignment")
            .and_then(|a| a.child_by_field_name("left"))
            .filter(|l| l.kind() == "identifier")?;
        Some((statement, text(left, f.src).to_owned()))
    });
    let place = match assigned {
        Some((statement, name)) => Ok((statement, name, false)),
        None => hoist::statement_of(expr)
            .and_then(|statement| {
                hoist::evaluated_first(statement, expr, None, f.src)?;
                let name =
                    hoist::fresh_name(f, hoist::scope_of(f, call), &["response", "image_response"])
                        .ok_or("no free local name for the response")?;
                Ok((statement, name, true))
            })
            .map_err(|why| format!("the response cannot be assigned to a variable first: {why}")),
    };
    let snippet = |customer: &str| {
        format!(
            "from {} import {PY_IMAGES}\n\n# after `response = ...images.generate(...)`:\n{}",
            f.usage_module,
            record(customer, "response")
        )
    };
    let (statement, name, hoisted) = match place {
        Ok(place) => place,
        Err(reason) => {
            return SiteOutcome::manual(
                reason,
                "Assign the response to a variable and record its images after the call",
                snippet("customer_id"),
            );
        }
    };
    if !hoisted && f.wired_after(statement, &[PY_IMAGES]) {
        return SiteOutcome::AlreadyWired;
    }
    let customer = match f.customer(call) {
        Ok(c) => c,
        Err(reason) => {
            return SiteOutcome::manual(
                reason,
                format!(
                    "Record the images after line {}, with the id of the user who asked for them",
                    f.last_line(statement)
                ),
                snippet("customer_id"),
            );
        }
    };
    let line = record(&customer.expr, &name);
    let mut edits = customer.edits;
    let what = if hoisted {
        edits.extend(hoist::edits(f, statement, expr, &name, Some(&line)));
        format!(
            "assigns the response to `{name}`, records its images, then uses `{name}` where the call was"
        )
    } else {
        edits.push(f.insert_after_statement(statement, &line));
        format!("records the images of `{name}`")
    };
    let mut imports = vec![f.usage_import(PY_IMAGES)];
    imports.extend(customer.imports);
    SiteOutcome::Wired {
        edits,
        imports,
        what,
    }
}
