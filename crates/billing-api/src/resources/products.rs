//! Products: create, list, get, update with the full-replacement price list, and the
//! full-replacement benefit list.

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};

use super::to_body;
use crate::client::{ApiRequest, Client, segment};
use crate::error::ApiError;
use crate::pagination::Pages;
use crate::resources::benefits::Benefit;
use crate::retry::Idempotency;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub is_recurring: bool,
    #[serde(default)]
    pub recurring_interval: Option<String>,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub prices: Vec<Price>,
    #[serde(default)]
    pub benefits: Vec<Benefit>,
    /// The organization that owns it (every read is filtered to the token's organization).
    #[serde(default)]
    pub organization_id: Option<String>,
}

impl Product {
    /// Non-archived prices (the server lists only those, but be strict).
    pub fn active_prices(&self) -> impl Iterator<Item = &Price> {
        self.prices.iter().filter(|p| !p.is_archived)
    }

    /// The active metered price for `meter_id`, if any.
    pub fn metered_price_for(&self, meter_id: &str) -> Option<&Price> {
        self.active_prices()
            .find(|p| p.amount_type == "metered_unit" && p.meter_id.as_deref() == Some(meter_id))
    }

    pub fn benefit_ids(&self) -> Vec<String> {
        self.benefits.iter().map(|b| b.id.clone()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Price {
    pub id: String,
    pub amount_type: String,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub price_currency: Option<String>,
    #[serde(default)]
    pub price_amount: Option<i64>,
    #[serde(default)]
    pub meter_id: Option<String>,
    /// Cents, as the decimal string the server returns (`"0.500000000000"`).
    #[serde(default, deserialize_with = "decimal_as_string")]
    pub unit_amount: Option<String>,
    #[serde(default)]
    pub cap_amount: Option<i64>,
}

/// The server returns `unit_amount` as a string; older fixtures send a number. Accept both.
fn decimal_as_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A new price (create objects are discriminated by `amount_type`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "amount_type", rename_all = "snake_case")]
pub enum NewPrice {
    Fixed {
        price_amount: i64,
        price_currency: String,
    },
    Free {
        price_currency: String,
    },
    MeteredUnit {
        meter_id: String,
        /// Cents as a decimal string, e.g. `"0.05"`.
        unit_amount: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        cap_amount: Option<i64>,
        price_currency: String,
    },
}

/// One entry of the full-replacement price list of `PATCH /v1/products/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PriceInput {
    /// Keep an existing price. Any current price not listed is ARCHIVED by the server.
    Keep {
        id: String,
    },
    New(NewPrice),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductCreate {
    pub name: String,
    /// `day|week|month|year`; `None` makes a one-time product.
    pub recurring_interval: Option<String>,
    pub prices: Vec<NewPrice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProductUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Full replacement when present; omitted leaves prices untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<Vec<PriceInput>>,
}

#[derive(Debug, Clone, Default)]
pub struct ProductListQuery {
    /// Case-insensitive substring of the name.
    pub query: Option<String>,
    pub is_archived: Option<bool>,
    pub is_recurring: Option<bool>,
}

impl Client {
    pub async fn create_product(&self, product: &ProductCreate) -> Result<Product, ApiError> {
        self.send(ApiRequest::write(
            Method::POST,
            "/v1/products/",
            to_body(product),
            Idempotency::NotIdempotent,
        ))
        .await
    }

    pub fn products(&self, query: &ProductListQuery) -> Pages<'_, Product> {
        let mut pairs = Vec::new();
        if let Some(q) = &query.query {
            pairs.push(("query".to_owned(), q.clone()));
        }
        if let Some(a) = query.is_archived {
            pairs.push(("is_archived".to_owned(), a.to_string()));
        }
        if let Some(r) = query.is_recurring {
            pairs.push(("is_recurring".to_owned(), r.to_string()));
        }
        Pages::new(self, "/v1/products/", pairs)
    }

    pub async fn product(&self, id: &str) -> Result<Product, ApiError> {
        self.send(ApiRequest::get(format!("/v1/products/{}", segment(id))))
            .await
    }

    /// Not retried when the body adds a new price: if the first attempt was applied and its
    /// response lost, resending would archive the price it created and add another. Callers
    /// re-read the product instead. An update that only keeps/removes prices is idempotent.
    pub async fn update_product(
        &self,
        id: &str,
        update: &ProductUpdate,
    ) -> Result<Product, ApiError> {
        let adds_price = update
            .prices
            .as_ref()
            .is_some_and(|p| p.iter().any(|i| matches!(i, PriceInput::New(_))));
        let idempotency = if adds_price {
            Idempotency::NotIdempotent
        } else {
            Idempotency::Idempotent
        };
        self.send(ApiRequest::write(
            Method::PATCH,
            format!("/v1/products/{}", segment(id)),
            to_body(update),
            idempotency,
        ))
        .await
    }

    /// Replaces the product's benefits with exactly `benefit_ids`, in order. A full
    /// replacement, hence safe to retry.
    pub async fn set_product_benefits(
        &self,
        product_id: &str,
        benefit_ids: &[String],
    ) -> Result<Product, ApiError> {
        self.send(ApiRequest::write(
            Method::POST,
            format!("/v1/products/{}/benefits", segment(product_id)),
            Some(serde_json::json!({ "benefits": benefit_ids })),
            Idempotency::Idempotent,
        ))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn price_list_serialises_keeps_as_ids_and_new_prices_with_amount_type() {
        let update = ProductUpdate {
            name: None,
            prices: Some(vec![
                PriceInput::Keep { id: "p1".into() },
                PriceInput::New(NewPrice::MeteredUnit {
                    meter_id: "m1".into(),
                    unit_amount: "0.05".into(),
                    cap_amount: None,
                    price_currency: "usd".into(),
                }),
            ]),
        };
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            json!({"prices":[{"id":"p1"},{"amount_type":"metered_unit","meter_id":"m1","unit_amount":"0.05","price_currency":"usd"}]})
        );
    }

    #[test]
    fn unit_amount_is_read_from_string_or_number() {
        let p: Price = serde_json::from_value(
            json!({"id":"x","amount_type":"metered_unit","unit_amount":0.5}),
        )
        .unwrap();
        assert_eq!(p.unit_amount.as_deref(), Some("0.5"));
        let p: Price = serde_json::from_value(
            json!({"id":"x","amount_type":"metered_unit","unit_amount":"0.500000000000"}),
        )
        .unwrap();
        assert_eq!(p.unit_amount.as_deref(), Some("0.500000000000"));
    }
}
