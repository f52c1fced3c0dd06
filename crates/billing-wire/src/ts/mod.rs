//! Wiring JavaScript and TypeScript call sites (AI SDK, AWS SDK v3 S3).

mod app_session;
mod clients;
mod customer;
mod imports;
mod jobs;
mod llm;
mod openai_edge;
mod openai_stream;
mod props;
mod request_scope;
mod s3;
mod scope;
mod session;

use billing_detect::profile::{CallSite, CallSiteKind};
use tree_sitter::{Language, Node};

use crate::customer::CustomerExpr;
use crate::edit::Edit;
use crate::outcome::{FileResult, ImportNeed, SiteOutcome, combine};
use crate::syntax::{descendants, line_of, next_statement, parse, text};
use crate::text::{indent_at, indent_unit, line_end, newline};
use crate::{FileCtx, TsDialect, WireError};

pub(crate) use imports::{Imports, Style};
pub(crate) use request_scope::PackageSources;

/// One parsed file and the facts every site in it shares.
pub(crate) struct TsFile<'a> {
    pub ctx: &'a FileCtx<'a>,
    pub src: &'a str,
    pub program: Node<'a>,
    pub imports: Imports,
    pub style: Style,
    /// Import specifier of the generated usage module for this file.
    pub usage_module: &'a str,
    pub nl: &'static str,
    pub unit: String,
    /// Names the wiring of earlier sites declares in a destructuring pattern: (function,
    /// name, pattern) by node id, so a later site in the same function picks another name.
    pub bound: std::cell::RefCell<Vec<(usize, String, usize)>>,
}

impl TsFile<'_> {
    /// `stmt` written after `anchor` (a statement), on its own line, with its indentation.
    pub fn insert_after_statement(&self, anchor: Node<'_>, stmt: &str) -> Edit {
        let indent = indent_at(self.src, anchor.start_byte());
        Edit::insert(
            line_end(self.src, anchor.end_byte()),
            format!("{}{indent}{stmt}", self.nl),
        )
    }

    /// Whether an earlier site's edit declares `name` in `scope` in a pattern other than
    /// `pattern` (the same pattern gets the same, deduplicated edit).
    pub fn bound_elsewhere(&self, scope: Node<'_>, name: &str, pattern: Node<'_>) -> bool {
        self.bound
            .borrow()
            .iter()
            .any(|(s, n, p)| *s == scope.id() && n == name && *p != pattern.id())
    }

    pub fn bind(&self, scope: Node<'_>, name: &str, pattern: Node<'_>) {
        self.bound
            .borrow_mut()
            .push((scope.id(), name.to_owned(), pattern.id()));
    }

    pub fn usage_import(&self, name: &str) -> ImportNeed {
        ImportNeed::Named {
            name: name.to_owned(),
            module: self.usage_module.to_owned(),
        }
    }

    /// A wired site: its `edits` followed by what finding the customer needed (a binding, a
    /// resolver call), and the imports of the usage `helper` and of the customer.
    pub fn wired(
        &self,
        helper: &str,
        customer: CustomerExpr,
        mut edits: Vec<Edit>,
        what: String,
    ) -> SiteOutcome {
        edits.extend(customer.edits);
        let mut imports = vec![self.usage_import(helper)];
        imports.extend(customer.imports);
        SiteOutcome::Wired {
            edits,
            imports,
            what,
        }
    }

    /// Whether the statement right after `anchor` already calls one of `helpers`.
    pub fn wired_after(&self, anchor: Node<'_>, helper: &str) -> bool {
        next_statement(anchor).is_some_and(|next| {
            next.kind() == "expression_statement"
                && text(next, self.src).contains(&format!("{helper}("))
        })
    }

    pub fn customer(&self, at: Node<'_>) -> Result<CustomerExpr, String> {
        customer::resolve(self, at, false)
    }

    /// The customer id for code inside a callback spaire-billing adds or extends.
    pub fn customer_in_callback(&self, at: Node<'_>) -> Result<CustomerExpr, String> {
        customer::resolve(self, at, true)
    }
}

fn language(dialect: TsDialect) -> Language {
    match dialect {
        TsDialect::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        TsDialect::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
    }
}

pub(crate) fn wire_file(
    ctx: &FileCtx<'_>,
    dialect: TsDialect,
    sites: &[&CallSite],
    usage_module: Option<&str>,
) -> Result<FileResult, WireError> {
    let tree = parse(language(dialect), "TypeScript", ctx.source)?;
    let program = tree.root_node();
    let Some(usage_module) = usage_module else {
        let mut result = FileResult::new();
        for site in sites {
            result.push_manual(
                ctx,
                site,
                "no TypeScript usage module is generated for this package".to_owned(),
                "Generate the usage helpers (`spaire-billing plan`), then record this call's usage with them".to_owned(),
                None,
            );
        }
        return Ok(result);
    };
    let file = TsFile {
        ctx,
        src: ctx.source,
        program,
        imports: Imports::collect(program, ctx.source),
        style: Style::of(program, ctx.source, ctx.file, ctx.package.module_system),
        usage_module,
        nl: newline(ctx.source),
        unit: indent_unit(ctx.source),
        bound: std::cell::RefCell::default(),
    };
    let outcomes = sites.iter().map(|site| wire_site(&file, site)).collect();
    let reparse = |text: &str| {
        parse(language(dialect), "TypeScript", text).is_ok_and(|t| !t.root_node().has_error())
    };
    Ok(combine(
        ctx,
        sites,
        outcomes,
        |needs| imports::edits(program, ctx.source, &file.imports, file.style, needs),
        reparse,
    ))
}

fn wire_site(f: &TsFile<'_>, site: &CallSite) -> SiteOutcome {
    let constructor = matches!(
        site.kind,
        CallSiteKind::S3PutObject | CallSiteKind::S3Upload
    );
    let Some(call) = locate(f, site, constructor) else {
        return SiteOutcome::Manual {
            reason: format!("no call of `{}` was found on that line", site.callee),
            todo:
                "Run `spaire-billing detect` again; if the call is there, record its usage by hand"
                    .to_owned(),
            snippet: None,
        };
    };
    match site.kind {
        CallSiteKind::GenerateText
        | CallSiteKind::GenerateObject
        | CallSiteKind::Embed
        | CallSiteKind::GenerateImage => llm::generate(f, call, site.kind),
        CallSiteKind::StreamText | CallSiteKind::StreamObject | CallSiteKind::StreamUi => {
            llm::stream(f, call, site.kind)
        }
        CallSiteKind::OpenaiLegacy => openai_edge::legacy(f, call),
        CallSiteKind::OpenaiChatCompletion
        | CallSiteKind::OpenaiResponse
        | CallSiteKind::OpenaiEmbedding
        | CallSiteKind::OpenaiImage
        | CallSiteKind::AnthropicMessage => clients::vendor(f, call, site.kind),
        CallSiteKind::OpenaiAssistantRun => clients::assistant_run(f, call),
        CallSiteKind::LlmHttpFetch => clients::raw_fetch(f, call),
        CallSiteKind::S3PutObject => s3::put_object(f, call),
        CallSiteKind::S3Upload => s3::upload(f, call),
        _ => SiteOutcome::Manual {
            reason: "this kind of call site does not occur in JavaScript/TypeScript".to_owned(),
            todo: "Run `spaire-billing detect` again".to_owned(),
            snippet: None,
        },
    }
}

/// The `call_expression` (or `new_expression`) of `site.callee` on the site's line, preferring
/// the exact column (detect's columns may be 0- or 1-based).
fn locate<'t>(f: &TsFile<'t>, site: &CallSite, constructor: bool) -> Option<Node<'t>> {
    let (kind, field) = if constructor {
        ("new_expression", "constructor")
    } else {
        ("call_expression", "function")
    };
    let callee = site.callee.trim_start_matches("new ").trim();
    let candidates: Vec<(Node<'t>, Node<'t>)> = descendants(f.program)
        .into_iter()
        .filter(|n| n.kind() == kind)
        .filter_map(|n| Some((n, n.child_by_field_name(field)?)))
        .filter(|(_, c)| text(*c, f.src) == callee)
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
