//! The data every TypeScript template sees, derived from the billing plan.

use billing_plan::{BillingPlan, CustomerSource, MeterKind};
use serde::Serialize;

use super::layout::Layout;
use super::webhook_events;

/// Route the generated webhook handler listens on, in every framework.
pub use billing_vocab::WEBHOOK_PATH;

#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub header: String,
    pub ts: bool,
    pub esm: bool,
    /// Extension on relative imports between generated modules ("" or ".js").
    pub ext: &'static str,
    /// `export ` for ESM syntax, empty for CommonJS (which lists exports at the end).
    pub exp: &'static str,
    pub environment: &'static str,
    pub server_url: String,
    /// Distinct event names per meter kind (several meters may count one event).
    pub llm_events: Vec<String>,
    /// An `llm-cost` meter is planned: LLM events carry `_cost`, priced by genai-prices.
    pub llm_cost: bool,
    /// The factor the cost is multiplied by, as a JS number literal.
    pub llm_markup: String,
    /// `embedding-usage` / `image-generation` events (embedding and image meters).
    pub embedding_events: Vec<String>,
    pub image_events: Vec<String>,
    pub api_events: Vec<String>,
    pub storage_events: Vec<String>,
    pub compute_events: Vec<String>,
    pub custom_meters: Vec<CustomMeter>,
    pub credit_meters: Vec<String>,
    pub usage_exports: Vec<&'static str>,
    pub customer: Customer,
    pub customer_from_body: bool,
    pub webhooks: bool,
    pub api_calls: bool,
    pub webhook_path: &'static str,
    /// Path prefixes API-call metering bills (`isBilledApiCall` in the usage module).
    pub api_paths: Vec<String>,
    /// Path segments, segment prefixes and segment parts `isBilledApiCall` never bills
    /// (`billing_vocab::api_calls::NEVER_BILLED`, the rule Next.js route wrapping also uses).
    pub never_billed_segments: Vec<&'static str>,
    pub never_billed_prefixes: Vec<&'static str>,
    pub never_billed_parts: Vec<&'static str>,
    pub webhook_cases: Vec<WebhookCase>,
    pub webhook_handler_names: Vec<String>,
    /// Largest batch the recorder sends ([`crate::delivery::max_batch_size`]).
    pub max_batch_size: usize,
    /// `[customer] from = "session"` with a known auth library: the non-stub resolver.
    pub session_resolver: Option<super::session_resolver::SessionResolver>,
    /// The `next/server` export that keeps a serverless function alive after the response
    /// (`after` / `unstable_after`), for the recorder; `None` outside Next.js 15+.
    pub next_after: Option<&'static str>,
    /// The app has `@vercel/functions` (and is not Next.js, which has `after()`): the recorder
    /// hands each event's flush to Vercel's `waitUntil`, so usage recorded anywhere in a
    /// request (LLM and S3 call sites too) is sent before the function freezes.
    pub vercel_wait_until: bool,
    /// The import specifier of the app's t3-env module (`~/env`), which validates the Spaire
    /// variables once setup adds them to its schema: the client reads them from its `env`
    /// (t3 projects forbid `process.env` anywhere else, create-t3-turbo). `None`: `process.env`.
    pub env_module: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomMeter {
    pub name: String,
    pub event: String,
    pub property: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub from: &'static str,
    pub header: String,
    pub field: String,
    pub function: String,
    /// Import specifier of the user's function module (as written in the plan).
    pub module: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookCase {
    pub event: String,
    pub handler: String,
    /// What `data` is, from the vocabulary: `order`, `subscription`, ...
    pub resource: &'static str,
    /// `data` is a customer state (meter balances).
    pub customer_state: bool,
}

fn events_of(plan: &BillingPlan, kind: MeterKind) -> Vec<String> {
    let mut events: Vec<String> = Vec::new();
    for meter in plan.meters.iter().filter(|m| m.kind == kind) {
        if !events.contains(&meter.event) {
            events.push(meter.event.clone());
        }
    }
    events
}

/// `order.paid` → `onOrderPaid`, `benefit_grant.created` → `onBenefitGrantCreated`.
fn handler_name(event: &str) -> String {
    let mut name = String::from("on");
    for word in event.split(['.', '_', '-']).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// The LLM helpers of the usage module (also what `status` looks for at call sites).
pub const LLM_HELPERS: [&str; 7] = [
    "recordLlmUsage",
    "recordLlmResponse",
    "meterChatCompletionStream",
    "llmUsageOnFinish",
    "llmUsageOnAbort",
    "llmUsageCallbacks",
    "llmTokenCounts",
];

/// The helper recording an embedding call's tokens (`embedding-usage` events).
pub const EMBEDDING_HELPER: &str = "recordEmbeddingUsage";
/// The helper recording the images of one generation call (`image-generation` events).
pub const IMAGES_HELPER: &str = "recordImageGeneration";

/// Helper functions the generated usage module exports for this plan.
pub fn usage_exports(plan: &BillingPlan) -> Vec<&'static str> {
    let mut exports = Vec::new();
    let has = |kind| plan.meters.iter().any(|m| m.kind == kind);
    if has(MeterKind::LlmTokens) {
        exports.extend(LLM_HELPERS);
    }
    if has(MeterKind::Embeddings) {
        exports.push(EMBEDDING_HELPER);
    }
    if has(MeterKind::Images) {
        exports.push(IMAGES_HELPER);
    }
    if has(MeterKind::ApiCalls) {
        exports.push("recordApiCall");
        exports.push("isBilledApiCall");
    }
    if has(MeterKind::Storage) {
        exports.extend(["recordStorageUpload", "byteLengthOf"]);
    }
    if has(MeterKind::ComputeTime) {
        exports.push("startComputeTimer");
    }
    exports.push("recordUsage");
    exports
}

impl Context {
    pub fn new(plan: &BillingPlan, layout: &Layout, header: String) -> Self {
        let customer = match &plan.customer {
            CustomerSource::Header { header } => Customer {
                from: "header",
                header: header.clone(),
                field: String::new(),
                function: String::new(),
                module: String::new(),
            },
            CustomerSource::Body { field } => Customer {
                from: "body",
                header: String::new(),
                field: field.clone(),
                function: String::new(),
                module: String::new(),
            },
            CustomerSource::Session => Customer {
                from: "session",
                header: String::new(),
                field: String::new(),
                function: String::new(),
                module: String::new(),
            },
            CustomerSource::Function { function, module } => Customer {
                from: "function",
                header: String::new(),
                field: String::new(),
                function: function.clone(),
                module: module.clone(),
            },
        };
        let webhook_cases: Vec<WebhookCase> = plan
            .webhooks
            .iter()
            .flat_map(|w| w.events.iter())
            .filter(|event| webhook_events::is_typed(event))
            .filter_map(|event| billing_vocab::webhook::event_type(event))
            .fold(Vec::new(), |mut cases: Vec<WebhookCase>, event| {
                if !cases.iter().any(|c| c.event == event.name) {
                    cases.push(WebhookCase {
                        event: event.name.to_owned(),
                        handler: handler_name(event.name),
                        resource: event.resource(),
                        customer_state: event.is_customer_state(),
                    });
                }
                cases
            });
        let mut credit_meters: Vec<String> = Vec::new();
        for credit in &plan.credits {
            if !credit_meters.contains(&credit.meter) {
                credit_meters.push(credit.meter.clone());
            }
        }
        let [never_segments, never_prefixes, never_parts] =
            billing_vocab::api_calls::never_billed_lists();
        Context {
            header,
            ts: layout.typescript,
            esm: layout.esm_syntax,
            ext: layout.import_ext(),
            exp: if layout.esm_syntax { "export " } else { "" },
            environment: plan.environment.as_str(),
            server_url: plan.public_server_url().trim_end_matches('/').to_owned(),
            llm_events: events_of(plan, MeterKind::LlmTokens),
            llm_cost: plan.llm_cost_markup().is_some(),
            llm_markup: crate::escape::decimal_literal(plan.llm_cost_markup().unwrap_or("1")),
            embedding_events: events_of(plan, MeterKind::Embeddings),
            image_events: events_of(plan, MeterKind::Images),
            api_events: events_of(plan, MeterKind::ApiCalls),
            storage_events: events_of(plan, MeterKind::Storage),
            compute_events: events_of(plan, MeterKind::ComputeTime),
            custom_meters: plan
                .meters
                .iter()
                .filter(|m| m.kind == MeterKind::Custom)
                .map(|m| CustomMeter {
                    name: m.name.clone(),
                    event: m.event.clone(),
                    property: m.aggregation.property.clone(),
                })
                .collect(),
            credit_meters,
            usage_exports: usage_exports(plan),
            customer_from_body: matches!(plan.customer, CustomerSource::Body { .. }),
            customer,
            webhooks: plan.webhooks.is_some(),
            api_calls: plan.meters.iter().any(|m| m.kind == MeterKind::ApiCalls),
            webhook_path: WEBHOOK_PATH,
            api_paths: api_paths(plan, layout.framework),
            never_billed_segments: never_segments,
            never_billed_prefixes: never_prefixes,
            never_billed_parts: never_parts,
            webhook_handler_names: webhook_cases.iter().map(|c| c.handler.clone()).collect(),
            max_batch_size: crate::delivery::max_batch_size(plan),
            session_resolver: None,
            next_after: None,
            env_module: None,
            vercel_wait_until: false,
            webhook_cases,
        }
    }
}

/// The `paths` of the plan's `api-calls` meter, else the framework's default: `/api/` where
/// one middleware sees every page view, asset and API request alike (Nuxt, SvelteKit, Astro,
/// and React Router / Remix, whose root-route middleware or custom Express server also sees
/// page data requests; their loader wrapper follows the same rule, so a wrapped loader and
/// the middleware bill the same requests) and for Next.js, whose route handlers are wrapped
/// automatically where they are API routes (`/api/`; pages router API routes live there too);
/// `/` for API servers and for wrappers the user puts on each billed handler (Express,
/// Fastify, Hono, Elysia, functions). Pages, files and redirects are never billed whatever
/// the prefix (`isBilledApiCall`).
fn api_paths(plan: &BillingPlan, framework: Option<billing_detect::FrameworkId>) -> Vec<String> {
    use billing_detect::FrameworkId as F;
    let default = match framework {
        Some(F::Nuxt | F::Sveltekit | F::Astro | F::Nextjs | F::Remix | F::ReactRouter) => "/api/",
        _ => "/",
    };
    crate::api_calls::api_paths(plan, default)
}

#[cfg(test)]
mod tests {
    use super::handler_name;

    #[test]
    fn handler_names_are_camel_case() {
        assert_eq!(handler_name("order.paid"), "onOrderPaid");
        assert_eq!(
            handler_name("customer.state_changed"),
            "onCustomerStateChanged"
        );
        assert_eq!(
            handler_name("benefit_grant.created"),
            "onBenefitGrantCreated"
        );
    }
}
