//! Tool arguments as the agent sends them. Doc comments become the JSON Schema descriptions
//! the agent reads, so they say what to ask the user, not how the code works.

use billing_vocab::{AggregationFunc, Environment};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The user's answers. Leave out `meters` to propose from the project's existing
/// `spaire-billing.toml` instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposePlanArgs {
    /// Environment to set up. Defaults to `sandbox`; use `production` only when the user asked.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// API base URL to use instead of the environment's default (no `/v1`), e.g. the local
    /// emulator's address.
    #[serde(default)]
    pub server_url: Option<String>,
    /// Package directory inside a monorepo, relative to the project root, as reported by
    /// `detect_project` (default: the root package ".").
    #[serde(default)]
    pub package: Option<String>,
    /// Framework id to use instead of the detected one (same ids as `detect_project`).
    #[serde(default)]
    pub framework: Option<String>,
    /// How request handlers find the app's own user id. Required with `meters`.
    #[serde(default)]
    pub customer: Option<CustomerArg>,
    /// Only when the user bills a team or organization rather than the signed-in user: a
    /// variable or property path in scope at the app's LLM / storage call sites, e.g.
    /// `teamId` or `session.user?.orgId` (identifiers and `.`/`?.` only).
    #[serde(default)]
    pub customer_expression: Option<String>,
    /// Only when the app runs billable work in background jobs: the field of the job's
    /// payload that holds the customer id, e.g. `userId`.
    #[serde(default)]
    pub customer_job_field: Option<String>,
    /// What to meter. At least one; each from a preset (see `list_meter_presets`) or custom.
    #[serde(default)]
    pub meters: Option<Vec<MeterArg>>,
    /// Metered prices. Every amount comes from the user; never make one up.
    #[serde(default)]
    pub prices: Vec<PriceArg>,
    /// Prepaid credits granted per billing cycle, also from the user.
    #[serde(default)]
    pub credits: Vec<CreditArg>,
    /// Webhook handling to generate (optional).
    #[serde(default)]
    pub webhooks: Option<WebhooksArg>,
}

/// How the app identifies the customer in a request; sent as `external_customer_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "from", rename_all = "lowercase", deny_unknown_fields)]
pub enum CustomerArg {
    /// A request header carries the user id.
    Header {
        /// Header name, e.g. `x-customer-id`.
        header: String,
    },
    /// A field of the JSON request body carries the user id.
    Body {
        /// Field name, e.g. `customerId`.
        field: String,
    },
    /// The framework's session or auth object; generated code has one resolver to fill in.
    Session,
    /// An existing function of the app returns the user id.
    Function {
        /// Function name, e.g. `getUserId`.
        function: String,
        /// Module it is imported from, e.g. `@/lib/auth`.
        module: String,
    },
}

/// One meter: a preset by id, optionally renamed, or a custom meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeterArg {
    /// Preset id from `list_meter_presets` (e.g. `llm-tokens`). Omit for a custom meter.
    #[serde(default)]
    pub preset: Option<String>,
    /// Meter name in Spaire (kebab-case). Required for a custom meter.
    #[serde(default)]
    pub name: Option<String>,
    /// Event name the code sends and the meter filters on. Required for a custom meter.
    #[serde(default)]
    pub event: Option<String>,
    /// How events are aggregated. Required for a custom meter.
    #[serde(default)]
    pub aggregation: Option<AggregationFunc>,
    /// Metadata key that is aggregated (not for `count`), e.g. `totalTokens`.
    #[serde(default)]
    pub property: Option<String>,
    /// `llm-cost` preset only: the factor each call's model cost is multiplied by before it is
    /// recorded in `_cost` (1.2 = cost + 20%; positive, at most 1000; default 1).
    #[serde(default)]
    pub markup: Option<serde_json::Number>,
}

/// A metered price on a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceArg {
    /// Meter name this price charges for.
    pub meter: String,
    /// Product name in the organization, or its Spaire id.
    pub product: String,
    /// Price per unit in cents, as a decimal string (e.g. "0.0001" = $0.000001 per unit).
    pub unit_amount: String,
    /// Maximum charge per billing period in cents (optional).
    #[serde(default)]
    pub cap_amount: Option<i64>,
}

/// Credits granted each billing cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditArg {
    /// Meter name the credits are consumed on.
    pub meter: String,
    /// Product name in the organization, or its Spaire id.
    pub product: String,
    /// Units credited per billing cycle.
    pub units: i64,
    /// Whether unused credits roll over to the next cycle.
    #[serde(default)]
    pub rollover: bool,
}

/// Webhook handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhooksArg {
    /// Event types the generated handler handles, e.g. `order.paid`.
    pub events: Vec<String>,
    /// Public https URL to register as an endpoint (only then is one created remotely).
    #[serde(default)]
    pub url: Option<String>,
}

/// Apply exactly a proposed plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyPlanArgs {
    /// The `plan_hash` returned by `propose_plan` for the plan the user approved.
    pub plan_hash: String,
    /// The environment the user approved (`sandbox`, `production` or `local`); must match the
    /// proposal, so an approval for sandbox can never touch production.
    pub environment: Environment,
}

/// What to verify.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyArgs {
    /// Only this meter (default: every meter in the plan).
    #[serde(default)]
    pub meter: Option<String>,
}

/// Undo the last apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UndoArgs {
    /// The `undo_hash` from a previous `undo` call without it. Without this field nothing is
    /// changed: the result lists what would be restored and archived, and its hash.
    #[serde(default)]
    pub undo_hash: Option<String>,
}
