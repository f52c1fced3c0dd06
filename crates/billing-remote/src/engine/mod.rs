//! One walk over the plan that either only looks (`plan`) or also acts (`apply`).
//!
//! Sharing the walk is what keeps the preview honest: apply performs the same decisions the
//! preview showed, against the state it finds at that moment. Every decision starts with a
//! read of the live object, so re-running is safe, and every create that may have succeeded
//! without us seeing the response is followed by a re-list before creating again.

mod credits;
mod meters;
mod prices;
mod webhooks;

use std::collections::{BTreeMap, BTreeSet};

use billing_api::{ApiError, Client, Product, RequestStats};
use billing_changeset::{RemoteAction, RemoteStep};
use billing_errors::Hinted;
use billing_plan::{BillingPlan, Environment};

use crate::state::{ObjectRecord, RemoteState};
use crate::wal::{ObjectKind, Recorder, WalRecord};

/// How many times a write whose outcome was unknown is re-checked and re-tried.
const MAX_WRITE_ATTEMPTS: usize = 5;

/// The remote part of a plan preview.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePlan {
    pub environment: Environment,
    pub steps: Vec<RemoteStep>,
    /// Things the user should know that are not steps (e.g. a webhook URL that is skipped).
    pub notes: Vec<String>,
}

/// What `apply` did. `steps` carry the action actually taken.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyReport {
    pub environment: Environment,
    pub steps: Vec<RemoteStep>,
    pub notes: Vec<String>,
    /// Requests sent, for "a second run makes zero write calls".
    pub stats: RequestStats,
}

impl ApplyReport {
    pub fn changed_anything(&self) -> bool {
        self.steps.iter().any(|s| s.action != RemoteAction::Reuse)
    }
}

pub(crate) struct Engine<'a> {
    client: &'a Client,
    env: Environment,
    plan: &'a BillingPlan,
    state: &'a mut RemoteState,
    perform: bool,
    steps: Vec<RemoteStep>,
    notes: Vec<String>,
    /// Meter name → id (`None`: will be created by an earlier step of this plan).
    meter_ids: BTreeMap<String, Option<String>>,
    /// Product reference → the product as last read, plus the placeholders of prices and
    /// benefits this plan adds (plan mode only, where nothing is written).
    products: BTreeMap<String, Product>,
    planned_prices: BTreeMap<String, Vec<String>>,
    /// Product reference → (benefit id or placeholder, description) this plan attaches.
    credit_benefits: BTreeMap<String, Vec<(Option<String>, String)>>,
    /// Where write-ahead records go (apply only); `None` writes without a journal (tests).
    recorder: Option<&'a mut dyn Recorder>,
    /// The `Target` record was written (before the first write).
    target_recorded: bool,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(
        client: &'a Client,
        env: Environment,
        plan: &'a BillingPlan,
        state: &'a mut RemoteState,
        perform: bool,
    ) -> Self {
        Self {
            client,
            env,
            plan,
            state,
            perform,
            steps: Vec::new(),
            notes: Vec::new(),
            meter_ids: BTreeMap::new(),
            products: BTreeMap::new(),
            planned_prices: BTreeMap::new(),
            credit_benefits: BTreeMap::new(),
            recorder: None,
            target_recorded: false,
        }
    }

    /// Journals every write ahead through `recorder` (see [`crate::wal`]).
    pub(crate) fn with_recorder(mut self, recorder: Option<&'a mut dyn Recorder>) -> Self {
        self.recorder = recorder;
        self
    }

    pub(crate) async fn run(mut self) -> Result<(Vec<RemoteStep>, Vec<String>), Hinted> {
        self.state.env_mut(self.env);
        for meter in &self.plan.meters {
            self.meter(meter).await?;
        }
        for price in &self.plan.prices {
            self.price(price).await?;
        }
        for credit in &self.plan.credits {
            self.credit(credit).await?;
        }
        let products: BTreeSet<String> = self
            .plan
            .credits
            .iter()
            .map(|c| c.product.0.clone())
            .collect();
        for product in products {
            self.product_benefits(&product).await?;
        }
        self.webhook().await?;
        if self.perform {
            let env = self.state.env_mut(self.env);
            env.pending.clear();
        }
        Ok((self.steps, self.notes))
    }

    fn step(
        &mut self,
        key: String,
        object: &str,
        action: RemoteAction,
        summary: String,
        request: serde_json::Value,
    ) {
        self.steps.push(RemoteStep {
            key,
            object: object.to_owned(),
            action,
            environment: self.env.as_str().to_owned(),
            summary,
            request,
            dashboard_steps: Vec::new(),
        });
    }

    /// Preview lines say what will happen; apply lines say what happened, with the id.
    fn told(&self, planned: String, done: impl FnOnce() -> String) -> String {
        if self.perform { done() } else { planned }
    }

    fn record(&mut self, key: &str, id: &str, created_now: bool) {
        let env = self.state.env_mut(self.env);
        // A reused object we created in an earlier run stays ours (undo still removes it).
        let created_by_us = created_now
            || env
                .objects
                .get(key)
                .is_some_and(|r| r.id == id && r.created_by_us);
        env.objects.insert(
            key.to_owned(),
            ObjectRecord {
                id: id.to_owned(),
                created_by_us,
            },
        );
    }

    /// Before each write: stop when the user asked to (the previous write is recorded), and
    /// the first time, record the server and the token's organization.
    async fn before_write(&mut self, what: &str) -> Result<(), Hinted> {
        let Some(recorder) = self.recorder.as_mut() else {
            return Ok(());
        };
        if recorder.stop_requested() {
            return Err(Hinted::new(
                format!("interrupted (Ctrl-C) before: {what}"),
                "run `spaire-billing apply` to finish, or `spaire-billing undo` to revert \
                 what was done",
            ));
        }
        if self.target_recorded {
            return Ok(());
        }
        let organization_id = crate::wal::token_organization(self.client)
            .await
            .map_err(|e| self.api_error("could not read the token's organization".into(), e))?;
        let server_url = self.client.base_url().as_str().to_owned();
        let env = self.state.env_mut(self.env);
        env.server_url = Some(server_url.clone());
        if organization_id.is_some() {
            env.organization_id.clone_from(&organization_id);
        }
        self.wal(WalRecord::Target {
            environment: self.env.as_str().to_owned(),
            server_url,
            organization_id,
        })?;
        self.target_recorded = true;
        Ok(())
    }

    fn wal(&mut self, record: WalRecord) -> Result<(), Hinted> {
        match self.recorder.as_mut() {
            Some(recorder) => recorder.record(record),
            None => Ok(()),
        }
    }

    /// The marker for a create of `key` (`None` without a journal).
    fn marker(&self, key: &str) -> Option<String> {
        self.recorder
            .as_ref()
            .map(|r| crate::wal::marker(&r.apply_id(), key))
    }

    /// Records the intent to create `key`; returns the metadata marking the new object.
    async fn intend(
        &mut self,
        key: &str,
        kind: ObjectKind,
        lookup: &str,
        what: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Hinted> {
        self.before_write(what).await?;
        let mut metadata = serde_json::Map::new();
        if let Some(marker) = self.marker(key) {
            self.wal(WalRecord::Intent {
                environment: self.env.as_str().to_owned(),
                key: key.to_owned(),
                kind,
                lookup: lookup.to_owned(),
                marker: marker.clone(),
            })?;
            metadata.insert(
                crate::wal::MARKER_KEY.to_owned(),
                serde_json::Value::String(marker),
            );
        }
        Ok(metadata)
    }

    /// Records that the write for `key` answered with `id`.
    fn done(&mut self, key: &str, id: &str, organization_id: Option<String>) -> Result<(), Hinted> {
        if let Some(org) = &organization_id {
            let env = self.state.env_mut(self.env);
            env.organization_id.get_or_insert_with(|| org.clone());
        }
        self.wal(WalRecord::Done {
            environment: self.env.as_str().to_owned(),
            key: key.to_owned(),
            id: id.to_owned(),
            organization_id,
        })
    }

    /// Records a product's lists before a change to it (undo restores the first such record).
    async fn intend_product_change(&mut self, reference: &str, what: &str) -> Result<(), Hinted> {
        self.before_write(what).await?;
        let record = self
            .state
            .env(self.env)
            .and_then(|e| e.products.get(reference))
            .cloned();
        if let Some(record) = record {
            self.wal(WalRecord::ProductIntent {
                environment: self.env.as_str().to_owned(),
                reference: reference.to_owned(),
                record,
            })?;
        }
        Ok(())
    }

    fn api_error(&self, what: String, e: ApiError) -> Hinted {
        let hint = e.hint();
        Hinted::new(format!("{what} in {}", self.env.as_str()), hint).with_source(e)
    }
}
