//! Serverless flushing at wired call sites. On Vercel a Next.js route handler or server action
//! is frozen once its response is sent, so the recorder's timer never fires and usage recorded
//! there is lost. Next.js 15's `after()` keeps the function alive for a callback: each handler
//! with a wired call registers `after(() => flushUsage())` once, as its first statement (the
//! callback runs after the response, when the call's usage has been queued), like the
//! generated API-call wrapper does.

use std::collections::HashSet;

use billing_detect::profile::FrameworkId;
use tree_sitter::Node;

use super::TsFile;
use super::customer::enclosing_functions;
use crate::edit::Edit;
use crate::outcome::ImportNeed;
use crate::syntax::{named_children, text};
use crate::text::indent_at;

/// Name of the usage module's flush function (exported by every TypeScript usage module).
pub(crate) const FLUSH: &str = "flushUsage";

/// Whether wired calls in this file run in a Next.js (>= 15) request handler: an app-router
/// `route` file or a `"use server"` module.
pub(crate) fn applies(f: &TsFile<'_>) -> bool {
    let next = f
        .ctx
        .package
        .frameworks
        .iter()
        .find(|fw| fw.id == FrameworkId::Nextjs);
    // `after` exists from Next.js 15 (the same rule as the generated route wrapper).
    let after_exists = next.is_some_and(|fw| fw.major.is_none_or(|major| major >= 15));
    if !after_exists {
        return false;
    }
    let path = format!("/{}", f.ctx.file);
    let name = path.rsplit('/').next().unwrap_or_default();
    let route = path.contains("/app/") && name.split('.').next() == Some("route");
    route || use_server_file(f)
}

fn use_server_file(f: &TsFile<'_>) -> bool {
    named_children(f.program).first().is_some_and(|s| {
        s.kind() == "expression_statement"
            && matches!(
                text(*s, f.src).trim_end_matches(';'),
                "\"use server\"" | "'use server'"
            )
    })
}

/// The edit that registers the flush in the handler around `call` (its outermost enclosing
/// function), once per handler (`done` holds handlers already given one), and its imports.
/// `None` when the handler has no block body, already flushes, or `after` means something else
/// in this file.
pub(crate) fn flush_edit(
    f: &TsFile<'_>,
    call: Node<'_>,
    done: &mut HashSet<usize>,
) -> Option<(Edit, Vec<ImportNeed>)> {
    let handler = *enclosing_functions(call).last()?;
    let body = handler
        .child_by_field_name("body")
        .filter(|b| b.kind() == "statement_block")?;
    if text(body, f.src).contains(&format!("{FLUSH}(")) || !done.insert(body.id()) {
        return None;
    }
    let mut imports = vec![f.usage_import(FLUSH)];
    let after = match f
        .imports
        .bindings
        .iter()
        .find(|b| b.module == "next/server" && b.imported.as_deref() == Some("after"))
    {
        Some(binding) => binding.local.clone(),
        None if f.imports.binds("after") || super::customer::declares_top_level(f, "after") => {
            return None;
        }
        None => {
            imports.push(ImportNeed::Named {
                name: "after".to_owned(),
                module: "next/server".to_owned(),
            });
            "after".to_owned()
        }
    };
    let statements = named_children(body);
    // After a leading `"use server"` directive of an inline server action.
    let directive = statements.first().filter(|s| {
        s.kind() == "expression_statement"
            && matches!(
                text(**s, f.src).trim_end_matches(';'),
                "\"use server\"" | "'use server'"
            )
    });
    let indent = match statements.first() {
        Some(first) => indent_at(f.src, first.start_byte()).to_owned(),
        None => format!("{}{}", indent_at(f.src, handler.start_byte()), f.unit),
    };
    let at = directive.map_or(body.start_byte() + 1, |d| d.end_byte());
    let statement = format!(
        "{}{indent}// Keeps a serverless function alive until recorded usage is sent.{}{indent}{after}(() => {FLUSH}()){}",
        f.nl,
        f.nl,
        f.style.end()
    );
    Some((Edit::insert(at, statement), imports))
}
