//! What `undo` is about to revert, read from the latest journal entry before anything is
//! touched, so a person at a terminal can say no; archiving meters and prices and deleting
//! credit benefits is not something to do on a stray command, least of all in production or
//! while subscribers hold credits those benefits granted.

use std::fmt::Write as _;
use std::path::Path;

use billing_apply::Project;
use billing_remote::wal::{ObjectKind, Summary, WalRecord};

/// The revert the latest apply's journal entry describes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Revert {
    pub environment: String,
    /// One line per file or remote object, as shown before asking.
    pub lines: Vec<String>,
    /// Names of credit benefits that would be deleted.
    pub credit_benefits: Vec<String>,
}

impl Revert {
    /// Reads the latest journal entry; `None` when there is none (undo says so itself).
    pub fn latest(root: &Path) -> anyhow::Result<Option<Self>> {
        let project = Project::open(root)?;
        let Some(entry) = billing_apply::journal::latest(&project)? else {
            return Ok(None);
        };
        let mut revert = Revert {
            environment: entry.environment.clone(),
            ..Revert::default()
        };
        for file in &entry.files {
            revert.lines.push(match file.before {
                Some(_) => format!("restore {}", file.path),
                None => format!("remove  {}", file.path),
            });
        }
        let summary = Summary::of(&WalRecord::parse_all(&entry.remote, &entry.environment));
        for (key, (kind, lookup, _)) in &summary.intents {
            if summary.reverted.contains(key) || !summary.done.contains_key(key) {
                continue;
            }
            let env = &entry.environment;
            revert.lines.push(match kind {
                ObjectKind::Meter => format!("[{env}] archive meter `{lookup}`"),
                ObjectKind::Benefit => {
                    // Keys read `credit:<product>:<meter>`; the lookup is the meter.
                    let product = key
                        .strip_prefix("credit:")
                        .and_then(|rest| rest.strip_suffix(&format!(":{lookup}")))
                        .unwrap_or("its product");
                    let name = format!("the `{lookup}` credit benefit of `{product}`");
                    let line = format!("[{env}] delete {name}");
                    revert.credit_benefits.push(name);
                    line
                }
                ObjectKind::Webhook => format!("[{env}] delete webhook endpoint {lookup}"),
            });
        }
        for reference in summary.products.keys() {
            if !summary
                .reverted
                .contains(&format!("product-benefits:{reference}"))
            {
                revert.lines.push(format!(
                    "[{}] put product `{reference}`'s prices and benefits back as they were (metered prices added by the apply are archived)",
                    entry.environment
                ));
            }
        }
        Ok(Some(revert))
    }

    /// The list shown before asking, with the warnings that matter.
    pub fn render(&self) -> String {
        let mut out = format!(
            "`undo` will revert the latest apply ({} environment):\n",
            self.environment
        );
        for line in &self.lines {
            let _ = writeln!(out, "  {line}");
        }
        out
    }

    /// Loud warnings: production, and credits that subscribers may hold.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.environment == "production" {
            out.push(
                "this reverts PRODUCTION billing: real customers stop being metered and charged"
                    .to_owned(),
            );
        }
        if !self.credit_benefits.is_empty() {
            out.push(format!(
                "deleting {} takes the credits they granted away from every customer with an \
                 active subscription to the product, including credits not used yet",
                self.credit_benefits.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_and_production_are_warned_about() {
        let revert = Revert {
            environment: "production".into(),
            lines: vec!["remove  src/lib/spaire/client.ts".into()],
            credit_benefits: vec!["the `api-calls` credit benefit of `Pro`".into()],
        };
        let warnings = revert.warnings();
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("PRODUCTION"));
        assert!(warnings[1].contains("active subscription"));
        assert!(
            revert
                .render()
                .contains("  remove  src/lib/spaire/client.ts")
        );
        let quiet = Revert {
            environment: "local".into(),
            ..Revert::default()
        };
        assert!(quiet.warnings().is_empty());
    }
}
