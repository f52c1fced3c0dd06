//! Undo of the remote objects: restore each product's price and benefit lists, delete the
//! benefits and archive the meters spaire-billing created. Objects it only reused are left
//! alone. Keeps going after a failure and reports each step; what failed stays in the state
//! so running undo again retries it.

use billing_api::{ApiError, Client, MeterUpdate, PriceInput, ProductUpdate};
use billing_plan::Environment;

use crate::keys;
use crate::state::RemoteState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoStep {
    pub key: String,
    /// What was (or should have been) done, e.g. "archived meter `api-calls` (id …)".
    pub description: String,
    pub ok: bool,
    /// Why it failed and what to do, when it failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UndoReport {
    pub steps: Vec<UndoStep>,
}

impl UndoReport {
    pub fn all_ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }

    fn push(&mut self, key: &str, description: String, result: Result<(), ApiError>) -> bool {
        let ok = result.is_ok();
        self.steps.push(UndoStep {
            key: key.to_owned(),
            description,
            ok,
            error: result.err().map(|e| format!("{e} (hint: {})", e.hint())),
        });
        ok
    }
}

/// Undoes the remote changes recorded for `environment` and removes what was undone from
/// `state` (billing-ops saves it back to lock.json).
///
/// A 404 for an object the state says exists is a failure (the token or the server is not
/// the one that created it, or someone deleted it by hand), never "already gone".
pub async fn undo(
    client: &Client,
    environment: Environment,
    state: &mut RemoteState,
) -> UndoReport {
    undo_with(client, environment, state, false).await
}

/// [`undo`], treating a 404 as "already gone" when `forget_missing` (`undo --forget-missing`,
/// for objects the user deleted by hand).
pub async fn undo_with(
    client: &Client,
    environment: Environment,
    state: &mut RemoteState,
    forget_missing: bool,
) -> UndoReport {
    let server = client.base_url().as_str().to_owned();
    let missing = |result: Result<(), ApiError>| -> Result<(), ApiError> {
        match result {
            Err(e) if e.is_not_found() && forget_missing => Ok(()),
            Err(e) if e.is_not_found() => Err(e.with_hint(format!(
                "spaire-billing created it, but {server} does not show it to this token: check \
                 that SPAIRE_ACCESS_TOKEN belongs to the organization that ran the apply and \
                 that --server-url / SPAIRE_SERVER_URL point to the same server; if you deleted \
                 it yourself, run `spaire-billing undo --forget-missing`"
            ))),
            other => other,
        }
    };
    let mut report = UndoReport::default();
    let env = state.env_mut(environment);

    // 1. Products first: omitting our metered prices archives them, which a meter must not
    //    be referenced by before it can be archived.
    let products: Vec<(String, crate::state::ProductRecord)> = env
        .products
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (reference, record) in products {
        let key = keys::product_benefits(&reference);
        let done = match restore_product(client, &record).await {
            Ok(Some(text)) => report.push(&key, format!("product `{reference}`: {text}"), Ok(())),
            Ok(None) => report.push(
                &key,
                format!("product `{reference}`: already as before"),
                Ok(()),
            ),
            Err(err) if err.is_not_found() && forget_missing => report.push(
                &key,
                format!("product `{reference}` no longer exists"),
                Ok(()),
            ),
            Err(err) if err.is_not_found() => report.push(
                &key,
                format!(
                    "restore the prices and benefits of product `{reference}` (id {})",
                    record.id
                ),
                missing(Err(err)),
            ),
            Err(err) => report.push(
                &key,
                format!("restore the prices and benefits of product `{reference}`"),
                Err(err),
            ),
        };
        if done {
            env.products.remove(&reference);
            env.objects
                .retain(|k, _| !k.starts_with(&format!("price:{reference}:")));
        }
    }

    // 2. Benefits, then 3. meters, then 4. webhook endpoints we created.
    let records: Vec<(String, crate::state::ObjectRecord)> = env
        .objects
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for prefix in ["credit:", "meter:", "webhook:"] {
        for (key, record) in records.iter().filter(|(k, _)| k.starts_with(prefix)) {
            if !record.created_by_us {
                env.objects.remove(key);
                continue;
            }
            let name = key.split_once(':').map_or(key.as_str(), |(_, n)| n);
            let (done, failed, result) = match prefix {
                "credit:" => (
                    format!(
                        "deleted meter-credit benefit for `{name}` (id {})",
                        record.id
                    ),
                    format!(
                        "delete meter-credit benefit for `{name}` (id {})",
                        record.id
                    ),
                    missing(client.delete_benefit(&record.id).await).map_err(|e| {
                        if e.status() == Some(405) {
                            let hint = format!(
                                "this server cannot delete benefits through the API; delete the \
                                 benefit {} by hand (dashboard: Products → Benefits) and run \
                                 `spaire-billing undo` again",
                                record.id
                            );
                            e.with_hint(hint)
                        } else {
                            e
                        }
                    }),
                ),
                "meter:" => (
                    format!("archived meter `{name}` (id {})", record.id),
                    format!("archive meter `{name}` (id {})", record.id),
                    missing(
                        client
                            .update_meter(
                                &record.id,
                                &MeterUpdate {
                                    is_archived: Some(true),
                                    ..MeterUpdate::default()
                                },
                            )
                            .await
                            .map(|_| ()),
                    )
                    .map_err(|e| {
                        if e.status() == Some(422) {
                            e.with_hint(
                                "the meter is still used by a metered price or a meter-credit \
                                 benefit (see the other lines); once those are gone, run \
                                 `spaire-billing undo` again",
                            )
                        } else {
                            e
                        }
                    }),
                ),
                _ => (
                    format!("deleted webhook endpoint {name} (id {})", record.id),
                    format!("delete webhook endpoint {name} (id {})", record.id),
                    missing(client.delete_webhook_endpoint(&record.id).await),
                ),
            };
            let description = if result.is_ok() { done } else { failed };
            if report.push(key, description, result) {
                env.objects.remove(key);
            }
        }
    }
    // Price records of products that were not restored stay; anything else left is stale.
    env.pending.clear();
    report
}

/// Puts back the product's previous price list (archiving prices we added) and benefit list.
/// Returns what changed, or `None` when it already matched.
async fn restore_product(
    client: &Client,
    record: &crate::state::ProductRecord,
) -> Result<Option<String>, ApiError> {
    let product = client.product(&record.id).await?;
    let mut changes = Vec::new();
    let current_prices: Vec<String> = product.active_prices().map(|p| p.id.clone()).collect();
    let mut sorted_current = current_prices.clone();
    sorted_current.sort();
    let mut sorted_previous = record.previous_price_ids.clone();
    sorted_previous.sort();
    if sorted_current != sorted_previous {
        // Only ids the product still has can be kept; a previous price that someone else
        // archived meanwhile cannot be revived through this endpoint.
        let keep: Vec<PriceInput> = record
            .previous_price_ids
            .iter()
            .filter(|id| current_prices.contains(id))
            .map(|id| PriceInput::Keep { id: id.clone() })
            .collect();
        if keep.is_empty() {
            // A product needs at least one price; keep what it has rather than fail.
            changes.push(
                "left its prices unchanged (none of the previous prices is active any more)"
                    .to_owned(),
            );
        } else {
            let removed = current_prices.len() - keep.len();
            client
                .update_product(
                    &record.id,
                    &ProductUpdate {
                        name: None,
                        prices: Some(keep),
                    },
                )
                .await?;
            changes.push(format!(
                "archived {removed} added price{}",
                if removed == 1 { "" } else { "s" }
            ));
        }
    }
    if product.benefit_ids() != record.previous_benefit_ids {
        client
            .set_product_benefits(&record.id, &record.previous_benefit_ids)
            .await?;
        changes.push(if record.previous_benefit_ids.is_empty() {
            "removed the benefits spaire-billing attached".to_owned()
        } else {
            format!(
                "restored its {} previous benefit{}",
                record.previous_benefit_ids.len(),
                if record.previous_benefit_ids.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )
        });
    }
    Ok((!changes.is_empty()).then(|| changes.join(", ")))
}
