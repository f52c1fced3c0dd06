//! One walk over the plan that either only looks (`plan`) or also acts (`apply`).
//!
//! Sharing the walk is what keeps the preview honest: apply performs the same decisions the
//! preview showed, against the state it finds at that moment. Every decision starts with a
//! read of the live object, so re-running is safe, and every create that may have succeeded
//! without us seeing the response is followed by a re-list before creating again.

use std::collections::{BTreeMap, BTreeSet};

use billing_api::{
    ApiError, BenefitUpdate, Client, MeterCreditCreate, MeterCreditProperties, NewPrice,
    PriceInput, Product, ProductUpdate, RequestStats, WebhookEndpointCreate, WebhookEndpointUpdate,
};
use billing_changeset::{RemoteAction, RemoteStep};
use billing_errors::Hinted;
use billing_plan::{
    BillingPlan, CreditGrant, DEFAULT_WEBHOOK_EVENTS, Environment, Meter, MeteredPrice,
};
use serde_json::json;

use crate::desired::{self, credit_description, describe_meter, same_decimal};
use crate::keys::{self, object};
use crate::lookup::{self, BenefitMatch, MeterMatch};
use crate::state::{ObjectRecord, ProductRecord, RemoteState};
use crate::webhook_url;

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
        }
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

    fn api_error(&self, what: String, e: ApiError) -> Hinted {
        let hint = e.hint();
        Hinted::new(format!("{what} in {}", self.env.as_str()), hint).with_source(e)
    }

    // ── meters ──────────────────────────────────────────────────────────────────────────

    async fn meter(&mut self, meter: &Meter) -> Result<(), Hinted> {
        let key = keys::meter(&meter.name);
        let wanted = desired::meter_create(meter);
        let definition = describe_meter(&wanted.filter, &wanted.aggregation);
        let request = serde_json::to_value(&wanted).unwrap_or_default();
        let recorded = self.state.object(self.env, &key).cloned();
        let found = lookup::find_meter(self.client, &wanted, recorded.as_ref())
            .await
            .map_err(|e| self.api_error(format!("could not look up meter `{}`", meter.name), e))?;
        match found {
            MeterMatch::Found(existing) => {
                self.record(&key, &existing.id, false);
                self.meter_ids
                    .insert(meter.name.clone(), Some(existing.id.clone()));
                self.step(
                    key,
                    object::METER,
                    RemoteAction::Reuse,
                    format!(
                        "meter `{}` exists ({definition}; id {})",
                        meter.name, existing.id
                    ),
                    request,
                );
            }
            MeterMatch::Conflict(existing) => {
                return Err(Hinted::new(
                    format!(
                        "meter `{}` already exists in {} with a different definition:\n  \
                         existing (id {}): {}\n  \
                         the plan wants:   {definition}",
                        meter.name,
                        self.env.as_str(),
                        existing.id,
                        describe_meter(&existing.filter, &existing.aggregation),
                    ),
                    "rename the meter in spaire-billing.toml (its `name`), or change its event and \
                     aggregation to match the existing meter; spaire-billing never changes an \
                     existing meter, because events it already counted would be counted differently",
                ));
            }
            MeterMatch::Missing => {
                let id = if self.perform {
                    Some(self.create_meter(&wanted).await?)
                } else {
                    None
                };
                if let Some(id) = &id {
                    self.record(&key, id, true);
                }
                let summary = self.told(
                    format!("create meter `{}` ({definition})", meter.name),
                    || {
                        format!(
                            "created meter `{}` ({definition}; id {})",
                            meter.name,
                            id.as_deref().unwrap_or_default()
                        )
                    },
                );
                self.meter_ids.insert(meter.name.clone(), id);
                self.step(key, object::METER, RemoteAction::Create, summary, request);
            }
        }
        Ok(())
    }

    async fn create_meter(&mut self, wanted: &billing_api::MeterCreate) -> Result<String, Hinted> {
        let what = format!("could not create meter `{}`", wanted.name);
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            match self.client.create_meter(wanted).await {
                Ok(m) => return Ok(m.id),
                Err(e) if e.outcome_unknown() => {
                    // The meter may exist now even though we saw no answer: look before retrying.
                    match lookup::find_meter(self.client, wanted, None).await {
                        Ok(MeterMatch::Found(m)) => return Ok(m.id),
                        Ok(MeterMatch::Missing) => last = Some(e),
                        Ok(MeterMatch::Conflict(_)) => return Err(self.api_error(what, e)),
                        Err(lookup_err) => return Err(self.api_error(what, lookup_err)),
                    }
                }
                Err(e) => return Err(self.api_error(what, e)),
            }
        }
        Err(self.api_error(what, last.expect("loop ran at least once")))
    }

    fn meter_id_placeholder(&self, meter: &str) -> String {
        match self.meter_ids.get(meter) {
            Some(Some(id)) => id.clone(),
            _ => format!("<id of meter {meter}>"),
        }
    }

    // ── products ────────────────────────────────────────────────────────────────────────

    /// The product as it is now (apply mode always re-reads; plan mode reads once).
    async fn product(&mut self, reference: &str) -> Result<Product, Hinted> {
        if !self.perform
            && let Some(p) = self.products.get(reference)
        {
            return Ok(p.clone());
        }
        let known = self
            .products
            .get(reference)
            .map(|p| p.id.clone())
            .or_else(|| {
                self.state
                    .env(self.env)
                    .and_then(|e| e.products.get(reference))
                    .map(|r| r.id.clone())
            });
        let product =
            lookup::resolve_product(self.client, self.env, reference, known.as_deref()).await?;
        self.products.insert(reference.to_owned(), product.clone());
        Ok(product)
    }

    /// Remembers the product's lists before our first change, for undo. Never overwritten
    /// while the product id is the same, so undo restores the state before spaire-billing.
    fn snapshot(&mut self, reference: &str, product: &Product) {
        let env = self.state.env_mut(self.env);
        let keep = env
            .products
            .get(reference)
            .is_some_and(|r| r.id == product.id);
        if !keep {
            env.products.insert(
                reference.to_owned(),
                ProductRecord {
                    id: product.id.clone(),
                    previous_price_ids: product.active_prices().map(|p| p.id.clone()).collect(),
                    previous_benefit_ids: product.benefit_ids(),
                },
            );
        }
    }

    async fn price(&mut self, price: &MeteredPrice) -> Result<(), Hinted> {
        let reference = price.product.0.clone();
        let key = keys::price(&reference, &price.meter);
        let meter_id = self.meter_ids.get(&price.meter).cloned().flatten();
        let product = self.product(&reference).await?;
        if !product.is_recurring {
            return Err(Hinted::new(
                format!(
                    "product `{}` in {} is a one-time product; Spaire supports metered prices only on \
                     subscription products",
                    product.name,
                    self.env.as_str()
                ),
                "point `product` of this price in spaire-billing.toml at a subscription product (or \
                 create one with a monthly or yearly interval in the dashboard)",
            ));
        }
        let currency = price_currency(&product, self.env)?;
        if let Some(mid) = &meter_id
            && let Some(existing) = product.metered_price_for(mid)
        {
            let same_amount = existing
                .unit_amount
                .as_deref()
                .is_some_and(|a| same_decimal(a, &price.unit_amount))
                && existing.cap_amount == price.cap_amount;
            if !same_amount {
                return Err(Hinted::new(
                    format!(
                        "product `{}` in {} already has a metered price for meter `{}` at {} cents per \
                         unit (cap {}), but the plan says {} cents (cap {})",
                        product.name,
                        self.env.as_str(),
                        price.meter,
                        existing.unit_amount.as_deref().unwrap_or("?"),
                        fmt_cap(existing.cap_amount),
                        price.unit_amount,
                        fmt_cap(price.cap_amount),
                    ),
                    "spaire-billing never archives existing prices; change `unit_amount`/`cap_amount` in \
                     spaire-billing.toml to match, or replace the price in the dashboard yourself \
                     (existing subscriptions keep their old price)",
                ));
            }
            self.record(&key, &existing.id, false);
            self.step(
                key,
                object::METERED_PRICE,
                RemoteAction::Reuse,
                format!(
                    "product `{}` already charges {} cents per unit of `{}` (price id {})",
                    product.name, price.unit_amount, price.meter, existing.id
                ),
                json!({}),
            );
            return Ok(());
        }
        let new_price = NewPrice::MeteredUnit {
            meter_id: meter_id
                .clone()
                .unwrap_or_else(|| self.meter_id_placeholder(&price.meter)),
            unit_amount: price.unit_amount.clone(),
            cap_amount: price.cap_amount,
            price_currency: currency,
        };
        let mut list: Vec<PriceInput> = product
            .active_prices()
            .map(|p| PriceInput::Keep { id: p.id.clone() })
            .collect();
        for placeholder in self.planned_prices.get(&reference).into_iter().flatten() {
            list.push(PriceInput::Keep {
                id: placeholder.clone(),
            });
        }
        list.push(PriceInput::New(new_price.clone()));
        let request = serde_json::to_value(ProductUpdate {
            name: None,
            prices: Some(list),
        })
        .unwrap_or_default();
        let kept = product.active_prices().count();
        let summary = format!(
            "add a metered price to product `{}`: {} cents per unit of `{}`{} (keeping its {kept} existing price{})",
            product.name,
            price.unit_amount,
            price.meter,
            price
                .cap_amount
                .map(|c| format!(", capped at {c} cents per period"))
                .unwrap_or_default(),
            if kept == 1 { "" } else { "s" },
        );
        let mut summary = summary;
        if self.perform {
            let mid = meter_id.expect("apply creates meters before prices");
            let price_id = self
                .add_metered_price(&reference, &mid, new_price, price)
                .await?;
            self.record(&key, &price_id, true);
            summary = format!(
                "added{} (price id {price_id})",
                summary.strip_prefix("add").unwrap_or(&summary)
            );
        } else {
            self.planned_prices
                .entry(reference.clone())
                .or_default()
                .push(format!("<new metered price for {}>", price.meter));
        }
        self.step(
            key,
            object::METERED_PRICE,
            RemoteAction::Create,
            summary,
            request,
        );
        Ok(())
    }

    /// PATCHes the product with every active price kept plus the new one. The list is rebuilt
    /// from a fresh read on every attempt, and an attempt whose outcome is unknown is followed
    /// by a read that checks whether the price is there before trying again.
    async fn add_metered_price(
        &mut self,
        reference: &str,
        meter_id: &str,
        new_price: NewPrice,
        price: &MeteredPrice,
    ) -> Result<String, Hinted> {
        let what = format!(
            "could not add the metered price for `{}` to product `{reference}`",
            price.meter
        );
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let product = self.product(reference).await?;
            if let Some(existing) = product.metered_price_for(meter_id) {
                return Ok(existing.id.clone());
            }
            self.snapshot(reference, &product);
            let mut list: Vec<PriceInput> = product
                .active_prices()
                .map(|p| PriceInput::Keep { id: p.id.clone() })
                .collect();
            list.push(PriceInput::New(new_price.clone()));
            let update = ProductUpdate {
                name: None,
                prices: Some(list),
            };
            match self.client.update_product(&product.id, &update).await {
                Ok(updated) => {
                    let id = updated
                        .metered_price_for(meter_id)
                        .map(|p| p.id.clone())
                        .ok_or_else(|| {
                            Hinted::new(
                                format!("{what}: the product was updated but shows no metered price for the meter"),
                                "run `spaire-billing plan` to see the product's current prices",
                            )
                        })?;
                    self.products.insert(reference.to_owned(), updated);
                    return Ok(id);
                }
                Err(e) if e.outcome_unknown() => last = Some(e),
                Err(e) => return Err(self.api_error(what, e)),
            }
        }
        Err(self.api_error(what, last.expect("loop ran at least once")))
    }

    // ── credits ─────────────────────────────────────────────────────────────────────────

    async fn credit(&mut self, credit: &CreditGrant) -> Result<(), Hinted> {
        let reference = credit.product.0.clone();
        let key = keys::credit(&reference, &credit.meter);
        let description = credit_description(credit.units, &credit.meter);
        let meter_id = self.meter_ids.get(&credit.meter).cloned().flatten();
        let properties = MeterCreditProperties {
            meter_id: meter_id
                .clone()
                .unwrap_or_else(|| self.meter_id_placeholder(&credit.meter)),
            units: credit.units,
            rollover: credit.rollover,
        };
        let request =
            json!({"type": "meter_credit", "description": description, "properties": properties});
        let recorded = self.state.object(self.env, &key).cloned();
        let found = match &meter_id {
            Some(mid) => lookup::find_credit_benefit(
                self.client,
                mid,
                credit.units,
                credit.rollover,
                &description,
                recorded.as_ref(),
            )
            .await
            .map_err(|e| {
                self.api_error(
                    format!("could not look up the `{}` credit benefit", credit.meter),
                    e,
                )
            })?,
            None => BenefitMatch::Missing,
        };
        let rollover = if credit.rollover {
            ", unused credits roll over"
        } else {
            ""
        };
        let id = match found {
            BenefitMatch::Same(b) => {
                self.record(&key, &b.id, false);
                self.step(
                    key,
                    object::CREDIT_BENEFIT,
                    RemoteAction::Reuse,
                    format!(
                        "meter-credit benefit `{}` exists (id {})",
                        b.description, b.id
                    ),
                    request,
                );
                Some(b.id)
            }
            BenefitMatch::Differs(b) => {
                if self.perform {
                    let update = BenefitUpdate {
                        description: Some(description.clone()),
                        properties: Some(properties.clone()),
                    };
                    self.client
                        .update_benefit(&b.id, &update)
                        .await
                        .map_err(|e| {
                            self.api_error(
                                format!("could not update benefit `{}`", b.description),
                                e,
                            )
                        })?;
                }
                self.record(&key, &b.id, false);
                self.step(
                    key,
                    object::CREDIT_BENEFIT,
                    RemoteAction::Update,
                    format!(
                        "{} meter-credit benefit {} to {} units of `{}` per cycle{rollover}",
                        if self.perform { "updated" } else { "update" },
                        b.id,
                        credit.units,
                        credit.meter
                    ),
                    request,
                );
                Some(b.id)
            }
            BenefitMatch::Missing => {
                let id = if self.perform {
                    let mid = meter_id
                        .clone()
                        .expect("apply creates meters before benefits");
                    let create = MeterCreditCreate {
                        description: description.clone(),
                        properties: properties.clone(),
                    };
                    let id = self.create_benefit(&create, &mid, credit).await?;
                    self.record(&key, &id, true);
                    Some(id)
                } else {
                    None
                };
                let planned = format!(
                    "create meter-credit benefit `{description}`: {} units of `{}` per cycle{rollover}",
                    credit.units, credit.meter
                );
                let summary = self.told(planned.clone(), || {
                    format!(
                        "created{} (id {})",
                        planned.strip_prefix("create").unwrap_or(&planned),
                        id.as_deref().unwrap_or_default()
                    )
                });
                self.step(
                    key,
                    object::CREDIT_BENEFIT,
                    RemoteAction::Create,
                    summary,
                    request,
                );
                id
            }
        };
        self.credit_benefits
            .entry(reference)
            .or_default()
            .push((id, description));
        Ok(())
    }

    async fn create_benefit(
        &mut self,
        create: &MeterCreditCreate,
        meter_id: &str,
        credit: &CreditGrant,
    ) -> Result<String, Hinted> {
        let what = format!("could not create the `{}` credit benefit", credit.meter);
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            match self.client.create_meter_credit_benefit(create).await {
                Ok(b) => return Ok(b.id),
                Err(e) if e.outcome_unknown() => {
                    match lookup::find_credit_benefit(
                        self.client,
                        meter_id,
                        credit.units,
                        credit.rollover,
                        &create.description,
                        None,
                    )
                    .await
                    {
                        Ok(BenefitMatch::Same(b)) => return Ok(b.id),
                        Ok(_) => last = Some(e),
                        Err(lookup_err) => return Err(self.api_error(what, lookup_err)),
                    }
                }
                Err(e) => return Err(self.api_error(what, e)),
            }
        }
        Err(self.api_error(what, last.expect("loop ran at least once")))
    }

    async fn product_benefits(&mut self, reference: &str) -> Result<(), Hinted> {
        let key = keys::product_benefits(reference);
        let wanted = self
            .credit_benefits
            .get(reference)
            .cloned()
            .unwrap_or_default();
        let product = self.product(reference).await?;
        let current = product.benefit_ids();
        let missing: Vec<&(Option<String>, String)> = wanted
            .iter()
            .filter(|(id, _)| id.as_ref().is_none_or(|id| !current.contains(id)))
            .collect();
        if missing.is_empty() {
            self.step(
                key,
                object::PRODUCT_BENEFITS,
                RemoteAction::Reuse,
                format!(
                    "product `{}` already grants its credit benefits",
                    product.name
                ),
                json!({}),
            );
            return Ok(());
        }
        let mut list = current.clone();
        for (id, description) in &missing {
            list.push(
                id.clone()
                    .unwrap_or_else(|| format!("<id of benefit {description}>")),
            );
        }
        let descriptions: Vec<String> = missing.iter().map(|(_, d)| format!("`{d}`")).collect();
        let summary = format!(
            "{} {} to product `{}` (keeping its {} existing benefit{})",
            if self.perform { "attached" } else { "attach" },
            descriptions.join(", "),
            product.name,
            current.len(),
            if current.len() == 1 { "" } else { "s" }
        );
        let request = json!({"benefits": list});
        if self.perform {
            self.snapshot(reference, &product);
            let updated = self
                .client
                .set_product_benefits(&product.id, &list)
                .await
                .map_err(|e| {
                    self.api_error(
                        format!(
                            "could not attach the credit benefits to product `{}`",
                            product.name
                        ),
                        e,
                    )
                })?;
            self.products.insert(reference.to_owned(), updated);
        }
        self.step(
            key,
            object::PRODUCT_BENEFITS,
            RemoteAction::Update,
            summary,
            request,
        );
        Ok(())
    }

    // ── webhook endpoint ────────────────────────────────────────────────────────────────

    async fn webhook(&mut self) -> Result<(), Hinted> {
        let Some(hooks) = &self.plan.webhooks else {
            return Ok(());
        };
        let Some(url) = hooks.url.clone() else {
            return Ok(());
        };
        if let Err(reason) = webhook_url::check(&url, self.env) {
            self.notes
                .push(format!("webhook endpoint not registered: {reason}"));
            return Ok(());
        }
        let events: Vec<String> = if hooks.events.is_empty() {
            DEFAULT_WEBHOOK_EVENTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            hooks.events.clone()
        };
        let key = keys::webhook(&url);
        let create = WebhookEndpointCreate {
            url: url.clone(),
            format: "raw".into(),
            events: events.clone(),
        };
        let request = serde_json::to_value(&create).unwrap_or_default();
        let existing = self.find_webhook(&url).await?;
        match existing {
            Some(endpoint) => {
                let same: BTreeSet<&String> = endpoint.events.iter().collect();
                let wanted: BTreeSet<&String> = events.iter().collect();
                if same.is_superset(&wanted) {
                    self.record(&key, &endpoint.id, false);
                    self.step(
                        key,
                        object::WEBHOOK,
                        RemoteAction::Reuse,
                        format!("webhook endpoint {url} exists (id {})", endpoint.id),
                        request,
                    );
                } else {
                    let mut union: Vec<String> = endpoint.events.clone();
                    union.extend(
                        events
                            .iter()
                            .filter(|e| !endpoint.events.contains(e))
                            .cloned(),
                    );
                    if self.perform {
                        let update = WebhookEndpointUpdate {
                            url: None,
                            events: Some(union.clone()),
                            enabled: None,
                        };
                        self.client
                            .update_webhook_endpoint(&endpoint.id, &update)
                            .await
                            .map_err(|e| {
                                self.api_error(
                                    format!("could not update webhook endpoint {url}"),
                                    e,
                                )
                            })?;
                    }
                    self.record(&key, &endpoint.id, false);
                    self.step(
                        key,
                        object::WEBHOOK,
                        RemoteAction::Update,
                        format!(
                            "{} events {} to webhook endpoint {url}",
                            if self.perform { "added" } else { "add" },
                            union.join(", ")
                        ),
                        json!({"events": union}),
                    );
                }
            }
            None => {
                let mut summary =
                    format!("register webhook endpoint {url} for {}", events.join(", "));
                if self.perform {
                    let id = self.create_webhook(&create).await?;
                    self.record(&key, &id, true);
                    summary = format!(
                        "registered webhook endpoint {url} for {} (id {id})",
                        events.join(", ")
                    );
                    self.notes.push(format!(
                        "copy the signing secret of the new webhook endpoint {url} from the dashboard \
                         into SPAIRE_WEBHOOK_SECRET (it is not printed here)"
                    ));
                }
                self.step(key, object::WEBHOOK, RemoteAction::Create, summary, request);
            }
        }
        Ok(())
    }

    async fn find_webhook(
        &self,
        url: &str,
    ) -> Result<Option<billing_api::WebhookEndpoint>, Hinted> {
        let all = self
            .client
            .webhook_endpoints()
            .collect_all()
            .await
            .map_err(|e| self.api_error("could not list webhook endpoints".to_owned(), e))?;
        Ok(all.into_iter().find(|w| w.url == url))
    }

    async fn create_webhook(&self, create: &WebhookEndpointCreate) -> Result<String, Hinted> {
        let what = format!("could not register webhook endpoint {}", create.url);
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            match self.client.create_webhook_endpoint(create).await {
                Ok(w) => return Ok(w.id),
                Err(e) if e.outcome_unknown() => {
                    if let Some(found) = self.find_webhook(&create.url).await? {
                        return Ok(found.id);
                    }
                    last = Some(e);
                }
                Err(e) => return Err(self.api_error(what, e)),
            }
        }
        Err(self.api_error(what, last.expect("loop ran at least once")))
    }
}

fn fmt_cap(cap: Option<i64>) -> String {
    cap.map_or_else(|| "none".to_owned(), |c| format!("{c} cents"))
}

/// The currency of the new metered price: the product's (one currency only), `usd` otherwise.
fn price_currency(product: &Product, env: Environment) -> Result<String, Hinted> {
    let currencies: BTreeSet<String> = product
        .active_prices()
        .filter_map(|p| p.price_currency.clone())
        .collect();
    match currencies.len() {
        0 => Ok("usd".to_owned()),
        1 => Ok(currencies
            .into_iter()
            .next()
            .unwrap_or_else(|| "usd".to_owned())),
        _ => Err(Hinted::new(
            format!(
                "product `{}` in {} has prices in several currencies ({}); Spaire requires the same \
                 price structure in each, and spaire-billing adds metered prices in one currency only",
                product.name,
                env.as_str(),
                currencies.into_iter().collect::<Vec<_>>().join(", ")
            ),
            "add the metered price in each currency in the dashboard, then run `spaire-billing apply` \
             again (it will find and reuse them)",
        )),
    }
}
