//! Meters: create, list, get, update (incl. archive) and quantities.

use billing_plan::AggregationFunc;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{repeated, to_body};
use crate::client::{ApiRequest, Client, segment};
use crate::error::ApiError;
use crate::pagination::Pages;
use crate::retry::Idempotency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conjunction {
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOperator {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    NotLike,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub conjunction: Conjunction,
    pub clauses: Vec<FilterNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FilterNode {
    Clause(FilterClause),
    Group(Filter),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterClause {
    pub property: String,
    pub operator: FilterOperator,
    /// A string, an int32 or a bool.
    pub value: serde_json::Value,
}

impl Filter {
    /// `name eq <event>`: the filter every meter spaire-billing creates uses.
    pub fn event_name(event: &str) -> Self {
        Self {
            conjunction: Conjunction::And,
            clauses: vec![FilterNode::Clause(FilterClause {
                property: "name".into(),
                operator: FilterOperator::Eq,
                value: serde_json::Value::String(event.into()),
            })],
        }
    }

    /// The event name when the filter is exactly `name eq <event>` (any conjunction).
    pub fn single_event_name(&self) -> Option<&str> {
        match self.clauses.as_slice() {
            [FilterNode::Clause(c)]
                if c.operator == FilterOperator::Eq && strip_metadata(&c.property) == "name" =>
            {
                c.value.as_str()
            }
            _ => None,
        }
    }

    /// Human-readable form, e.g. `name eq "llm-usage"`.
    pub fn describe(&self) -> String {
        if self.clauses.is_empty() {
            return "(matches every event)".into();
        }
        let sep = match self.conjunction {
            Conjunction::And => " and ",
            Conjunction::Or => " or ",
        };
        self.clauses
            .iter()
            .map(|node| match node {
                FilterNode::Clause(c) => format!(
                    "{} {} {}",
                    c.property,
                    serde_json::to_value(c.operator)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    c.value
                ),
                FilterNode::Group(g) => format!("({})", g.describe()),
            })
            .collect::<Vec<_>>()
            .join(sep)
    }
}

/// The server strips one leading `metadata.` when it validates a property.
pub fn strip_metadata(property: &str) -> &str {
    property.strip_prefix("metadata.").unwrap_or(property)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregation {
    pub func: AggregationFunc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

impl Aggregation {
    /// Same meaning as `other` the way the server sees it: `count` ignores any property, and a
    /// `metadata.` prefix is stripped.
    pub fn same_as(&self, other: &Aggregation) -> bool {
        if self.func != other.func {
            return false;
        }
        if self.func == AggregationFunc::Count {
            return true;
        }
        self.property.as_deref().map(strip_metadata)
            == other.property.as_deref().map(strip_metadata)
    }

    pub fn describe(&self) -> String {
        let func = serde_json::to_value(self.func)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match (&self.property, self.func) {
            (_, AggregationFunc::Count) | (None, _) => func,
            (Some(p), _) => format!("{func}({p})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Meter {
    pub id: String,
    pub name: String,
    pub filter: Filter,
    pub aggregation: Aggregation,
    #[serde(default)]
    pub archived_at: Option<String>,
    #[serde(default)]
    pub metadata: serde_json::Value,
    /// The organization that owns it (every read is filtered to the token's organization).
    #[serde(default)]
    pub organization_id: Option<String>,
}

impl Meter {
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterCreate {
    pub name: String,
    pub filter: Filter,
    pub aggregation: Aggregation,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeterUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<Aggregation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct MeterListQuery {
    /// Case-insensitive substring of the name (the server has no exact-name filter).
    pub query: Option<String>,
    pub is_archived: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeInterval {
    Year,
    Month,
    Week,
    Day,
    Hour,
}

#[derive(Debug, Clone)]
pub struct QuantitiesQuery {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub interval: TimeInterval,
    pub customer_id: Vec<String>,
    pub external_customer_id: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MeterQuantity {
    pub timestamp: String,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MeterQuantities {
    pub quantities: Vec<MeterQuantity>,
    pub total: f64,
}

impl Client {
    /// Not retried on 5xx/timeouts: a lost response would create a second meter. Callers
    /// re-list by name before creating again.
    pub async fn create_meter(&self, meter: &MeterCreate) -> Result<Meter, ApiError> {
        self.send(ApiRequest::write(
            Method::POST,
            "/v1/meters/",
            to_body(meter),
            Idempotency::NotIdempotent,
        ))
        .await
    }

    pub fn meters(&self, query: &MeterListQuery) -> Pages<'_, Meter> {
        let mut pairs = Vec::new();
        if let Some(q) = &query.query {
            pairs.push(("query".to_owned(), q.clone()));
        }
        if let Some(a) = query.is_archived {
            pairs.push(("is_archived".to_owned(), a.to_string()));
        }
        Pages::new(self, "/v1/meters/", pairs)
    }

    /// Every meter whose name is exactly `name` (archived ones included).
    pub async fn meters_named(&self, name: &str) -> Result<Vec<Meter>, ApiError> {
        let all = self
            .meters(&MeterListQuery {
                query: Some(name.to_owned()),
                is_archived: None,
            })
            .collect_all()
            .await?;
        Ok(all.into_iter().filter(|m| m.name == name).collect())
    }

    pub async fn meter(&self, id: &str) -> Result<Meter, ApiError> {
        self.send(ApiRequest::get(format!("/v1/meters/{}", segment(id))))
            .await
    }

    /// PATCH is idempotent: the same body leaves the same state.
    pub async fn update_meter(&self, id: &str, update: &MeterUpdate) -> Result<Meter, ApiError> {
        self.send(ApiRequest::write(
            Method::PATCH,
            format!("/v1/meters/{}", segment(id)),
            to_body(update),
            Idempotency::Idempotent,
        ))
        .await
    }

    pub async fn meter_quantities(
        &self,
        id: &str,
        query: &QuantitiesQuery,
    ) -> Result<MeterQuantities, ApiError> {
        let interval = serde_json::to_value(query.interval)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "day".into());
        let mut pairs = vec![
            ("start_timestamp".to_owned(), query.start.to_rfc3339()),
            ("end_timestamp".to_owned(), query.end.to_rfc3339()),
            ("interval".to_owned(), interval),
        ];
        pairs.extend(repeated("customer_id", &query.customer_id));
        pairs.extend(repeated(
            "external_customer_id",
            &query.external_customer_id,
        ));
        self.send(ApiRequest::get(format!("/v1/meters/{}/quantities", segment(id))).query(pairs))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_round_trip_with_nested_groups() {
        let raw = json!({"conjunction":"and","clauses":[
            {"property":"name","operator":"eq","value":"llm-usage"},
            {"conjunction":"or","clauses":[{"property":"model","operator":"like","value":"gpt"}]}
        ]});
        let f: Filter = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&f).unwrap(), raw);
        assert_eq!(f.single_event_name(), None);
        assert_eq!(
            f.describe(),
            r#"name eq "llm-usage" and (model like "gpt")"#
        );
        assert_eq!(
            Filter::event_name("api-call").single_event_name(),
            Some("api-call")
        );
    }

    #[test]
    fn aggregations_compare_like_the_server() {
        let sum = |p: &str| Aggregation {
            func: AggregationFunc::Sum,
            property: Some(p.into()),
        };
        assert!(sum("totalTokens").same_as(&sum("metadata.totalTokens")));
        assert!(!sum("totalTokens").same_as(&sum("bytes")));
        let count = Aggregation {
            func: AggregationFunc::Count,
            property: None,
        };
        let count_p = Aggregation {
            func: AggregationFunc::Count,
            property: Some("x".into()),
        };
        assert!(count.same_as(&count_p));
        assert_eq!(sum("bytes").describe(), "sum(bytes)");
    }
}
