//! Vendor SDK calls: `openai` v4+ (`chat.completions.create`, `responses.create`,
//! `embeddings.create`) and `@anthropic-ai/sdk` (`messages.create`). A non-streamed result
//! carries `usage` in the vendor's snake_case names, mapped to the helper's token names right
//! at the call; streams are listed with the exact change (the pre-v4 / `openai-edge` API is
//! `openai_edge.rs`).

use billing_detect::callsites::typescript::{BROWSER_FETCH, REALTIME_FETCH};
use billing_detect::profile::CallSiteKind;
use tree_sitter::Node;

use super::TsFile;
use super::llm::{UsageRead, record_result};
use crate::helpers::{TS_EMBEDDING, TS_IMAGES, TS_LLM};
use crate::outcome::SiteOutcome;
use crate::syntax::{named_children, text};

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

/// `stream: true` among the call's literal options.
pub(crate) fn streams(f: &TsFile<'_>, call: Node<'_>) -> bool {
    let Some(options) = call
        .child_by_field_name("arguments")
        .and_then(|a| named_children(a).into_iter().next())
        .filter(|o| o.kind() == "object")
    else {
        return false;
    };
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
/// returns before the model has run, so its usage is only on the finished run; always listed.
pub(crate) fn assistant_run(f: &TsFile<'_>) -> SiteOutcome {
    let end = f.style.end();
    SiteOutcome::manual(
        "an Assistants run reports its usage on the finished run, not on this call",
        "Once the run's status is `completed` (`runs.retrieve` / `createAndPoll`, or the stream's `thread.run.completed` event), record `run.usage`",
        format!(
            "import {{ {TS_LLM} }} from {}{end}\n\n// once run.status === \"completed\" (stream: event.event === \"thread.run.completed\", run = event.data):\n{TS_LLM}(customerId, {}){end}",
            f.style.string(f.usage_module),
            chat_completion("run.usage")
        ),
    )
}
