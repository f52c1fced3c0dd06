//! Meters: reuse an identical one, stop on a conflicting one, create a missing one.

use billing_changeset::RemoteAction;
use billing_errors::Hinted;
use billing_plan::Meter;

use crate::desired::{self, describe_meter};
use crate::keys::{self, object};
use crate::lookup::{self, MeterMatch};
use crate::wal::ObjectKind;

use super::{Engine, MAX_WRITE_ATTEMPTS};

impl Engine<'_> {
    pub(super) async fn meter(&mut self, meter: &Meter) -> Result<(), Hinted> {
        let key = keys::meter(&meter.name);
        let wanted = desired::meter_create(meter);
        let definition = describe_meter(&wanted.filter, &wanted.aggregation);
        let explained = meter
            .unit_explanation()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
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
                    let mut create = wanted.clone();
                    create.metadata = self
                        .intend(
                            &key,
                            ObjectKind::Meter,
                            &meter.name,
                            &format!("create meter `{}`", meter.name),
                        )
                        .await?;
                    let (id, organization_id) = self.create_meter(&create).await?;
                    self.done(&key, &id, organization_id)?;
                    Some(id)
                } else {
                    None
                };
                if let Some(id) = &id {
                    self.record(&key, id, true);
                }
                let summary = self.told(
                    format!("create meter `{}` ({definition}){explained}", meter.name),
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

    pub(super) async fn create_meter(
        &mut self,
        wanted: &billing_api::MeterCreate,
    ) -> Result<(String, Option<String>), Hinted> {
        let what = format!("could not create meter `{}`", wanted.name);
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            match self.client.create_meter(wanted).await {
                Ok(m) => return Ok((m.id, m.organization_id)),
                Err(e) if e.outcome_unknown() => {
                    // The meter may exist now even though we saw no answer: look before retrying.
                    match lookup::find_meter(self.client, wanted, None).await {
                        Ok(MeterMatch::Found(m)) => return Ok((m.id, m.organization_id)),
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

    pub(super) fn meter_id_placeholder(&self, meter: &str) -> String {
        match self.meter_ids.get(meter) {
            Some(Some(id)) => id.clone(),
            _ => format!("<id of meter {meter}>"),
        }
    }
}
