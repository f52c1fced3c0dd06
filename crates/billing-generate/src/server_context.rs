//! The template context Go, PHP and Ruby share: what the plan says to send (event names per
//! meter kind, custom meters, webhook events), to which server, in batches of what size. Each
//! language puts it in its own context with `#[serde(flatten)]` next to its own fields, so
//! the three render one definition.

use billing_plan::{BillingPlan, CustomerSource};
use serde::Serialize;

use crate::GenerateError;
use crate::python::events::{self, CustomMeter, MeterEvents, WebhookEvent};
use crate::render;

#[derive(Serialize)]
pub(crate) struct ServerContext<'a> {
    header: String,
    default_server_url: String,
    customer: &'a CustomerSource,
    /// The plan has an API-call meter: the middleware and its registration are generated.
    pub api_calls: bool,
    /// The plan has `[webhooks]`: the webhook route and its handlers are generated.
    pub webhooks: bool,
    pub webhook_events: Vec<WebhookEvent>,
    webhook_path: &'static str,
    default_meter: String,
    llm_events: Vec<String>,
    api_events: Vec<String>,
    /// What the generated `is_billed_api_call` compares a request with (paths, never-billed
    /// segments), from the one definition every language renders.
    api_rule: crate::api_calls::ApiCallRule,
    storage_events: Vec<String>,
    /// `embedding-usage` / `image-generation` events (embedding and image meters).
    embedding_events: Vec<String>,
    image_events: Vec<String>,
    compute_events: Vec<String>,
    custom: Vec<CustomMeter>,
    /// Largest batch a recorder sends ([`crate::delivery::max_batch_size`]).
    max_batch_size: usize,
}

impl<'a> ServerContext<'a> {
    /// The context for `plan`; `comment` starts the generated-file header line (`//`, `#`).
    pub fn new(plan: &'a BillingPlan, comment: &str) -> Result<Self, GenerateError> {
        let meter_events = MeterEvents::from_plan(plan);
        let webhook_events = events::webhook_events(plan)
            .map_err(|event| GenerateError::UnknownWebhookEvent { event })?;
        Ok(ServerContext {
            header: render::header_line(comment),
            default_server_url: plan.public_server_url(),
            customer: &plan.customer,
            api_calls: !meter_events.api.is_empty(),
            webhooks: plan.webhooks.is_some(),
            webhook_events,
            webhook_path: billing_vocab::WEBHOOK_PATH,
            default_meter: default_meter(plan),
            api_rule: crate::api_calls::ApiCallRule::new(
                plan,
                crate::api_calls::SERVER_DEFAULT_PREFIX,
            ),
            max_batch_size: crate::delivery::max_batch_size(plan),
            llm_events: meter_events.llm,
            api_events: meter_events.api,
            storage_events: meter_events.storage,
            embedding_events: meter_events.embedding,
            image_events: meter_events.image,
            compute_events: meter_events.compute,
            custom: meter_events.custom,
        })
    }
}

/// The meter a balance check reads by default: the first credit's, else the first meter.
pub(crate) fn default_meter(plan: &BillingPlan) -> String {
    plan.credits
        .first()
        .map(|c| c.meter.clone())
        .or_else(|| plan.meters.first().map(|m| m.name.clone()))
        .unwrap_or_default()
}
