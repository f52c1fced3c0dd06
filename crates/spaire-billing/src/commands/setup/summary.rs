//! The short preview `setup` shows before asking to apply: one line per created file with its
//! length, one line per edited file and the diff (one line of context) of as many edited
//! files as fit in [`DIFF_BUDGET`] lines, the user's own code first (where a surprise would
//! hurt), then installs, environment variables, remote changes and manual steps. A real
//! Next.js app with nine wired LLM calls previews in under 90 lines this way. Generated files are new and owned by spaire-billing: their full text is behind
//! `setup --diff` (or `spaire-billing plan`), so the few lines that touch the user's files
//! are not lost in hundreds of generated ones.
//!
//! Everything is rendered from the preview's change set; the plan hash is the same one
//! `apply --plan` checks, so this shorter view confirms exactly the same changes.

use std::fmt::Write as _;

use billing_changeset::preview::{compact_file_diff, shell_words};
use billing_changeset::{ChangeSet, FileAction, FileOrigin, RemoteAction};

/// Lines of diff the preview shows before the rest moves behind `--diff`, so that with the
/// list of files, installs, remote changes and manual steps it fits on two screens even for
/// a project with many wired call sites.
const DIFF_BUDGET: usize = 60;

/// `+added −removed` of a unified diff (headers excluded).
fn diff_stat(diff: &str) -> (usize, usize) {
    let mut added = 0;
    let mut removed = 0;
    for line in diff.lines() {
        if line.starts_with("+++") || line.starts_with("---") {
            continue;
        }
        if line.starts_with('+') {
            added += 1;
        } else if line.starts_with('-') {
            removed += 1;
        }
    }
    (added, removed)
}

/// The short preview of `changes` (see the module documentation).
pub fn render(changes: &ChangeSet, hash: &str) -> String {
    let mut out = String::new();
    let created: Vec<_> = changes
        .files
        .iter()
        .filter(|f| f.action == FileAction::Create)
        .collect();
    let edited: Vec<_> = changes
        .files
        .iter()
        .filter(|f| f.action == FileAction::Modify)
        .collect();
    if changes.files.is_empty() {
        out.push_str("Files: none to change\n");
    }
    if !created.is_empty() {
        let lines: usize = created.iter().map(|f| f.after.lines().count()).sum();
        let _ = writeln!(
            out,
            "Files to create ({}, {lines} lines; full text with `--diff`):",
            created.len()
        );
        for file in &created {
            let _ = writeln!(
                out,
                "  + {}  ({} lines: {})",
                file.path,
                file.after.lines().count(),
                file.summary
            );
        }
    }
    if !edited.is_empty() {
        let diffs: Vec<String> = edited.iter().map(|f| compact_file_diff(f)).collect();
        // The user's code before appends to .env.example / .gitignore, smallest first, so
        // as many edits as fit are shown whole (the rest are described by their line).
        let mut order: Vec<usize> = (0..edited.len()).collect();
        order.sort_by_key(|&i| {
            (
                edited[i].origin == FileOrigin::Config,
                diffs[i].lines().count(),
            )
        });
        let mut shown = vec![false; edited.len()];
        let mut used = 0;
        for &i in &order {
            let lines = diffs[i].lines().count();
            if used + lines <= DIFF_BUDGET {
                shown[i] = true;
                used += lines;
            }
        }
        let hidden = edited.len() - shown.iter().filter(|s| **s).count();
        if hidden == 0 {
            let _ = writeln!(out, "Files to edit ({}), in full below:", edited.len());
        } else {
            let _ = writeln!(
                out,
                "Files to edit ({}; diffs below, except those marked `--diff`: see them with `--diff`):",
                edited.len()
            );
        }
        for (i, (file, diff)) in edited.iter().zip(&diffs).enumerate() {
            let (added, removed) = diff_stat(diff);
            let _ = writeln!(
                out,
                "  ~ {}  (+{added} -{removed}: {}){}",
                file.path,
                file.summary,
                if shown[i] { "" } else { "  --diff" }
            );
        }
        if shown.iter().any(|s| *s) {
            out.push('\n');
        }
        for (diff, shown) in diffs.iter().zip(&shown) {
            if *shown {
                out.push_str(diff);
            }
        }
    }
    if !changes.installs.is_empty() {
        out.push_str("\nPackage installs:\n");
        for install in &changes.installs {
            let _ = writeln!(out, "  (in {}) {}", install.cwd, shell_words(&install.argv));
        }
    }
    if !changes.env_vars.is_empty() {
        let names: Vec<String> = changes
            .env_vars
            .iter()
            .map(|v| {
                if v.required {
                    v.name.clone()
                } else {
                    format!("{} (optional)", v.name)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "\nEnvironment variables (names only; set the values yourself): {}",
            names.join(", ")
        );
    }
    if !changes.remote.is_empty() {
        out.push_str("\nRemote changes:\n");
        for step in &changes.remote {
            let label = billing_changeset::preview::remote_label(&step.action);
            let _ = writeln!(out, "  [{}] {label}{}", step.environment, step.summary);
        }
        if changes
            .remote
            .iter()
            .any(|s| s.action == RemoteAction::Pending)
        {
            out.push_str("  (the report after applying spells out each dashboard step)\n");
        }
    }
    if !changes.manual_steps.is_empty() {
        let _ = writeln!(
            out,
            "\nManual steps ({}; repeated with their code after applying):",
            changes.manual_steps.len()
        );
        for step in &changes.manual_steps {
            let location = match step.line {
                Some(line) => format!("{}:{line}", step.file),
                None => step.file.clone(),
            };
            let first = step.instructions.lines().next().unwrap_or_default();
            let _ = writeln!(out, "  {location}: {first}");
        }
    }
    let _ = writeln!(out, "\nPlan hash: {hash}");
    out
}

#[cfg(test)]
mod tests {
    use billing_changeset::{FileChange, FileOrigin};

    use super::*;

    #[test]
    fn created_files_are_counted_and_edited_files_shown_in_full() {
        let changes = ChangeSet {
            files: vec![
                FileChange {
                    path: "src/lib/spaire/client.ts".into(),
                    action: FileAction::Create,
                    origin: FileOrigin::Generated,
                    before: None,
                    after: "a\nb\nc\n".into(),
                    summary: "client".into(),
                },
                FileChange {
                    path: "src/index.ts".into(),
                    action: FileAction::Modify,
                    origin: FileOrigin::Wired,
                    before: Some("one\ntwo\n".into()),
                    after: "one\nrecord();\ntwo\n".into(),
                    summary: "records API calls".into(),
                },
            ],
            ..ChangeSet::default()
        };
        let text = render(&changes, "abc");
        assert!(text.contains("Files to create (1, 3 lines"), "{text}");
        assert!(
            text.contains("+ src/lib/spaire/client.ts  (3 lines: client)"),
            "{text}"
        );
        assert!(
            !text.contains("+a"),
            "generated text stays behind --diff:\n{text}"
        );
        assert!(
            text.contains("~ src/index.ts  (+1 -0: records API calls)"),
            "{text}"
        );
        assert!(
            text.contains("+record();"),
            "edits are shown in full:\n{text}"
        );
        assert!(text.ends_with("Plan hash: abc\n"), "{text}");
    }
}
