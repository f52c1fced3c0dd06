//! The preview of a [`ChangeSet`]: unified diffs, a readable listing of everything else, and
//! the plan hash that `apply --plan HASH` (and MCP `apply_plan`) must present.
//!
//! The hash covers a canonical serialisation of the *whole* change set — file contents before
//! and after, installs, env names, remote steps with their request bodies and manual steps —
//! so a project or account that changed between preview and apply produces a different hash
//! and the apply is refused instead of doing something the user never saw.

use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};
use similar::TextDiff;

use crate::{ChangeSet, FileAction, FileChange, RemoteAction};

/// Hex characters of the plan hash shown to users (64 bits: enough to detect any change,
/// short enough to paste).
pub const HASH_LEN: usize = 16;

/// Version prefix of the hashed bytes; bump when the canonical form changes meaning.
const HASH_DOMAIN: &[u8] = b"spaire-billing plan v1\n";

/// The stable hash of a change set, as lowercase hex of [`HASH_LEN`] characters.
pub fn plan_hash(changes: &ChangeSet) -> String {
    let canonical = canonical_json(changes);
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN);
    hasher.update(canonical.as_bytes());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(HASH_LEN);
    for byte in digest.iter().take(HASH_LEN / 2) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// JSON with object keys sorted at every level and no whitespace: the same change set always
/// gives the same bytes, whatever order producers inserted request-body keys in.
pub fn canonical_json(value: &impl Serialize) -> String {
    let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A unified diff of one file change (`/dev/null` as the old side of a created file).
pub fn file_diff(change: &FileChange) -> String {
    let before = change.before.as_deref().unwrap_or("");
    let old_name = match change.action {
        FileAction::Create => "/dev/null".to_owned(),
        FileAction::Modify => format!("a/{}", change.path),
    };
    let new_name = format!("b/{}", change.path);
    text_diff(before, &change.after, &old_name, &new_name)
}

/// [`file_diff`] with one line of context instead of three: the compact form a short
/// preview shows.
pub fn compact_file_diff(change: &FileChange) -> String {
    let before = change.before.as_deref().unwrap_or("");
    if before == change.after {
        return String::new();
    }
    TextDiff::from_lines(before, &change.after)
        .unified_diff()
        .context_radius(1)
        .header(&format!("a/{}", change.path), &format!("b/{}", change.path))
        .to_string()
}

/// A unified diff between two texts with the given header names; empty when they are equal.
pub fn text_diff(before: &str, after: &str, old_name: &str, new_name: &str) -> String {
    if before == after {
        return String::new();
    }
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// Every file's diff, concatenated in change-set order.
pub fn unified_diff(changes: &ChangeSet) -> String {
    changes.files.iter().map(file_diff).collect()
}

/// Human-readable preview: the files as diffs, then installs, env names, remote steps (each
/// naming its environment), manual steps and the hash. The CLI prints it; MCP returns it.
pub fn render_text(changes: &ChangeSet, hash: &str) -> String {
    let mut out = String::new();
    if changes.files.is_empty() {
        out.push_str("Files: none to change\n");
    } else {
        let _ = writeln!(out, "Files ({}):", changes.files.len());
        for file in &changes.files {
            let verb = match file.action {
                FileAction::Create => "create",
                FileAction::Modify => "modify",
            };
            let _ = writeln!(out, "  {verb} {}  ({})", file.path, file.summary);
        }
        out.push('\n');
        out.push_str(&unified_diff(changes));
    }
    if !changes.installs.is_empty() {
        out.push_str("\nPackage installs:\n");
        for install in &changes.installs {
            let _ = writeln!(out, "  (in {}) {}", install.cwd, shell_words(&install.argv));
        }
    }
    if !changes.env_vars.is_empty() {
        out.push_str("\nEnvironment variables (names only; set the values yourself):\n");
        for var in &changes.env_vars {
            let required = if var.required { "required" } else { "optional" };
            let _ = writeln!(out, "  {}  {required}: {}", var.name, var.purpose);
        }
    }
    if !changes.remote.is_empty() {
        out.push_str("\nRemote changes:\n");
        for step in &changes.remote {
            let label = remote_label(&step.action);
            let _ = writeln!(out, "  [{}] {label}{}", step.environment, step.summary);
            for (i, line) in step.dashboard_steps.iter().enumerate() {
                let _ = writeln!(out, "      {}. {line}", i + 1);
            }
        }
    }
    if !changes.manual_steps.is_empty() {
        out.push_str("\nManual steps:\n");
        for step in &changes.manual_steps {
            let location = match step.line {
                Some(line) => format!("{}:{line}", step.file),
                None => step.file.clone(),
            };
            let _ = writeln!(out, "  {location}: {}", step.instructions);
            if let Some(snippet) = &step.snippet {
                for line in snippet.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    let _ = writeln!(out, "\nPlan hash: {hash}");
    out
}

/// A command line as a user would type it (arguments with spaces or quotes are quoted).
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            if !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "@/._-=:+^~,".contains(c))
            {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The prefix of a remote step's line in a preview. Summaries of writes start with their
/// verb ("create meter …", "add a metered price …"); the others say why nothing is sent.
pub fn remote_label(action: &RemoteAction) -> &'static str {
    match action {
        RemoteAction::Create | RemoteAction::Update => "",
        RemoteAction::Reuse => "reuse: ",
        RemoteAction::Pending => "dashboard step: ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileOrigin, RemoteStep};

    fn sample() -> ChangeSet {
        ChangeSet {
            files: vec![FileChange {
                path: "src/lib/spaire.ts".into(),
                action: FileAction::Create,
                origin: FileOrigin::Generated,
                before: None,
                after: "export const a = 1;\n".into(),
                summary: "client".into(),
            }],
            remote: vec![RemoteStep {
                key: "meter:api-calls".into(),
                object: "meter".into(),
                action: RemoteAction::Pending,
                environment: "sandbox".into(),
                summary: "meter `api-calls`".into(),
                request: serde_json::json!({"name": "api-calls", "aggregation": {"func": "count"}}),
                dashboard_steps: vec!["Open Meters".into()],
            }],
            ..ChangeSet::default()
        }
    }

    #[test]
    fn hash_ignores_request_key_order_but_not_content() {
        let a = sample();
        let mut b = sample();
        b.remote[0].request =
            serde_json::json!({"aggregation": {"func": "count"}, "name": "api-calls"});
        assert_eq!(plan_hash(&a), plan_hash(&b));
        assert_eq!(plan_hash(&a).len(), HASH_LEN);
        let mut c = sample();
        c.remote[0].environment = "production".into();
        assert_ne!(plan_hash(&a), plan_hash(&c));
        let mut d = sample();
        d.files[0].after.push(' ');
        assert_ne!(plan_hash(&a), plan_hash(&d));
    }

    #[test]
    fn created_files_diff_against_dev_null() {
        let diff = file_diff(&sample().files[0]);
        assert_eq!(
            diff,
            "--- /dev/null\n+++ b/src/lib/spaire.ts\n@@ -0,0 +1 @@\n+export const a = 1;\n"
        );
    }

    #[test]
    fn rendered_preview_names_the_environment_of_remote_steps() {
        let text = render_text(&sample(), "abc");
        assert!(text.contains("[sandbox] dashboard step: meter `api-calls`"));
        assert!(text.contains("      1. Open Meters"));
        assert!(text.ends_with("Plan hash: abc\n"));
    }

    #[test]
    fn shell_words_quote_only_when_needed() {
        let argv = ["pip".into(), "install".into(), "spaire-sdk>=0.1".into()];
        assert_eq!(shell_words(&argv), "pip install 'spaire-sdk>=0.1'");
    }
}
