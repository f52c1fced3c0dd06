//! Customers, customer state and customer meters.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{repeated, to_body};
use crate::client::{ApiRequest, Client, segment};
use crate::error::ApiError;
use crate::pagination::Pages;
use crate::retry::Idempotency;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerCreate {
    /// The real server checks that the domain accepts mail.
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomerState {
    pub id: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub active_meters: Vec<CustomerStateMeter>,
    #[serde(default)]
    pub granted_benefits: Vec<serde_json::Value>,
}

/// `balance = credited_units − consumed_units`: positive means credits remain.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomerStateMeter {
    pub meter_id: String,
    pub consumed_units: f64,
    pub credited_units: f64,
    pub balance: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomerMeter {
    pub id: String,
    pub customer_id: String,
    pub meter_id: String,
    pub consumed_units: f64,
    pub credited_units: f64,
    pub balance: f64,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerMeterQuery {
    pub customer_id: Vec<String>,
    pub external_customer_id: Vec<String>,
    pub meter_id: Vec<String>,
}

impl Client {
    /// Not retried on 5xx/timeouts; with an `external_id` a retry would answer 422 "already
    /// exists", so callers look the customer up by external id instead.
    pub async fn create_customer(&self, customer: &CustomerCreate) -> Result<Customer, ApiError> {
        self.send(ApiRequest::write(
            Method::POST,
            "/v1/customers/",
            to_body(customer),
            Idempotency::NotIdempotent,
        ))
        .await
    }

    pub async fn customer(&self, id: &str) -> Result<Customer, ApiError> {
        self.send(ApiRequest::get(format!("/v1/customers/{}", segment(id))))
            .await
    }

    pub async fn customer_by_external_id(&self, external_id: &str) -> Result<Customer, ApiError> {
        self.send(ApiRequest::get(format!(
            "/v1/customers/external/{}",
            segment(external_id)
        )))
        .await
    }

    pub async fn customer_state(&self, id: &str) -> Result<CustomerState, ApiError> {
        self.send(ApiRequest::get(format!(
            "/v1/customers/{}/state",
            segment(id)
        )))
        .await
    }

    pub async fn customer_state_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<CustomerState, ApiError> {
        self.send(ApiRequest::get(format!(
            "/v1/customers/external/{}/state",
            segment(external_id)
        )))
        .await
    }

    pub fn customer_meters(&self, query: &CustomerMeterQuery) -> Pages<'_, CustomerMeter> {
        let mut pairs = repeated("customer_id", &query.customer_id);
        pairs.extend(repeated(
            "external_customer_id",
            &query.external_customer_id,
        ));
        pairs.extend(repeated("meter_id", &query.meter_id));
        Pages::new(self, "/v1/customer-meters/", pairs)
    }
}
