//! Meter presets, as data: the CLI, the setup wizard and the MCP server (`list_meter_presets`)
//! all read this list, and parsing `preset = "..."` expands through it.
//!
//! The event names and aggregated properties come from the seed prompt this product replaces;
//! the generated code writes exactly [`metadata_keys`] for each [`MeterKind`], which is how a
//! meter's aggregated property is guaranteed to exist on the events it counts.

use serde::{Deserialize, Serialize};

use crate::model::{Aggregation, Meter, MeterKind};

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
pub const CUSTOM: &str = billing_vocab::meter::CUSTOM_PRESET;

impl Preset {
    fn from_spec(spec: &billing_vocab::PresetSpec) -> Self {
        Preset {
            id: spec.id,
            description: spec.description,
            meters: spec
                .meters
                .iter()
                .map(|m| Meter {
                    name: m.name.to_owned(),
                    event: m.event().to_owned(),
                    aggregation: Aggregation {
                        func: m.func,
                        property: m.property.map(str::to_owned),
                    },
                    kind: m.kind,
                    preset: Some(spec.id.to_owned()),
                    markup: None,
                    paths: None,
                })
                .collect(),
        }
    }
}

/// Every preset, in the order menus show them (the table is `billing_vocab::PRESETS`).
pub fn presets() -> Vec<Preset> {
    billing_vocab::PRESETS
        .iter()
        .map(Preset::from_spec)
        .collect()
}

/// The preset with this id.
pub fn preset(id: &str) -> Option<Preset> {
    billing_vocab::preset(id).map(Preset::from_spec)
}

/// Ids of every preset, for error messages.
pub fn preset_ids() -> Vec<&'static str> {
    billing_vocab::meter::preset_ids()
}

/// The event metadata keys the generated code writes for a meter of this kind.
///
/// This is the contract between the plan and the generators (`billing-generate` reads the
/// same table): a meter may only aggregate a property listed here, otherwise it would sum a
/// key no event carries and silently bill nothing. `Custom` meters write exactly their own
/// declared property, so the list is empty here and [`written_keys`] adds it.
pub fn metadata_keys(kind: MeterKind) -> &'static [&'static str] {
    kind.metadata_keys()
}

/// The event names the generated code sends for a meter of this kind, when fixed by the kind
/// (custom meters send their own declared event).
pub fn fixed_event(kind: MeterKind) -> Option<&'static str> {
    kind.fixed_event()
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
        let single = preset(billing_vocab::meter::LLM_PRESET).unwrap();
        let split = preset(billing_vocab::meter::LLM_SPLIT_PRESET).unwrap();
        assert_eq!(single.meters[0].name, split.meters[0].name);
        assert_eq!(split.meters.len(), 3);
        assert!(preset("nope").is_none());
    }
}
