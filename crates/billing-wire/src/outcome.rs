//! What happened to each call site, and how the per-site results of one file combine into one
//! file change plus manual steps.

use billing_changeset::ManualStep;
use billing_detect::profile::CallSite;

use crate::FileCtx;
use crate::edit::Edit;

/// One line per call site: what wiring did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteReport {
    pub file: String,
    pub line: u32,
    pub callee: String,
    pub result: SiteResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteResult {
    /// Edited; the text says how ("records result.totalUsage after the call").
    Wired(String),
    /// Our helper is already called at this site; nothing to do.
    AlreadyWired,
    /// Not edited; a manual step explains why and what to add.
    Manual(String),
    /// Not edited and nothing to add: the call provably bills nothing (a `put_object`
    /// without `Body=` stores 0 bytes). No manual step, so `status` does not report work left.
    NothingToBill(String),
}

/// An import the edited file needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportNeed {
    /// `import { name } from "module"` / `from module import name`.
    Named { name: String, module: String },
    /// Python `import module`.
    Module(String),
}

pub(crate) enum SiteOutcome {
    Wired {
        edits: Vec<Edit>,
        imports: Vec<ImportNeed>,
        what: String,
    },
    AlreadyWired,
    /// The call bills nothing (why, one sentence): no edit and no manual step.
    NothingToBill(String),
    /// Billed in another file of the package (a presigned upload, where the app confirms it
    /// arrived): that file's whole new text, computed from its text on disk.
    WiredElsewhere {
        file: String,
        before: String,
        after: String,
        what: String,
    },
    Manual {
        /// Why it was not edited (one sentence, no trailing period).
        reason: String,
        /// What to add, in words, after the reason.
        todo: String,
        snippet: Option<String>,
    },
}

impl SiteOutcome {
    pub fn manual(reason: impl Into<String>, todo: impl Into<String>, snippet: String) -> Self {
        SiteOutcome::Manual {
            reason: reason.into(),
            todo: todo.into(),
            snippet: Some(snippet),
        }
    }
}

/// The combined result for one file.
pub(crate) struct FileResult {
    /// New full text, when at least one site was edited.
    pub after: Option<String>,
    pub manual: Vec<ManualStep>,
    pub reports: Vec<SiteReport>,
    /// Other files edited for this file's sites: (path, text before, text after, summary).
    pub elsewhere: Vec<(String, String, String, String)>,
}

impl FileResult {
    pub fn new() -> Self {
        Self {
            after: None,
            manual: Vec::new(),
            reports: Vec::new(),
            elsewhere: Vec::new(),
        }
    }

    /// Files of a language wiring does not edit (yet): one manual step per site.
    pub fn unsupported(ctx: &FileCtx<'_>, sites: &[&CallSite]) -> Self {
        let mut result = Self::new();
        for site in sites {
            result.push_manual(
                ctx,
                site,
                "spaire-billing does not edit this kind of file".to_owned(),
                "Record the usage of this call with the generated usage helper".to_owned(),
                None,
            );
        }
        result
    }

    pub fn push_manual(
        &mut self,
        ctx: &FileCtx<'_>,
        site: &CallSite,
        reason: String,
        todo: String,
        snippet: Option<String>,
    ) {
        let comment = if ctx.file.ends_with(".py") || ctx.file.ends_with(".rb") {
            "#"
        } else {
            "//"
        };
        let todo = todo.trim_end().trim_end_matches('.');
        let instructions = format!(
            "`{}` at {}:{} was not changed: {reason}. {todo}. If this call bills no customer \
             (your own evals, an admin script), put `{comment} {}` on the line above it \
             instead: setup and status then leave it alone",
            site.callee,
            ctx.file,
            site.line,
            billing_vocab::NOT_BILLED_MARKER
        );
        self.manual
            .push(ctx.manual(site.line, instructions, snippet));
        self.reports.push(SiteReport {
            file: ctx.file.to_owned(),
            line: site.line,
            callee: site.callee.clone(),
            result: SiteResult::Manual(reason),
        });
    }

    pub fn push_report(&mut self, ctx: &FileCtx<'_>, site: &CallSite, result: SiteResult) {
        self.reports.push(SiteReport {
            file: ctx.file.to_owned(),
            line: site.line,
            callee: site.callee.clone(),
            result,
        });
    }

    /// One line for the preview: what the edits in this file do.
    pub fn summary(&self) -> String {
        let wired: Vec<&str> = self
            .reports
            .iter()
            .filter_map(|r| match &r.result {
                SiteResult::Wired(_) => Some(r.callee.as_str()),
                _ => None,
            })
            .collect();
        let n = wired.len();
        let mut names: Vec<&str> = Vec::new();
        for name in wired {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        format!(
            "usage wiring: records usage after {n} call{} ({})",
            if n == 1 { "" } else { "s" },
            names.join(", ")
        )
    }
}

/// Folds the per-site outcomes of one file into its new text and manual steps. `import_edits`
/// turns the imports the accepted sites need into edits; `parses_cleanly` re-parses the
/// result: an edit that would break the file's syntax is never handed out (every site then
/// becomes a manual step).
pub(crate) fn combine(
    ctx: &FileCtx<'_>,
    sites: &[&CallSite],
    outcomes: Vec<SiteOutcome>,
    import_edits: impl FnOnce(&[ImportNeed]) -> Vec<Edit>,
    parses_cleanly: impl Fn(&str) -> bool,
) -> FileResult {
    let mut result = FileResult::new();
    let mut edits = crate::edit::EditSet::default();
    let mut needs: Vec<ImportNeed> = Vec::new();
    let mut wired: Vec<(&CallSite, String)> = Vec::new();
    for (site, outcome) in sites.iter().copied().zip(outcomes) {
        match outcome {
            SiteOutcome::Wired {
                edits: site_edits,
                imports,
                what,
            } => {
                if edits.try_add(site_edits) {
                    for need in imports {
                        if !needs.contains(&need) {
                            needs.push(need);
                        }
                    }
                    wired.push((site, what));
                } else {
                    result.push_manual(
                        ctx,
                        site,
                        "its edit would overlap the edit of another call site in the same expression".to_owned(),
                        "Record its usage by hand next to the other call".to_owned(),
                        None,
                    );
                }
            }
            SiteOutcome::AlreadyWired => result.push_report(ctx, site, SiteResult::AlreadyWired),
            SiteOutcome::NothingToBill(why) => {
                result.push_report(ctx, site, SiteResult::NothingToBill(why));
            }
            SiteOutcome::WiredElsewhere {
                file,
                before,
                after,
                what,
            } => {
                let summary = format!("usage wiring: {what}");
                result.push_report(ctx, site, SiteResult::Wired(what));
                result.elsewhere.push((file, before, after, summary));
            }
            SiteOutcome::Manual {
                reason,
                todo,
                snippet,
            } => result.push_manual(ctx, site, reason, todo, snippet),
        }
    }
    if edits.is_empty() {
        return result;
    }
    let imports = import_edits(&needs);
    if !edits.try_add(imports) {
        // Cannot happen with imports at the top and call sites below them; stay safe anyway.
        for (site, _) in wired {
            result.push_manual(
                ctx,
                site,
                "the import of the usage helper would overlap another edit".to_owned(),
                "Add the import and the usage call by hand".to_owned(),
                None,
            );
        }
        return result;
    }
    let after = edits.apply(ctx.source);
    if parses_cleanly(ctx.source) && !parses_cleanly(&after) {
        for (site, _) in wired {
            result.push_manual(
                ctx,
                site,
                "the edit would not have parsed (a bug in spaire-billing; please report it)"
                    .to_owned(),
                "Record the usage of this call with the generated usage helper".to_owned(),
                None,
            );
        }
        return result;
    }
    for (site, what) in wired {
        result.push_report(ctx, site, SiteResult::Wired(what));
    }
    result.after = Some(after);
    result
}
