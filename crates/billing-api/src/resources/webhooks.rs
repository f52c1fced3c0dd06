//! Webhook endpoints. The signing secret comes back on every read; it is kept in a
//! [`Secret`] so it is never printed.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::to_body;
use crate::client::{ApiRequest, Client, segment};
use crate::error::ApiError;
use crate::pagination::Pages;
use crate::retry::Idempotency;
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub enabled: bool,
    pub secret: Secret,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookEndpointCreate {
    /// Must be https.
    pub url: String,
    /// `raw`, `discord` or `slack`.
    pub format: String,
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebhookEndpointUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl Client {
    pub async fn create_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpointCreate,
    ) -> Result<WebhookEndpoint, ApiError> {
        self.send(ApiRequest::write(
            Method::POST,
            "/v1/webhooks/endpoints",
            to_body(endpoint),
            Idempotency::NotIdempotent,
        ))
        .await
    }

    pub fn webhook_endpoints(&self) -> Pages<'_, WebhookEndpoint> {
        Pages::new(self, "/v1/webhooks/endpoints", Vec::new())
    }

    pub async fn update_webhook_endpoint(
        &self,
        id: &str,
        update: &WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, ApiError> {
        self.send(ApiRequest::write(
            Method::PATCH,
            format!("/v1/webhooks/endpoints/{}", segment(id)),
            to_body(update),
            Idempotency::Idempotent,
        ))
        .await
    }

    pub async fn delete_webhook_endpoint(&self, id: &str) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .send(ApiRequest::write(
                Method::DELETE,
                format!("/v1/webhooks/endpoints/{}", segment(id)),
                None,
                Idempotency::Idempotent,
            ))
            .await?;
        Ok(())
    }
}
