//! Code generation for Ruby (Rails) with the standard library (Net::HTTP, OpenSSL, JSON):
//! the Spaire Ruby gem needs Ruby ≥ 3.2 and RubyGems is unreachable here.
//!
//! Plain Ruby lives in `lib/spaire_billing/` (usable outside Rails too); a Rails initializer
//! loads it and inserts the Rack middleware, and the webhook controller derives from
//! `ActionController::API` (no CSRF). The only edit of a user file is one route line.

use billing_changeset::{ChangeSet, FileChange, ManualStep};
use serde::Serialize;

use crate::go::env_vars;
use crate::python::{created_or_modified, join, read_optional};
use crate::render;
use crate::server_context::ServerContext;
use crate::session_auth;
use crate::{GenerateError, Target};

pub use billing_vocab::WEBHOOK_PATH;

/// The `config/routes.rb` line for the webhook controller.
fn route() -> String {
    format!("post \"{WEBHOOK_PATH}\", to: \"spaire_webhooks#create\"")
}

#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    common: ServerContext<'a>,
    /// The login a `session` resolver reads (`rails`), or `unknown` (a listed stub).
    session_auth: &'static str,
}

pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    let plan = target.plan;
    let common = ServerContext::new(plan, "#")?;
    let (api_calls, webhooks) = (common.api_calls, common.webhooks);
    let context = Context {
        session_auth: session_auth::rails(target)?.as_str(),
        common,
    };
    let lib = "lib/spaire_billing";
    let mut files = vec![
        (
            "spaire_billing.rb",
            "lib/spaire_billing.rb".to_owned(),
            "loads the Spaire billing helpers",
        ),
        (
            "config.rb",
            format!("{lib}/config.rb"),
            "Spaire settings from the environment",
        ),
        (
            "usage_recorder.rb",
            format!("{lib}/usage_recorder.rb"),
            "background-thread usage recorder (batches, retries)",
        ),
        (
            "usage.rb",
            format!("{lib}/usage.rb"),
            "usage helpers per meter",
        ),
        (
            "balance.rb",
            format!("{lib}/balance.rb"),
            "credit balances per meter name (balance > 0 = credits left)",
        ),
        (
            "initializer.rb",
            "config/initializers/spaire_billing.rb".to_owned(),
            "loads the helpers in Rails",
        ),
    ];
    if api_calls {
        files.push((
            "api_call_middleware.rb",
            format!("{lib}/api_call_middleware.rb"),
            "Rack middleware counting API calls",
        ));
    }
    if webhooks {
        files.push((
            "webhook_verifier.rb",
            format!("{lib}/webhook_verifier.rb"),
            "Standard Webhooks verification and dispatch",
        ));
        files.push((
            "webhook_handlers.rb",
            format!("{lib}/webhook_handlers.rb"),
            "your logic per webhook event",
        ));
        files.push((
            "webhooks_controller.rb",
            "app/controllers/spaire_webhooks_controller.rb".to_owned(),
            "webhook endpoint",
        ));
    }
    let env = render::environment(&render::embedded("ruby", std::convert::identity));
    let mut changes = ChangeSet::default();
    for (template, file, summary) in files {
        let path = join(&target.package.path, &file);
        let after = render::render(&env, template, &context)?;
        changes
            .files
            .push(created_or_modified(target, path, after, summary)?);
    }
    if webhooks {
        register_route(target, &mut changes)?;
    }
    changes
        .env_vars
        .extend(env_vars(&plan.public_server_url(), webhooks));
    Ok(changes)
}

fn register_route(target: &Target<'_>, changes: &mut ChangeSet) -> Result<(), GenerateError> {
    let routes = join(&target.package.path, "config/routes.rb");
    let manual = |file: String| ManualStep {
        file,
        line: None,
        instructions: "Add the Spaire webhook route inside `Rails.application.routes.draw do`"
            .to_owned(),
        snippet: Some(route()),
    };
    let Some(source) = read_optional(target, &routes)? else {
        changes.manual_steps.push(manual(routes));
        return Ok(());
    };
    if source.contains("spaire_webhooks#create") {
        return Ok(());
    }
    match insert_route(&source) {
        Some(after) => changes.files.push(FileChange::wired_edit(
            routes,
            source,
            after,
            "routes the Spaire webhook endpoint".to_owned(),
        )),
        None => changes.manual_steps.push(manual(routes)),
    }
    Ok(())
}

/// Adds the route as the first line inside `Rails.application.routes.draw do`.
pub(crate) fn insert_route(source: &str) -> Option<String> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let at = lines.iter().position(|l| {
        let t = l.trim();
        t.starts_with("Rails.application.routes.draw") && t.ends_with(" do")
    })?;
    let indent: String = lines[at]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let mut out = String::with_capacity(source.len() + 80);
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        if i == at {
            out.push_str(&format!("{indent}  {}\n", route()));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
