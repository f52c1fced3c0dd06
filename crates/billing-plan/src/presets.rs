//! Meter presets, as data: the CLI, the setup wizard and the MCP server (`list_meter_presets`)
//! all read this list, and parsing `preset = "..."` expands through it.
//!
//! The event names and aggregated properties come from the seed prompt this product replaces;
//! the generated code writes exactly [`metadata_keys`] for each [`MeterKind`], which is how a
//! meter's aggregated property is guaranteed to exist on the events it counts.

use serde::{Deserialize, Serialize};

use crate::model::{Aggregation, AggregationFunc, Meter, MeterKind};

/// A named bundle of meters the user can pick instead of defining them by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preset {
    /// The value of `preset = "..."` in `spaire-billing.toml`.
    pub id: &'static str,
    /// One line for menus and MCP tool descriptions.
    pub description: &'static str,
    /// The meters this preset creates (empty for `custom`, whose meter the user defines).
    pub meters: Vec<Meter>,
}

/// Id of the preset whose meter is defined by `name`, `event`, `aggregation` and `property`.
pub const CUSTOM: &str = "custom";

fn meter(
    preset: &str,
    kind: MeterKind,
    name: &str,
    event: &str,
    func: AggregationFunc,
    property: Option<&str>,
) -> Meter {
    Meter {
        name: name.to_owned(),
        event: event.to_owned(),
        aggregation: Aggregation {
            func,
            property: property.map(str::to_owned),
        },
        kind,
        preset: Some(preset.to_owned()),
    }
}

/// Every preset, in the order menus show them.
pub fn presets() -> Vec<Preset> {
    use AggregationFunc::{Count, Sum};
    use MeterKind::{ApiCalls, ComputeTime, LlmTokens, Storage};
    vec![
        Preset {
            id: "llm-tokens",
            description: "LLM tokens: sum of `totalTokens` over `llm-usage` events (one meter)",
            meters: vec![meter(
                "llm-tokens",
                LlmTokens,
                "llm-token-usage",
                "llm-usage",
                Sum,
                Some("totalTokens"),
            )],
        },
        Preset {
            id: "llm-tokens-split",
            description: "LLM tokens with prompt and completion priced apart: `llm-token-usage` \
                          plus `prompt-tokens` (sum of `inputTokens`) and `completion-tokens` \
                          (sum of `outputTokens`), all over `llm-usage` events",
            meters: vec![
                meter(
                    "llm-tokens-split",
                    LlmTokens,
                    "llm-token-usage",
                    "llm-usage",
                    Sum,
                    Some("totalTokens"),
                ),
                meter(
                    "llm-tokens-split",
                    LlmTokens,
                    "prompt-tokens",
                    "llm-usage",
                    Sum,
                    Some("inputTokens"),
                ),
                meter(
                    "llm-tokens-split",
                    LlmTokens,
                    "completion-tokens",
                    "llm-usage",
                    Sum,
                    Some("outputTokens"),
                ),
            ],
        },
        Preset {
            id: "api-calls",
            description: "API calls: count of `api-call` events, one per handled request",
            meters: vec![meter(
                "api-calls",
                ApiCalls,
                "api-calls",
                "api-call",
                Count,
                None,
            )],
        },
        Preset {
            id: "storage",
            description: "Storage: sum of `bytes` over `storage-upload` events, one per upload",
            meters: vec![meter(
                "storage",
                Storage,
                "storage-usage",
                "storage-upload",
                Sum,
                Some("bytes"),
            )],
        },
        Preset {
            id: "compute-time",
            description: "Compute time: sum of `deltaTime` (milliseconds) over \
                          `compute-execution` events",
            meters: vec![meter(
                "compute-time",
                ComputeTime,
                "compute-time",
                "compute-execution",
                Sum,
                Some("deltaTime"),
            )],
        },
        Preset {
            id: CUSTOM,
            description: "Your own meter: give `name`, `event`, `aggregation` \
                          (count | sum | max | min | avg | unique) and `property`",
            meters: Vec::new(),
        },
    ]
}

/// The preset with this id.
pub fn preset(id: &str) -> Option<Preset> {
    presets().into_iter().find(|p| p.id == id)
}

/// Ids of every preset, for error messages.
pub fn preset_ids() -> Vec<&'static str> {
    presets().iter().map(|p| p.id).collect()
}

/// The event metadata keys the generated code writes for a meter of this kind.
///
/// This is the contract between the plan and the generators (`billing-generate` reads the
/// same table): a meter may only aggregate a property listed here, otherwise it would sum a
/// key no event carries and silently bill nothing. `Custom` meters write exactly their own
/// declared property, so the list is empty here and [`written_keys`] adds it.
pub fn metadata_keys(kind: MeterKind) -> &'static [&'static str] {
    match kind {
        MeterKind::LlmTokens => &["inputTokens", "outputTokens", "totalTokens", "model"],
        MeterKind::ApiCalls => &["endpoint", "method"],
        MeterKind::Storage => &["bytes"],
        MeterKind::ComputeTime => &["deltaTime"],
        MeterKind::Custom => &[],
    }
}

/// The event names the generated code sends for a meter of this kind, when fixed by the kind
/// (custom meters send their own declared event).
pub fn fixed_event(kind: MeterKind) -> Option<&'static str> {
    match kind {
        MeterKind::LlmTokens => Some("llm-usage"),
        MeterKind::ApiCalls => Some("api-call"),
        MeterKind::Storage => Some("storage-upload"),
        MeterKind::ComputeTime => Some("compute-execution"),
        MeterKind::Custom => None,
    }
}

/// Every metadata key the generated code writes on events of `meter`'s kind.
pub fn written_keys(meter: &Meter) -> Vec<String> {
    let mut keys: Vec<String> = metadata_keys(meter.kind)
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    if meter.kind == MeterKind::Custom
        && let Some(property) = &meter.aggregation.property
    {
        keys.push(property.clone());
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_meters_aggregate_keys_their_kind_writes() {
        for preset in presets() {
            for meter in &preset.meters {
                assert_eq!(Some(meter.event.as_str()), fixed_event(meter.kind));
                if let Some(property) = &meter.aggregation.property {
                    assert!(
                        metadata_keys(meter.kind).contains(&property.as_str()),
                        "{}: {property}",
                        meter.name
                    );
                }
            }
        }
    }

    #[test]
    fn split_preset_extends_the_single_one() {
        let single = preset("llm-tokens").unwrap();
        let split = preset("llm-tokens-split").unwrap();
        assert_eq!(single.meters[0].name, split.meters[0].name);
        assert_eq!(split.meters.len(), 3);
        assert!(preset("nope").is_none());
    }
}
