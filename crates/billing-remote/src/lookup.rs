//! Read-only lookups shared by planning and applying: does the object exist already, and is
//! it the one the plan wants?

use billing_api::{ApiError, Benefit, Client, Meter, MeterCreate, Product, ProductListQuery};
use billing_errors::Hinted;
use billing_plan::Environment;

use crate::desired::same_definition;
use crate::state::ObjectRecord;

pub enum MeterMatch {
    /// An identical, non-archived meter.
    Found(Meter),
    /// A non-archived meter with the same name and another definition.
    Conflict(Meter),
    Missing,
}

pub async fn find_meter(
    client: &Client,
    wanted: &MeterCreate,
    recorded: Option<&ObjectRecord>,
) -> Result<MeterMatch, ApiError> {
    if let Some(record) = recorded {
        match client.meter(&record.id).await {
            Ok(m) if !m.is_archived() && m.name == wanted.name && same_definition(&m, wanted) => {
                return Ok(MeterMatch::Found(m));
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    let named: Vec<Meter> = client
        .meters_named(&wanted.name)
        .await?
        .into_iter()
        .filter(|m| !m.is_archived())
        .collect();
    if let Some(m) = named.iter().find(|m| same_definition(m, wanted)) {
        return Ok(MeterMatch::Found(m.clone()));
    }
    Ok(match named.into_iter().next() {
        Some(other) => MeterMatch::Conflict(other),
        None => MeterMatch::Missing,
    })
}

pub enum BenefitMatch {
    Same(Benefit),
    /// Our own benefit (from the lock file) whose units or rollover changed in the plan.
    Differs(Benefit),
    Missing,
}

/// Finds the meter-credit benefit for `meter_id`: the recorded one first, then one with our
/// description and identical properties (how a create whose response was lost is detected),
/// then any with identical properties.
pub async fn find_credit_benefit(
    client: &Client,
    meter_id: &str,
    units: i64,
    rollover: bool,
    description: &str,
    recorded: Option<&ObjectRecord>,
) -> Result<BenefitMatch, ApiError> {
    let same = |b: &Benefit| {
        b.meter_credit()
            .is_some_and(|p| p.meter_id == meter_id && p.units == units && p.rollover == rollover)
    };
    if let Some(record) = recorded {
        match client.benefit(&record.id).await {
            Ok(b) if same(&b) => return Ok(BenefitMatch::Same(b)),
            Ok(b)
                if record.created_by_us
                    && b.meter_credit().is_some_and(|p| p.meter_id == meter_id) =>
            {
                return Ok(BenefitMatch::Differs(b));
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    let all = client.benefits(Some("meter_credit")).collect_all().await?;
    // Ours (same description) first; then any benefit granting exactly the same credits,
    // e.g. one made by hand from the dashboard steps with another description: identical
    // credits are interchangeable, and reusing it avoids granting them twice.
    let ours = all.iter().find(|b| b.description == description && same(b));
    let identical = all.iter().find(|b| same(b));
    Ok(match ours.or(identical) {
        Some(b) => BenefitMatch::Same(b.clone()),
        None => BenefitMatch::Missing,
    })
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Resolves a plan's product reference (a name or an id) to the live product.
pub async fn resolve_product(
    client: &Client,
    environment: Environment,
    reference: &str,
    known_id: Option<&str>,
) -> Result<Product, Hinted> {
    let wrap = |e: ApiError| {
        let hint = e.hint();
        Hinted::new(
            format!(
                "could not read product `{reference}` in {}",
                environment.as_str()
            ),
            hint,
        )
        .with_source(e)
    };
    for id in known_id
        .into_iter()
        .chain(looks_like_uuid(reference).then_some(reference))
    {
        match client.product(id).await {
            Ok(p) if !p.is_archived => return Ok(p),
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(wrap(e)),
        }
    }
    if looks_like_uuid(reference) {
        return Err(Hinted::new(
            format!(
                "product `{reference}` does not exist (or is archived) in {}",
                environment.as_str()
            ),
            "check the product id in spaire-billing.toml; ids differ between sandbox and production",
        ));
    }
    let listed = client
        .products(&ProductListQuery {
            query: Some(reference.to_owned()),
            is_archived: Some(false),
            is_recurring: None,
        })
        .collect_all()
        .await
        .map_err(wrap)?;
    let mut exact: Vec<Product> = listed
        .iter()
        .filter(|p| p.name == reference)
        .cloned()
        .collect();
    if exact.is_empty() {
        exact = listed
            .into_iter()
            .filter(|p| p.name.eq_ignore_ascii_case(reference))
            .collect();
    }
    match exact.len() {
        1 => Ok(exact.remove(0)),
        0 => Err(Hinted::new(
            format!(
                "no product named `{reference}` exists in {}",
                environment.as_str()
            ),
            match billing_api::dashboard_base(environment) {
                Some(base) => format!(
                    "create a subscription product named `{reference}` at {base}/<organization>/products/new, \
                     or set `product` in spaire-billing.toml to an existing product's name or id"
                ),
                None => format!(
                    "create a subscription product named `{reference}` in the emulator first, or set \
                     `product` in spaire-billing.toml to an existing product's name or id"
                ),
            },
        )),
        _ => Err(Hinted::new(
            format!(
                "{} products are named `{reference}` in {}: {}",
                exact.len(),
                environment.as_str(),
                exact
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "set `product` in spaire-billing.toml to the id of the one to use",
        )),
    }
}
