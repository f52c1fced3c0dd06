//! What spaire-billing knows about the remote objects of each environment, stored by
//! billing-ops in `.spaire-billing/lock.json` (committed, so a teammate's apply reuses ids).
//!
//! It holds ids and what is needed to undo: which objects we created (only those are
//! archived/deleted by undo) and each product's price and benefit lists before we first
//! changed it (undo restores exactly those lists).

use std::collections::BTreeMap;

use billing_plan::Environment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteState {
    /// Keyed by environment name (`sandbox`, `production`, `local`).
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentState {
    /// Objects by step key (`meter:<name>`, `price:<product>:<meter>`,
    /// `credit:<product>:<meter>`, `webhook:<url>`).
    #[serde(default)]
    pub objects: BTreeMap<String, ObjectRecord>,
    /// Products we changed, by the product reference used in the plan (name or id).
    #[serde(default)]
    pub products: BTreeMap<String, ProductRecord>,
    /// Step keys that still wait for a token or a dashboard action.
    #[serde(default)]
    pub pending: Vec<String>,
    /// The API the objects were created on; undo refuses to run against another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// The organization that owns them; undo refuses a token of another organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub id: String,
    /// True when spaire-billing created it (undo archives/deletes it); false when an existing
    /// identical object was reused (undo leaves it alone).
    pub created_by_us: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub id: String,
    /// Active price ids before spaire-billing first changed the product.
    #[serde(default)]
    pub previous_price_ids: Vec<String>,
    /// Benefit ids (in order) before spaire-billing first changed the product.
    #[serde(default)]
    pub previous_benefit_ids: Vec<String>,
}

impl RemoteState {
    pub fn env(&self, environment: Environment) -> Option<&EnvironmentState> {
        self.environments.get(environment.as_str())
    }

    pub fn env_mut(&mut self, environment: Environment) -> &mut EnvironmentState {
        self.environments
            .entry(environment.as_str().to_owned())
            .or_default()
    }

    /// The recorded object for a step key in an environment.
    pub fn object(&self, environment: Environment, key: &str) -> Option<&ObjectRecord> {
        self.env(environment).and_then(|e| e.objects.get(key))
    }

    /// Marks the pending steps of a token-less plan (billing-ops calls this after the user
    /// confirmed, so `status` can list them and a later run with a token finishes them).
    pub fn set_pending(&mut self, environment: Environment, keys: Vec<String>) {
        self.env_mut(environment).pending = keys;
    }
}

impl EnvironmentState {
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.products.is_empty() && self.pending.is_empty()
    }
}
