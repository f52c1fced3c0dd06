//! The product's vocabulary, defined once.
//!
//! Every table a user can see a name from lives here: environments, languages, framework ids
//! (with their language family, capabilities and accepted spellings), meter kinds, meter
//! presets, aggregation functions, webhook event types (and the default subscription), the
//! webhook URL path, the request paths API-call metering never bills, and the Spaire SDK packages per language. The plan parser, the
//! generators, the setup wizard, the MCP server, the emulator and the docs read these tables;
//! `tests/single_definition.rs` (in `spaire-billing`) proves no other source file spells the
//! strings out again.
//!
//! The crate is a leaf: serde only, with `clap::ValueEnum` and `schemars::JsonSchema` derives
//! behind the `clap` and `schemars` features.

pub mod api_calls;
pub mod environment;
pub mod framework;
pub mod language;
pub mod marker;
pub mod meter;
pub mod sdk;
pub mod webhook;

#[cfg(test)]
mod single_definition;

pub use environment::Environment;
pub use framework::{Capabilities, Detection, FrameworkId, FrameworkInfo};
pub use language::{Language, LanguageFamily};
pub use marker::{NOT_BILLED_MARKER, marks_not_billed};
pub use meter::{AggregationFunc, MeterKind, PRESETS, PresetMeter, PresetSpec, preset};
pub use sdk::{PYTHON_SDK, SdkPackage, TYPESCRIPT_SDK};
pub use webhook::{
    DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENT_NAMES, WEBHOOK_EVENT_TYPES, WEBHOOK_PATH,
    WebhookEventType,
};
