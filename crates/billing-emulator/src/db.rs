//! SQLite storage. Events live in a real table (they are queried by range, customer and
//! metadata filters, at volume); the other resources are small and stored as JSON documents
//! keyed by kind, so their output shape is exactly what was validated and written.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

/// The events table (shared with the benchmark's raw-insert baseline).
pub const EVENTS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL,
    external_id TEXT,
    customer_id TEXT,
    external_customer_id TEXT,
    member_id TEXT,
    external_member_id TEXT,
    parent_id TEXT,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    ts INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL,
    -- JSONB: metadata is read by path on every quantity and balance query.
    metadata BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_external_id ON events (org, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_org_ts ON events (org, ts);
CREATE INDEX IF NOT EXISTS events_customer ON events (org, customer_id);
CREATE INDEX IF NOT EXISTS events_external_customer ON events (org, external_customer_id);
CREATE INDEX IF NOT EXISTS events_system ON events (org, name, customer_id) WHERE source = 'system';
";

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS organizations (
    label TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL,
    ext TEXT,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_kind_org ON docs (kind, org, seq);
CREATE INDEX IF NOT EXISTS docs_ext ON docs (kind, org, ext);
CREATE TABLE IF NOT EXISTS customer_meters (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER,
    UNIQUE (customer_id, meter_id)
);
CREATE TABLE IF NOT EXISTS meter_values (
    meter_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    customer_id TEXT,
    external_customer_id TEXT,
    value REAL,
    value_json TEXT,
    PRIMARY KEY (meter_id, ts, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_sync (
    meter_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS billing_entries (
    subscription_id TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    order_id TEXT,
    PRIMARY KEY (subscription_id, meter_id, seq)
);
CREATE TABLE IF NOT EXISTS billing_watermarks (
    meter_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
";

/// Tables wiped by `POST /_emulator/reset` (organizations stay so tokens keep working).
const RESETTABLE: &[&str] = &[
    "docs",
    "events",
    "customer_meters",
    "meter_values",
    "meter_sync",
    "billing_entries",
    "billing_watermarks",
];

/// Settings that belong to the state (the test clock) rather than to the configuration.
const RESETTABLE_SETTINGS: &[&str] = &["clock_offset_micros", "billing_job_last_slot"];

pub fn open(path: Option<&Path>) -> rusqlite::Result<Connection> {
    let conn = match path {
        Some(path) => Connection::open(path)?,
        None => Connection::open_in_memory()?,
    };
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(EVENTS_SCHEMA)?;
    Ok(conn)
}

pub fn reset(conn: &Connection) -> rusqlite::Result<()> {
    for table in RESETTABLE {
        conn.execute(&format!("DELETE FROM {table}"), [])?;
    }
    for key in RESETTABLE_SETTINGS {
        conn.execute("DELETE FROM settings WHERE key = ?1", [key])?;
    }
    Ok(())
}

/// The organization id for a token's organization label, created on first use and kept in
/// the database so a `--db` file stays consistent across restarts.
pub fn organization_id(conn: &Connection, label: &str) -> rusqlite::Result<String> {
    if let Some(id) = conn
        .query_row(
            "SELECT id FROM organizations WHERE label = ?1",
            [label],
            |row| row.get::<_, String>(0),
        )
        .optional()?
    {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO organizations (label, id) VALUES (?1, ?2)",
        params![label, id],
    )?;
    Ok(id)
}

pub fn setting(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()
}

pub fn set_setting(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Document kinds stored in `docs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Meter,
    Product,
    Benefit,
    Customer,
    WebhookEndpoint,
    WebhookDelivery,
    Subscription,
    Order,
    BenefitGrant,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Meter => "meter",
            Self::Product => "product",
            Self::Benefit => "benefit",
            Self::Customer => "customer",
            Self::WebhookEndpoint => "webhook_endpoint",
            Self::WebhookDelivery => "webhook_delivery",
            Self::Subscription => "subscription",
            Self::Order => "order",
            Self::BenefitGrant => "benefit_grant",
        }
    }
}

fn parse_doc(text: String) -> rusqlite::Result<Value> {
    serde_json::from_str(&text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })
}

pub fn insert_doc(
    conn: &Connection,
    kind: Kind,
    org: &str,
    ext: Option<&str>,
    doc: &Value,
) -> rusqlite::Result<()> {
    let id = doc["id"].as_str().unwrap_or_default();
    conn.execute(
        "INSERT INTO docs (kind, id, org, ext, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            kind.as_str(),
            id,
            org,
            ext,
            chrono::Utc::now().timestamp_micros(),
            doc.to_string()
        ],
    )?;
    Ok(())
}

pub fn update_doc(conn: &Connection, doc: &Value, ext: Option<&str>) -> rusqlite::Result<()> {
    let id = doc["id"].as_str().unwrap_or_default();
    conn.execute(
        "UPDATE docs SET doc = ?2, ext = ?3 WHERE id = ?1",
        params![id, doc.to_string(), ext],
    )?;
    Ok(())
}

pub fn delete_doc(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM docs WHERE id = ?1", [id])?;
    Ok(())
}

/// A document of `kind` owned by `org`; other organizations' ids are simply not found.
pub fn get_doc(
    conn: &Connection,
    kind: Kind,
    org: &str,
    id: &str,
) -> rusqlite::Result<Option<Value>> {
    conn.prepare_cached("SELECT doc FROM docs WHERE kind = ?1 AND org = ?2 AND id = ?3")?
        .query_row(params![kind.as_str(), org, id], |row| {
            row.get::<_, String>(0)
        })
        .optional()?
        .map(parse_doc)
        .transpose()
}

pub fn find_by_ext(
    conn: &Connection,
    kind: Kind,
    org: &str,
    ext: &str,
) -> rusqlite::Result<Option<Value>> {
    conn.prepare_cached(
        "SELECT doc FROM docs WHERE kind = ?1 AND org = ?2 AND ext = ?3 ORDER BY seq LIMIT 1",
    )?
    .query_row(params![kind.as_str(), org, ext], |row| {
        row.get::<_, String>(0)
    })
    .optional()?
    .map(parse_doc)
    .transpose()
}

/// Ids of the live customers among `external_ids`, in one query (ingest touches many).
pub fn customers_with_external_ids(
    conn: &Connection,
    org: &str,
    external_ids: &[&str],
) -> rusqlite::Result<Vec<String>> {
    let mut found = Vec::new();
    for chunk in external_ids.chunks(500) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT id FROM docs WHERE kind = 'customer' AND org = ? AND ext IN ({placeholders})
             AND json_extract(doc, '$.deleted_at') IS NULL"
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&org];
        values.extend(chunk.iter().map(|e| e as &dyn rusqlite::ToSql));
        let rows = stmt.query_map(values.as_slice(), |row| row.get::<_, String>(0))?;
        for row in rows {
            found.push(row?);
        }
    }
    Ok(found)
}

/// All documents of a kind in an organization, oldest first.
pub fn list_docs(conn: &Connection, kind: Kind, org: &str) -> rusqlite::Result<Vec<Value>> {
    let mut stmt =
        conn.prepare_cached("SELECT doc FROM docs WHERE kind = ?1 AND org = ?2 ORDER BY seq")?;
    let rows = stmt.query_map(params![kind.as_str(), org], |row| row.get::<_, String>(0))?;
    rows.map(|row| row.and_then(parse_doc)).collect()
}

/// Documents of a kind across all organizations (background work such as the test clock).
pub fn list_all_docs(conn: &Connection, kind: Kind) -> rusqlite::Result<Vec<(String, Value)>> {
    let mut stmt = conn.prepare_cached("SELECT org, doc FROM docs WHERE kind = ?1 ORDER BY seq")?;
    let rows = stmt.query_map(params![kind.as_str()], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    rows.map(|row| row.and_then(|(org, doc)| Ok((org, parse_doc(doc)?))))
        .collect()
}
