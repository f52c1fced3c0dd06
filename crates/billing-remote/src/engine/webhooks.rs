//! The webhook endpoint, only for a URL Spaire can deliver to.

use std::collections::BTreeSet;

use billing_api::{WebhookEndpointCreate, WebhookEndpointUpdate};
use billing_changeset::RemoteAction;
use billing_errors::Hinted;
use billing_plan::DEFAULT_WEBHOOK_EVENTS;
use serde_json::json;

use crate::keys::{self, object};
use crate::wal::ObjectKind;
use crate::webhook_url;

use super::{Engine, MAX_WRITE_ATTEMPTS};

impl Engine<'_> {
    pub(super) async fn webhook(&mut self) -> Result<(), Hinted> {
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
                        self.before_write(&format!("update webhook endpoint {url}"))
                            .await?;
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
                    self.intend(
                        &key,
                        ObjectKind::Webhook,
                        &url,
                        &format!("register webhook endpoint {url}"),
                    )
                    .await?;
                    let id = self.create_webhook(&create).await?;
                    self.done(&key, &id, None)?;
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

    pub(super) async fn find_webhook(
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

    pub(super) async fn create_webhook(
        &self,
        create: &WebhookEndpointCreate,
    ) -> Result<String, Hinted> {
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
