//! Shared server state: the database, accepted tokens, the test clock and the webhook queue.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::config::EmulatorConfig;
use crate::faults::Faults;
use crate::webhooks::Dispatcher;

/// What a token may do, and in which organization.
#[derive(Debug, Clone)]
pub struct Grant {
    pub org: String,
    /// `None` holds every scope.
    pub scopes: Option<HashSet<String>>,
}

pub struct AppState {
    db: Mutex<Connection>,
    pub tokens: HashMap<String, Grant>,
    /// The only token `/_emulator/reset` and `/_emulator/clock/advance` accept.
    pub admin_token: String,
    pub clock: Clock,
    pub faults: Faults,
    pub dispatcher: Dispatcher,
    pub config: EmulatorConfig,
}

impl AppState {
    pub fn new(
        conn: Connection,
        tokens: HashMap<String, Grant>,
        admin_token: String,
        clock: Clock,
        dispatcher: Dispatcher,
        config: EmulatorConfig,
    ) -> Self {
        Self {
            db: Mutex::new(conn),
            tokens,
            admin_token,
            clock,
            faults: Faults::new(&config),
            dispatcher,
            config,
        }
    }

    /// The database. A panic while holding the lock poisons it; the data is still
    /// consistent (every write is one statement or one transaction), so keep serving.
    pub fn db(&self) -> MutexGuard<'_, Connection> {
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Wall-clock time shifted by the test clock (`POST /_emulator/clock/advance`), so
/// subscription periods can end without waiting a month.
#[derive(Debug, Default)]
pub struct Clock {
    offset_micros: AtomicI64,
}

impl Clock {
    pub fn with_offset(offset_micros: i64) -> Self {
        Self {
            offset_micros: AtomicI64::new(offset_micros),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_micros.load(Ordering::SeqCst);
        Utc::now() + chrono::Duration::microseconds(offset)
    }

    pub fn offset_micros(&self) -> i64 {
        self.offset_micros.load(Ordering::SeqCst)
    }

    pub fn set_offset_micros(&self, offset: i64) {
        self.offset_micros.store(offset, Ordering::SeqCst);
    }
}
