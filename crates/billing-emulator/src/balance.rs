//! Customer meter balances (api-reference §6): `consumed` aggregates the customer's user
//! events since the last `meter.reset`; `credited` is the running sum (clamped at 0) of
//! `meter.credited` units in the same window; `balance = credited − consumed`.
//!
//! The server settles balances about 15 seconds after ingestion (a debounced job); the
//! emulator computes them on every read, so they are always current.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::db::{self, Kind};
use crate::errors::ApiResult;
use crate::filter::sql_str;
use crate::resources::{iso_micros, new_id, public};
use crate::routes::meters::MeterSql;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Balance {
    pub consumed: f64,
    pub credited: i64,
    /// Sum of rollover-flagged credits in the window (for the carry-over at a reset).
    pub rollover_credits: i64,
}

impl Balance {
    pub fn balance(&self) -> f64 {
        self.credited as f64 - self.consumed
    }
}

/// The `seq` of the latest `meter.reset` for this customer and meter (0 when none).
fn window_start(conn: &Connection, org: &str, customer_id: &str, meter_id: &str) -> ApiResult<i64> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT MAX(seq) FROM events WHERE org = ?1 AND source = 'system' AND name = 'meter.reset'
             AND customer_id = ?2 AND json_extract(metadata, '$.meter_id') = ?3",
            params![org, customer_id, meter_id],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    Ok(seq.unwrap_or(0))
}

/// Settings key of `EmulatorConfig::balance_delay_ms` (in microseconds).
pub const DELAY_SETTING: &str = "balance_delay_micros";

/// Usage ingested after this instant is not settled yet (`None`: settle immediately).
fn settled_before(conn: &Connection) -> ApiResult<Option<i64>> {
    let delay: i64 = db::setting(conn, DELAY_SETTING)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok((delay > 0).then(|| chrono::Utc::now().timestamp_micros() - delay))
}

pub fn compute(
    conn: &Connection,
    org: &str,
    customer: &Value,
    meter: &Value,
) -> ApiResult<Balance> {
    let customer_id = customer["id"].as_str().unwrap_or_default();
    let meter_id = meter["id"].as_str().unwrap_or_default();
    let sql_meter = MeterSql::from_doc(meter)?;
    let since = window_start(conn, org, customer_id, meter_id)?;
    let who = match customer["external_id"].as_str() {
        Some(ext) => format!(
            "(customer_id = {} OR external_customer_id = {})",
            sql_str(customer_id),
            sql_str(ext)
        ),
        None => format!("customer_id = {}", sql_str(customer_id)),
    };
    let settled = match settled_before(conn)? {
        Some(cutoff) => format!(" AND ingested_at <= {cutoff}"),
        None => String::new(),
    };
    let consumed_sql = format!(
        "SELECT {} FROM events WHERE org = ?1 AND source = 'user' AND seq >= ?2 AND {who} AND {}{settled}",
        sql_meter.aggregation.aggregate_sql(),
        sql_meter.clause()
    );
    let consumed: Option<f64> =
        conn.query_row(&consumed_sql, params![org, since], |row| row.get(0))?;
    // The server's credit query is (meter filter OR credit-for-this-meter) AND is-credit, so a
    // catch-all filter also counts other meters' credits; reproduced on purpose.
    let credit_sql = format!(
        "SELECT json_extract(metadata, '$.units'), json_extract(metadata, '$.rollover') FROM events
         WHERE org = ?1 AND source = 'system' AND name = 'meter.credited' AND customer_id = ?2 AND seq >= ?3
         AND (json_extract(metadata, '$.meter_id') = ?4 OR ({}))
         ORDER BY ts, seq",
        sql_meter.filter.to_sql()
    );
    let mut stmt = conn.prepare_cached(&credit_sql)?;
    let rows = stmt.query_map(params![org, customer_id, since, meter_id], |row| {
        Ok((
            row.get::<_, Option<i64>>(0)?,
            row.get::<_, Option<bool>>(1)?,
        ))
    })?;
    let mut credited: i64 = 0;
    let mut rollover_credits: i64 = 0;
    for row in rows {
        let (units, rollover) = row?;
        let units = units.unwrap_or(0);
        credited = (credited + units).max(0);
        if rollover == Some(true) {
            rollover_credits += units;
        }
    }
    Ok(Balance {
        consumed: consumed.unwrap_or(0.0),
        credited,
        rollover_credits,
    })
}

/// Ensures a customer-meter row for each non-archived meter (what the server's
/// recomputation does) and marks the customer's rows as modified now.
pub fn touch_customer(
    conn: &Connection,
    org: &str,
    customer_id: &str,
    now_micros: i64,
) -> ApiResult<()> {
    for meter in db::list_docs(conn, Kind::Meter, org)? {
        if !meter["archived_at"].is_null() {
            continue;
        }
        conn.execute(
            "INSERT INTO customer_meters (id, org, customer_id, meter_id, created_at, modified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (customer_id, meter_id) DO UPDATE SET modified_at = excluded.modified_at",
            params![
                new_id(),
                org,
                customer_id,
                meter["id"].as_str().unwrap_or_default(),
                now_micros
            ],
        )?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub customer_id: String,
    pub meter_id: String,
    pub created_at: i64,
    pub modified_at: Option<i64>,
}

pub fn rows(conn: &Connection, org: &str, customer_id: Option<&str>) -> ApiResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, customer_id, meter_id, created_at, modified_at FROM customer_meters
         WHERE org = ?1 AND (?2 IS NULL OR customer_id = ?2) ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map(params![org, customer_id], |row| {
        Ok(Row {
            id: row.get(0)?,
            customer_id: row.get(1)?,
            meter_id: row.get(2)?,
            created_at: row.get(3)?,
            modified_at: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn row_by_id(conn: &Connection, org: &str, id: &str) -> ApiResult<Option<Row>> {
    Ok(rows(conn, org, None)?.into_iter().find(|r| r.id == id))
}

/// `CustomerStateMeter`: no nested meter object, only `meter_id` (§6).
pub fn state_meter_json(row: &Row, balance: &Balance) -> Value {
    json!({
        "id": row.id,
        "created_at": iso_micros(row.created_at),
        "modified_at": row.modified_at.map(iso_micros),
        "meter_id": row.meter_id,
        "consumed_units": balance.consumed,
        "credited_units": balance.credited,
        "balance": balance.balance(),
    })
}

/// `CustomerMeter` with nested customer and meter.
pub fn customer_meter_json(row: &Row, balance: &Balance, customer: &Value, meter: &Value) -> Value {
    let mut value = state_meter_json(row, balance);
    value["customer_id"] = json!(row.customer_id);
    value["customer"] = customer_output(customer);
    value["meter"] = public(meter);
    value
}

/// The `Customer` schema (without `members`), as nested in events and customer meters.
pub fn customer_output(customer: &Value) -> Value {
    let mut value = public(customer);
    if let Value::Object(map) = &mut value {
        map.remove("members");
    }
    value
}
