//! Adding our entry to configuration files other tools own, without disturbing their entries,
//! comments or formatting. Every function takes the file's current text (`None` when the file
//! does not exist) and returns what it should become.

use billing_errors::Hinted;
use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstRootNode};

/// What merging decided for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// The file needs this new content.
    Changed(String),
    /// Our entry is already there, exactly as we would write it.
    UpToDate,
    /// An entry with our name exists but differs (the user customised it); it is kept as is.
    KeptExisting,
}

/// The stdio server entry written into MCP client configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
}

impl ServerEntry {
    fn as_json(&self) -> serde_json::Value {
        serde_json::json!({ "command": self.command, "args": self.args })
    }

    fn as_cst_input(&self) -> CstInputValue {
        CstInputValue::Object(vec![
            (
                "command".to_owned(),
                CstInputValue::from(self.command.as_str()),
            ),
            (
                "args".to_owned(),
                CstInputValue::Array(
                    self.args
                        .iter()
                        .map(|a| CstInputValue::from(a.as_str()))
                        .collect(),
                ),
            ),
        ])
    }
}

/// Adds `entry` under `mcpServers` in a Claude Code / Cursor style JSON config.
/// Comments and trailing commas (which Cursor tolerates) are kept.
pub fn mcp_json(path: &str, existing: Option<&str>, entry: &ServerEntry) -> anyhow::Result<Merged> {
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else {
        let mut servers = serde_json::Map::new();
        servers.insert(entry.name.clone(), entry.as_json());
        let doc = serde_json::json!({ "mcpServers": servers });
        return Ok(Merged::Changed(format!(
            "{}\n",
            serde_json::to_string_pretty(&doc)?
        )));
    };
    let root = CstRootNode::parse(text, &ParseOptions::default()).map_err(|err| {
        Hinted::new(
            format!("`{path}` is not valid JSON: {err}"),
            format!("fix `{path}` by hand (or move it away) and run `spaire-billing agent install` again"),
        )
    })?;
    let Some(object) = root.object_value() else {
        return Err(Hinted::new(
            format!("`{path}` does not contain a JSON object"),
            format!(
                "an MCP config is an object with an `mcpServers` key; fix `{path}` and run again"
            ),
        )
        .into());
    };
    let servers = match object.get("mcpServers") {
        None => object.append("mcpServers", CstInputValue::Object(Vec::new())),
        Some(prop) => prop,
    };
    let Some(servers) = servers.object_value() else {
        return Err(Hinted::new(
            format!("`mcpServers` in `{path}` is not an object"),
            format!("make `mcpServers` an object of servers in `{path}` and run again"),
        )
        .into());
    };
    if let Some(current) = servers.get(&entry.name) {
        let current = current.value().and_then(|v| v.to_serde_value());
        return Ok(if current.as_ref() == Some(&entry.as_json()) {
            Merged::UpToDate
        } else {
            Merged::KeptExisting
        });
    }
    servers.append(&entry.name, entry.as_cst_input());
    let mut out = root.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(Merged::Changed(out))
}

/// Adds `[mcp_servers.<name>]` to a Codex `config.toml`, keeping everything else byte for byte.
pub fn codex_toml(
    path: &str,
    existing: Option<&str>,
    entry: &ServerEntry,
) -> anyhow::Result<Merged> {
    let text = existing.unwrap_or("");
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|err: toml_edit::TomlError| {
        Hinted::new(
            format!("`{path}` is not valid TOML: {}", err.message()),
            format!("fix `{path}` by hand (or move it away) and run `spaire-billing agent install` again"),
        )
    })?;
    let servers = doc.entry("mcp_servers").or_insert_with(|| {
        let mut table = toml_edit::Table::new();
        // `[mcp_servers.x]` headers only, no empty `[mcp_servers]` line.
        table.set_implicit(true);
        toml_edit::Item::Table(table)
    });
    let Some(servers) = servers.as_table_like_mut() else {
        return Err(Hinted::new(
            format!("`mcp_servers` in `{path}` is not a table"),
            format!("make `mcp_servers` a table in `{path}` and run again"),
        )
        .into());
    };
    if let Some(current) = servers.get(&entry.name) {
        let command = current.get("command").and_then(|c| c.as_str());
        let args: Option<Vec<&str>> = current
            .get("args")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect());
        let wanted: Vec<&str> = entry.args.iter().map(String::as_str).collect();
        return Ok(
            if command == Some(entry.command.as_str()) && args.as_deref() == Some(&wanted[..]) {
                Merged::UpToDate
            } else {
                Merged::KeptExisting
            },
        );
    }
    let mut table = toml_edit::Table::new();
    table.insert("command", toml_edit::value(entry.command.as_str()));
    let mut args = toml_edit::Array::new();
    for arg in &entry.args {
        args.push(arg.as_str());
    }
    table.insert("args", toml_edit::value(args));
    servers.insert(&entry.name, toml_edit::Item::Table(table));
    let mut out = doc.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(Merged::Changed(out))
}

const SECTION_BEGIN: &str = "<!-- spaire-billing:begin -->";
const SECTION_END: &str = "<!-- spaire-billing:end -->";

/// Puts `section` between our markers in a Markdown file (`AGENTS.md`): replaced in place when
/// the markers exist, appended after the user's text otherwise.
pub fn markdown_section(
    path: &str,
    existing: Option<&str>,
    section: &str,
) -> anyhow::Result<Merged> {
    let block = format!(
        "{SECTION_BEGIN}\n{}{SECTION_END}\n",
        ensure_newline(section)
    );
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else {
        return Ok(Merged::Changed(block));
    };
    let begin = text.find(SECTION_BEGIN);
    let end = text.find(SECTION_END);
    let new_text = match (begin, end) {
        (None, None) => format!("{}\n{block}", ensure_newline(text)),
        (Some(b), Some(e)) if b < e => {
            let after = &text[e + SECTION_END.len()..];
            let after = after.strip_prefix('\n').unwrap_or(after);
            format!("{}{block}{after}", &text[..b])
        }
        _ => {
            let marker = if begin.is_some() {
                SECTION_BEGIN
            } else {
                SECTION_END
            };
            let line = text[..begin.or(end).unwrap_or(0)].matches('\n').count() + 1;
            return Err(Hinted::new(
                format!("`{path}` line {line} has `{marker}` without its matching marker"),
                format!(
                    "restore both `{SECTION_BEGIN}` and `{SECTION_END}` (or delete both) in `{path}` and run again"
                ),
            )
            .into());
        }
    };
    Ok(if new_text == text {
        Merged::UpToDate
    } else {
        Merged::Changed(new_text)
    })
}

/// Files we own completely (the Claude command, the Cursor rule): replaced when they differ.
pub fn owned_file(existing: Option<&str>, content: &str) -> Merged {
    if existing == Some(content) {
        Merged::UpToDate
    } else {
        Merged::Changed(content.to_owned())
    }
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ServerEntry {
        ServerEntry {
            name: "spaire-billing".into(),
            command: "spaire-billing".into(),
            args: vec!["mcp".into()],
        }
    }

    fn changed(m: Merged) -> String {
        match m {
            Merged::Changed(s) => s,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn json_is_created_when_missing_or_empty() {
        let out = changed(mcp_json(".mcp.json", None, &entry()).unwrap());
        assert_eq!(
            out,
            "{\n  \"mcpServers\": {\n    \"spaire-billing\": {\n      \"command\": \"spaire-billing\",\n      \"args\": [\n        \"mcp\"\n      ]\n    }\n  }\n}\n"
        );
        assert_eq!(
            changed(mcp_json(".mcp.json", Some("  \n"), &entry()).unwrap()),
            out
        );
    }

    #[test]
    fn json_keeps_other_servers_and_comments_and_is_idempotent() {
        let existing = "{\n  // team servers\n  \"mcpServers\": {\n    \"github\": { \"command\": \"gh-mcp\" },\n  },\n  \"other\": 1\n}\n";
        let out = changed(mcp_json(".cursor/mcp.json", Some(existing), &entry()).unwrap());
        assert!(out.contains("// team servers"), "{out}");
        assert!(
            out.contains("\"github\": { \"command\": \"gh-mcp\" }"),
            "{out}"
        );
        assert!(out.contains("\"other\": 1"), "{out}");
        let parsed =
            jsonc_parser::parse_to_serde_value::<serde_json::Value>(&out, &Default::default())
                .unwrap();
        assert_eq!(parsed["mcpServers"]["spaire-billing"]["args"][0], "mcp");
        assert_eq!(
            mcp_json(".cursor/mcp.json", Some(&out), &entry()).unwrap(),
            Merged::UpToDate
        );
    }

    #[test]
    fn json_keeps_a_customised_entry() {
        let existing =
            r#"{"mcpServers": {"spaire-billing": {"command": "/opt/sb", "args": ["mcp"]}}}"#;
        assert_eq!(
            mcp_json(".mcp.json", Some(existing), &entry()).unwrap(),
            Merged::KeptExisting
        );
    }

    #[test]
    fn broken_json_names_the_file_and_line() {
        let err = mcp_json(".mcp.json", Some("{\n  \"mcpServers\": {\n"), &entry()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("`.mcp.json` is not valid JSON"), "{msg}");
        assert!(msg.contains("line"), "{msg}");
        let err = mcp_json(".mcp.json", Some("[1]"), &entry()).unwrap_err();
        assert!(err.to_string().contains("does not contain a JSON object"));
        let err = mcp_json(".mcp.json", Some(r#"{"mcpServers": []}"#), &entry()).unwrap_err();
        assert!(err.to_string().contains("is not an object"));
    }

    #[test]
    fn toml_adds_a_table_and_keeps_the_rest() {
        let existing =
            "# my codex settings\nmodel = \"o4\"\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
        let out = changed(codex_toml(".codex/config.toml", Some(existing), &entry()).unwrap());
        assert!(out.starts_with(existing), "{out}");
        assert!(
            out.ends_with(
                "[mcp_servers.spaire-billing]\ncommand = \"spaire-billing\"\nargs = [\"mcp\"]\n"
            ),
            "{out}"
        );
        assert_eq!(
            codex_toml(".codex/config.toml", Some(&out), &entry()).unwrap(),
            Merged::UpToDate
        );
        let fresh = changed(codex_toml(".codex/config.toml", None, &entry()).unwrap());
        assert_eq!(
            fresh,
            "[mcp_servers.spaire-billing]\ncommand = \"spaire-billing\"\nargs = [\"mcp\"]\n"
        );
        let err =
            codex_toml(".codex/config.toml", Some("mcp_servers = 3\n"), &entry()).unwrap_err();
        assert!(err.to_string().contains("is not a table"));
        let err = codex_toml(".codex/config.toml", Some("[x\n"), &entry()).unwrap_err();
        assert!(err.to_string().contains("is not valid TOML"));
    }

    #[test]
    fn markdown_section_appends_replaces_and_is_idempotent() {
        let out = changed(
            markdown_section(
                "AGENTS.md",
                Some("# Agents\n\nBe nice."),
                "## Billing\nv1\n",
            )
            .unwrap(),
        );
        assert_eq!(
            out,
            "# Agents\n\nBe nice.\n\n<!-- spaire-billing:begin -->\n## Billing\nv1\n<!-- spaire-billing:end -->\n"
        );
        assert_eq!(
            markdown_section("AGENTS.md", Some(&out), "## Billing\nv1\n").unwrap(),
            Merged::UpToDate
        );
        let with_tail = format!("{out}\n## Later\n");
        let replaced =
            changed(markdown_section("AGENTS.md", Some(&with_tail), "## Billing\nv2\n").unwrap());
        assert_eq!(
            replaced,
            "# Agents\n\nBe nice.\n\n<!-- spaire-billing:begin -->\n## Billing\nv2\n<!-- spaire-billing:end -->\n\n## Later\n"
        );
        let err = markdown_section(
            "AGENTS.md",
            Some("a\nb\n<!-- spaire-billing:begin -->\n"),
            "x",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`AGENTS.md` line 3 has `<!-- spaire-billing:begin -->` without its matching marker"
        );
    }
}
