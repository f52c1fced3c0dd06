//! `openai-edge` (and `openai` v3): `createChatCompletion` / `createEmbedding` return a fetch
//! `Response`; the provider's `usage` is in its JSON body, and only when not streamed (the v1
//! API's stream chunks carry none). Wired when the app itself parses the body in the same block
//! (`const body = await res.json()`): `usage` is recorded right after that statement, exactly
//! as OpenAI reported it. Anything else is listed: reading the body ourselves would consume the
//! app's response, and a stream's tokens cannot be known.

use tree_sitter::Node;

use super::TsFile;
use super::clients::{chat_completion, embedding, streams};
use super::customer::{enclosing_functions, unwrap_expr};
use super::llm::{assigned_result, bind_in_pattern, model_arg};
use crate::helpers::{TS_EMBEDDING, TS_IMAGES, TS_LLM};
use crate::outcome::SiteOutcome;
use crate::syntax::{named_children, text};

pub(crate) fn legacy(f: &TsFile<'_>, call: Node<'_>) -> SiteOutcome {
    let callee = call
        .child_by_field_name("function")
        .map_or("", |c| text(c, f.src));
    let end = f.style.end();
    let import = format!(
        "import {{ {TS_LLM} }} from {}{end}",
        f.style.string(f.usage_module)
    );
    let listed = |reason: String| {
        SiteOutcome::manual(
            reason,
            "Parse the non-streamed response with `const body = await response.json()` and record `body.usage` after it".to_owned(),
            format!(
                "{import}\n\nconst body = await response.json(){end}\n{TS_LLM}(customerId, {{ inputTokens: body.usage?.prompt_tokens, outputTokens: body.usage?.completion_tokens, totalTokens: body.usage?.total_tokens }}){end}"
            ),
        )
    };
    let method = callee.rsplit('.').next().unwrap_or(callee);
    if method == "createImage" {
        // `openai-edge`: a fetch `Response` whose JSON body lists one entry per image.
        return SiteOutcome::manual(
            "`createImage` of `openai-edge` returns a fetch `Response`, and reading its body here would consume the app's response",
            "Where the app parses the body (`const body = await response.json()`), record the number of images in `body.data`",
            format!(
                "import {{ {TS_IMAGES} }} from {}{end}\n\nconst body = await response.json(){end}\n{TS_IMAGES}(customerId, body.data){end}",
                f.style.string(f.usage_module)
            ),
        );
    }
    let is_embedding = method == "createEmbedding";
    if !matches!(
        method,
        "createEmbedding" | "createChatCompletion" | "createCompletion"
    ) {
        return listed(format!(
            "`{method}` of the pre-v4 OpenAI API (`openai-edge` / `openai` v3) is not one whose usage spaire-billing reads"
        ));
    }
    if streams(f, call) {
        return SiteOutcome::manual(
            "a streamed response of the pre-v4 OpenAI API (`openai-edge` / `openai` v3) carries no token usage at all",
            "Move the call to `openai` v4+ with `stream_options: { include_usage: true }` or to the AI SDK's `streamText` (its `onFinish` reports usage); spaire-billing then wires it",
            format!(
                "{import}\n\n// openai v4+: const stream = await openai.chat.completions.create({{ ..., stream: true, stream_options: {{ include_usage: true }} }}){end}\n// for await (const chunk of stream) if (chunk.usage) {TS_LLM}(customerId, {{ inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens, totalTokens: chunk.usage.total_tokens }}){end}"
            ),
        );
    }
    let Some((response, statement)) = call
        .parent()
        .filter(|p| p.kind() == "await_expression")
        .and_then(assigned_result)
        .filter(|(name, _)| name.kind() == "identifier")
    else {
        return listed("its response is not assigned with `const response = await ...`, so there is no parsed body to read `usage` from".to_owned());
    };
    let Some((declarator, body_statement)) = parsed_body(f, statement, text(response, f.src))
    else {
        return listed(format!(
            "the app does not parse `{}` with `await {}.json()` in the same block, and reading the body here would consume the app's response",
            text(response, f.src),
            text(response, f.src)
        ));
    };
    let (helper, to_arg): (&str, fn(&str) -> String) = match (is_embedding, f.ctx.embedding_meter) {
        // `usage.prompt_tokens`: the embedding meter's own event when one is planned.
        (true, true) => (TS_EMBEDDING, |u: &str| u.to_owned()),
        (true, false) => (TS_LLM, embedding),
        (false, _) => (TS_LLM, chat_completion),
    };
    if f.wired_after(body_statement, helper) {
        return SiteOutcome::AlreadyWired;
    }
    let customer = match f.customer(call) {
        Ok(c) => c,
        Err(reason) => return listed(reason),
    };
    let Some(name) = declarator.child_by_field_name("name") else {
        return listed("the parsed body is not assigned to a name".to_owned());
    };
    let scope = enclosing_functions(call)
        .first()
        .copied()
        .unwrap_or(f.program);
    let (usage, mut edits) = match name.kind() {
        "identifier" => (format!("{}.usage", text(name, f.src)), Vec::new()),
        "object_pattern" => match bind_in_pattern(f, name, "usage", scope) {
            Ok(bound) => bound,
            Err(reason) => return listed(reason),
        },
        _ => {
            return listed(
                "the parsed body is destructured in a way spaire-billing does not edit".to_owned(),
            );
        }
    };
    let record = format!(
        "{helper}({}, {}{}){end}",
        customer.expr,
        to_arg(&usage),
        model_arg(f, call)
    );
    edits.push(f.insert_after_statement(body_statement, &record));
    f.wired(
        helper,
        customer,
        edits,
        format!("records `{usage}` of the parsed body"),
    )
}

/// `const <name> = await <response>.json()` (type annotations and casts allowed) among the
/// statements after `statement` in its block: the declarator and its statement.
fn parsed_body<'t>(
    f: &TsFile<'t>,
    statement: Node<'t>,
    response: &str,
) -> Option<(Node<'t>, Node<'t>)> {
    let block = statement.parent()?;
    let wanted = format!("{response}.json");
    named_children(block)
        .into_iter()
        .filter(|s| s.start_byte() > statement.end_byte())
        .filter(|s| s.kind() == "lexical_declaration")
        .find_map(|s| {
            let declarator = named_children(s)
                .into_iter()
                .find(|d| d.kind() == "variable_declarator")?;
            let value = declarator.child_by_field_name("value")?;
            let awaited = awaits(value);
            let value = unwrap_expr(value);
            let parses = value.kind() == "call_expression"
                && value
                    .child_by_field_name("function")
                    .is_some_and(|c| text(c, f.src) == wanted);
            (awaited && parses).then_some((declarator, s))
        })
}

/// Whether an `await` sits among the wrappers (`(await x) as T`, `await x`) around `value`.
fn awaits(mut value: Node<'_>) -> bool {
    loop {
        match value.kind() {
            "await_expression" => return true,
            "parenthesized_expression"
            | "as_expression"
            | "satisfies_expression"
            | "non_null_expression" => match named_children(value).into_iter().next() {
                Some(inner) => value = inner,
                None => return false,
            },
            _ => return false,
        }
    }
}
