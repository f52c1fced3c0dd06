//! The one place the MCP server calls the billing engine (detect, plan, ops, remote).
//! Each function is blocking and runs on tokio's blocking pool; the tool layer only maps
//! arguments and results.

use std::path::Path;

use super::args::{ApplyPlanArgs, ProposePlanArgs, UndoArgs, VerifyArgs};
use super::outcome::not_available;

/// `detect_project`: the project profile as JSON.
pub fn detect(root: &Path) -> anyhow::Result<serde_json::Value> {
    let profile = billing_detect::detect(root, &billing_detect::DetectOptions::default())?;
    Ok(serde_json::to_value(profile)?)
}

/// `list_meter_presets`: every preset with the meters it creates, plus the metadata keys the
/// generated code writes for it (what a custom aggregation may refer to).
pub fn meter_presets() -> anyhow::Result<serde_json::Value> {
    let presets: Vec<serde_json::Value> = billing_plan::presets()
        .into_iter()
        .map(|preset| {
            let meters: Vec<serde_json::Value> = preset
                .meters
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "name": m.name,
                        "event": m.event,
                        "aggregation": m.aggregation,
                        "kind": m.kind,
                        "metadata_keys": billing_plan::presets::written_keys(m),
                    })
                })
                .collect();
            serde_json::json!({
                "id": preset.id,
                "description": preset.description,
                "meters": meters,
            })
        })
        .collect();
    Ok(serde_json::json!({ "presets": presets }))
}

/// A proposal: what `propose_plan` showed, keyed by its hash.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub hash: String,
    pub environment: String,
    pub args: ProposePlanArgs,
    /// The JSON returned to the agent.
    pub view: serde_json::Value,
}

pub fn propose(root: &Path, args: &ProposePlanArgs) -> anyhow::Result<Proposal> {
    // Validate the answers now so the agent gets precise feedback even before planning exists.
    let plan = super::answers::to_plan(root, args)?;
    let _ = plan;
    Err(not_available("propose_plan", "planning (billing-ops)"))
}

/// `apply_plan`: re-plans from the same answers first; a different hash means the project or
/// the account changed since the user saw the proposal, and nothing is applied.
pub fn apply(
    root: &Path,
    proposal: &Proposal,
    args: &ApplyPlanArgs,
) -> anyhow::Result<serde_json::Value> {
    let fresh = propose(root, &proposal.args)?;
    if fresh.hash != proposal.hash {
        return Err(billing_errors::Hinted::new(
            format!(
                "the project or the account changed since plan {} was proposed (it is now {})",
                proposal.hash, fresh.hash
            ),
            "call propose_plan again, show the user the new plan, and apply its plan_hash after approval",
        )
        .into());
    }
    let _ = args;
    Err(not_available("apply_plan", "applying plans (billing-ops)"))
}

pub fn verify(root: &Path, args: &VerifyArgs) -> anyhow::Result<serde_json::Value> {
    let _ = (root, args);
    Err(not_available("verify", "verification (billing-remote)"))
}

pub fn undo(root: &Path, args: &UndoArgs) -> anyhow::Result<serde_json::Value> {
    let _ = (root, args);
    Err(not_available("undo", "undo (billing-ops)"))
}

pub fn status(root: &Path) -> anyhow::Result<serde_json::Value> {
    let _ = root;
    Err(not_available("status", "status (billing-ops)"))
}
