//! Typed Spaire API client: bearer auth, retries that honour `retry-after`, pagination, and
//! errors that say what to do.
//!
//! ```ignore
//! let url = ServerUrl::resolve(Environment::Sandbox, flag.as_deref(), env_var.as_deref())?;
//! let client = Client::new(ClientConfig::new(url, Secret::new(token)))?;
//! let meters = client.meters_named("api-calls").await?;
//! ```
//!
//! - Paths, trailing slashes and bodies follow the server (`shared/spaire/api-reference.md`).
//! - Retries: 429 (honouring `retry-after`) and connection failures for every request; 5xx,
//!   timeouts and dropped connections only for idempotent requests (see [`retry`]).
//! - The token lives in a [`Secret`]; it appears only in the `Authorization` header.
//! - [`Client::stats`] counts reads, writes and retries actually sent.

mod client;
pub mod error;
pub mod pagination;
pub mod resources;
pub mod retry;
mod secret;
pub mod server;

pub use client::{Client, ClientConfig, RequestStats};
pub use error::{ApiError, ErrorKind, FieldProblem, REQUIRED_SCOPES, WEBHOOK_SCOPE};
pub use pagination::{Page, Pages, Pagination};
pub use resources::benefits::*;
pub use resources::customers::*;
pub use resources::events::*;
pub use resources::meters::*;
pub use resources::products::*;
pub use resources::webhooks::*;
pub use retry::{Idempotency, RetryPolicy};
pub use secret::Secret;
pub use server::{SERVER_URL_ENV, ServerUrl, dashboard_base};

#[cfg(test)]
mod mock_server_tests;

#[cfg(test)]
mod emulator_tests;
