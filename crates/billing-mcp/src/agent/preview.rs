//! The text preview of an `agent install` plan: one line per file, then its unified diff
//! (the same diff rendering as every other plan preview).

use billing_changeset::FileAction;

use super::AgentInstallPlan;

/// Renders every planned change. Empty when nothing would change.
pub fn render(plan: &AgentInstallPlan) -> String {
    let mut out = String::new();
    for file in &plan.changes.files {
        let verb = match file.action {
            FileAction::Create => "create",
            FileAction::Modify => "modify",
        };
        out.push_str(&format!("{verb} {}  ({})\n", file.path, file.summary));
    }
    for file in &plan.changes.files {
        out.push('\n');
        out.push_str(&billing_changeset::file_diff(file));
    }
    out
}
