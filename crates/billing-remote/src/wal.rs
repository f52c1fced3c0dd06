//! The write-ahead journal of remote writes.
//!
//! Before every create or product change, apply hands a [`WalRecord::Intent`] (or
//! [`WalRecord::ProductIntent`]) to a [`Recorder`], which must make it durable before the
//! request is sent; after the answer it hands a [`WalRecord::Done`] with the id. New meters and
//! benefits carry the intent's marker in their metadata ([`MARKER_KEY`]), so after a crash
//! between the request and the `Done` record, a resumed apply or an undo finds exactly the
//! object that request made ([`resolve`]) instead of mistaking it for someone else's.
//!
//! The records live in the undo journal entry of the apply (billing-ops stores them as opaque
//! JSON); undo appends [`WalRecord::Reverted`] per object as it goes, so a retried undo never
//! touches an object twice and never forgets one it has not reverted.

use std::collections::BTreeMap;

use billing_api::{ApiError, Client, MeterListQuery, ProductListQuery};
use billing_errors::Hinted;
use serde::{Deserialize, Serialize};

use crate::state::ProductRecord;

/// Metadata key holding the marker of the intent that created an object.
pub const MARKER_KEY: &str = "spaire_billing_apply";

/// The server limits metadata values to 500 characters.
const MAX_MARKER_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Meter,
    Benefit,
    Webhook,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WalRecord {
    /// Where the writes go; recorded before the first write of an apply.
    Target {
        environment: String,
        server_url: String,
        /// The token's organization when it could be read (an organization with no meter,
        /// product or benefit shows none; the `Done` records then carry it).
        #[serde(default)]
        organization_id: Option<String>,
    },
    /// A create is about to be sent.
    Intent {
        environment: String,
        key: String,
        kind: ObjectKind,
        /// Meter name, or webhook URL: how the object is listed.
        lookup: String,
        marker: String,
    },
    /// A product's prices or benefits are about to change; its lists before the first change.
    ProductIntent {
        environment: String,
        reference: String,
        record: ProductRecord,
    },
    /// The write answered: the object's id.
    Done {
        environment: String,
        key: String,
        id: String,
        #[serde(default)]
        organization_id: Option<String>,
    },
    /// Undo reverted this key (an object key, or `product-benefits:<reference>`).
    Reverted { environment: String, key: String },
}

impl WalRecord {
    pub fn environment(&self) -> &str {
        match self {
            WalRecord::Target { environment, .. }
            | WalRecord::Intent { environment, .. }
            | WalRecord::ProductIntent { environment, .. }
            | WalRecord::Done { environment, .. }
            | WalRecord::Reverted { environment, .. } => environment,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The records of `environment` among opaque journal values (others are skipped).
    pub fn parse_all(values: &[serde_json::Value], environment: &str) -> Vec<WalRecord> {
        values
            .iter()
            .filter_map(|v| serde_json::from_value::<WalRecord>(v.clone()).ok())
            .filter(|r| r.environment() == environment)
            .collect()
    }
}

/// Where apply's write-ahead records go. Implementations persist each record durably before
/// returning (the request is sent only after).
pub trait Recorder: Send + Sync {
    /// The id of the apply (the journal entry): markers start with it.
    fn apply_id(&self) -> String;
    fn record(&mut self, record: WalRecord) -> Result<(), Hinted>;
    /// True once the user asked to stop (Ctrl-C): apply stops before its next write.
    fn stop_requested(&mut self) -> bool;
}

/// The marker of the create for `key` in apply `apply_id`.
pub fn marker(apply_id: &str, key: &str) -> String {
    format!("{apply_id} {key}")
        .chars()
        .take(MAX_MARKER_CHARS)
        .collect()
}

/// What a set of records says this apply (or these applies) made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub server_url: Option<String>,
    pub organization_id: Option<String>,
    /// Object key → (kind, lookup, marker) of its first intent.
    pub intents: BTreeMap<String, (ObjectKind, String, String)>,
    /// Object key → id from its `Done` record.
    pub done: BTreeMap<String, String>,
    /// Product reference → its lists before the first change.
    pub products: BTreeMap<String, ProductRecord>,
    pub reverted: std::collections::BTreeSet<String>,
}

impl Summary {
    pub fn of(records: &[WalRecord]) -> Self {
        let mut s = Summary::default();
        for record in records {
            match record {
                WalRecord::Target {
                    server_url,
                    organization_id,
                    ..
                } => {
                    s.server_url.get_or_insert_with(|| server_url.clone());
                    if s.organization_id.is_none() {
                        s.organization_id.clone_from(organization_id);
                    }
                }
                WalRecord::Intent {
                    key,
                    kind,
                    lookup,
                    marker,
                    ..
                } => {
                    s.intents
                        .entry(key.clone())
                        .or_insert_with(|| (*kind, lookup.clone(), marker.clone()));
                }
                WalRecord::ProductIntent {
                    reference, record, ..
                } => {
                    // The first record holds the lists before spaire-billing touched it.
                    s.products
                        .entry(reference.clone())
                        .or_insert_with(|| record.clone());
                }
                WalRecord::Done {
                    key,
                    id,
                    organization_id,
                    ..
                } => {
                    s.done.insert(key.clone(), id.clone());
                    if s.organization_id.is_none() {
                        s.organization_id.clone_from(organization_id);
                    }
                }
                WalRecord::Reverted { key, .. } => {
                    s.reverted.insert(key.clone());
                }
            }
        }
        s
    }

    /// True when the records show a write that may have created or changed something.
    pub fn wrote_anything(&self) -> bool {
        !self.intents.is_empty() || !self.products.is_empty()
    }
}

/// The organization the client's token belongs to, read from the first meter, product or
/// benefit it can see (every read is filtered to the token's organization). `None` when it
/// sees none of them.
pub async fn token_organization(client: &Client) -> Result<Option<String>, ApiError> {
    let meters = client
        .meters(&MeterListQuery::default())
        .next_page()
        .await?;
    if let Some(id) = meters
        .unwrap_or_default()
        .into_iter()
        .find_map(|m| m.organization_id)
    {
        return Ok(Some(id));
    }
    let products = client
        .products(&ProductListQuery::default())
        .next_page()
        .await?;
    if let Some(id) = products
        .unwrap_or_default()
        .into_iter()
        .find_map(|p| p.organization_id)
    {
        return Ok(Some(id));
    }
    let benefits = client.benefits(None).next_page().await?;
    Ok(benefits
        .unwrap_or_default()
        .into_iter()
        .find_map(|b| b.organization_id))
}

fn has_marker(metadata: &serde_json::Value, marker: &str) -> bool {
    metadata.get(MARKER_KEY).and_then(|v| v.as_str()) == Some(marker)
}

/// The id of the object an intent without a `Done` record created, found by its marker (or,
/// for a webhook endpoint, its URL: apply creates one only when none has that URL). `None`
/// when the request never created it.
pub async fn resolve(
    client: &Client,
    kind: ObjectKind,
    lookup: &str,
    marker: &str,
) -> Result<Option<String>, ApiError> {
    Ok(match kind {
        ObjectKind::Meter => client
            .meters_named(lookup)
            .await?
            .into_iter()
            .find(|m| has_marker(&m.metadata, marker))
            .map(|m| m.id),
        ObjectKind::Benefit => client
            .benefits(Some("meter_credit"))
            .collect_all()
            .await?
            .into_iter()
            .find(|b| has_marker(&b.metadata, marker))
            .map(|b| b.id),
        ObjectKind::Webhook => client
            .webhook_endpoints()
            .collect_all()
            .await?
            .into_iter()
            .find(|w| w.url == lookup)
            .map(|w| w.id),
    })
}

/// Server URLs compare without a trailing slash.
pub fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_old_records_are_skipped() {
        let intent = WalRecord::Intent {
            environment: "local".into(),
            key: "meter:api-calls".into(),
            kind: ObjectKind::Meter,
            lookup: "api-calls".into(),
            marker: marker("20261202T000000.000Z-abcd", "meter:api-calls"),
        };
        let values = vec![
            serde_json::json!({"environment": "local", "before": {}}),
            intent.to_json(),
            WalRecord::Done {
                environment: "sandbox".into(),
                key: "meter:x".into(),
                id: "1".into(),
                organization_id: None,
            }
            .to_json(),
        ];
        assert_eq!(WalRecord::parse_all(&values, "local"), vec![intent]);
    }

    #[test]
    fn the_first_product_snapshot_and_the_first_organization_win() {
        let record = |ids: &[&str]| ProductRecord {
            id: "p".into(),
            previous_price_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            previous_benefit_ids: Vec::new(),
        };
        let records = vec![
            WalRecord::ProductIntent {
                environment: "local".into(),
                reference: "Pro".into(),
                record: record(&["a"]),
            },
            WalRecord::Done {
                environment: "local".into(),
                key: "meter:m".into(),
                id: "m1".into(),
                organization_id: Some("org-1".into()),
            },
            WalRecord::ProductIntent {
                environment: "local".into(),
                reference: "Pro".into(),
                record: record(&["a", "b"]),
            },
        ];
        let summary = Summary::of(&records);
        assert_eq!(summary.products["Pro"], record(&["a"]));
        assert_eq!(summary.organization_id.as_deref(), Some("org-1"));
        assert!(summary.wrote_anything());
        assert!(marker(&"x".repeat(600), "k").chars().count() == 500);
    }
}
