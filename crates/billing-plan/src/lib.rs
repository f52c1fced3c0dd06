//! The billing plan: answers / flags / `spaire-billing.toml` → [`BillingPlan`].
//!
//! The plan is the single source of truth for both the remote objects (meters, prices,
//! benefits) and the generated code: a meter's event name and aggregated property are read
//! from the same [`Meter`] entry by both, which is how event names are kept matching meters.
//!
//! - [`parse`] reads the file and reports every problem with key path, line:column and fix;
//! - [`validate()`] checks the same invariants on plans built in memory (wizard, MCP);
//! - [`presets()`] lists the meter presets as data;
//! - [`write::render`] saves a plan into an existing file without disturbing its formatting.

pub mod answers;
pub mod diagnostic;
pub mod model;
pub mod parse;
pub mod presets;
pub mod text;
pub mod validate;
pub mod write;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, PlanError};
pub use model::*;
pub use parse::{parse, parse_framework};
pub use presets::{Preset, preset, presets};
pub use validate::{WEBHOOK_EVENT_TYPES, check_unit_amount, validate};

/// Why a plan file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] PlanError),
}

/// Reads and validates `<dir>/spaire-billing.toml`; `Ok(None)` when the file does not exist.
/// `display` is how the file is named in errors (e.g. relative to the working directory).
pub fn load(dir: &Path) -> Result<Option<BillingPlan>, LoadError> {
    let path = dir.join(PLAN_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LoadError::Read { path, source }),
    };
    Ok(Some(parse(PLAN_FILE, &text)?))
}
