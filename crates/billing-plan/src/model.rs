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
    /// Where wired call sites find the id when `customer` (the request) does not say it.
    #[serde(default, skip_serializing_if = "CallSiteCustomer::is_empty")]
    pub call_site_customer: CallSiteCustomer,
    pub meters: Vec<Meter>,
    pub prices: Vec<MeteredPrice>,
    pub credits: Vec<CreditGrant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Webhooks>,
}

// The vocabulary lives in `billing-vocab`; these re-exports keep `billing_plan::X` paths.
pub use billing_vocab::{AggregationFunc, Environment, FrameworkId, MeterKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectSection {
    /// Package inside a monorepo, relative to the project root ("." by default).
    pub path: String,
    /// Framework that overrides detection (same ids as `detect`, e.g. "nextjs"). Parsing
    /// accepts only registry ids (and their aliases), so every generator can rely on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<FrameworkId>,
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

/// The optional `[customer]` keys for wired call sites (LLM / S3 calls), beside `from`, which
/// only says how request-handling code (the generated middleware) finds the id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSiteCustomer {
    /// A variable or property path in scope at every call site, e.g. `teamId` or
    /// `session.user.orgId`: billing per team / organization. Only identifiers joined by `.`
    /// or `?.` (checked by `validate::customer_path_problem`), so it can be pasted as code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// Field of a background job's payload that holds the id (trigger.dev `payload.userId`,
    /// BullMQ `job.data.userId`): jobs run outside any request, so `from` cannot find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_field: Option<String>,
}

impl CallSiteCustomer {
    pub fn is_empty(&self) -> bool {
        self.expression.is_none() && self.job_field.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregation {
    pub func: AggregationFunc,
    /// Metadata key aggregated (absent for `count`). The generated code writes exactly this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
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
    /// Margin the `llm-cost` meter bills on top of the model's cost (`1.2` = cost + 20%), as
    /// the decimal text of the plan file; absent means 1 (the cost itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markup: Option<String>,
    /// `api-calls` only: the URL path prefixes whose successful requests are billed
    /// (`paths = ["/api/"]`); absent means the framework's default (docs/metering.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
}

impl Meter {
    /// What one unit of this meter is, for the LLM, embedding and image meters whose property
    /// alone does not say it (previews print it after the meter's definition).
    pub fn unit_explanation(&self) -> Option<String> {
        use billing_vocab::meter::{
            EMBEDDING_TOKENS_KEY, IMAGES_KEY, LLM_CACHE_WRITE_KEY, LLM_CACHED_INPUT_KEY,
            LLM_REASONING_KEY,
        };
        let property = self.aggregation.property.as_deref()?;
        match self.kind {
            MeterKind::Embeddings if property == EMBEDDING_TOKENS_KEY => {
                return Some(
                    "one unit = one input token of an embedding call (embedding calls are \
                     billed here, not as LLM tokens)"
                        .to_owned(),
                );
            }
            MeterKind::Images if property == IMAGES_KEY => {
                return Some("one unit = one image an image-generation call returned".to_owned());
            }
            MeterKind::LlmTokens => {}
            _ => return None,
        }
        Some(match property {
            _ if self.bills_llm_cost() => format!(
                "one unit = one cent of the model's cost times markup {}, priced per call at \
                 runtime by genai-prices from the model and every token kind (Spaire's `_cost` \
                 keeps the cost without markup)",
                self.markup.as_deref().unwrap_or("1")
            ),
            LLM_CACHED_INPUT_KEY => {
                "one unit = one input token read from the provider's prompt cache".to_owned()
            }
            LLM_CACHE_WRITE_KEY => {
                "one unit = one input token written to the provider's prompt cache".to_owned()
            }
            LLM_REASONING_KEY => "one unit = one output token the model spent reasoning".to_owned(),
            _ => return None,
        })
    }

    /// Whether this meter sums the runtime-computed, marked-up `billedCost` of LLM events.
    pub fn bills_llm_cost(&self) -> bool {
        self.kind == MeterKind::LlmTokens
            && self.aggregation.property.as_deref()
                == Some(billing_vocab::meter::LLM_BILLED_COST_KEY)
    }
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
    /// The markup LLM events' `_cost` is multiplied by, when any meter bills LLM cost (1 when
    /// that meter names none). `None`: no generated code computes a cost.
    pub fn llm_cost_markup(&self) -> Option<&str> {
        let meter = self.meters.iter().find(|m| m.bills_llm_cost())?;
        Some(meter.markup.as_deref().unwrap_or("1"))
    }

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
    /// generated code and `.env.example`, which get committed. Never an emulator's loopback
    /// address: its port is one machine's, and a local plan's code must reach the real API
    /// once the plan moves to sandbox, so it falls back to sandbox's host (production's for
    /// a production plan); a local run exports `SPAIRE_SERVER_URL` (setup's report says so).
    pub fn public_server_url(&self) -> String {
        let url = crate::text::strip_url_credentials(self.effective_server_url());
        if !crate::text::is_loopback_url(&url) {
            return url;
        }
        let fallback = match self.environment {
            Environment::Production => Environment::Production,
            _ => Environment::Sandbox,
        };
        fallback.default_server_url().to_owned()
    }

    pub fn uses_credits(&self) -> bool {
        !self.credits.is_empty()
    }
}

/// Webhook event types the generated handler has explicit cases for when `[webhooks]` gives
/// no `events` list.
pub const DEFAULT_WEBHOOK_EVENTS: &[&str] = &billing_vocab::DEFAULT_WEBHOOK_EVENTS;
