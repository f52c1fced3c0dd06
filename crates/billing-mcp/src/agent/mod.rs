//! `spaire-billing agent install`: the instruction files and MCP client config that make coding
//! agents drive the `spaire-billing` MCP server instead of improvising.
//!
//! [`plan_install`] only reads; it returns a [`ChangeSet`] that the CLI previews and, once
//! confirmed, hands to [`apply_install`]. Other tools' entries in shared config files are never
//! touched, and running it again when everything is in place changes nothing.

mod files;
mod merge;
mod preview;
mod templates;

use std::path::Path;

use billing_changeset::{ChangeSet, FileAction, FileChange, FileOrigin};

use merge::Merged;
pub use merge::ServerEntry;
pub use preview::render as render_preview;
use templates::AgentText;

/// Which agents to install for. The CLI turns "no flag" into "all of them".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentTargets {
    pub claude: bool,
    pub cursor: bool,
    pub codex: bool,
}

impl AgentTargets {
    pub const ALL: AgentTargets = AgentTargets {
        claude: true,
        cursor: true,
        codex: true,
    };
}

/// What `agent install` would do.
#[derive(Debug, Clone, Default)]
pub struct AgentInstallPlan {
    /// Files to create or modify (only `files` is used).
    pub changes: ChangeSet,
    /// Files that already say exactly what we would write.
    pub up_to_date: Vec<String>,
    /// Things the user should know (a customised entry we left alone).
    pub notes: Vec<String>,
}

/// The server entry written into MCP configs: the binary found on `PATH`, so the committed
/// config works for everyone on the team.
pub fn default_server_entry() -> ServerEntry {
    ServerEntry {
        name: "spaire-billing".to_owned(),
        command: "spaire-billing".to_owned(),
        args: vec!["mcp".to_owned()],
    }
}

/// Works out every file change for `targets` under `root`. Reads only.
pub fn plan_install(
    root: &Path,
    targets: AgentTargets,
    entry: &ServerEntry,
) -> anyhow::Result<AgentInstallPlan> {
    let project = files::open(root)?;
    let mut plan = AgentInstallPlan::default();
    if targets.claude {
        let text = templates::render(AgentText::ClaudeCommand)?;
        plan.add(
            &project,
            ".claude/commands/setup-usage-billing.md",
            FileOrigin::Generated,
            "Claude Code command `/setup-usage-billing`",
            |old| Ok(merge::owned_file(old, &text)),
        )?;
        plan.add(
            &project,
            ".mcp.json",
            FileOrigin::Config,
            "registers the `spaire-billing` MCP server for Claude Code",
            |old| merge::mcp_json(".mcp.json", old, entry),
        )?;
    }
    if targets.cursor {
        let text = templates::render(AgentText::CursorRule)?;
        plan.add(
            &project,
            ".cursor/rules/setup-usage-billing.mdc",
            FileOrigin::Generated,
            "Cursor rule for setting up usage billing",
            |old| Ok(merge::owned_file(old, &text)),
        )?;
        plan.add(
            &project,
            ".cursor/mcp.json",
            FileOrigin::Config,
            "registers the `spaire-billing` MCP server for Cursor",
            |old| merge::mcp_json(".cursor/mcp.json", old, entry),
        )?;
    }
    if targets.codex {
        let text = templates::render(AgentText::AgentsSection)?;
        plan.add(
            &project,
            "AGENTS.md",
            FileOrigin::Config,
            "usage-billing section for Codex and other AGENTS.md readers",
            |old| merge::markdown_section("AGENTS.md", old, &text),
        )?;
        plan.add(
            &project,
            ".codex/config.toml",
            FileOrigin::Config,
            "registers the `spaire-billing` MCP server for Codex (trusted projects)",
            |old| merge::codex_toml(".codex/config.toml", old, entry),
        )?;
    }
    Ok(plan)
}

/// Writes the planned files. Refuses (writing nothing) if any of them changed since planning.
pub fn apply_install(root: &Path, plan: &AgentInstallPlan) -> anyhow::Result<()> {
    files::apply(&files::open(root)?, &plan.changes.files)
}

impl AgentInstallPlan {
    fn add(
        &mut self,
        project: &billing_apply::Project,
        path: &str,
        origin: FileOrigin,
        summary: &str,
        merge: impl FnOnce(Option<&str>) -> anyhow::Result<Merged>,
    ) -> anyhow::Result<()> {
        let before = files::read_existing(project, path)?;
        match merge(before.as_deref())? {
            Merged::UpToDate => self.up_to_date.push(path.to_owned()),
            Merged::KeptExisting => self.notes.push(format!(
                "`{path}` already has a `spaire-billing` server entry that differs from the default; it was left as is"
            )),
            Merged::Changed(after) => self.changes.files.push(FileChange {
                path: path.to_owned(),
                action: if before.is_some() { FileAction::Modify } else { FileAction::Create },
                origin,
                before,
                after,
                summary: summary.to_owned(),
            }),
        }
        Ok(())
    }
}
