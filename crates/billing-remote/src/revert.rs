//! Undo of one apply from its write-ahead records ([`crate::wal`]): exactly the objects its
//! requests created (found by marker when the apply died before recording the answer) and the
//! product lists it changed, after checking that the token and the server are the ones the
//! objects were created with.

use billing_api::Client;
use billing_errors::Hinted;
use billing_plan::Environment;

use crate::keys;
use crate::state::{EnvironmentState, ObjectRecord, RemoteState};
use crate::undo::{UndoReport, UndoStep, undo_with};
use crate::wal::{self, Summary, WalRecord};

/// What reverting produced: the report, and `Reverted` records for every key that is done
/// (the caller appends them to the journal even when other steps failed).
#[derive(Debug, Default)]
pub struct Reverted {
    pub report: UndoReport,
    pub progress: Vec<WalRecord>,
}

/// Refuses (before any write) when `client` talks to another server or with a token of
/// another organization than the records (or the lock's `recorded` state) name.
pub async fn check_target(
    client: &Client,
    environment: Environment,
    summary: &Summary,
    recorded: &EnvironmentState,
) -> Result<(), Hinted> {
    let current = client.base_url().as_str();
    if let Some(server) = summary.server_url.as_ref().or(recorded.server_url.as_ref())
        && !wal::same_server(server, current)
    {
        return Err(Hinted::new(
            format!(
                "the {} objects of this apply were created on {server}, but undo would send its \
                 requests to {current}; nothing was changed and the journal is kept",
                environment.as_str()
            ),
            format!("run `spaire-billing undo --server-url {server}`"),
        ));
    }
    let Some(organization) = summary
        .organization_id
        .as_ref()
        .or(recorded.organization_id.as_ref())
    else {
        return Ok(());
    };
    let token_org = wal::token_organization(client).await.map_err(|e| {
        let hint = e.hint();
        Hinted::new(
            format!("could not read the token's organization on {current}; nothing was changed"),
            hint,
        )
        .with_source(e)
    })?;
    if token_org.as_deref() != Some(organization.as_str()) {
        let actual = match &token_org {
            Some(org) => format!("organization {org}"),
            None => "an organization with no meters, products or benefits".to_owned(),
        };
        return Err(Hinted::new(
            format!(
                "SPAIRE_ACCESS_TOKEN belongs to {actual}, but the objects of this apply were \
                 created in organization {organization}; nothing was changed and the journal is \
                 kept"
            ),
            format!(
                "set SPAIRE_ACCESS_TOKEN (environment or .env) to a token of organization \
                 {organization} and run `spaire-billing undo` again"
            ),
        ));
    }
    Ok(())
}

/// Reverts what `records` say the apply did in `environment`. `Err` only when nothing was
/// done (wrong server or organization, a lookup failed); step failures are in the report.
pub async fn undo_journal(
    client: &Client,
    environment: Environment,
    records: &[WalRecord],
    recorded: &EnvironmentState,
    forget_missing: bool,
) -> Result<Reverted, Hinted> {
    let summary = Summary::of(records);
    let mut out = Reverted::default();
    if !summary.wrote_anything() {
        return Ok(out);
    }
    check_target(client, environment, &summary, recorded).await?;
    let env_name = environment.as_str().to_owned();
    let reverted = |key: &str| WalRecord::Reverted {
        environment: env_name.clone(),
        key: key.to_owned(),
    };
    let mut scratch = EnvironmentState::default();
    for (key, (kind, lookup, marker)) in &summary.intents {
        if summary.reverted.contains(key) {
            continue;
        }
        let id = match summary.done.get(key) {
            Some(id) => Some(id.clone()),
            None => wal::resolve(client, *kind, lookup, marker)
                .await
                .map_err(|e| {
                    let hint = e.hint();
                    Hinted::new(
                        format!("could not look up `{key}` (its create was interrupted); nothing was changed"),
                        hint,
                    )
                    .with_source(e)
                })?,
        };
        match id {
            Some(id) => {
                scratch.objects.insert(
                    key.clone(),
                    ObjectRecord {
                        id,
                        created_by_us: true,
                    },
                );
            }
            // Not recorded as reverted: a retry looks again rather than trust one lookup.
            None => out.report.steps.push(UndoStep {
                key: key.clone(),
                description: format!("`{key}`: the interrupted create made nothing"),
                ok: true,
                error: None,
            }),
        }
    }
    for (reference, record) in &summary.products {
        if !summary
            .reverted
            .contains(&keys::product_benefits(reference))
        {
            scratch.products.insert(reference.clone(), record.clone());
        }
    }
    let mut state = RemoteState::default();
    state.environments.insert(env_name.clone(), scratch);
    let report = undo_with(client, environment, &mut state, forget_missing).await;
    for step in &report.steps {
        if step.ok {
            out.progress.push(reverted(&step.key));
        }
    }
    out.report.steps.extend(report.steps);
    Ok(out)
}
