//! Vendor SDK calls: `openai` v4+ (`chat.completions.create`, `responses.create`,
//! `embeddings.create`) and `@anthropic-ai/sdk` (`messages.create`). A non-streamed result
//! carries `usage` in the vendor's snake_case names, mapped to the helper's token names right
//! at the call; streams are listed with the exact change (the pre-v4 / `openai-edge` API is
//! `openai_edge.rs`).

use billing_detect::callsites::typescript::{BROWSER_FETCH, REALTIME_FETCH};
use billing_detect::profile::CallSiteKind;
use tree_sitter::Node;

use super::TsFile;
use super::customer::enclosing_functions;
use super::llm::{UsageRead, assigned_result, record_result};
use super::scope::binding_at;
use crate::helpers::{TS_EMBEDDING, TS_IMAGES, TS_LLM};
use crate::outcome::SiteOutcome;
use crate::syntax::{descendants, line_of, named_children, text};

pub(crate) fn chat_completion(usage: &str) -> String {
    format!(
        "{{ inputTokens: {usage}?.prompt_tokens, outputTokens: {usage}?.completion_tokens, totalTokens: {usage}?.total_tokens }}"
    )
}

fn response(usage: &str) -> String {
    format!(
        "{{ inputTokens: {usage}?.input_tokens, outputTokens: {usage}?.output_tokens, totalTokens: {usage}?.total_tokens }}"
    )
}

pub(crate) fn embedding(usage: &str) -> String {
    format!(
        "{{ inputTokens: {usage}?.prompt_tokens, outputTokens: 0, totalTokens: {usage}?.total_tokens }}"
    )
}

fn anthropic(usage: &str) -> String {
    format!("{{ inputTokens: {usage}.input_tokens, outputTokens: {usage}.output_tokens }}")
}

/// `stream: true` among the call's literal options (the first argument, or a later one as in
/// `threads.runs.create(threadId, { stream: true })`).
pub(crate) fn streams(f: &TsFile<'_>, call: Node<'_>) -> bool {
    let Some(args) = call.child_by_field_name("arguments") else {
        return false;
    };
    named_children(args)
        .into_iter()
        .filter(|o| o.kind() == "object")
        .any(|options| streams_in(f, options))
}

fn streams_in(f: &TsFile<'_>, options: Node<'_>) -> bool {
    named_children(options).iter().any(|p| {
        p.kind() == "pair"
            && p.child_by_field_name("key")
                .is_some_and(|k| text(k, f.src) == "stream")
            && p.child_by_field_name("value")
                .is_some_and(|v| text(v, f.src) != "false")
    })
}

pub(crate) fn vendor(f: &TsFile<'_>, call: Node<'_>, kind: CallSiteKind) -> SiteOutcome {
    let callee = call
        .child_by_field_name("function")
        .map_or("", |c| text(c, f.src));
    let end = f.style.end();
    let import = format!(
        "import {{ {TS_LLM} }} from {}{end}",
        f.style.string(f.usage_module)
    );
    let major = |package: &str| f.ctx.package.integration(package).and_then(|i| i.major);
    let read = match kind {
        // openai v3 (axios): the response's `data` is the API's body, whose `data` holds one
        // entry per generated image.
        CallSiteKind::OpenaiImage if callee.ends_with(".createImage") => {
            UsageRead::as_is("data.data", TS_IMAGES)
        }
        _ if major("openai").is_some_and(|m| m < 4) && kind != CallSiteKind::AnthropicMessage => {
            return SiteOutcome::Manual {
                reason: "the installed `openai` is older than v4, which has no `chat.completions.create`".to_owned(),
                todo: "Check the installed version, then record the response's `usage` after the call".to_owned(),
                snippet: None,
            };
        }
        CallSiteKind::OpenaiChatCompletion if streams(f, call) => {
            let reason = match super::openai_stream::wire(f, call) {
                Ok(wired) => return wired,
                Err(reason) => reason,
            };
            return SiteOutcome::manual(
                format!(
                    "a streamed chat completion reports usage only in its last chunk, and only with `stream_options: {{ include_usage: true }}`; spaire-billing did not add it: {reason}"
                ),
                format!(
                    "Add `stream_options: {{ include_usage: true }}` to the options of `{callee}` and record the usage of the chunk that carries it where you read the stream"
                ),
                format!(
                    "{import}\n\n// in the options: stream_options: {{ include_usage: true }},\nfor await (const chunk of stream) {{\n  if (chunk.usage) {TS_LLM}(customerId, {{ inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens, totalTokens: chunk.usage.total_tokens }}){end}\n  // ...\n}}"
                ),
            );
        }
        CallSiteKind::OpenaiResponse if streams(f, call) => {
            return SiteOutcome::manual(
                "a streamed response reports usage only in its `response.completed` event",
                "Record `event.response.usage` when the stream emits `response.completed`",
                format!(
                    "{import}\n\nfor await (const event of stream) {{\n  if (event.type === \"response.completed\") {TS_LLM}(customerId, {{ inputTokens: event.response.usage?.input_tokens, outputTokens: event.response.usage?.output_tokens, totalTokens: event.response.usage?.total_tokens }}){end}\n}}"
                ),
            );
        }
        CallSiteKind::AnthropicMessage if streams(f, call) || callee.ends_with(".stream") => {
            return SiteOutcome::manual(
                "a streamed Anthropic message reports its usage in the final message",
                "Record the final message's usage when the stream ends",
                format!(
                    "{import}\n\nconst message = await stream.finalMessage(){end}\n{TS_LLM}(customerId, {{ inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens }}){end}"
                ),
            );
        }
        CallSiteKind::OpenaiImage if streams(f, call) => {
            return SiteOutcome::manual(
                "a streamed image generation returns its images as events",
                "Record the number of images when the stream emits each `image_generation.completed` event",
                format!(
                    "import {{ {TS_IMAGES} }} from {}{end}\n\nfor await (const event of stream) {{\n  if (event.type === \"image_generation.completed\") {TS_IMAGES}(customerId, 1){end}\n}}",
                    f.style.string(f.usage_module)
                ),
            );
        }
        CallSiteKind::OpenaiChatCompletion => UsageRead::llm("usage", chat_completion),
        CallSiteKind::OpenaiResponse => UsageRead::llm("usage", response),
        // `usage.prompt_tokens`: the embedding meter's own event when one is planned.
        CallSiteKind::OpenaiEmbedding if f.ctx.embedding_meter => {
            UsageRead::as_is("usage", TS_EMBEDDING)
        }
        CallSiteKind::OpenaiEmbedding => UsageRead::llm("usage", embedding),
        // `data` holds one entry per generated image.
        CallSiteKind::OpenaiImage => UsageRead::as_is("data", TS_IMAGES),
        _ => UsageRead::llm("usage", anthropic),
    };
    record_result(f, call, &read)
}

/// A `fetch` straight to a model API: the response body is the app's (often a stream passed
/// on to the browser), so reading it here could break the response. Always listed.
/// A raw `fetch` to a model API. Nothing is edited: the app reads (or re-streams) the body
/// itself, so usage can be read exactly only where it does. What to do depends on where the
/// call runs and what it opens: browser code never holds the access token, and a Realtime
/// session's response carries a client secret, not usage.
pub(crate) fn raw_fetch(f: &TsFile<'_>, call: Node<'_>) -> SiteOutcome {
    let end = f.style.end();
    let url = billing_detect::callsites::typescript::fetch_url(call, f.src).unwrap_or_default();
    let realtime = url.contains("/v1/realtime");
    let browser = billing_detect::callsites::typescript::runs_in_browser(f.ctx.file, f.src);
    let import = format!(
        "import {{ {TS_LLM} }} from {}{end}",
        f.style.string(f.usage_module)
    );
    // Realtime, Responses and Anthropic usage say `input_tokens`; chat completions `prompt_tokens`.
    let usage = |var: &str| {
        if realtime || url.contains("/v1/responses") || url.contains("/v1/messages") {
            response(var)
        } else {
            chat_completion(var)
        }
    };
    if browser {
        let (reason, todo, snippet) = if realtime {
            (
                format!("{BROWSER_FETCH}; this WebRTC offer {REALTIME_FETCH}"),
                "Send each `response.done` event's `response.usage` from the data channel to a \
                 route of your server and record it there (usage reported by a browser can be \
                 altered by its user: to bill exactly, run the session over a WebSocket from \
                 your server and record the events there)",
                format!(
                    "// in the browser, where the data channel's events arrive:\n\
                     dc.addEventListener(\"message\", (e) => {{\n  \
                     const event = JSON.parse(e.data){end}\n  \
                     if (event.type === \"response.done\") fetch(\"/api/usage\", {{ method: \"POST\", \
                     headers: {{ \"Content-Type\": \"application/json\" }}, body: JSON.stringify(event.response.usage) }}){end}\n}}){end}\n\n\
                     // on your server, in that route (`usage` is the posted body; {TS_LLM} \
                     comes from the generated usage module):\n{TS_LLM}(customerId, {}){end}",
                    usage("usage")
                ),
            )
        } else {
            (
                BROWSER_FETCH.to_owned(),
                "Make this call from a route of your server (the model API key and the Spaire \
                 access token must not reach the browser) and record the response's `usage` \
                 there",
                format!(
                    "// on your server, in the route that now calls the model API ({TS_LLM} \
                     comes from the generated usage module):\n\
                     const body = await response.json(){end}\n{TS_LLM}(customerId, {}){end}",
                    usage("body.usage")
                ),
            )
        };
        return SiteOutcome::manual(reason, todo, snippet);
    }
    if realtime {
        return SiteOutcome::manual(
            format!(
                "this `fetch` {REALTIME_FETCH} (the response holds the session's client secret)"
            ),
            "Record each `response.done` event's `response.usage` on your server: a session \
             your server runs over a WebSocket reads them itself; a browser's WebRTC session \
             must send them to a route of your server",
            format!(
                "{import}\n\n// for each `response.done` event of the session:\n\
                 {TS_LLM}(customerId, {}){end}",
                usage("event.response.usage")
            ),
        );
    }
    if let Some(step) = raw_stream_step(f, call) {
        return step;
    }
    SiteOutcome::manual(
        "this `fetch` calls the model API directly; spaire-billing does not read or re-stream its body",
        "Record the `usage` of the response where the app reads it: a non-streamed JSON body has it; a streamed chat completion has it in the last chunk only with `stream_options: { include_usage: true }` in the request body",
        format!(
            "{import}\n\nconst body = await response.json(){end}\n{TS_LLM}(customerId, {}){end}",
            usage("body.usage")
        ),
    )
}

/// An Assistants run (`beta.threads.runs.create` / `createAndPoll` / `stream`): the call
/// returns before the model has run, so its usage is only on the finished run. Wired where the
/// finished run is in reach:
///
/// - a polled run (`const run = await ….createAndPoll(..)`): `run.usage` after it;
/// - a streamed run (`stream: true`, `runs.stream`, `createAndStream`) assigned to a variable
///   whose only reader is one `for await (const event of stream)` loop without a `break`:
///   the `thread.run.completed` event's `data.usage`, first thing in the loop (nuxt-assistant).
///
/// Anything else (a queued run, the stream returned or handed on) is listed.
pub(crate) fn assistant_run(f: &TsFile<'_>, call: Node<'_>) -> SiteOutcome {
    let end = f.style.end();
    match wire_assistant_run(f, call) {
        Ok(outcome) => outcome,
        Err(reason) => SiteOutcome::manual(
            format!(
                "an Assistants run reports its usage on the finished run, not on this call; spaire-billing did not record it: {reason}"
            ),
            "Once the run's status is `completed` (`runs.retrieve` / `createAndPoll`, or the stream's `thread.run.completed` event), record `run.usage`",
            format!(
                "import {{ {TS_LLM} }} from {}{end}\n\n// once run.status === \"completed\" (stream: event.event === \"thread.run.completed\", run = event.data):\n{TS_LLM}(customerId, {}){end}",
                f.style.string(f.usage_module),
                chat_completion("run.usage")
            ),
        ),
    }
}

fn wire_assistant_run(f: &TsFile<'_>, call: Node<'_>) -> Result<SiteOutcome, String> {
    let end = f.style.end();
    let callee = call
        .child_by_field_name("function")
        .map_or("", |c| text(c, f.src));
    let method = callee.rsplit('.').next().unwrap_or(callee);
    let polled = matches!(method, "createAndPoll" | "createAndRunPoll");
    let streamed =
        matches!(method, "stream" | "createAndStream" | "createAndRunStream") || streams(f, call);
    if !polled && !streamed {
        return Err("the call returns the queued run (no `stream: true`, not `createAndPoll`), which has no usage yet".into());
    }
    let parent = call.parent().ok_or("the call stands alone")?;
    let assigned = match parent.kind() {
        "await_expression" => assigned_result(parent),
        // `const stream = openai.beta.threads.runs.stream(..)` (an `AssistantStream`).
        "variable_declarator" if streamed => parent.child_by_field_name("name").zip(
            parent
                .parent()
                .filter(|s| matches!(s.kind(), "lexical_declaration" | "variable_declaration")),
        ),
        _ => None,
    };
    let (name, statement) = assigned
        .filter(|(n, _)| n.kind() == "identifier")
        .ok_or("the run is not assigned to a variable, so where it finishes is not known")?;
    let var = text(name, f.src);
    if polled {
        // Ours is an `if (run.usage) …` statement, not a bare call.
        if crate::syntax::next_statement(statement)
            .is_some_and(|next| text(next, f.src).contains(&format!("{TS_LLM}(")))
        {
            return Ok(SiteOutcome::AlreadyWired);
        }
        let customer = f.customer(call)?;
        let record = format!(
            "if ({var}.usage) {TS_LLM}({}, {}){end}",
            customer.expr,
            chat_completion(&format!("{var}.usage"))
        );
        let edits = vec![f.insert_after_statement(statement, &record)];
        return Ok(f.wired(
            TS_LLM,
            customer,
            edits,
            format!("records the polled run's `{var}.usage` after it"),
        ));
    }
    let scope = statement.parent().ok_or("no enclosing block")?;
    let own = binding_at(var, name, f.src).map(|b| b.id());
    let uses: Vec<Node<'_>> = descendants(scope)
        .into_iter()
        .filter(|n| n.kind() == "identifier" && text(*n, f.src) == var)
        .filter(|n| n.start_byte() > statement.end_byte())
        .filter(|n| binding_at(var, *n, f.src).map(|b| b.id()) == own)
        .collect();
    let [used] = uses.as_slice() else {
        return Err(format!(
            "`{var}` is read {} times after the call, not by one `for await` loop",
            uses.len()
        ));
    };
    let lp = used
        .parent()
        .filter(|p| {
            p.kind() == "for_in_statement"
                && text(*p, f.src).trim_start().starts_with("for await")
                && p.child_by_field_name("right")
                    .is_some_and(|r| r.id() == used.id())
        })
        .ok_or_else(|| {
            format!(
                "`{var}` is read at line {} other than by a `for await` loop over its events",
                line_of(*used)
            )
        })?;
    let event = lp
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")
        .map(|l| text(l, f.src))
        .ok_or("the loop destructures each event")?;
    let body = lp
        .child_by_field_name("body")
        .filter(|b| b.kind() == "statement_block")
        .ok_or("the loop has no block body")?;
    if text(body, f.src).contains(&format!("{TS_LLM}(")) {
        return Ok(SiteOutcome::AlreadyWired);
    }
    if let Some(stop) = breaks_out_of(body, lp) {
        return Err(format!(
            "the loop can stop at line {} before the run completes",
            line_of(stop)
        ));
    }
    let customer = f.customer(call)?;
    let mut edits = Vec::new();
    // The loop's variable may shadow what the customer is read from (nuxt-assistant:
    // `for await (const event of ..)` inside the H3 handler's `event`): bind it first.
    let who = if mentions(&customer.expr, event) {
        let local = "billedCustomerId";
        let function = enclosing_functions(call)
            .into_iter()
            .next()
            .unwrap_or(f.program);
        if descendants(function)
            .iter()
            .any(|n| n.kind() == "identifier" && text(*n, f.src) == local)
        {
            return Err(format!(
                "`{local}` is already used in the enclosing function"
            ));
        }
        let indent = crate::text::indent_at(f.src, statement.start_byte());
        edits.push(crate::edit::Edit::insert(
            statement.start_byte(),
            format!("const {local} = {}{end}{}{indent}", customer.expr, f.nl),
        ));
        local.to_owned()
    } else {
        customer.expr.clone()
    };
    let indent = named_children(body).first().map_or_else(
        || {
            format!(
                "{}{}",
                crate::text::indent_at(f.src, lp.start_byte()),
                f.unit
            )
        },
        |first| crate::text::indent_at(f.src, first.start_byte()).to_owned(),
    );
    edits.push(crate::edit::Edit::insert(
        body.start_byte() + 1,
        format!(
            "{}{indent}if ({event}.event === {}) {TS_LLM}({who}, {}){end}",
            f.nl,
            f.style.string("thread.run.completed"),
            chat_completion(&format!("{event}.data.usage"))
        ),
    ));
    Ok(f.wired(
        TS_LLM,
        customer,
        edits,
        format!(
            "records the run's usage from its `thread.run.completed` event in the loop over `{var}`"
        ),
    ))
}

/// A `break` (or `return`) in `body` that leaves `lp`, the loop over the run's events.
fn breaks_out_of<'t>(body: Node<'t>, lp: Node<'t>) -> Option<Node<'t>> {
    descendants(body).into_iter().find(|n| match n.kind() {
        "return_statement" => crate::syntax::ancestors(*n)
            .find(|a| super::customer::is_function(*a) || a.id() == lp.id())
            .is_some_and(|a| a.id() == lp.id()),
        "break_statement" => crate::syntax::ancestors(*n)
            .find(|a| {
                matches!(
                    a.kind(),
                    "for_statement"
                        | "for_in_statement"
                        | "while_statement"
                        | "do_statement"
                        | "switch_statement"
                ) || super::customer::is_function(*a)
            })
            .is_some_and(|a| a.id() == lp.id()),
        _ => false,
    })
}

/// `name` occurs in `expr` as a whole identifier.
fn mentions(expr: &str, name: &str) -> bool {
    expr.match_indices(name).any(|(at, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        let before = expr[..at].chars().next_back();
        let after = expr[at + name.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident)
    })
}

/// Where a raw `fetch` asks for a stream, and who reads it: the `file:line` of the request's
/// `stream: true` (in this file or in the app's own module that builds the options) and of
/// the reader the response goes to.
struct RawStream {
    stream_at: String,
    reader: Option<RawReader>,
}

struct RawReader {
    name: String,
    /// `file:line` of the reader's function.
    at: String,
    /// `file:line` and text of a `choices[0].` read without `?.`, which throws on the usage
    /// chunk (`choices: []`).
    unsafe_read: Option<(String, String)>,
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// `stream: true` in `text` from `from` on (within one declaration): its line.
fn stream_true_line(text: &str, from: usize, within: usize) -> Option<usize> {
    let end = (from + within).min(text.len());
    let window = text.get(from..end)?;
    [
        "stream: true",
        "\"stream\": true",
        "stream:true",
        "'stream': true",
    ]
    .iter()
    .filter_map(|needle| window.find(needle))
    .min()
    .map(|at| line_at(text, from + at))
}

/// Where `name` is declared in `text` (`const name =`, `function name`, `export const name =`).
fn declaration_offset(text: &str, name: &str) -> Option<usize> {
    [
        format!("const {name} ="),
        format!("function {name}("),
        format!("let {name} ="),
    ]
    .iter()
    .filter_map(|needle| text.find(needle.as_str()))
    .min()
}

/// The app's own function `callee` (imported from one of its modules, or declared in this
/// file): its file (root-relative) and text, and where it is declared.
fn own_function<'s>(f: &TsFile<'s>, callee: &str) -> Option<(String, &'s str, usize)> {
    if let Some(binding) = f.imports.bindings.iter().find(|b| b.local == callee) {
        let (path, text) = super::request_scope::imported_source(
            f.ctx.root,
            f.ctx.package,
            f.ctx.package_sources,
            f.ctx.file,
            &binding.module,
        )?;
        let name = binding.imported.as_deref().unwrap_or(callee);
        let at = declaration_offset(text, name)?;
        return Some((path, text, at));
    }
    let at = declaration_offset(f.src, callee)?;
    Some((f.ctx.file.to_owned(), f.src, at))
}

fn raw_stream(f: &TsFile<'_>, call: Node<'_>) -> Option<RawStream> {
    let args = named_children(call.child_by_field_name("arguments")?);
    let options = *args.get(1)?;
    let stream_at = match options.kind() {
        "object" => {
            let line = stream_true_line(
                f.src,
                options.start_byte(),
                options.end_byte() - options.start_byte(),
            )?;
            format!("{}:{line}", f.ctx.file)
        }
        "identifier" => {
            let name = text(options, f.src);
            let decl = descendants(f.program).into_iter().find(|d| {
                d.kind() == "variable_declarator"
                    && d.start_byte() < call.start_byte()
                    && d.child_by_field_name("name")
                        .is_some_and(|n| text(n, f.src) == name)
            })?;
            let value = super::customer::unwrap_expr(decl.child_by_field_name("value")?);
            match value.kind() {
                "object" => {
                    let line = stream_true_line(
                        f.src,
                        value.start_byte(),
                        value.end_byte() - value.start_byte(),
                    )?;
                    format!("{}:{line}", f.ctx.file)
                }
                "call_expression" => {
                    let callee = text(value.child_by_field_name("function")?, f.src);
                    let (path, source, at) = own_function(f, callee)?;
                    let line = stream_true_line(source, at, 2000)?;
                    format!("{path}:{line}")
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    // The response: `const response = await fetch(..)` (also through `.catch(..)` / `as`).
    let declarator = crate::syntax::ancestors(call)
        .take_while(|a| !a.kind().ends_with("statement") && !super::customer::is_function(*a))
        .find(|a| a.kind() == "variable_declarator")?;
    let name = declarator
        .child_by_field_name("name")
        .filter(|n| n.kind() == "identifier")?;
    let var = text(name, f.src);
    let function = enclosing_functions(call).into_iter().next()?;
    let reader = descendants(function)
        .into_iter()
        .filter(|n| n.kind() == "identifier" && text(*n, f.src) == var)
        .filter(|n| n.start_byte() > declarator.end_byte())
        .find_map(|used| {
            let outer = used
                .parent()
                .filter(|a| a.kind() == "arguments")?
                .parent()
                .filter(|c| c.kind() == "call_expression")?;
            let callee = text(outer.child_by_field_name("function")?, f.src);
            let (path, source, at) = own_function(f, callee)?;
            let end = (at + 4000).min(source.len());
            let body = source.get(at..end)?;
            let unsafe_read = body.match_indices("choices[0].").find_map(|(i, _)| {
                let line_no = line_at(source, at + i);
                let line = source.lines().nth(line_no - 1)?.trim();
                Some((format!("{path}:{line_no}"), line.to_owned()))
            });
            Some(RawReader {
                name: callee.to_owned(),
                at: format!("{path}:{}", line_at(source, at)),
                unsafe_read,
            })
        });
    Some(RawStream { stream_at, reader })
}

/// The exact step for a raw `fetch` that streams a chat completion, or `None` to keep the
/// general one.
fn raw_stream_step(f: &TsFile<'_>, call: Node<'_>) -> Option<SiteOutcome> {
    let url = billing_detect::callsites::typescript::fetch_url(call, f.src).unwrap_or_default();
    if !url.contains("/chat/completions") {
        return None;
    }
    let found = raw_stream(f, call)?;
    let end = f.style.end();
    let line = line_of(call);
    let (reason, todo) = match &found.reader {
        Some(reader) => {
            let fix = match &reader.unsafe_read {
                Some((at, read)) => format!(
                    "first make {at} (`{read}`) read `choices[0]?.`: it throws on the usage chunk (`choices: []`) and would end the stream with an error; then "
                ),
                None => String::new(),
            };
            (
                format!(
                    "this `fetch` streams a chat completion (`stream: true` at {}) that `{}` ({}) re-streams as it arrives; the stream reports usage only in a last chunk the request does not ask for, and spaire-billing does not edit the app's own stream parser",
                    found.stream_at, reader.name, reader.at
                ),
                format!(
                    "To bill it exactly, {fix}add `stream_options: {{ include_usage: true }}` next to `stream: true` at {}, and in `{}` record the `usage` of the chunk that carries it (`prompt_tokens`, `completion_tokens`), passing it the customer id from the request at {}:{line}",
                    found.stream_at, reader.name, f.ctx.file
                ),
            )
        }
        None => (
            format!(
                "this `fetch` streams a chat completion (`stream: true` at {}); the stream reports usage only in a last chunk the request does not ask for, and spaire-billing does not read the app's stream",
                found.stream_at
            ),
            format!(
                "Add `stream_options: {{ include_usage: true }}` next to `stream: true` at {} only if every reader of the stream skips a chunk with `choices: []`, and record that chunk's `usage` where the stream is parsed",
                found.stream_at
            ),
        ),
    };
    Some(SiteOutcome::manual(
        reason,
        todo,
        format!(
            "import {{ {TS_LLM} }} from {}{end}\n\n// where each parsed chunk `json` arrives:\nif (json.usage) {TS_LLM}(customerId, {}){end}",
            f.style.string(f.usage_module),
            chat_completion("json.usage")
        ),
    ))
}
