//! ProjectProfile + BillingPlan ─▶ the generated part of a [`ChangeSet`].
//!
//! One module per language; each reads the package's conventions from the profile (src dir,
//! alias, module system, framework layout) and renders templates from `templates/<language>/`.
//! Generation only *reads* the project (to patch `.env.example`, register middleware, ...);
//! writing is `billing-apply`'s job.

pub mod api_calls;
pub mod delivery;
pub mod escape;
pub mod feeds;
pub mod go;
pub mod imports;
pub mod php;
pub mod python;
pub mod render;
pub mod ruby;
mod server_context;
pub mod session_auth;
pub mod typescript;

/// `llm-cost` prices each call with `genai-prices` at runtime; Go, PHP and Ruby have no such
/// library, and a hand-written price table would go stale silently, so those plans stop here.
fn check_llm_cost_language(target: &Target<'_>) -> Result<(), GenerateError> {
    let language = target.package.language;
    if matches!(
        language.family(),
        LanguageFamily::Js | LanguageFamily::Python
    ) {
        return Ok(());
    }
    match target.plan.meters.iter().find(|m| m.bills_llm_cost()) {
        Some(meter) => Err(GenerateError::LlmCostUnsupported {
            meter: meter.name.clone(),
            package: target.package.path.clone(),
            language: language.display_name(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod registry_tests;
#[cfg(test)]
mod vocab_tests;

use std::path::Path;

use billing_changeset::ChangeSet;
use billing_detect::{Language, Package, ProjectProfile};
use billing_plan::BillingPlan;
use billing_vocab::LanguageFamily;

pub use imports::imported_packages;

/// Why generation failed, one variant per cause, so each gets its own next step
/// ([`billing_errors::Hint`]) instead of one generic hint for all.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// An embedded template failed: the product's fault, never the user's.
    #[error("template `{name}` failed to render")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    /// A project file generation reads (to patch or to learn a convention) is unreadable.
    #[error("failed to read `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A Go package without `go.mod`: the generated package's import path is unknown.
    #[error("`{path}` not found: the Go package needs a go.mod")]
    GoModMissing { path: String },
    /// A `go.mod` without a `module` line.
    #[error("`{path}` has no `module` line")]
    GoModuleLineMissing { path: String },
    /// `[webhooks] events` names a type no Spaire SDK knows.
    #[error("webhook event type `{event}` in [webhooks] events is not one Spaire sends")]
    UnknownWebhookEvent { event: String },
    /// `[project] framework` is not a framework id at all.
    #[error("`[project] framework = \"{framework}\"` in spaire-billing.toml is not a framework id")]
    UnknownFramework { framework: String },
    /// `[project] framework` names a framework of another language than the package's.
    #[error(
        "`[project] framework = \"{framework}\"` is a {family} framework, but package \
         `{package}` is {language}"
    )]
    FrameworkLanguageMismatch {
        framework: String,
        family: &'static str,
        package: String,
        language: &'static str,
    },
    #[error(
        "the LLM cost meter `{meter}` needs a model price table at runtime, and none exists for \
         {language} (package `{package}`)"
    )]
    LlmCostUnsupported {
        meter: String,
        package: String,
        language: &'static str,
    },
}

impl billing_errors::Hint for GenerateError {
    fn hint(&self) -> String {
        match self {
            Self::Template { .. } => {
                "this is a bug in spaire-billing, not in your project; please report it with \
                 the output of `spaire-billing plan -vv`"
                    .to_owned()
            }
            Self::Read { path, .. } => format!(
                "make `{path}` a readable file (check its permissions, or whether it is a \
                 directory), then run `spaire-billing plan` again"
            ),
            Self::GoModMissing { path } => format!(
                "run `go mod init <module path>` so `{path}` exists, or point `[project] path` \
                 in spaire-billing.toml at the Go module's directory"
            ),
            Self::GoModuleLineMissing { path } => {
                format!(
                    "add a `module example.com/yourapp` line to `{path}` (see `go help mod init`)"
                )
            }
            Self::UnknownWebhookEvent { event } => format!(
                "remove `{event}` from [webhooks] events in spaire-billing.toml, or replace it \
                 with one of the types in docs/plan-file.md (e.g. \"order.paid\")"
            ),
            Self::UnknownFramework { .. } => "use a framework id from docs/plan-file.md (e.g. \
                 \"nextjs\", \"express\", \"hono\"), or remove `framework` to use the \
                 detected one"
                .to_owned(),
            Self::FrameworkLanguageMismatch { package, .. } => format!(
                "remove `framework` from [project] in spaire-billing.toml to use the framework \
                 detected in `{package}`, or set `[project] path` to the package it belongs to"
            ),
            Self::LlmCostUnsupported { .. } => "LLM cost is priced by the `genai-prices` \
                 package, published for TypeScript/JavaScript and Python only; bill tokens \
                 instead (the `llm-tokens`, `llm-tokens-split`, `llm-cached-tokens` or \
                 `llm-reasoning-tokens` presets, priced per token) or record the cost from a \
                 TypeScript or Python service"
                .to_owned(),
        }
    }
}

/// Everything generation needs to know about the target package.
pub struct Target<'a> {
    /// Absolute project root (files are read relative to it).
    pub root: &'a Path,
    pub profile: &'a ProjectProfile,
    pub package: &'a Package,
    pub plan: &'a BillingPlan,
    /// The official SDK cannot be installed beside the package's pinned dependencies (Python:
    /// pip's resolver finds no `spaire-sdk` for its `requirements.txt`), so the generated code
    /// does without it: the standard library for the API, `standardwebhooks` (the verifier the
    /// SDK itself uses, with no dependencies of its own) for webhooks.
    pub without_sdk: bool,
}

/// Renders every file and edit the plan needs for `target.package`.
pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    check_framework_language(target)?;
    check_llm_cost_language(target)?;
    match target.package.language {
        Language::TypeScript | Language::JavaScript => typescript::generate(target),
        Language::Python => python::generate(target),
        Language::Go => go::generate(target),
        Language::Php => php::generate(target),
        Language::Ruby => ruby::generate(target),
    }
}

/// `[project] framework` must belong to the package's language family: every generator reads
/// the override, so a Flask override on a Go package is an error, not silently ignored.
fn check_framework_language(target: &Target<'_>) -> Result<(), GenerateError> {
    let Some(id) = target.plan.project.framework else {
        return Ok(());
    };
    let language = target.package.language;
    if id.family() == language.family() {
        return Ok(());
    }
    Err(GenerateError::FrameworkLanguageMismatch {
        framework: id.to_string(),
        family: id.family().display_name(),
        package: target.package.path.to_string(),
        language: language.display_name(),
    })
}

#[cfg(test)]
mod tests {
    use billing_errors::Hint as _;

    use super::GenerateError;

    /// One error per cause, one next step per error: no two causes share a hint, and each
    /// hint names the thing to change.
    #[test]
    fn every_generation_error_has_its_own_hint() {
        let errors = [
            GenerateError::Template {
                name: "ts/client.ts.j2".into(),
                source: minijinja::Error::new(minijinja::ErrorKind::UndefinedError, "x"),
            },
            GenerateError::Read {
                path: ".env.example".into(),
                source: std::io::Error::other("is a directory"),
            },
            GenerateError::GoModMissing {
                path: "go.mod".into(),
            },
            GenerateError::GoModuleLineMissing {
                path: "api/go.mod".into(),
            },
            GenerateError::UnknownWebhookEvent {
                event: "order.shipped".into(),
            },
            GenerateError::UnknownFramework {
                framework: "nxtjs".into(),
            },
            GenerateError::FrameworkLanguageMismatch {
                framework: "flask".into(),
                family: "Python",
                package: "web".into(),
                language: "TypeScript",
            },
        ];
        let hints: Vec<String> = errors.iter().map(GenerateError::hint).collect();
        for (i, hint) in hints.iter().enumerate() {
            assert!(
                !hints[..i].contains(hint),
                "hint shared by two causes: {hint}"
            );
        }
        assert!(hints[1].contains("`.env.example`"), "{}", hints[1]);
        assert!(hints[2].contains("go mod init"), "{}", hints[2]);
        assert!(hints[3].contains("`api/go.mod`"), "{}", hints[3]);
        assert!(hints[4].contains("`order.shipped`"), "{}", hints[4]);
        assert!(hints[6].contains("`web`"), "{}", hints[6]);
    }
}
