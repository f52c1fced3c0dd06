//! ProjectProfile + BillingPlan ─▶ the generated part of a [`ChangeSet`].
//!
//! One module per language; each reads the package's conventions from the profile (src dir,
//! alias, module system, framework layout) and renders templates from `templates/<language>/`.
//! Generation only *reads* the project (to patch `.env.example`, register middleware, ...);
//! writing is `billing-apply`'s job.

pub mod escape;
pub mod go;
pub mod php;
pub mod python;
pub mod render;
pub mod ruby;
pub mod typescript;

use std::path::Path;

use billing_changeset::ChangeSet;
use billing_detect::{Language, Package, ProjectProfile};
use billing_plan::BillingPlan;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("template `{name}` failed to render")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("failed to read `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
}

/// Everything generation needs to know about the target package.
pub struct Target<'a> {
    /// Absolute project root (files are read relative to it).
    pub root: &'a Path,
    pub profile: &'a ProjectProfile,
    pub package: &'a Package,
    pub plan: &'a BillingPlan,
}

/// Renders every file and edit the plan needs for `target.package`.
pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    match target.package.language {
        Language::TypeScript | Language::JavaScript => typescript::generate(target),
        Language::Python => python::generate(target),
        Language::Go => go::generate(target),
        Language::Php => php::generate(target),
        Language::Ruby => ruby::generate(target),
    }
}
