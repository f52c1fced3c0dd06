//! Limits the real server hits by accident rather than by design, reproduced so a local test
//! fails where production would (issue 19, items 1 and 3; api-reference §2).
//!
//! * **Batch ceiling.** The server stores the `meter_events` rows of a batch in one
//!   unchunked insert with 7 bind parameters per (event, matching meter) pair, and asyncpg
//!   allows 32,767 parameters per statement: past that the whole request fails with 500 and
//!   nothing is stored (1 matching meter: 4,681 events succeed, 4,682 fail). The reload of
//!   the inserted events uses one parameter per event in an `IN (…)`, so more than 32,767
//!   events fail even when no meter matches.
//! * **Event names** are a `VARCHAR(128)` column: a longer name fails the insert (500,
//!   nothing of the batch stored).
//!
//! Each failure logs one warning saying why, since the client only sees the generic 500
//! (the response is built without the generic "internal error" log line, so the warning is
//! the only one).

use rusqlite::{Connection, params};

use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult};
use crate::routes::meters::MeterSql;

/// asyncpg's limit on bind parameters in one statement.
pub const MAX_BIND_PARAMETERS: i64 = 32_767;
/// Bind parameters per row of the server's `meter_events` insert.
pub const PARAMETERS_PER_METER_EVENT: i64 = 7;
/// The `events.name` column is `VARCHAR(128)` (characters, as in Postgres).
pub const MAX_EVENT_NAME_CHARS: usize = 128;

/// The server's generic 500 body, already explained by the caller's warning.
fn server_failure() -> ApiError {
    ApiError::Domain {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        error: "InternalServerError",
        detail: "An unexpected error occurred.".to_owned(),
    }
}

/// 500 when an event name does not fit the server's column.
pub fn check_event_names<'a>(names: impl Iterator<Item = &'a str>) -> ApiResult<()> {
    for (index, name) in names.enumerate() {
        let length = name.chars().count();
        if length > MAX_EVENT_NAME_CHARS {
            tracing::warn!(
                "ingest failed like the server would (500, nothing stored): event {index} has a \
                 {length}-character name; the server's column holds at most \
                 {MAX_EVENT_NAME_CHARS}"
            );
            return Err(server_failure());
        }
    }
    Ok(())
}

/// 500 when the batch just inserted (rows from `first_seq` on) is over the server's
/// parameter ceiling. Call inside the ingest transaction, before committing.
pub fn check_batch_ceiling(
    conn: &Connection,
    org: &str,
    first_seq: i64,
    inserted: i64,
) -> ApiResult<()> {
    if inserted > MAX_BIND_PARAMETERS {
        tracing::warn!(
            "ingest failed like the server would (500, nothing stored): {inserted} new events \
             in one batch; the server reloads them with one parameter each and allows \
             {MAX_BIND_PARAMETERS}; send smaller batches"
        );
        return Err(server_failure());
    }
    let pairs = matching_pairs(conn, org, first_seq)?;
    let parameters = pairs * PARAMETERS_PER_METER_EVENT;
    if parameters > MAX_BIND_PARAMETERS {
        tracing::warn!(
            "ingest failed like the server would (500, nothing stored): {inserted} new events \
             match meters {pairs} times, and {pairs} × {PARAMETERS_PER_METER_EVENT} = \
             {parameters} bind parameters exceed the server's {MAX_BIND_PARAMETERS}; keep \
             events × matching meters ≤ {} per batch",
            MAX_BIND_PARAMETERS / PARAMETERS_PER_METER_EVENT
        );
        return Err(server_failure());
    }
    Ok(())
}

/// How many (new event, meter) pairs match: the rows the server's `meter_events` insert
/// would write. Only the filter decides (the server's matcher ignores the aggregation's
/// property guard); archived meters count too (not distinguished on the server).
fn matching_pairs(conn: &Connection, org: &str, first_seq: i64) -> ApiResult<i64> {
    let mut pairs = 0;
    for doc in db::list_docs(conn, Kind::Meter, org)? {
        let clause = MeterSql::from_doc(&doc)?.filter.to_sql();
        // Parenthesised: a top-level `or` filter must not escape the batch restriction.
        let sql =
            format!("SELECT COUNT(*) FROM events WHERE +org = ?1 AND seq >= ?2 AND ({clause})");
        pairs += conn.query_row(&sql, params![org, first_seq], |row| row.get::<_, i64>(0))?;
    }
    Ok(pairs)
}
