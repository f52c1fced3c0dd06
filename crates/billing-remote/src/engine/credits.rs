//! Meter-credit benefits and attaching them to products.

use billing_api::{BenefitUpdate, MeterCreditCreate, MeterCreditProperties};
use billing_changeset::RemoteAction;
use billing_errors::Hinted;
use billing_plan::CreditGrant;
use serde_json::json;

use crate::desired::credit_description;
use crate::keys::{self, object};
use crate::lookup::{self, BenefitMatch};
use crate::wal::ObjectKind;

use super::{Engine, MAX_WRITE_ATTEMPTS};

impl Engine<'_> {
    pub(super) async fn credit(&mut self, credit: &CreditGrant) -> Result<(), Hinted> {
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
                    self.before_write(&format!("update benefit `{}`", b.description))
                        .await?;
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
                    let metadata = self
                        .intend(
                            &key,
                            ObjectKind::Benefit,
                            &credit.meter,
                            &format!("create the `{}` credit benefit", credit.meter),
                        )
                        .await?;
                    let create = MeterCreditCreate {
                        description: description.clone(),
                        properties: properties.clone(),
                        metadata,
                    };
                    let (id, organization_id) = self.create_benefit(&create, &mid, credit).await?;
                    self.done(&key, &id, organization_id)?;
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

    pub(super) async fn create_benefit(
        &mut self,
        create: &MeterCreditCreate,
        meter_id: &str,
        credit: &CreditGrant,
    ) -> Result<(String, Option<String>), Hinted> {
        let what = format!("could not create the `{}` credit benefit", credit.meter);
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            match self.client.create_meter_credit_benefit(create).await {
                Ok(b) => return Ok((b.id, b.organization_id)),
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
                        Ok(BenefitMatch::Same(b)) => return Ok((b.id, b.organization_id)),
                        Ok(_) => last = Some(e),
                        Err(lookup_err) => return Err(self.api_error(what, lookup_err)),
                    }
                }
                Err(e) => return Err(self.api_error(what, e)),
            }
        }
        Err(self.api_error(what, last.expect("loop ran at least once")))
    }

    pub(super) async fn product_benefits(&mut self, reference: &str) -> Result<(), Hinted> {
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
            self.intend_product_change(
                reference,
                &format!("attach the credit benefits to product `{}`", product.name),
            )
            .await?;
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
}
