//! `POST /v1/events/ingest` and `GET /v1/events/`.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::repeated;
use crate::client::{ApiRequest, Client};
use crate::error::ApiError;
use crate::pagination::Pages;
use crate::retry::Idempotency;

/// One event. Exactly one of `customer_id` / `external_customer_id` should be set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventCreate {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// Idempotency key: an event whose `external_id` exists already is counted as duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl EventCreate {
    /// An event for the app's own user id (the customer may not exist yet: it is linked lazily).
    pub fn for_external_customer(
        name: impl Into<String>,
        external_customer_id: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            customer_id: None,
            external_customer_id: Some(external_customer_id.into()),
            timestamp: None,
            external_id: None,
            metadata: serde_json::Map::new(),
        }
    }

    pub fn with_external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    pub fn with_metadata(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct IngestResponse {
    pub inserted: u64,
    #[serde(default)]
    pub duplicates: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    pub id: String,
    pub name: String,
    pub timestamp: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub external_customer_id: Option<String>,
    #[serde(default)]
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct EventListQuery {
    pub name: Vec<String>,
    pub external_customer_id: Vec<String>,
    pub customer_id: Vec<String>,
    pub meter_id: Option<String>,
    /// `user` or `system`.
    pub source: Option<String>,
}

impl Client {
    /// Ingests a batch (all or nothing).
    ///
    /// Retried on 5xx/timeouts only when every event has an `external_id`: the server skips an
    /// event whose `external_id` it already stored (unique index + `ON CONFLICT DO NOTHING`), so
    /// a batch that was stored before its response was lost is counted as duplicates the
    /// second time instead of being counted twice. Without `external_id` nothing deduplicates,
    /// so such a batch is sent once.
    pub async fn ingest_events(&self, events: &[EventCreate]) -> Result<IngestResponse, ApiError> {
        let idempotency = if events.iter().all(|e| e.external_id.is_some()) {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        let body = serde_json::json!({ "events": events });
        self.send(ApiRequest::write(
            Method::POST,
            "/v1/events/ingest",
            Some(body),
            idempotency,
        ))
        .await
    }

    pub fn events(&self, query: &EventListQuery) -> Pages<'_, Event> {
        let mut pairs = repeated("name", &query.name);
        pairs.extend(repeated(
            "external_customer_id",
            &query.external_customer_id,
        ));
        pairs.extend(repeated("customer_id", &query.customer_id));
        if let Some(m) = &query.meter_id {
            pairs.push(("meter_id".into(), m.clone()));
        }
        if let Some(s) = &query.source {
            pairs.push(("source".into(), s.clone()));
        }
        Pages::new(self, "/v1/events/", pairs)
    }
}
