//! Builds the account from what `plan` and `status` already have: the producers' context and
//! change set, and the files on disk.

use billing_apply::{Lock, sha256_hex};
use billing_changeset::{ChangeSet, FileChange};

use super::{AccountInput, Metering, SourceView, WebhookEndpoint, account};
use crate::produce::ProduceContext;

/// The file an import is written for when the step names no file: the framework's entry
/// file, else the first detected call site, else an `index` file at the package root.
fn default_from(cx: &ProduceContext<'_>) -> String {
    cx.package
        .primary_framework()
        .and_then(|f| f.details.entry_file.clone())
        .or_else(|| cx.package.call_sites.first().map(|s| s.file.clone()))
        .unwrap_or_else(|| {
            let dir = cx.package.path.trim_end_matches('/');
            let name = match cx.package.language {
                billing_detect::Language::TypeScript => "index.ts",
                billing_detect::Language::Python => "main.py",
                _ => "index.js",
            };
            if dir.is_empty() || dir == "." {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            }
        })
}

fn run(
    cx: &ProduceContext<'_>,
    changes: &ChangeSet,
    view: &SourceView,
    overlay: &[FileChange],
) -> Metering {
    let target = crate::produce::target(cx);
    let fallback = default_from(cx);
    let import_line = |file: &str, names: &[&str]| {
        let from = if file.is_empty() || !file.contains('.') {
            fallback.as_str()
        } else {
            file
        };
        billing_generate::feeds::import_line(&target, from, names)
    };
    // Files whose content on disk is what spaire-billing last wrote, and the ones it is about
    // to write (the overlay of a plan).
    let lock = Lock::read(cx.project).unwrap_or_default();
    let written_by_us = |path: &str| {
        overlay.iter().any(|f| f.path == path)
            || lock.files.get(path).is_some_and(|locked| {
                matches!(cx.project.read(path), Ok(Some(bytes)) if sha256_hex(&bytes) == locked.sha256)
            })
    };
    account(&AccountInput {
        plan: cx.plan,
        package: cx.package,
        view,
        manual_steps: &changes.manual_steps,
        webhook_endpoint: WebhookEndpoint::from_remote(cx.plan, &changes.remote),
        import_line: &import_line,
        written_by_us: &written_by_us,
    })
}

/// The account as it will be once `changes` are applied (the preview of `setup` / `apply`).
pub fn metering_of_changes(cx: &ProduceContext<'_>, changes: &ChangeSet) -> Metering {
    let view = SourceView::read(cx.root, &cx.package.path, &changes.files);
    run(cx, changes, &view, &changes.files)
}

/// The account of the project as it is on disk (`status`): planned changes not applied yet
/// feed nothing.
pub fn metering_on_disk(cx: &ProduceContext<'_>, changes: &ChangeSet) -> Metering {
    let view = SourceView::read(cx.root, &cx.package.path, &[]);
    run(cx, changes, &view, &[])
}
