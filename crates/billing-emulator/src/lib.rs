//! A faithful local Spaire API (axum + SQLite) for offline setup, verify, tests and users'
//! own CI.
//!
//! It serves the `/v1` endpoints usage billing needs with the server's paths, bodies, status
//! codes and error bodies (see `docs/emulator.md` for the list and for the places where it
//! knowingly differs, e.g. balances settle immediately instead of ~15 s later), plus
//! emulator-only endpoints under `/_emulator/` to subscribe customers and move a test clock.
//!
//! # From async code
//! ```no_run
//! # async fn demo() -> Result<(), billing_emulator::EmulatorError> {
//! let emulator = billing_emulator::serve(billing_emulator::EmulatorConfig::default()).await?;
//! let base_url = emulator.base_url(); // "http://127.0.0.1:PORT", no `/v1`
//! let token = emulator.token();       // send as `Authorization: Bearer …`
//! # let _ = (base_url, token);
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # From synchronous tests or other crates
//! ```no_run
//! let emulator = billing_emulator::spawn_background(Default::default()).unwrap();
//! let url = emulator.base_url(); // runs on its own thread and runtime
//! drop(emulator);                // stops it
//! # let _ = url;
//! ```
//!
//! It only ever binds 127.0.0.1.

mod auth;
mod balance;
mod billing;
mod billing_job;
mod config;
mod db;
mod errors;
mod event_output;
mod faults;
mod filter;
mod listener;
mod meter_values;
mod quantities;
mod query;
mod resources;
mod routes;
mod server_limits;
mod state;
mod system_events;
#[cfg(test)]
mod tests;
mod validate;
mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;

pub use crate::config::{
    ADMIN_TOKEN_PREFIX, ALL_SCOPES, DEFAULT_ORGANIZATION, DEFAULT_PORT, DEFAULT_TOKEN,
    EmulatorConfig, TokenSpec,
};
pub use crate::webhooks::sign as sign_webhook;

use crate::listener::{ConnHandle, KillableListener};
use crate::state::{AppState, Clock, Grant};

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("could not listen on 127.0.0.1:{port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the emulator database")]
    Database(#[from] rusqlite::Error),
    #[error("could not start the emulator runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the emulator thread stopped before it was ready")]
    ThreadDied,
}

/// The `events` table DDL, for benchmarks that compare against raw SQLite inserts.
#[doc(hidden)]
pub fn events_schema_sql() -> &'static str {
    db::EVENTS_SCHEMA
}

/// A running emulator on the current tokio runtime.
pub struct RunningEmulator {
    addr: SocketAddr,
    token: String,
    admin_token: String,
    tokens: Vec<TokenSpec>,
    organizations: HashMap<String, String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT` — pass it as the SDKs' server URL (they add `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured token (the default token when none was given).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Every accepted token with its organization and scopes.
    pub fn tokens(&self) -> &[TokenSpec] {
        &self.tokens
    }

    /// The token `/_emulator/reset` and `/_emulator/clock/advance` require.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The organization id behind an organization label (`TOKEN@LABEL`).
    pub fn organization_id(&self, label: &str) -> Option<&str> {
        self.organizations.get(label).map(String::as_str)
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts an emulator on the current tokio runtime (bound to 127.0.0.1 only).
pub async fn serve(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    config.validate().map_err(EmulatorError::Config)?;
    let conn = db::open(config.db.as_deref())?;
    let specs = config.effective_tokens();
    let mut tokens = HashMap::new();
    let mut organizations = HashMap::new();
    for spec in &specs {
        let org = db::organization_id(&conn, &spec.organization)?;
        organizations.insert(spec.organization.clone(), org.clone());
        let scopes = spec
            .scopes
            .as_ref()
            .map(|list| list.iter().cloned().collect());
        tokens.insert(spec.token.clone(), Grant { org, scopes });
    }
    db::set_setting(
        &conn,
        balance::DELAY_SETTING,
        &(config.balance_delay_ms.saturating_mul(1000)).to_string(),
    )?;
    match config.billing_job_interval_secs {
        Some(secs) => db::set_setting(&conn, billing_job::INTERVAL_SETTING, &secs.to_string())?,
        None => {
            conn.execute(
                "DELETE FROM settings WHERE key = ?1",
                [billing_job::INTERVAL_SETTING],
            )?;
        }
    }
    let offset = db::setting(&conn, "clock_offset_micros")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|source| EmulatorError::Bind {
            port: config.port,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            port: config.port,
            source,
        })?;
    let admin_token = config
        .admin_token
        .clone()
        .unwrap_or_else(config::generate_admin_token);
    let state = Arc::new(AppState::new(
        conn,
        tokens,
        admin_token.clone(),
        Clock::with_offset(offset),
        webhooks::Dispatcher::new(),
        config,
    ));
    let app = routes::router(state).into_make_service_with_connect_info::<ConnHandle>();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server =
            axum::serve(KillableListener::new(listener), app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
        if let Err(err) = server.await {
            tracing::error!(%err, "emulator server stopped");
        }
    });
    Ok(RunningEmulator {
        addr,
        token: specs[0].token.clone(),
        admin_token,
        tokens: specs,
        organizations,
        shutdown: Some(tx),
        task,
    })
}

/// An emulator on its own thread and runtime, for synchronous callers. Dropping it stops
/// the server and joins the thread.
pub struct BackgroundEmulator {
    addr: SocketAddr,
    token: String,
    admin_token: String,
    tokens: Vec<TokenSpec>,
    organizations: HashMap<String, String>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundEmulator {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn tokens(&self) -> &[TokenSpec] {
        &self.tokens
    }

    /// The token `/_emulator/reset` and `/_emulator/clock/advance` require.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub fn organization_id(&self, label: &str) -> Option<&str> {
        self.organizations.get(label).map(String::as_str)
    }
}

impl Drop for BackgroundEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Ready = (
    SocketAddr,
    String,
    String,
    Vec<TokenSpec>,
    HashMap<String, String>,
);

/// Starts an emulator on a dedicated thread with a two-worker tokio runtime.
pub fn spawn_background(config: EmulatorConfig) -> Result<BackgroundEmulator, EmulatorError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("billing-emulator")
        .build()
        .map_err(EmulatorError::Runtime)?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Ready, EmulatorError>>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("billing-emulator".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                match serve(config).await {
                    Ok(emulator) => {
                        let ready = (
                            emulator.addr,
                            emulator.token.clone(),
                            emulator.admin_token.clone(),
                            emulator.tokens.clone(),
                            emulator.organizations.clone(),
                        );
                        let _ = ready_tx.send(Ok(ready));
                        let _ = stop_rx.await;
                        emulator.shutdown().await;
                    }
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                    }
                }
            });
        })
        .map_err(EmulatorError::Runtime)?;
    let (addr, token, admin_token, tokens, organizations) =
        ready_rx.recv().map_err(|_| EmulatorError::ThreadDied)??;
    Ok(BackgroundEmulator {
        addr,
        token,
        admin_token,
        tokens,
        organizations,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}
