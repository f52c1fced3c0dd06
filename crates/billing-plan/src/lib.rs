//! The billing plan: answers / flags / `spaire-billing.toml` → [`BillingPlan`].
//!
//! The plan is the single source of truth for both the remote objects (meters, prices,
//! benefits) and the generated code: a meter's event name and aggregated property are read
//! from the same [`Meter`] entry by both, which is how event names are kept matching meters.

pub mod model;

pub use model::*;
