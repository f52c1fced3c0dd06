//! Meter kinds, aggregation functions and meter presets.
//!
//! The event names and metadata keys per kind are the contract between the plan and the
//! generated code: every generator writes exactly [`MeterKind::metadata_keys`] on events
//! named [`MeterKind::fixed_event`], and the plan validator only lets a meter aggregate one
//! of those keys, so a meter can never sum a key no event carries.

use serde::{Deserialize, Serialize};

/// What kind of usage a meter counts; decides which helpers are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum MeterKind {
    LlmTokens,
    /// Embedding calls (`embed`, `embeddings.create`): their input tokens, apart from chat.
    #[serde(rename = "embedding-tokens")]
    Embeddings,
    /// Image generation calls: the number of images returned.
    #[serde(rename = "images-generated")]
    Images,
    ApiCalls,
    Storage,
    ComputeTime,
    Custom,
}

impl MeterKind {
    /// The kind as users see it (its serde name; for preset kinds also the preset family).
    pub fn as_str(self) -> &'static str {
        match self {
            MeterKind::LlmTokens => LLM_PRESET,
            MeterKind::Embeddings => EMBEDDING_PRESET,
            MeterKind::Images => IMAGES_PRESET,
            MeterKind::ApiCalls => "api-calls",
            MeterKind::Storage => "storage",
            MeterKind::ComputeTime => "compute-time",
            MeterKind::Custom => CUSTOM_PRESET,
        }
    }

    /// The event name the generated code sends for this kind (custom meters send their own).
    pub fn fixed_event(self) -> Option<&'static str> {
        match self {
            MeterKind::LlmTokens => Some("llm-usage"),
            MeterKind::Embeddings => Some("embedding-usage"),
            MeterKind::Images => Some("image-generation"),
            MeterKind::ApiCalls => Some("api-call"),
            MeterKind::Storage => Some("storage-upload"),
            MeterKind::ComputeTime => Some("compute-execution"),
            MeterKind::Custom => None,
        }
    }

    /// The event metadata keys the generated code writes for this kind (`model` and `method`
    /// only when the caller passes them). Empty for custom meters: they write exactly their
    /// own declared property.
    pub fn metadata_keys(self) -> &'static [&'static str] {
        match self {
            MeterKind::LlmTokens => LLM_METADATA_KEYS,
            MeterKind::Embeddings => &[EMBEDDING_TOKENS_KEY, "model", "vendor"],
            MeterKind::Images => &[IMAGES_KEY, "model", "vendor"],
            MeterKind::ApiCalls => &["endpoint", "method"],
            MeterKind::Storage => &["bytes"],
            MeterKind::ComputeTime => &["deltaTime"],
            MeterKind::Custom => &[],
        }
    }
}

/// What every `llm-usage` event carries: flat token counts (the provider's cached-read,
/// cached-write and reasoning counts are 0 when it reports none), the model, Spaire's reserved
/// `_llm` object, and when an `llm-cost` meter is planned `_cost` (the model's cost in cents,
/// which Spaire's Costs and Gross Margin metrics read) and `billedCost` (that cost times the
/// plan's markup, which the meter sums). Input tokens include cached ones and output tokens include reasoning ones, the
/// way OpenAI and the AI SDK count them; Anthropic's separate counts are added up to match.
pub const LLM_METADATA_KEYS: &[&str] = &[
    "inputTokens",
    "outputTokens",
    "totalTokens",
    LLM_CACHED_INPUT_KEY,
    LLM_CACHE_WRITE_KEY,
    LLM_REASONING_KEY,
    "model",
    "_llm.input_tokens",
    "_llm.output_tokens",
    "_llm.total_tokens",
    "_llm.cached_input_tokens",
    LLM_COST_PROPERTY,
    LLM_BILLED_COST_KEY,
];

/// Input tokens read from the provider's prompt cache (a subset of `inputTokens`).
pub const LLM_CACHED_INPUT_KEY: &str = "cachedInputTokens";
/// Input tokens written to the provider's prompt cache (Anthropic; a subset of `inputTokens`).
pub const LLM_CACHE_WRITE_KEY: &str = "cacheWriteTokens";
/// Reasoning tokens (a subset of `outputTokens`).
pub const LLM_REASONING_KEY: &str = "reasoningTokens";
/// Spaire's reserved cost object, in cents: what the model cost, without markup, so that
/// Spaire's Costs and Gross Margin metrics show the real cost.
pub const LLM_COST_PROPERTY: &str = "_cost.amount";
/// The property an `llm-cost` meter sums: the model's cost in cents times the plan's markup.
pub const LLM_BILLED_COST_KEY: &str = "billedCost";

/// The input tokens of one embedding call (`embedding-usage` events).
pub const EMBEDDING_TOKENS_KEY: &str = "tokens";
/// The number of images one image-generation call returned (`image-generation` events).
pub const IMAGES_KEY: &str = "images";

/// How a meter aggregates the events it matches (Spaire's `AggregationFunction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum AggregationFunc {
    Count,
    Sum,
    Max,
    Min,
    Avg,
    Unique,
}

impl AggregationFunc {
    /// Every function, in the order menus and messages list them.
    pub const ALL: [AggregationFunc; 6] = [
        AggregationFunc::Count,
        AggregationFunc::Sum,
        AggregationFunc::Max,
        AggregationFunc::Min,
        AggregationFunc::Avg,
        AggregationFunc::Unique,
    ];

    /// The wire name (`{"func": "sum"}`) and the plan file spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            AggregationFunc::Count => "count",
            AggregationFunc::Sum => "sum",
            AggregationFunc::Max => "max",
            AggregationFunc::Min => "min",
            AggregationFunc::Avg => "avg",
            AggregationFunc::Unique => "unique",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Every wire name, for "expected one of" messages.
    pub fn names() -> [&'static str; 6] {
        Self::ALL.map(Self::as_str)
    }

    /// Whether the function reads a `property` (everything but `count`).
    pub fn needs_property(self) -> bool {
        self != AggregationFunc::Count
    }
}

/// Every aggregation's wire name, in [`AggregationFunc::ALL`] order.
pub const AGGREGATION_NAMES: [&str; 6] = {
    let mut names = [""; 6];
    let mut i = 0;
    while i < names.len() {
        names[i] = AggregationFunc::ALL[i].as_str();
        i += 1;
    }
    names
};

/// The functions over a numeric property (`unique` counts distinct values of any type).
pub const NUMERIC_AGGREGATION_NAMES: [&str; 4] = [
    AggregationFunc::Sum.as_str(),
    AggregationFunc::Max.as_str(),
    AggregationFunc::Min.as_str(),
    AggregationFunc::Avg.as_str(),
];

impl std::fmt::Display for AggregationFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One meter a preset creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetMeter {
    pub kind: MeterKind,
    /// Meter name in Spaire.
    pub name: &'static str,
    pub func: AggregationFunc,
    /// Aggregated metadata key (`None` for `count`).
    pub property: Option<&'static str>,
}

impl PresetMeter {
    /// The event the meter filters on: always the one its kind's generated code sends.
    pub fn event(&self) -> &'static str {
        self.kind
            .fixed_event()
            .expect("preset meters have a kind with a fixed event (checked by a test)")
    }
}

/// A named bundle of meters the user can pick instead of defining them by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetSpec {
    /// The value of `preset = "..."` in `spaire-billing.toml`.
    pub id: &'static str,
    /// One line for the setup wizard's menu.
    pub menu_label: &'static str,
    /// One line for `--help`, the MCP `list_meter_presets` tool and docs.
    pub description: &'static str,
    /// Whether the wizard offers it in its first menu (the split LLM preset is a follow-up
    /// question of `llm-tokens`).
    pub in_menu: bool,
    /// The meters it creates (empty for `custom`, whose meter the user defines).
    pub meters: &'static [PresetMeter],
}

/// Id of the preset whose meter is defined by `name`, `event`, `aggregation` and `property`.
pub const CUSTOM_PRESET: &str = "custom";
/// Id of the single-meter LLM preset, whose follow-up question offers [`LLM_SPLIT_PRESET`].
pub const LLM_PRESET: &str = "llm-tokens";
/// Id of the LLM preset that prices prompt and completion tokens apart.
pub const LLM_SPLIT_PRESET: &str = "llm-tokens-split";
/// Id of the LLM preset that bills the model's dollar cost (times the plan's `markup`).
pub const LLM_COST_PRESET: &str = "llm-cost";
/// Id of the preset metering prompt-cache reads.
pub const LLM_CACHED_PRESET: &str = "llm-cached-tokens";
/// Id of the preset metering reasoning tokens.
pub const LLM_REASONING_PRESET: &str = "llm-reasoning-tokens";
/// The AI presets beyond token totals, offered together after "LLM tokens" in the wizard.
pub const LLM_EXTRA_PRESETS: [&str; 5] = [
    LLM_CACHED_PRESET,
    LLM_REASONING_PRESET,
    LLM_COST_PRESET,
    EMBEDDING_PRESET,
    IMAGES_PRESET,
];
/// Id of the preset metering embedding tokens (`embedding-usage` events).
pub const EMBEDDING_PRESET: &str = "embedding-tokens";
/// Id of the preset counting generated images (`image-generation` events).
pub const IMAGES_PRESET: &str = "images-generated";
/// Name of the meter [`LLM_COST_PRESET`] creates.
pub const LLM_COST_METER: &str = "llm-cost";

const LLM_TOTAL: PresetMeter = PresetMeter {
    kind: MeterKind::LlmTokens,
    name: "llm-token-usage",
    func: AggregationFunc::Sum,
    property: Some("totalTokens"),
};

/// Every preset, in the order menus show them.
pub const PRESETS: &[PresetSpec] = &[
    PresetSpec {
        id: LLM_PRESET,
        menu_label: "LLM tokens (sum of totalTokens per call)",
        description: "LLM tokens: sum of `totalTokens` over `llm-usage` events (one meter)",
        in_menu: true,
        meters: &[LLM_TOTAL],
    },
    PresetSpec {
        id: LLM_SPLIT_PRESET,
        menu_label: "LLM tokens, prompt and completion priced apart",
        description: "LLM tokens with prompt and completion priced apart: `llm-token-usage` \
                      plus `prompt-tokens` (sum of `inputTokens`) and `completion-tokens` \
                      (sum of `outputTokens`), all over `llm-usage` events",
        in_menu: false,
        meters: &[
            LLM_TOTAL,
            PresetMeter {
                kind: MeterKind::LlmTokens,
                name: "prompt-tokens",
                func: AggregationFunc::Sum,
                property: Some("inputTokens"),
            },
            PresetMeter {
                kind: MeterKind::LlmTokens,
                name: "completion-tokens",
                func: AggregationFunc::Sum,
                property: Some("outputTokens"),
            },
        ],
    },
    PresetSpec {
        id: LLM_CACHED_PRESET,
        menu_label: "LLM cached input tokens (prompt-cache reads)",
        description: "LLM cached input tokens: sum of `cachedInputTokens` (prompt-cache reads \
                      the provider reported) over `llm-usage` events",
        in_menu: false,
        meters: &[PresetMeter {
            kind: MeterKind::LlmTokens,
            name: "llm-cached-tokens",
            func: AggregationFunc::Sum,
            property: Some(LLM_CACHED_INPUT_KEY),
        }],
    },
    PresetSpec {
        id: LLM_REASONING_PRESET,
        menu_label: "LLM reasoning tokens",
        description: "LLM reasoning tokens: sum of `reasoningTokens` (the part of the output \
                      the model spent thinking) over `llm-usage` events",
        in_menu: false,
        meters: &[PresetMeter {
            kind: MeterKind::LlmTokens,
            name: "llm-reasoning-tokens",
            func: AggregationFunc::Sum,
            property: Some(LLM_REASONING_KEY),
        }],
    },
    PresetSpec {
        id: LLM_COST_PRESET,
        menu_label: "LLM cost (the model's dollar cost, times your markup)",
        description: "LLM cost: sum of `billedCost` (cents) over `llm-usage` events: each \
                      call's cost, computed at runtime by the `genai-prices` library from the \
                      model and every token kind, times `markup`; the cost itself goes to \
                      Spaire's `_cost` (TypeScript and Python only)",
        in_menu: false,
        meters: &[PresetMeter {
            kind: MeterKind::LlmTokens,
            name: LLM_COST_METER,
            func: AggregationFunc::Sum,
            property: Some(LLM_BILLED_COST_KEY),
        }],
    },
    PresetSpec {
        id: EMBEDDING_PRESET,
        menu_label: "Embedding tokens (input tokens of embedding calls)",
        description: "Embedding tokens: sum of `tokens` over `embedding-usage` events, one per \
                      embedding call (AI SDK `embed` / `embedMany`, OpenAI `embeddings.create`); \
                      with this meter, embedding calls are billed here and not as LLM tokens",
        in_menu: false,
        meters: &[PresetMeter {
            kind: MeterKind::Embeddings,
            name: "embedding-tokens",
            func: AggregationFunc::Sum,
            property: Some(EMBEDDING_TOKENS_KEY),
        }],
    },
    PresetSpec {
        id: IMAGES_PRESET,
        menu_label: "Images generated (count of images per generation call)",
        description: "Images generated: sum of `images` over `image-generation` events, one per \
                      image-generation call (AI SDK `generateImage`, OpenAI `images.generate`)",
        in_menu: false,
        meters: &[PresetMeter {
            kind: MeterKind::Images,
            name: "images-generated",
            func: AggregationFunc::Sum,
            property: Some(IMAGES_KEY),
        }],
    },
    PresetSpec {
        id: "api-calls",
        menu_label: "API calls (count of requests)",
        description: "API calls: count of `api-call` events, one per handled request",
        in_menu: true,
        meters: &[PresetMeter {
            kind: MeterKind::ApiCalls,
            name: "api-calls",
            func: AggregationFunc::Count,
            property: None,
        }],
    },
    PresetSpec {
        id: "storage",
        menu_label: "Storage (bytes uploaded)",
        description: "Storage: sum of `bytes` over `storage-upload` events, one per upload",
        in_menu: true,
        meters: &[PresetMeter {
            kind: MeterKind::Storage,
            name: "storage-usage",
            func: AggregationFunc::Sum,
            property: Some("bytes"),
        }],
    },
    PresetSpec {
        id: "compute-time",
        menu_label: "Compute time (milliseconds of execution)",
        description: "Compute time: sum of `deltaTime` (milliseconds) over \
                      `compute-execution` events",
        in_menu: true,
        meters: &[PresetMeter {
            kind: MeterKind::ComputeTime,
            name: "compute-time",
            func: AggregationFunc::Sum,
            property: Some("deltaTime"),
        }],
    },
    PresetSpec {
        id: CUSTOM_PRESET,
        menu_label: "Custom (your own event and property)",
        description: "Your own meter: give `name`, `event`, `aggregation` \
                      (count | sum | max | min | avg | unique) and `property`",
        in_menu: true,
        meters: &[],
    },
];

/// The preset with this id.
pub fn preset(id: &str) -> Option<&'static PresetSpec> {
    PRESETS.iter().find(|p| p.id == id)
}

/// Every preset id, for messages.
pub fn preset_ids() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_meters_aggregate_keys_their_kind_writes() {
        for preset in PRESETS {
            for meter in preset.meters {
                assert!(meter.kind.fixed_event().is_some(), "{}", meter.name);
                assert_eq!(meter.func.needs_property(), meter.property.is_some());
                if let Some(property) = meter.property {
                    assert!(
                        meter.kind.metadata_keys().contains(&property),
                        "{}: {property}",
                        meter.name
                    );
                }
            }
        }
    }

    #[test]
    fn ids_are_unique_and_the_named_ones_exist() {
        let ids = preset_ids();
        for id in &ids {
            assert_eq!(ids.iter().filter(|x| *x == id).count(), 1, "{id}");
        }
        for id in [CUSTOM_PRESET, LLM_PRESET, LLM_SPLIT_PRESET, LLM_COST_PRESET] {
            assert!(preset(id).is_some(), "{id}");
        }
        assert_eq!(preset(LLM_SPLIT_PRESET).unwrap().meters[0], LLM_TOTAL);
        assert!(preset("nope").is_none());
    }

    #[test]
    fn kind_names_match_serde() {
        for kind in [
            MeterKind::LlmTokens,
            MeterKind::Embeddings,
            MeterKind::Images,
            MeterKind::ApiCalls,
            MeterKind::Storage,
            MeterKind::ComputeTime,
            MeterKind::Custom,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn aggregation_names_match_serde() {
        for func in AggregationFunc::ALL {
            assert_eq!(serde_json::to_value(func).unwrap(), func.as_str());
            assert_eq!(AggregationFunc::from_name(func.as_str()), Some(func));
        }
        assert_eq!(AggregationFunc::from_name("median"), None);
    }
}
