//! Per-meter materialised values (the server keeps a similar `meter_events` table): for each
//! meter, the events its clause matches with the aggregated value already extracted from
//! the JSON metadata. Quantities over a million events then scan a narrow, ts-clustered
//! index instead of evaluating JSON paths per row.
//!
//! Rows are appended after every ingest batch and caught up lazily (system events, meters
//! created after their events) before each read, using a per-meter `seq` watermark.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{self, Kind};
use crate::errors::ApiResult;
use crate::routes::meters::MeterSql;

/// Brings one meter's rows up to date with the events table.
pub fn sync(conn: &Connection, org: &str, meter_id: &str, meter: &MeterSql) -> ApiResult<()> {
    let last: i64 = conn
        .prepare_cached("SELECT last_seq FROM meter_sync WHERE meter_id = ?1")?
        .query_row([meter_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let newest: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
        .query_row([], |row| row.get(0))?;
    if newest <= last {
        return Ok(());
    }
    // `+org` keeps the planner on the seq (rowid) range: with the (org, ts) index it would
    // rescan the whole organization after every batch.
    let sql = format!(
        "INSERT OR IGNORE INTO meter_values (meter_id, ts, seq, customer_id, external_customer_id, value, value_json)
         SELECT ?1, ts, seq, customer_id, external_customer_id, {}, {} FROM events
         WHERE +org = ?2 AND seq > ?3 AND seq <= ?4 AND {}",
        meter.aggregation.value_sql(),
        meter.aggregation.value_json_sql(),
        meter.clause()
    );
    conn.prepare_cached(&sql)?
        .execute(params![meter_id, org, last, newest])?;
    conn.prepare_cached(
        "INSERT INTO meter_sync (meter_id, last_seq) VALUES (?1, ?2)
         ON CONFLICT (meter_id) DO UPDATE SET last_seq = excluded.last_seq",
    )?
    .execute(params![meter_id, newest])?;
    Ok(())
}

/// Brings every meter of the organization up to date (after an ingest batch).
pub fn sync_org(conn: &Connection, org: &str) -> ApiResult<()> {
    for doc in db::list_docs(conn, Kind::Meter, org)? {
        let meter = MeterSql::from_doc(&doc)?;
        sync(conn, org, doc["id"].as_str().unwrap_or_default(), &meter)?;
    }
    Ok(())
}

/// Drops a meter's rows so they are rebuilt (its filter or aggregation changed).
pub fn forget(conn: &Connection, meter_id: &str) -> ApiResult<()> {
    conn.execute("DELETE FROM meter_values WHERE meter_id = ?1", [meter_id])?;
    conn.execute("DELETE FROM meter_sync WHERE meter_id = ?1", [meter_id])?;
    Ok(())
}
