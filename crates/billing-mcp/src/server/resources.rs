//! Read-only resources: the project profile, the current plan and the meter presets.
//! Each read computes fresh data, so a resource never shows a stale project.

use std::path::Path;

use rmcp::model::{ReadResourceResult, Resource, ResourceContents};

use super::engine;

pub const PROFILE_URI: &str = "spaire-billing://project/profile";
pub const PLAN_URI: &str = "spaire-billing://plan/current";
pub const PRESETS_URI: &str = "spaire-billing://meter-presets";

pub fn list() -> Vec<Resource> {
    vec![
        Resource::new(PROFILE_URI, "project-profile")
            .with_title("Project profile")
            .with_description("What detect_project finds in this project (read fresh on every read)")
            .with_mime_type("application/json"),
        Resource::new(PLAN_URI, "current-plan")
            .with_title("Current billing plan")
            .with_description(
                "The project's spaire-billing.toml (if any) and the latest plan proposed in this session",
            )
            .with_mime_type("application/json"),
        Resource::new(PRESETS_URI, "meter-presets")
            .with_title("Meter presets")
            .with_description("Meter presets to offer the user, with event names and aggregations")
            .with_mime_type("application/json"),
    ]
}

/// `Ok(None)` for an unknown URI.
pub fn read(
    root: &Path,
    uri: &str,
    latest_proposal: Option<serde_json::Value>,
) -> anyhow::Result<Option<ReadResourceResult>> {
    let value = match uri {
        PROFILE_URI => engine::detect(root)?,
        PRESETS_URI => engine::meter_presets()?,
        PLAN_URI => {
            let plan_file = match fs_err::read_to_string(root.join(billing_plan::PLAN_FILE)) {
                Ok(text) => Some(text),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                Err(err) => return Err(err.into()),
            };
            serde_json::json!({
                "plan_file": plan_file,
                "latest_proposal": latest_proposal,
            })
        }
        _ => return Ok(None),
    };
    let text = serde_json::to_string_pretty(&value)?;
    Ok(Some(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type("application/json"),
    ])))
}
