//! A package whose only apps are sample code (`examples/<name>/`, `demo/`, ...) and has
//! several of them: detection sets up none (which one is "the app" is the user's call) and
//! reports each as a package of its own ([`billing_detect::Package::sample_of`]). This
//! producer lists them as manual steps on the package being set up, with their billable call
//! sites and how to choose one, so they are never passed over in silence.

use billing_changeset::{ChangeSet, ManualStep};
use billing_detect::{CallSiteKind, Package};

use crate::produce::{ProduceContext, Producer};

pub struct SampleApps;

impl Producer for SampleApps {
    fn name(&self) -> &'static str {
        "sample apps"
    }

    fn produce(&self, cx: &ProduceContext<'_>) -> anyhow::Result<ChangeSet> {
        let mut out = ChangeSet::default();
        if cx.package.sample_of.is_some() {
            return Ok(out);
        }
        let samples: Vec<&Package> = cx
            .profile
            .packages
            .iter()
            .filter(|p| p.sample_of.as_deref() == Some(cx.package.path.as_str()))
            .collect();
        let names = samples
            .iter()
            .map(|p| format!("`{}`", p.path))
            .collect::<Vec<_>>()
            .join(", ");
        for sample in &samples {
            out.manual_steps.push(step(sample, samples.len(), &names));
        }
        Ok(out)
    }
}

fn step(sample: &Package, count: usize, names: &str) -> ManualStep {
    let entry = sample
        .frameworks
        .iter()
        .find_map(|f| f.details.entry_file.clone())
        .unwrap_or_else(|| sample.path.clone());
    let sites: Vec<String> = sample
        .call_sites
        .iter()
        .filter(|c| c.kind != CallSiteKind::RouteHandler)
        .map(|c| format!("{}:{} {}", c.file, c.line, c.callee))
        .collect();
    let billable = match sites.len() {
        0 => String::new(),
        1 => " It has 1 billable call site, not wired.".to_owned(),
        n => format!(" It has {n} billable call sites, not wired."),
    };
    let path = &sample.path;
    ManualStep {
        file: entry,
        line: None,
        instructions: format!(
            "There is no app outside the sample code, and `{path}` is one of {count} sample apps \
             ({names}), so none was set up.{billable} To set up this one, run `spaire-billing \
             setup --package {path}` (or set `[project] path = \"{path}\"` in \
             spaire-billing.toml)"
        ),
        snippet: (!sites.is_empty()).then(|| sites.join("\n")),
    }
}
