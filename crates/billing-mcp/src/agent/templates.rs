//! The agent instruction texts, rendered from the files in `templates/`.
//!
//! They are embedded at compile time so the binary carries them; minijinja only stitches the
//! shared workflow into each agent's wrapper (front matter differs per agent).

use minijinja::Environment;

const WORKFLOW: &str = include_str!("../../templates/workflow.md");
const CLAUDE_COMMAND: &str = include_str!("../../templates/claude-command.md");
const CURSOR_RULE: &str = include_str!("../../templates/cursor-rule.mdc");
const AGENTS_SECTION: &str = include_str!("../../templates/agents-section.md");

/// One of the instruction files `agent install` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentText {
    ClaudeCommand,
    CursorRule,
    AgentsSection,
}

impl AgentText {
    fn template_name(self) -> &'static str {
        match self {
            AgentText::ClaudeCommand => "claude-command.md",
            AgentText::CursorRule => "cursor-rule.mdc",
            AgentText::AgentsSection => "agents-section.md",
        }
    }
}

/// Renders one text. The templates are part of the binary, so a failure here is a bug in them
/// (caught by the unit test below), not something a user can cause.
pub fn render(text: AgentText) -> anyhow::Result<String> {
    // Templates drop their final newline by default; the file gets exactly one back below.
    let mut env = Environment::new();
    env.add_template("workflow.md", WORKFLOW)?;
    env.add_template("claude-command.md", CLAUDE_COMMAND)?;
    env.add_template("cursor-rule.mdc", CURSOR_RULE)?;
    env.add_template("agents-section.md", AGENTS_SECTION)?;
    let rendered = env
        .get_template(text.template_name())?
        .render(minijinja::context! {})?;
    Ok(format!("{}\n", rendered.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_renders_with_the_shared_workflow() {
        for text in [
            AgentText::ClaudeCommand,
            AgentText::CursorRule,
            AgentText::AgentsSection,
        ] {
            let rendered = render(text).unwrap();
            assert!(rendered.contains("Never invent prices"), "{text:?}");
            assert!(rendered.contains("apply_plan"), "{text:?}");
            assert!(rendered.ends_with('\n'), "{text:?}");
            assert!(!rendered.contains("{%"), "{text:?}");
        }
    }
}
