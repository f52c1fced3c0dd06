//! Phase 8: the report — checks run (rendered by `commands::checks`), dashboard steps completed / pending, rollback steps and
//! the testing checklist. Printed as sections for people, or as one JSON object (`--json`).

use std::fmt::Write as _;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub environment: String,
    pub package: String,
    pub plan_hash: String,
    pub files: Vec<String>,
    /// The project's own checks, before vs after (see `commands::checks`).
    pub checks: billing_ops::gates::CheckReport,
    pub dashboard_completed: Vec<String>,
    pub dashboard_pending: Vec<String>,
    pub rollback: Vec<String>,
    /// Package installs that did not run, with the command to run by hand.
    pub install_steps: Vec<String>,
    pub checklist: Vec<String>,
    /// `meters[]`, `manual_steps[]`, `complete`: what feeds each meter, what is left by hand.
    #[serde(flatten)]
    pub metering: billing_ops::Metering,
    /// Local runs: one test event per meter, counted (the run ends with a counted event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<billing_remote::VerifyReport>,
}

/// How the checklist's item about running the emulator starts (a run on the built-in
/// emulator words it with the project's state file).
pub const LOCAL_EMULATOR_ITEM: &str = "You are on the local emulator:";

/// The testing checklist from the seed, with our commands. `local_server` is the emulator's
/// URL on a local run: the app needs both variables exported to reach it (without the token
/// the generated recorder's events are refused with a 401).
pub fn checklist(
    environment: &str,
    token_present: bool,
    local_server: Option<&str>,
) -> Vec<String> {
    let mut items = Vec::new();
    if let Some(url) = local_server {
        items.push(format!(
            "Run your app with `SPAIRE_ACCESS_TOKEN={} SPAIRE_SERVER_URL={url}` exported (or in its .env), so its events reach the emulator",
            billing_remote::EMULATOR_DEFAULT_TOKEN
        ));
    }
    if !token_present {
        items.push(format!(
            "Set SPAIRE_ACCESS_TOKEN in your environment or .env ({environment} token first), then run `spaire-billing apply` again to finish the pending steps"
        ));
    }
    items.push(if environment == "local" {
        format!("{LOCAL_EMULATOR_ITEM} run `spaire-billing emulator` while you test, then set `environment = \"sandbox\"` in spaire-billing.toml and apply again")
    } else if environment == "production" {
        "This is production: make sure the same plan was tested in sandbox first".to_owned()
    } else {
        "Test in sandbox first; switch `environment` to production only when the checklist passes".to_owned()
    });
    items.push("Run your app and trigger the code paths that record usage".to_owned());
    items.push(
        "Run `spaire-billing verify` to send a test event per meter and see it counted".to_owned(),
    );
    items.push(
        if environment == "local" {
            "The emulator has no dashboard: `spaire-billing status` shows what feeds each meter, `spaire-billing verify --from-app` the app's own events".to_owned()
        } else {
            "Create a test checkout for the product and watch the customer's meters in the dashboard"
                .to_owned()
        },
    );
    items
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&crate::commands::checks::render(&self.checks));
        section(
            &mut out,
            &format!("Dashboard steps ({}) — completed", self.environment),
            &self.dashboard_completed,
        );
        section(
            &mut out,
            &format!("Dashboard steps ({}) — pending", self.environment),
            &self.dashboard_pending,
        );
        if !self.install_steps.is_empty() {
            section(&mut out, "Installs still to run", &self.install_steps);
        }
        section(&mut out, "Rollback steps", &self.rollback);
        section(&mut out, "Testing checklist", &self.checklist);
        out.push('\n');
        out.push_str(&crate::commands::metering::render(&self.metering));
        out
    }
}

fn section(out: &mut String, title: &str, items: &[String]) {
    let _ = writeln!(out, "\n{title}");
    if items.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (i, item) in items.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, indent(item, "     ").trim_start());
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
