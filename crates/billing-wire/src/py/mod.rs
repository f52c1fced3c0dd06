//! Wiring Python call sites (PydanticAI agent runs, `openai` / `anthropic` SDK calls, boto3
//! uploads).

mod agent;
mod boto3;
mod customer;
mod hoist;
mod imports;
mod jobs;
mod llm;
mod request;
pub mod wrap;

use billing_detect::profile::{CallSite, CallSiteKind};
use tree_sitter::Node;

use crate::customer::CustomerExpr;
use crate::edit::Edit;
use crate::outcome::{FileResult, ImportNeed, SiteOutcome, combine};
use crate::syntax::{descendants, line_of, next_statement, parse, text};
use crate::text::{indent_at, line_end, newline};
use crate::{FileCtx, WireError};

use imports::Imports;
pub(crate) use jobs::SiblingSources;

pub(crate) struct PyFile<'a> {
    pub ctx: &'a FileCtx<'a>,
    pub src: &'a str,
    pub module: Node<'a>,
    pub imports: Imports,
    /// Dotted module of the generated usage helpers.
    pub usage_module: &'a str,
    pub nl: &'static str,
    /// The quote character the file uses for strings.
    pub quote: char,
}

impl PyFile<'_> {
    pub fn insert_after_statement(&self, anchor: Node<'_>, stmt: &str) -> Edit {
        let indent = indent_at(self.src, anchor.start_byte());
        Edit::insert(
            line_end(self.src, anchor.end_byte()),
            format!("{}{indent}{stmt}", self.nl),
        )
    }

    pub fn usage_import(&self, name: &str) -> ImportNeed {
        ImportNeed::Named {
            name: name.to_owned(),
            module: self.usage_module.to_owned(),
        }
    }

    pub fn wired_after(&self, anchor: Node<'_>, helpers: &[&str]) -> bool {
        next_statement(anchor).is_some_and(|next| {
            next.kind() == "expression_statement"
                && helpers
                    .iter()
                    .any(|h| text(next, self.src).contains(&format!("{h}(")))
        })
    }

    pub fn customer(&self, at: Node<'_>) -> Result<CustomerExpr, String> {
        customer::resolve(self, at)
    }

    /// The line after which a manual edit goes.
    pub fn last_line(&self, node: Node<'_>) -> u32 {
        line_of(node) + u32::try_from(text(node, self.src).matches('\n').count()).unwrap_or(0)
    }
}

/// The value of the keyword argument `name=` of a call (`Body=`, `stream=`), if given.
pub(crate) fn keyword<'t>(call: Node<'t>, name: &str, src: &str) -> Option<Node<'t>> {
    let args = call.child_by_field_name("arguments")?;
    crate::syntax::named_children(args)
        .into_iter()
        .find_map(|a| {
            (a.kind() == "keyword_argument"
                && a.child_by_field_name("name")
                    .is_some_and(|n| text(n, src) == name))
            .then(|| a.child_by_field_name("value"))
            .flatten()
        })
}

/// The statement directly inside a block / module that contains `node`, when only `await`,
/// an assignment or the statement itself lie in between (so "after the statement" means
/// "after the call returned").
pub(crate) fn owning_statement(node: Node<'_>) -> Option<Node<'_>> {
    let mut current = node;
    loop {
        let parent = current.parent()?;
        match parent.kind() {
            "await" | "assignment" | "augmented_assignment" => current = parent,
            "expression_statement" => {
                let block = parent.parent()?;
                return matches!(block.kind(), "block" | "module").then_some(parent);
            }
            _ => return None,
        }
    }
}

pub(crate) fn first_quote(module: Node<'_>, src: &str) -> char {
    descendants(module)
        .into_iter()
        .find(|n| n.kind() == "string")
        .and_then(|s| {
            text(s, src)
                .trim_start_matches(['b', 'r', 'f', 'u', 'B', 'R', 'F', 'U'])
                .chars()
                .next()
        })
        .filter(|c| *c == '\'' || *c == '"')
        .unwrap_or('"')
}

pub(crate) fn wire_file(
    ctx: &FileCtx<'_>,
    sites: &[&CallSite],
    usage_module: Option<&str>,
) -> Result<FileResult, WireError> {
    let tree = parse(tree_sitter_python::LANGUAGE.into(), "Python", ctx.source)?;
    let module = tree.root_node();
    let Some(usage_module) = usage_module else {
        let mut result = FileResult::new();
        for site in sites {
            result.push_manual(
                ctx,
                site,
                "no Python usage module is generated for this package".to_owned(),
                "Generate the usage helpers (`spaire-billing plan`), then record this call's usage with them".to_owned(),
                None,
            );
        }
        return Ok(result);
    };
    let file = PyFile {
        ctx,
        src: ctx.source,
        module,
        imports: Imports::collect(module, ctx.source),
        usage_module,
        nl: newline(ctx.source),
        quote: first_quote(module, ctx.source),
    };
    let outcomes = sites.iter().map(|site| wire_site(&file, site)).collect();
    let reparse = |text: &str| {
        parse(tree_sitter_python::LANGUAGE.into(), "Python", text)
            .is_ok_and(|t| !t.root_node().has_error())
    };
    Ok(combine(
        ctx,
        sites,
        outcomes,
        |needs| imports::edits(module, ctx.source, &file.imports, needs),
        reparse,
    ))
}

fn wire_site(f: &PyFile<'_>, site: &CallSite) -> SiteOutcome {
    let Some(call) = locate(f, site) else {
        return SiteOutcome::Manual {
            reason: format!("no call of `{}` was found on that line", site.callee),
            todo:
                "Run `spaire-billing detect` again; if the call is there, record its usage by hand"
                    .to_owned(),
            snippet: None,
        };
    };
    match site.kind {
        CallSiteKind::AgentRun
        | CallSiteKind::AgentRunSync
        | CallSiteKind::AgentRunStream
        | CallSiteKind::AgentIter => agent::run(f, call, site.kind),
        CallSiteKind::OpenaiChatCompletion
        | CallSiteKind::OpenaiResponse
        | CallSiteKind::OpenaiEmbedding
        | CallSiteKind::OpenaiLegacy
        | CallSiteKind::AnthropicMessage
        | CallSiteKind::OpenaiAssistantRun => llm::vendor(f, call, site.kind),
        CallSiteKind::OpenaiImage => llm::image(f, call),
        CallSiteKind::Boto3PutObject | CallSiteKind::Boto3UploadFile => boto3::upload(f, call),
        CallSiteKind::Boto3Multipart => boto3::multipart(f, call),
        CallSiteKind::Boto3Presigned => boto3::presigned(f, call),
        _ => SiteOutcome::Manual {
            reason: "this kind of call site does not occur in Python".to_owned(),
            todo: "Run `spaire-billing detect` again".to_owned(),
            snippet: None,
        },
    }
}

fn locate<'t>(f: &PyFile<'t>, site: &CallSite) -> Option<Node<'t>> {
    let candidates: Vec<(Node<'t>, Node<'t>)> = descendants(f.module)
        .into_iter()
        .filter(|n| n.kind() == "call")
        .filter_map(|n| Some((n, n.child_by_field_name("function")?)))
        .filter(|(_, c)| text(*c, f.src) == site.callee)
        .collect();
    let on_line: Vec<_> = candidates
        .iter()
        .filter(|(_, c)| line_of(*c) == site.line)
        .collect();
    let column = |c: &Node<'_>| u32::try_from(c.start_position().column).unwrap_or(u32::MAX);
    on_line
        .iter()
        .find(|(_, c)| column(c) + 1 == site.column)
        .or_else(|| on_line.iter().find(|(_, c)| column(c) == site.column))
        .or_else(|| on_line.first())
        .map(|(n, _)| *n)
        .or_else(|| (candidates.len() == 1).then(|| candidates[0].0))
}
