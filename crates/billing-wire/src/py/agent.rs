//! PydanticAI `agent.run(..)` / `agent.run_sync(..)` / `async with agent.run_stream(..) as r:` /
//! `async with agent.iter(..) as run:`: `record_agent_run(<customer>, result)` once the run
//! finished (the generated helper reads `result.usage` whether it is a property or a method,
//! across pydantic-ai versions; for `iter`, the `AgentRun`'s usage after the loop).

use billing_detect::profile::CallSiteKind;
use tree_sitter::Node;

use super::{PyFile, owning_statement};
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
        stream_shape(f, call)
    } else {
        run_shape(f, call)
    };
    let (result, statement) = match shape {
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
    if f.wired_after(statement, &[PY_AGENT, PY_LLM]) {
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
    edits.push(f.insert_after_statement(statement, &record));
    SiteOutcome::Wired {
        edits,
        imports,
        what: format!("records the usage of `{result}` after the run"),
    }
}

/// `result = await agent.run(..)` / `result = agent.run_sync(..)`.
fn run_shape<'t>(f: &PyFile<'_>, call: Node<'t>) -> Result<(String, Node<'t>), String> {
    let statement = owning_statement(call)
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
