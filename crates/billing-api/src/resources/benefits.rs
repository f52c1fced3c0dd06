//! Benefits of type `meter_credit`: create, list, get, update, delete.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::to_body;
use crate::client::{ApiRequest, Client, segment};
use crate::error::ApiError;
use crate::pagination::Pages;
use crate::retry::Idempotency;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Benefit {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub deletable: bool,
    #[serde(default)]
    pub properties: serde_json::Value,
    /// The organization that owns it (every read is filtered to the token's organization).
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default)]
    pub metadata: serde_json::Value,
}

impl Benefit {
    /// The meter-credit properties, when this is a `meter_credit` benefit.
    pub fn meter_credit(&self) -> Option<MeterCreditProperties> {
        if self.kind != "meter_credit" {
            return None;
        }
        serde_json::from_value(self.properties.clone()).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterCreditProperties {
    pub meter_id: String,
    pub units: i64,
    pub rollover: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterCreditCreate {
    /// 3–42 characters.
    pub description: String,
    pub properties: MeterCreditProperties,
    /// Client-chosen markers (spaire-billing's write-ahead journal finds its objects by them).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BenefitUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<MeterCreditProperties>,
}

impl Client {
    /// Not retried on 5xx/timeouts (a lost response would create a duplicate); callers
    /// re-list by description and meter first.
    pub async fn create_meter_credit_benefit(
        &self,
        benefit: &MeterCreditCreate,
    ) -> Result<Benefit, ApiError> {
        let mut body = serde_json::json!({
            "type": "meter_credit",
            "description": benefit.description,
            "properties": benefit.properties,
        });
        if !benefit.metadata.is_empty() {
            body["metadata"] = serde_json::Value::Object(benefit.metadata.clone());
        }
        self.send(ApiRequest::write(
            Method::POST,
            "/v1/benefits/",
            Some(body),
            Idempotency::NotIdempotent,
        ))
        .await
    }

    /// Lists benefits, optionally of one `type` (e.g. `meter_credit`).
    pub fn benefits(&self, kind: Option<&str>) -> Pages<'_, Benefit> {
        let pairs = kind
            .map(|k| vec![("type".to_owned(), k.to_owned())])
            .unwrap_or_default();
        Pages::new(self, "/v1/benefits/", pairs)
    }

    pub async fn benefit(&self, id: &str) -> Result<Benefit, ApiError> {
        self.send(ApiRequest::get(format!("/v1/benefits/{}", segment(id))))
            .await
    }

    pub async fn update_benefit(
        &self,
        id: &str,
        update: &BenefitUpdate,
    ) -> Result<Benefit, ApiError> {
        let mut body = to_body(update).unwrap_or_default();
        if let Some(map) = body.as_object_mut() {
            // The update schema is discriminated by type, which cannot change.
            map.insert("type".into(), "meter_credit".into());
        }
        self.send(ApiRequest::write(
            Method::PATCH,
            format!("/v1/benefits/{}", segment(id)),
            Some(body),
            Idempotency::Idempotent,
        ))
        .await
    }

    /// Deletes a benefit (revoking its grants). Retried: deleting twice ends in the same state
    /// (the second attempt may answer 404, which callers treat as done).
    pub async fn delete_benefit(&self, id: &str) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .send(ApiRequest::write(
                Method::DELETE,
                format!("/v1/benefits/{}", segment(id)),
                None,
                Idempotency::Idempotent,
            ))
            .await?;
        Ok(())
    }
}
