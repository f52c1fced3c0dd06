//! Metered prices: added to the product by resending every active price as `{id}`.

use std::collections::BTreeSet;

use billing_api::{NewPrice, PriceInput, Product, ProductUpdate};
use billing_changeset::RemoteAction;
use billing_errors::Hinted;
use billing_plan::{Environment, MeteredPrice};
use serde_json::json;

use crate::desired::{display_decimal, same_decimal};
use crate::keys::{self, object};
use crate::lookup;
use crate::state::ProductRecord;

use super::{Engine, MAX_WRITE_ATTEMPTS};

impl Engine<'_> {
    /// The product as it is now (apply mode always re-reads; plan mode reads once).
    pub(super) async fn product(&mut self, reference: &str) -> Result<Product, Hinted> {
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
    pub(super) fn snapshot(&mut self, reference: &str, product: &Product) {
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

    pub(super) async fn price(&mut self, price: &MeteredPrice) -> Result<(), Hinted> {
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
                        existing
                            .unit_amount
                            .as_deref()
                            .map_or_else(|| "?".to_owned(), display_decimal),
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
            let organization_id = self
                .products
                .get(&reference)
                .and_then(|p| p.organization_id.clone());
            self.done(&key, &price_id, organization_id)?;
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
    pub(super) async fn add_metered_price(
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
            self.intend_product_change(
                reference,
                &format!("add the metered price for `{}`", price.meter),
            )
            .await?;
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
