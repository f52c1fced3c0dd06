//! `openai` v4+ `chat.completions.create({ ..., stream: true })`: the stream reports usage only
//! in its last chunk, and only when the request asks for it with
//! `stream_options: { include_usage: true }`. That last chunk has `choices: []`, so the option
//! is added only where every reader of the stream is known to skip such a chunk:
//!
//! - the AI SDK 2 / 3 `OpenAIStream(stream, ...)` (its chunk reader checks `choices[0]` before
//!   use), also for the stream an `experimental_onFunctionCall` / `experimental_onToolCall`
//!   callback returns to it;
//! - the app's own `for await (const chunk of stream)` loop that reads `chunk.choices[0]?.…`.
//!
//! The call is then wrapped in `meterChatCompletionStream(customer, …)`, which passes every
//! chunk through unchanged and records the usage chunk as it goes by. A request that already
//! sets `include_usage: true` is wrapped whoever reads it (testrial-ai returns it from a
//! service to a Hono stream): its readers already get the usage chunk. Anything else (the stream
//! returned to the browser, `toReadableStream()`, a `choices[0].` read without `?.`, a client
//! with its own `baseURL`, whose server may reject the option) is listed with why.

use tree_sitter::Node;

use super::TsFile;
use super::customer::enclosing_functions;
use super::llm::assigned_result;
use super::scope::binding_at;
use crate::outcome::SiteOutcome;
use crate::syntax::{descendants, line_of, named_children, text};

/// The usage module's stream wrapper (`usage.ts.j2`).
pub(crate) const HELPER: &str = "meterChatCompletionStream";
/// `ai` majors whose `OpenAIStream` skips a chunk without choices.
const OPENAI_STREAM_MAJORS: &[u64] = &[2, 3];
/// Callbacks whose returned stream `OpenAIStream` reads like the first one.
const STREAM_CALLBACKS: &[&str] = &["experimental_onFunctionCall", "experimental_onToolCall"];

/// The wiring of a streamed chat completion, or `Err(reason)` to list it.
pub(crate) fn wire(f: &TsFile<'_>, call: Node<'_>) -> Result<SiteOutcome, String> {
    if call
        .parent()
        .and_then(|args| args.parent())
        .and_then(|outer| outer.child_by_field_name("function"))
        .is_some_and(|callee| text(callee, f.src) == HELPER)
    {
        return Ok(SiteOutcome::AlreadyWired);
    }
    let options = call
        .child_by_field_name("arguments")
        .and_then(|a| named_children(a).into_iter().next())
        .filter(|o| o.kind() == "object")
        .ok_or(
            "its options are not an object literal spaire-billing can add `stream_options` to",
        )?;
    let pair = |key: &str| {
        named_children(options).into_iter().find(|p| {
            p.kind() == "pair"
                && p.child_by_field_name("key")
                    .is_some_and(|k| text(k, f.src).trim_matches(['"', '\'']) == key)
        })
    };
    let stream = pair("stream")
        .filter(|p| {
            p.child_by_field_name("value")
                .is_some_and(|v| text(v, f.src) == "true")
        })
        .ok_or(
            "it streams only depending on a runtime value (`stream` is not the literal `true`)",
        )?;
    let option_needed = match pair("stream_options") {
        None => true,
        Some(own) if compact(text(own, f.src)).contains("include_usage:true") => false,
        Some(_) => {
            return Err(
                "the request sets its own `stream_options` without `include_usage: true`".into(),
            );
        }
    };
    if let Some(client) = custom_base_url(f) {
        return Err(format!(
            "the OpenAI client (line {}) talks to its own `baseURL`, and an OpenAI-compatible server may reject `stream_options`",
            line_of(client)
        ));
    }
    // The app already asks for the usage chunk: its readers get it with or without the
    // pass-through meter, so only a stream spaire-billing changes needs its readers checked.
    if option_needed {
        check_consumers(f, call)?;
    }
    let customer = f.customer(call)?;
    let major = f.ctx.package.integration("openai").and_then(|i| i.major);
    // openai 4's own types gained `stream_options` only in a later 4.x; spread, the extra key
    // is not an excess-property error on any 4.x, and the body is sent as written on all.
    let option = if major.is_some_and(|m| m >= 5) {
        ", stream_options: { include_usage: true }"
    } else {
        ", ...{ stream_options: { include_usage: true } }"
    };
    let mut edits = vec![
        crate::edit::Edit::insert(call.start_byte(), format!("{HELPER}({}, ", customer.expr)),
        crate::edit::Edit::insert(call.end_byte(), ")".to_owned()),
    ];
    let what = if option_needed {
        edits.push(crate::edit::Edit::insert(
            stream.end_byte(),
            option.to_owned(),
        ));
        "asks for the stream's usage (`stream_options.include_usage`) and records its last chunk as the app reads the stream"
    } else {
        "records the usage chunk the request already asks for (`stream_options.include_usage`) as the app reads the stream"
    };
    Ok(f.wired(HELPER, customer, edits, what.to_owned()))
}

fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A `new OpenAI({ baseURL })` / `new OpenAI({ baseURL: … })` in the file.
fn custom_base_url<'t>(f: &TsFile<'t>) -> Option<Node<'t>> {
    descendants(f.program).into_iter().find(|n| {
        n.kind() == "new_expression"
            && n.child_by_field_name("constructor")
                .is_some_and(|c| text(c, f.src).ends_with("OpenAI"))
            && n.child_by_field_name("arguments")
                .is_some_and(|a| text(a, f.src).contains("baseURL"))
    })
}

/// Every reader of the stream tolerates its last, choice-less chunk.
fn check_consumers(f: &TsFile<'_>, call: Node<'_>) -> Result<(), String> {
    let parent = call.parent().ok_or("the call stands alone")?;
    // `return openai.chat.completions.create(..)` (or an arrow's body) in a callback that
    // hands the stream back to `OpenAIStream`.
    let returned = parent.kind() == "return_statement"
        || (parent.kind() == "await_expression"
            && parent
                .parent()
                .is_some_and(|p| p.kind() == "return_statement"))
        || parent.kind() == "arrow_function";
    if returned {
        let function = enclosing_functions(call)
            .into_iter()
            .next()
            .ok_or("the call is not inside a function")?;
        return match stream_callback_of(f, function) {
            Some(outer) => openai_stream_ok(f, outer),
            None => Err("the stream is returned to the caller, which may pass the usage chunk (with `choices: []`) on unchanged".into()),
        };
    }
    let awaited = (parent.kind() == "await_expression")
        .then_some(parent)
        .ok_or("the stream is not assigned with `const stream = await ...`, so its readers are not known")?;
    let (name, statement) = assigned_result(awaited)
        .filter(|(n, _)| n.kind() == "identifier")
        .ok_or("the stream is not assigned to a variable, so its readers are not known")?;
    let var = text(name, f.src);
    let scope = statement.parent().ok_or("no enclosing block")?;
    let uses: Vec<Node<'_>> = descendants(scope)
        .into_iter()
        .filter(|n| n.kind() == "identifier" && text(*n, f.src) == var)
        .filter(|n| n.start_byte() > statement.end_byte())
        .filter(|n| {
            binding_at(var, *n, f.src)
                .is_some_and(|b| binding_at(var, name, f.src).is_some_and(|own| own.id() == b.id()))
        })
        .collect();
    if uses.is_empty() {
        return Err(format!("`{var}` is not read after the call"));
    }
    for used in uses {
        reader_ok(f, used, var)?;
    }
    Ok(())
}

/// One read of the stream variable: `OpenAIStream(stream, ...)` or `for await (… of stream)`.
fn reader_ok(f: &TsFile<'_>, used: Node<'_>, var: &str) -> Result<(), String> {
    let parent = used.parent().ok_or("no parent")?;
    if parent.kind() == "arguments"
        && named_children(parent)
            .first()
            .is_some_and(|a| a.id() == used.id())
        && let Some(outer) = parent.parent().filter(|p| p.kind() == "call_expression")
    {
        return openai_stream_ok(f, outer).map_err(|e| format!("line {}: {e}", line_of(used)));
    }
    if parent.kind() == "for_in_statement"
        && text(parent, f.src).trim_start().starts_with("for await")
        && parent
            .child_by_field_name("right")
            .is_some_and(|r| r.id() == used.id())
    {
        let chunk = parent
            .child_by_field_name("left")
            .filter(|l| l.kind() == "identifier")
            .map(|l| text(l, f.src))
            .ok_or("the loop destructures each chunk, so its reads of `choices` are not known")?;
        let body = parent
            .child_by_field_name("body")
            .ok_or("loop without a body")?;
        return loop_reads_ok(text(body, f.src), chunk)
            .map_err(|e| format!("line {}: {e}", line_of(used)));
    }
    Err(format!(
        "`{var}` is read at line {} other than by `OpenAIStream(..)` or a `for await` loop, which may pass the usage chunk (with `choices: []`) on",
        line_of(used)
    ))
}

/// The loop reads `chunk.choices` only as `chunk.choices[0]?.…` (safe on `choices: []`).
fn loop_reads_ok(body: &str, chunk: &str) -> Result<(), String> {
    let compacted = compact(body);
    let needle = format!("{chunk}.choices");
    let mut rest = compacted.as_str();
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'));
        if boundary && !after.starts_with("[0]?.") && !after.starts_with("?.[0]?.") {
            return Err(format!(
                "the loop reads `{chunk}.choices` without `[0]?.`, which fails on the usage chunk (`choices: []`)"
            ));
        }
        rest = after;
    }
    Ok(())
}

/// The `OpenAIStream(..)` call a stream callback (`experimental_onFunctionCall: async () =>
/// ...`) belongs to.
fn stream_callback_of<'t>(f: &TsFile<'t>, function: Node<'t>) -> Option<Node<'t>> {
    let pair = function.parent().filter(|p| p.kind() == "pair")?;
    let key = pair.child_by_field_name("key")?;
    if !STREAM_CALLBACKS.contains(&text(key, f.src)) {
        return None;
    }
    let object = pair.parent().filter(|o| o.kind() == "object")?;
    object
        .parent()
        .filter(|a| a.kind() == "arguments")?
        .parent()
        .filter(|c| c.kind() == "call_expression")
}

/// `outer` is `OpenAIStream` of the `ai` package at a major whose reader skips empty choices.
fn openai_stream_ok(f: &TsFile<'_>, outer: Node<'_>) -> Result<(), String> {
    let callee = outer.child_by_field_name("function").ok_or("no callee")?;
    match f.imports.resolve(callee, f.src) {
        Some((module, name)) if module == "ai" && name == "OpenAIStream" => {}
        _ => {
            return Err(format!(
                "the stream is passed to `{}`, not known to skip the usage chunk (`choices: []`)",
                text(callee, f.src)
            ));
        }
    }
    let major = f.ctx.package.integration("ai").and_then(|i| i.major);
    match major {
        Some(m) if OPENAI_STREAM_MAJORS.contains(&m) => Ok(()),
        Some(m) => Err(format!(
            "`OpenAIStream` of `ai` {m} is not known to skip the usage chunk (`choices: []`)"
        )),
        None => Err("the installed `ai` version is unknown, so `OpenAIStream`'s handling of the usage chunk is not known".into()),
    }
}
