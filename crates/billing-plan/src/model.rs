//! Plain data of a resolved, validated billing plan. Parsing and validation of
//! `spaire-billing.toml` produce this; every later stage consumes it.

use serde::{Deserialize, Serialize};

/// File name of the plan at the project root.
pub const PLAN_FILE: &str = "spaire-billing.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingPlan {
    pub environment: Environment,
    /// Explicit API base URL (no `/v1`); overrides the environment's default host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    pub project: ProjectSection,
    pub customer: CustomerSource,
    pub meters: Vec<Meter>,
    pub prices: Vec<MeteredPrice>,
    pub credits: Vec<CreditGrant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Webhooks>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Sandbox,
    Production,
    /// The built-in emulator (`spaire-billing emulator`).
    Local,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
            Environment::Local => "local",
        }
    }

    /// Default API base URL for the environment (the emulator's default port for `local`).
    pub fn default_server_url(self) -> &'static str {
        match self {
            Environment::Sandbox => "https://sandbox-api.spairehq.com",
            Environment::Production => "https://api.spairehq.com",
            Environment::Local => "http://127.0.0.1:8787",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectSection {
    /// Package inside a monorepo, relative to the project root ("." by default).
    pub path: String,
    /// Framework id that overrides detection (same ids as `detect`, e.g. "nextjs").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
}

/// How request-handling code finds the app's own user id (sent as `external_customer_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "lowercase")]
pub enum CustomerSource {
    /// A request header, e.g. `x-customer-id`.
    Header { header: String },
    /// A field of the JSON request body, e.g. `customerId`.
    Body { field: String },
    /// The framework's session / auth object (generated code has a clearly marked TODO-free
    /// resolver function the user fills in).
    Session,
    /// A function the user already has, e.g. `getUserId` in `@/lib/auth`.
    Function { function: String, module: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AggregationFunc {
    Count,
    Sum,
    Max,
    Min,
    Avg,
    Unique,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregation {
    pub func: AggregationFunc,
    /// Metadata key aggregated (absent for `count`). The generated code writes exactly this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

/// What kind of usage a meter counts; decides which helpers are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeterKind {
    LlmTokens,
    ApiCalls,
    Storage,
    ComputeTime,
    Custom,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    /// Meter name in Spaire, e.g. "llm-token-usage".
    pub name: String,
    /// Event name the meter filters on (`name eq <event>`) and the code sends.
    pub event: String,
    pub aggregation: Aggregation,
    pub kind: MeterKind,
    /// Preset it came from, when any ("llm-tokens", "api-calls", ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

/// A product reference: a name (looked up in the organization) or a Spaire UUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRef(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeteredPrice {
    pub meter: String,
    pub product: ProductRef,
    /// Price per unit in cents, as a decimal string with at most 12 decimals (e.g. "0.0001").
    pub unit_amount: String,
    /// Maximum charge per billing period, in cents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_amount: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditGrant {
    pub meter: String,
    pub product: ProductRef,
    /// Units credited per billing cycle.
    pub units: i64,
    pub rollover: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhooks {
    /// Event types the generated handler has explicit cases for.
    pub events: Vec<String>,
    /// Public https URL to register as a webhook endpoint (only then is one created remotely).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl BillingPlan {
    pub fn meter(&self, name: &str) -> Option<&Meter> {
        self.meters.iter().find(|m| m.name == name)
    }

    /// The API base URL generated code and the client default to.
    pub fn effective_server_url(&self) -> &str {
        self.server_url
            .as_deref()
            .unwrap_or_else(|| self.environment.default_server_url())
    }

    /// [`Self::effective_server_url`] without any `user:password@`: the form written into
    /// generated code and `.env.example`, which get committed.
    pub fn public_server_url(&self) -> String {
        crate::text::strip_url_credentials(self.effective_server_url())
    }

    pub fn uses_credits(&self) -> bool {
        !self.credits.is_empty()
    }
}

/// Webhook event types the generated handler has explicit cases for when `[webhooks]` gives
/// no `events` list.
pub const DEFAULT_WEBHOOK_EVENTS: &[&str] = &[
    "order.paid",
    "subscription.active",
    "subscription.canceled",
    "customer.state_changed",
];
