//! AI SDK `generateText` / `generateObject` (record the result's usage after the call) and
//! `streamText` / `streamObject` (record it in `onFinish`).

use billing_detect::profile::CallSiteKind;
use tree_sitter::Node;

use super::TsFile;
use super::customer::{enclosing_functions, is_async, is_function, parameters};
use crate::customer::CustomerExpr;
use crate::edit::Edit;
use crate::helpers::{TS_EMBEDDING, TS_IMAGES, TS_LLM};
use crate::outcome::SiteOutcome;
use crate::syntax::{children, descendants, line_of, named_children, text};
use crate::text::indent_at;

const AI_FUNCTIONS: &[&str] = &[
    "generateText",
    "generateObject",
    "streamText",
    "streamObject",
    "embed",
    "embedMany",
    "generateImage",
    "experimental_generateImage",
];

/// Which usage property holds the whole call's tokens: `totalUsage` sums every step of a
/// multi-step (tool-calling) `generateText`/`streamText` in AI SDK 5 and later; AI SDK 3 and 4
/// have no `totalUsage` (their `usage` already covers every step), and object generation has
/// one step. An unknown `ai` version is taken as current.
fn usage_field(f: &TsFile<'_>, kind: CallSiteKind) -> &'static str {
    let major = f.ctx.package.integration("ai").and_then(|i| i.major);
    match kind {
        CallSiteKind::GenerateText | CallSiteKind::StreamText if major.is_none_or(|m| m >= 5) => {
            "totalUsage"
        }
        _ => "usage",
    }
}

fn callee_text<'s>(f: &TsFile<'s>, call: Node<'_>) -> &'s str {
    call.child_by_field_name("function")
        .map_or("", |c| text(c, f.src))
}

/// The callee is `generateText` & co. imported from the `ai` package (possibly aliased or
/// through a namespace import / `require`).
fn from_ai(f: &TsFile<'_>, call: Node<'_>) -> bool {
    call.child_by_field_name("function")
        .and_then(|c| f.imports.resolve(c, f.src))
        .is_some_and(|(module, name)| {
            module == "ai" && AI_FUNCTIONS.contains(&name.as_str())
                || module == "ai/rsc" && name == "streamUI"
        })
}

fn options_object<'t>(call: Node<'t>) -> Option<Node<'t>> {
    let args = call.child_by_field_name("arguments")?;
    named_children(args)
        .into_iter()
        .next()
        .filter(|a| a.kind() == "object")
}

/// `, "gpt-4o"` when the model id is a string literal right in the options (`model:
/// openai("gpt-4o")` or `model: "openai/gpt-4o"`); evaluating anything else twice could
/// have side effects or the wrong type.
pub(crate) fn model_arg(f: &TsFile<'_>, call: Node<'_>) -> String {
    let Some(options) = options_object(call) else {
        return String::new();
    };
    let value = named_children(options).into_iter().find_map(|p| {
        (p.kind() == "pair"
            && p.child_by_field_name("key")
                .is_some_and(|k| text(k, f.src) == "model"))
        .then(|| p.child_by_field_name("value"))
        .flatten()
    });
    let literal = value.and_then(|v| match v.kind() {
        "string" => Some(v),
        "call_expression" => v
            .child_by_field_name("arguments")
            .and_then(|a| named_children(a).into_iter().next())
            .filter(|a| a.kind() == "string"),
        _ => None,
    });
    literal.map_or(String::new(), |l| format!(", {}", text(l, f.src)))
}

fn not_from_ai(f: &TsFile<'_>, call: Node<'_>) -> SiteOutcome {
    SiteOutcome::Manual {
        reason: format!(
            "`{}` is not imported from the `ai` package",
            callee_text(f, call)
        ),
        todo: "If it wraps the AI SDK, record the usage where the AI SDK call is made".to_owned(),
        snippet: None,
    }
}

/// How a call's result carries its usage: the property, the generated helper that records
/// it, and the argument passed to it given an expression for that property (the AI SDK's own
/// usage object as is; a vendor SDK's snake_case counts mapped to the helper's names).
pub(crate) struct UsageRead {
    pub field: &'static str,
    pub helper: &'static str,
    pub to_arg: fn(&str) -> String,
}

impl UsageRead {
    /// `usage` recorded by `recordLlmUsage`.
    pub fn llm(field: &'static str, to_arg: fn(&str) -> String) -> Self {
        UsageRead {
            field,
            helper: TS_LLM,
            to_arg,
        }
    }

    /// `<field>` passed as is to `helper` (embedding usage, image lists).
    pub fn as_is(field: &'static str, helper: &'static str) -> Self {
        UsageRead {
            field,
            helper,
            to_arg: as_is,
        }
    }
}

fn as_is(usage: &str) -> String {
    usage.to_owned()
}

fn embedding_tokens(usage: &str) -> String {
    format!("{{ inputTokens: {usage}.tokens, outputTokens: 0, totalTokens: {usage}.tokens }}")
}

pub(crate) fn generate(f: &TsFile<'_>, call: Node<'_>, kind: CallSiteKind) -> SiteOutcome {
    if !from_ai(f, call) {
        return not_from_ai(f, call);
    }
    let read = match kind {
        // `usage.tokens`: the embedding meter's own event when one is planned.
        CallSiteKind::Embed if f.ctx.embedding_meter => UsageRead::as_is("usage", TS_EMBEDDING),
        CallSiteKind::Embed => UsageRead::llm("usage", embedding_tokens),
        CallSiteKind::GenerateImage => UsageRead::as_is("images", TS_IMAGES),
        _ => UsageRead::llm(usage_field(f, kind), as_is),
    };
    record_result(f, call, &read)
}

/// `const r = await <call>(..)`: records `r.<field>` right after the statement.
pub(crate) fn record_result(f: &TsFile<'_>, call: Node<'_>, read: &UsageRead) -> SiteOutcome {
    let (field, helper) = (read.field, read.helper);
    let callee = callee_text(f, call);
    let end = f.style.end();
    let snippet = |customer: &str, usage: &str| {
        format!(
            "import {{ {helper} }} from {}{end}\n\nconst result = await {callee}({{ ... }}){end}\n{helper}({customer}, {}{}){end}",
            f.style.string(f.usage_module),
            (read.to_arg)(usage),
            model_arg(f, call)
        )
    };
    let shape = call
        .parent()
        .filter(|p| p.kind() == "await_expression")
        .and_then(|awaited| assigned_result(awaited));
    let Some((name, statement)) = shape else {
        let customer = f
            .customer(call)
            .map_or_else(|_| "customerId".to_owned(), |c| c.expr);
        return SiteOutcome::manual(
            "its result is not assigned with `const x = await ...`, so there is no place to read `usage` from",
            format!("Assign the result and record `{field}` right after the call"),
            snippet(&customer, &format!("result.{field}")),
        );
    };
    if f.wired_after(statement, helper) {
        return SiteOutcome::AlreadyWired;
    }
    let customer = match f.customer(call) {
        Ok(c) => c,
        Err(reason) => {
            return SiteOutcome::manual(
                reason,
                format!(
                    "Add the usage call after line {}, passing the id of the user who made the request",
                    line_of(statement)
                        + u32::try_from(text(statement, f.src).matches('\n').count()).unwrap_or(0)
                ),
                snippet("customerId", &format!("result.{field}")),
            );
        }
    };
    let scope = enclosing_functions(call)
        .first()
        .copied()
        .unwrap_or(f.program);
    let (usage, mut edits) = match name.kind() {
        "identifier" => (format!("{}.{field}", text(name, f.src)), Vec::new()),
        "object_pattern" if !field.contains('.') => match bind_in_pattern(f, name, field, scope) {
            Ok(bound) => bound,
            Err(reason) => {
                return SiteOutcome::manual(
                    reason,
                    "Add it to the destructuring and record it",
                    snippet(&customer.expr, field),
                );
            }
        },
        _ => {
            return SiteOutcome::manual(
                "the result is destructured in a way spaire-billing does not edit",
                format!("Read `{field}` from the result and record it"),
                snippet(&customer.expr, &format!("result.{field}")),
            );
        }
    };
    let record = format!(
        "{helper}({}, {}{}){end}",
        customer.expr,
        (read.to_arg)(&usage),
        model_arg(f, call)
    );
    edits.push(f.insert_after_statement(statement, &record));
    f.wired(
        helper,
        customer,
        edits,
        format!("records `{usage}` after the call"),
    )
}

/// Where the awaited result lands: `const <name> = await ..` or `<name> = await ..` as a
/// statement of its own in a block. Returns the binding (identifier or pattern) and the
/// statement after which the result is available.
pub(crate) fn assigned_result(awaited: Node<'_>) -> Option<(Node<'_>, Node<'_>)> {
    let in_block = |s: &Node<'_>| {
        s.parent().is_some_and(|b| {
            matches!(
                b.kind(),
                "statement_block" | "program" | "switch_case" | "switch_default"
            )
        })
    };
    let parent = awaited.parent()?;
    match parent.kind() {
        "variable_declarator" => {
            let statement = parent.parent().filter(|s| {
                matches!(s.kind(), "lexical_declaration" | "variable_declaration") && in_block(s)
            })?;
            Some((parent.child_by_field_name("name")?, statement))
        }
        "assignment_expression" => {
            let left = parent
                .child_by_field_name("left")
                .filter(|l| l.kind() == "identifier")?;
            let statement = parent
                .parent()
                .filter(|s| s.kind() == "expression_statement" && in_block(s))?;
            Some((left, statement))
        }
        _ => None,
    }
}

/// Makes `key` available from an object pattern: the existing binding, or a new property
/// (renamed when the name is taken in `scope`). Returns the local name and the edits.
pub(crate) fn bind_in_pattern(
    f: &TsFile<'_>,
    pattern: Node<'_>,
    key: &str,
    scope: Node<'_>,
) -> Result<(String, Vec<Edit>), String> {
    let props = named_children(pattern);
    for prop in &props {
        match prop.kind() {
            "shorthand_property_identifier_pattern" if text(*prop, f.src) == key => {
                return Ok((key.to_owned(), Vec::new()));
            }
            "object_assignment_pattern" => {
                if let Some(left) = prop.child_by_field_name("left")
                    && text(left, f.src) == key
                {
                    return Ok((key.to_owned(), Vec::new()));
                }
            }
            "pair_pattern" => {
                let k = prop.child_by_field_name("key").map(|k| text(k, f.src));
                let v = prop.child_by_field_name("value");
                if k == Some(key) {
                    return match v {
                        Some(v) if v.kind() == "identifier" => {
                            Ok((text(v, f.src).to_owned(), Vec::new()))
                        }
                        _ => Err(format!("`{key}` is destructured further in the pattern")),
                    };
                }
            }
            _ => {}
        }
    }
    let taken = |name: &str| {
        descendants(scope).iter().any(|n| {
            matches!(
                n.kind(),
                "identifier"
                    | "shorthand_property_identifier_pattern"
                    | "shorthand_property_identifier"
            ) && text(*n, f.src) == name
        }) || f.bound_elsewhere(scope, name, pattern)
    };
    let alternative = format!("billed{}{}", key[..1].to_ascii_uppercase(), &key[1..]);
    // Several sites in one function each destructure their own `usage`: `billedUsage`,
    // `billedUsage2`, ... so no two of them declare the same name.
    let Some(local) = std::iter::once(key.to_owned())
        .chain(std::iter::once(alternative.clone()))
        .chain((2..=9).map(|n| format!("{alternative}{n}")))
        .find(|name| !taken(name))
    else {
        return Err(format!(
            "`{key}`, `{alternative}` and `{alternative}2` to `{alternative}9` are all already used in this function"
        ));
    };
    f.bind(scope, &local, pattern);
    let property = if local == key {
        key.to_owned()
    } else {
        format!("{key}: {local}")
    };
    let edit = if let Some(rest) = props.iter().find(|p| p.kind() == "rest_pattern") {
        Edit::insert(rest.start_byte(), format!("{property}, "))
    } else if let Some(last) = props.last() {
        Edit::insert(last.end_byte(), format!(", {property}"))
    } else {
        let brace = children(pattern).into_iter().find(|c| c.kind() == "{");
        let at = brace.map_or(pattern.start_byte() + 1, |b| b.end_byte());
        Edit::insert(at, format!(" {property} "))
    };
    Ok((local, vec![edit]))
}

/// `try { <record> } catch { ... }` on several lines, each prefixed with `indent` except the
/// first (which goes where the caller puts it).
fn guarded_block(f: &TsFile<'_>, record: &str, indent: &str) -> String {
    let (nl, u) = (f.nl, &f.unit);
    format!(
        "try {{{nl}{indent}{u}{record}{nl}{indent}}} catch {{{nl}{indent}{u}// Recording usage must never break the response.{nl}{indent}}}"
    )
}

fn guarded_inline(record: &str) -> String {
    format!("try {{ {record} }} catch {{ /* recording usage must never break the response */ }}")
}

pub(crate) fn stream(f: &TsFile<'_>, call: Node<'_>, kind: CallSiteKind) -> SiteOutcome {
    if !from_ai(f, call) {
        return not_from_ai(f, call);
    }
    let field = usage_field(f, kind);
    let end = f.style.end();
    let model = model_arg(f, call);
    let snippet = |customer: &str| {
        format!(
            "import {{ {TS_LLM} }} from {}{end}\n\n// in the options of {}(...):\nonFinish: (event) => {{\n  try {{\n    {TS_LLM}({customer}, event.{field}{model}){end}\n  }} catch {{\n    // Recording usage must never break the response.\n  }}\n}},",
            f.style.string(f.usage_module),
            callee_text(f, call)
        )
    };
    let Some(options) = options_object(call) else {
        return SiteOutcome::manual(
            "its options are not an object literal, so `onFinish` cannot be added safely",
            "Add an `onFinish` callback to the options that records the usage",
            snippet("customerId"),
        );
    };
    if text(options, f.src).contains(&format!("{TS_LLM}(")) {
        return SiteOutcome::AlreadyWired;
    }
    let customer = match f.customer_in_callback(call) {
        Ok(c) => c,
        Err(reason) => {
            return SiteOutcome::manual(
                reason,
                format!(
                    "Add this `onFinish` to the options at line {}, passing the id of the user who made the request",
                    line_of(options)
                ),
                snippet("customerId"),
            );
        }
    };
    let props = named_children(options);
    let on_finish = props.iter().copied().find(|p| match p.kind() {
        "pair" | "method_definition" => p
            .child_by_field_name(if p.kind() == "pair" { "key" } else { "name" })
            .is_some_and(|k| text(k, f.src).trim_matches(['"', '\'']) == "onFinish"),
        "shorthand_property_identifier" => text(*p, f.src) == "onFinish",
        _ => false,
    });
    let spread = props.iter().any(|p| p.kind() == "spread_element");
    let result = match on_finish {
        // `{ ...options, model }` may carry its own `onFinish`; adding ours would replace it.
        None if spread => Err("its options spread another object, which may already have an `onFinish` that ours would replace".to_owned()),
        None => add_on_finish(f, options, &props, &customer, field, &model),
        Some(p) if p.kind() == "method_definition" => {
            extend_function(f, p, &customer, field, &model)
        }
        Some(p) if p.kind() == "pair" => match p.child_by_field_name("value") {
            Some(v) if is_function(v) => extend_function(f, v, &customer, field, &model),
            Some(v) => Ok(wrap_callback(
                f,
                v,
                text(v, f.src),
                false,
                &customer,
                field,
                &model,
            )),
            None => Err("its `onFinish` has no value".to_owned()),
        },
        Some(p) => Ok(wrap_callback(
            f, p, "onFinish", true, &customer, field, &model,
        )),
    };
    match result {
        Ok((edits, what)) => f.wired(TS_LLM, customer, edits, what),
        Err(reason) => SiteOutcome::manual(
            reason,
            "Call the usage helper at the start of `onFinish`",
            snippet(&customer.expr),
        ),
    }
}

fn event_name(customer: &CustomerExpr) -> &'static str {
    // Never shadow a variable the customer expression reads (SvelteKit handlers get `event`).
    if customer.expr.contains("event") {
        "finished"
    } else {
        "event"
    }
}

fn add_on_finish(
    f: &TsFile<'_>,
    options: Node<'_>,
    props: &[Node<'_>],
    customer: &CustomerExpr,
    field: &str,
    model: &str,
) -> Result<(Vec<Edit>, String), String> {
    let Some(last) = props.last() else {
        return Err("its options object is empty".to_owned());
    };
    let ev = event_name(customer);
    let record = format!(
        "{TS_LLM}({}, {ev}.{field}{model}){}",
        customer.expr,
        f.style.end()
    );
    let head = format!(
        "onFinish: {}({ev}) => {{",
        if customer.needs_await { "async " } else { "" }
    );
    let comma = last.next_sibling().filter(|s| s.kind() == ",");
    let multiline = last.start_position().row != options.start_position().row;
    let edit = if multiline {
        let indent = indent_at(f.src, last.start_byte());
        let inner = format!("{indent}{}", f.unit);
        let property = format!(
            "{head}{nl}{inner}{}{nl}{indent}}}",
            guarded_block(f, &record, &inner),
            nl = f.nl
        );
        match comma {
            Some(c) => Edit::insert(c.end_byte(), format!("{}{indent}{property},", f.nl)),
            None => Edit::insert(last.end_byte(), format!(",{}{indent}{property}", f.nl)),
        }
    } else {
        let property = format!("{head} {} }}", guarded_inline(&record));
        match comma {
            Some(c) => Edit::insert(c.end_byte(), format!(" {property},")),
            None => Edit::insert(last.end_byte(), format!(", {property}")),
        }
    };
    Ok((
        vec![edit],
        format!("adds `onFinish` recording `{ev}.{field}`"),
    ))
}

/// Calls our helper first inside the user's own `onFinish` function, keeping all of its code.
fn extend_function(
    f: &TsFile<'_>,
    function: Node<'_>,
    customer: &CustomerExpr,
    field: &str,
    model: &str,
) -> Result<(Vec<Edit>, String), String> {
    let mut edits = Vec::new();
    let params = parameters(function);
    let usage = match params.first() {
        Some(p) if p.kind() == "identifier" => format!("{}.{field}", text(*p, f.src)),
        Some(p) if p.kind() == "object_pattern" => {
            // Only the callback's own body could be shadowed by a new binding.
            let (local, pattern_edits) = bind_in_pattern(f, *p, field, function)?;
            edits.extend(pattern_edits);
            local
        }
        Some(_) => {
            return Err(
                "its `onFinish` parameter has a shape spaire-billing does not edit".to_owned(),
            );
        }
        None => {
            let params_node = function
                .child_by_field_name("parameters")
                .ok_or("its `onFinish` has no parameter list")?;
            let ev = event_name(customer);
            edits.push(Edit::insert(params_node.start_byte() + 1, ev));
            format!("{ev}.{field}")
        }
    };
    let record = format!(
        "{TS_LLM}({}, {usage}{model}){}",
        customer.expr,
        f.style.end()
    );
    if customer.needs_await && !is_async(function) {
        edits.push(Edit::insert(function.start_byte(), "async "));
    }
    let body = function
        .child_by_field_name("body")
        .ok_or("its `onFinish` has no body")?;
    if body.kind() == "statement_block" {
        let first = named_children(body).into_iter().next();
        let multiline_body = body.start_position().row != body.end_position().row;
        let indent = match first {
            Some(s) if s.start_position().row != body.start_position().row => {
                indent_at(f.src, s.start_byte()).to_owned()
            }
            _ => format!("{}{}", indent_at(f.src, body.start_byte()), f.unit),
        };
        let insertion = if multiline_body {
            format!("{}{indent}{}", f.nl, guarded_block(f, &record, &indent))
        } else {
            format!(" {}", guarded_inline(&record))
        };
        edits.push(Edit::insert(body.start_byte() + 1, insertion));
    } else {
        let expression = text(body, f.src);
        edits.push(Edit::replace(
            body.start_byte(),
            body.end_byte(),
            format!("{{ {} return {expression}; }}", guarded_inline(&record)),
        ));
    }
    Ok((
        edits,
        format!("records `{usage}` first in the existing `onFinish`"),
    ))
}

/// `onFinish: handler` → `onFinish: (event) => { <ours>; return handler(event); }`.
fn wrap_callback(
    f: &TsFile<'_>,
    node: Node<'_>,
    callee: &str,
    shorthand: bool,
    customer: &CustomerExpr,
    field: &str,
    model: &str,
) -> (Vec<Edit>, String) {
    let ev = event_name(customer);
    let record = format!(
        "{TS_LLM}({}, {ev}.{field}{model}){}",
        customer.expr,
        f.style.end()
    );
    let target = if node.kind() == "identifier" || shorthand {
        callee.to_owned()
    } else {
        format!("({callee})")
    };
    let wrapper = format!(
        "{}{}({ev}) => {{ {} return {target}({ev}); }}",
        if shorthand { "onFinish: " } else { "" },
        if customer.needs_await { "async " } else { "" },
        guarded_inline(&record)
    );
    (
        vec![Edit::replace(node.start_byte(), node.end_byte(), wrapper)],
        format!("records `{ev}.{field}` before calling the existing `onFinish`"),
    )
}
