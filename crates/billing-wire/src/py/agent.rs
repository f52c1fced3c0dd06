//! PydanticAI `agent.run(..)` / `agent.run_sync(..)` / `async with agent.run_stream(..) as r:` /
//! `async with agent.iter(..) as run:`: `record_agent_run(<customer>, result)` once the run
//! finished (the generated helper reads `result.usage` whether it is a property or a method,
//! across pydantic-ai versions; for `iter`, the `AgentRun`'s usage after the loop).

use billing_detect::profile::CallSiteKind;
use tree_sitter::Node;

use super::{PyFile, hoist, owning_statement};
use crate::edit::Edit;
use crate::helpers::{PY_AGENT, PY_LLM};
use crate::outcome::SiteOutcome;
use crate::syntax::{named_children, text};

pub(crate) fn run(f: &PyFile<'_>, call: Node<'_>, kind: CallSiteKind) -> SiteOutcome {
    let callee = call
        .child_by_field_name("function")
        .map_or("", |c| text(c, f.src));
    let snippet = |customer: &str, result: &str| {
        format!(
            "from {} import {PY_AGENT}\n\n# after the run finished:\n{PY_AGENT}({customer}, {result})",
            f.usage_module
        )
    };
    let named_like_agent = callee
        .rsplit_once('.')
        .is_some_and(|(receiver, _)| receiver.to_ascii_lowercase().contains("agent"));
    if !f.imports.imports_from_prefix("pydantic_ai") && !named_like_agent {
        return SiteOutcome::manual(
            format!("this file does not import `pydantic_ai`, so `{callee}` may not be an agent"),
            "If it is a PydanticAI agent run, record its usage after it finished",
            snippet("customer_id", "result"),
        );
    }
    let shape = if matches!(kind, CallSiteKind::AgentRunStream | CallSiteKind::AgentIter) {
        stream_shape(f, call).map(|(name, statement)| (name, Place::After(statement)))
    } else {
        awaited_if_async(f, call, kind)
            .and_then(|()| run_shape(f, call))
            .map(|(name, statement)| (name, Place::After(statement)))
            .or_else(|reason| {
                if reason.starts_with(NOT_AWAITED) {
                    return Err(reason);
                }
                hoisted_shape(f, call).map_err(|why| format!("{reason}; {why}"))
            })
    };
    let (result, place) = match shape {
        Ok(found) => found,
        Err(reason) => {
            let customer = f
                .customer(call)
                .map_or_else(|_| "customer_id".to_owned(), |c| c.expr);
            return SiteOutcome::manual(
                reason,
                format!("Assign the result of `{callee}(...)` and record it after the run"),
                snippet(&customer, "result"),
            );
        }
    };
    let statement = match place {
        Place::After(statement) | Place::Hoisted { statement, .. } => statement,
    };
    if matches!(place, Place::After(_)) && f.wired_after(statement, &[PY_AGENT, PY_LLM]) {
        return SiteOutcome::AlreadyWired;
    }
    let customer = match f.customer(call) {
        Ok(c) => c,
        Err(reason) => {
            return SiteOutcome::manual(
                reason,
                format!(
                    "Add the usage call after line {}, passing the id of the user who made the request",
                    f.last_line(statement)
                ),
                snippet("customer_id", &result),
            );
        }
    };
    // An `AgentRun` (from `iter`) carries the model response on its finished `result`; the
    // run itself still has the usage when the loop left early.
    let recorded = if kind == CallSiteKind::AgentIter {
        format!("{result}.result or {result}")
    } else {
        result.clone()
    };
    let record = format!("{PY_AGENT}({}, {recorded})", customer.expr);
    let mut imports = vec![f.usage_import(PY_AGENT)];
    imports.extend(customer.imports);
    let mut edits = customer.edits;
    let what = match place {
        Place::After(statement) => {
            edits.push(f.insert_after_statement(statement, &record));
            format!("records the usage of `{result}` after the run")
        }
        Place::Hoisted { statement, run } if run.start_byte() == statement.start_byte() => {
            edits.push(Edit::insert(run.start_byte(), format!("{result} = ")));
            edits.push(f.insert_after_statement(statement, &record));
            format!("assigns the run to `{result}` and records its usage after it")
        }
        Place::Hoisted { statement, run } => {
            edits.extend(hoist::edits(f, statement, run, &result, Some(&record)));
            format!(
                "assigns the run to `{result}`, records its usage, then uses `{result}` where the run was"
            )
        }
    };
    SiteOutcome::Wired {
        edits,
        imports,
        what,
    }
}

/// Where the usage call goes.
#[derive(Clone, Copy)]
enum Place<'t> {
    /// After this statement, which assigned the result.
    After(Node<'t>),
    /// The run (`await agent.run(..)`) moves into an assignment before `statement`.
    Hoisted { statement: Node<'t>, run: Node<'t> },
}

const NOT_AWAITED: &str = "the run is not awaited here";

/// `agent.run(..)` is a coroutine: only its awaited value (or `asyncio.run`'s) is the result.
fn awaited_if_async(f: &PyFile<'_>, call: Node<'_>, kind: CallSiteKind) -> Result<(), String> {
    if kind != CallSiteKind::AgentRun {
        return Ok(());
    }
    let run = run_expression(f, call);
    let by_asyncio_run = run.id() != call.id()
        && run
            .child_by_field_name("function")
            .is_some_and(|c| text(c, f.src) == "asyncio.run");
    if by_asyncio_run || run.parent().is_some_and(|p| p.kind() == "await") {
        Ok(())
    } else {
        Err(format!(
            "{NOT_AWAITED}, so its value is a coroutine, not the result (it is awaited elsewhere)"
        ))
    }
}

/// `asyncio.wait_for(agent.run(..), timeout)` / `asyncio.shield(..)` / `asyncio.run(..)`
/// return the run's result: the wrapper stands for the run.
fn run_expression<'t>(f: &PyFile<'_>, call: Node<'t>) -> Node<'t> {
    let wrapper = call
        .parent()
        .filter(|p| p.kind() == "argument_list")
        .filter(|args| {
            named_children(*args)
                .first()
                .is_some_and(|a| a.id() == call.id())
        })
        .and_then(|args| args.parent())
        .filter(|w| {
            w.child_by_field_name("function").is_some_and(|c| {
                matches!(
                    text(c, f.src),
                    "asyncio.wait_for" | "wait_for" | "asyncio.shield" | "shield" | "asyncio.run"
                )
            })
        });
    wrapper.unwrap_or(call)
}

/// `return await agent.run(..)`, `(await agent.run(..)).output`, a bare `await agent.run(..)`:
/// the run is assigned to a new local first, when that keeps the order of evaluation.
fn hoisted_shape<'t>(f: &PyFile<'_>, call: Node<'t>) -> Result<(String, Place<'t>), String> {
    let mut run = run_expression(f, call);
    if let Some(awaited) = run.parent().filter(|p| p.kind() == "await") {
        run = awaited;
    }
    let statement = hoist::statement_of(run)
        .map_err(|why| format!("the run cannot be assigned to a variable first: {why}"))?;
    hoist::evaluated_first(statement, run, None, f.src)
        .map_err(|why| format!("the run cannot be assigned to a variable first: {why}"))?;
    let scope = hoist::scope_of(f, call);
    let name = hoist::fresh_name(f, scope, &["result", "run_result", "agent_result"])
        .ok_or("no free local name for the run's result")?;
    if run.start_byte() == statement.start_byte() {
        // A bare `await agent.run(..)`: its value was dropped.
        let bare = statement.kind() == "expression_statement"
            && named_children(statement)
                .first()
                .is_some_and(|c| c.id() == run.id());
        if !bare {
            return Err("the run starts a larger expression statement".to_owned());
        }
    }
    Ok((name, Place::Hoisted { statement, run }))
}

/// `result = await agent.run(..)` / `result = agent.run_sync(..)`.
fn run_shape<'t>(f: &PyFile<'_>, call: Node<'t>) -> Result<(String, Node<'t>), String> {
    let statement = owning_statement(run_expression(f, call))
        .ok_or("the run is not a statement of its own (`result = await agent.run(...)`)")?;
    let assignment = named_children(statement)
        .into_iter()
        .find(|a| a.kind() == "assignment")
        .ok_or("the result of the run is not assigned to a variable")?;
    let left = assignment
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")
        .ok_or("the result of the run is not assigned to a single variable")?;
    Ok((text(left, f.src).to_owned(), statement))
}

/// `async with agent.run_stream(..) as result:`: recorded after the `with` block, when the
/// stream has been consumed and the usage is final.
fn stream_shape<'t>(f: &PyFile<'_>, call: Node<'t>) -> Result<(String, Node<'t>), String> {
    let not_with = "the run is not opened with `async with agent.run_stream(...) as result:` / `async with agent.iter(...) as run:`";
    let as_pattern = call
        .parent()
        .filter(|p| p.kind() == "as_pattern")
        .ok_or(not_with)?;
    let alias = as_pattern
        .child_by_field_name("alias")
        .and_then(|a| named_children(a).into_iter().next().or(Some(a)))
        .filter(|a| a.kind() == "identifier" || a.kind() == "as_pattern_target")
        .ok_or(not_with)?;
    let name = text(alias, f.src).to_owned();
    let with = crate::syntax::ancestors(as_pattern)
        .find(|a| a.kind() == "with_statement")
        .ok_or(not_with)?;
    if !with
        .parent()
        .is_some_and(|b| matches!(b.kind(), "block" | "module"))
    {
        return Err(not_with.to_owned());
    }
    let body = with.child_by_field_name("body").ok_or(not_with)?;
    let last = named_children(body).into_iter().last();
    if last.is_some_and(|s| matches!(s.kind(), "return_statement" | "raise_statement")) {
        return Err(
            "the `with` block returns before the stream finished, so there is no place after it"
                .to_owned(),
        );
    }
    Ok((name, with))
}
