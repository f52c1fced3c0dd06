//! `--billing-job-interval`: the server's periodic billing job, for tests that must see
//! what production shows (issue 19, item 4). Off by default, because the live values are
//! what local testing wants.
//!
//! On the server (`meter/service.py::create_billing_entries`, cron every 15 minutes), each
//! run takes every matching user event ingested since the meter's last billed event, and
//! makes a billing entry for it when its customer has an active subscription with a metered
//! price on that meter *at the time of the run*, whatever the event's timestamp. A
//! subscription's `meters` and its renewal invoice are computed from its pending entries.
//! Hence, with the job on:
//! * `active_subscriptions[].meters` and subscription payloads read 0 consumed until a run
//!   has picked the usage up;
//! * usage ingested shortly before a subscription started (and not yet picked up) is billed
//!   by its first renewal.
//!
//! Runs happen lazily: before a subscription's meters are read or billed, every interval
//! boundary (on the test clock) passed since the last run triggers one run with that
//! boundary as ingestion cutoff. Credits are applied as in the default mode (credits of the
//! current period).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::db::{self, Kind};
use crate::errors::ApiResult;
use crate::routes::meters::MeterSql;

/// Setting: the interval in seconds (absent: the job is off).
pub const INTERVAL_SETTING: &str = "billing_job_interval_secs";
/// Setting: the index of the last interval boundary a run was made for.
pub const LAST_SLOT_SETTING: &str = "billing_job_last_slot";

fn interval(conn: &Connection) -> ApiResult<Option<i64>> {
    Ok(db::setting(conn, INTERVAL_SETTING)?
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0))
}

/// The test clock's now, from the stored offset (callers here only hold a connection).
fn now_micros(conn: &Connection) -> ApiResult<i64> {
    let offset: i64 = db::setting(conn, "clock_offset_micros")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(chrono::Utc::now().timestamp_micros() + offset)
}

/// Whether subscription meters come from billing entries (the job is on).
pub fn enabled(conn: &Connection) -> ApiResult<bool> {
    Ok(interval(conn)?.is_some())
}

/// Makes the runs due since the last one (at most one per call: a run takes everything
/// ingested before the latest boundary, which is what several runs would have taken).
pub fn catch_up(conn: &Connection) -> ApiResult<()> {
    let Some(interval) = interval(conn)? else {
        return Ok(());
    };
    let now = now_micros(conn)?;
    let slot = now.div_euclid(interval * 1_000_000);
    let last: Option<i64> = db::setting(conn, LAST_SLOT_SETTING)?.and_then(|v| v.parse().ok());
    match last {
        // First use: the first run is at the next boundary, as after a server start.
        None => db::set_setting(conn, LAST_SLOT_SETTING, &slot.to_string())?,
        Some(last) if slot > last => {
            run(conn, slot * interval * 1_000_000)?;
            db::set_setting(conn, LAST_SLOT_SETTING, &slot.to_string())?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// One run: billing entries for every matching user event ingested up to `cutoff`.
fn run(conn: &Connection, cutoff_micros: i64) -> ApiResult<()> {
    for (org, meter) in db::list_all_docs(conn, Kind::Meter)? {
        let meter_id = meter["id"].as_str().unwrap_or_default().to_owned();
        let watermark: i64 = conn
            .query_row(
                "SELECT last_seq FROM billing_watermarks WHERE meter_id = ?1",
                [&meter_id],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let filter = MeterSql::from_doc(&meter)?.filter.to_sql();
        let sql = format!(
            "SELECT seq, customer_id, external_customer_id FROM events
             WHERE org = ?1 AND source = 'user' AND seq > ?2 AND ingested_at <= ?3 AND ({filter})
             ORDER BY seq"
        );
        let rows: Vec<(i64, Option<String>, Option<String>)> = conn
            .prepare(&sql)?
            .query_map(params![org, watermark, cutoff_micros], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut last_billed = watermark;
        let mut subscription_of: HashMap<String, Option<String>> = HashMap::new();
        for (seq, customer_id, external_id) in rows {
            let customer_id = match (customer_id, external_id) {
                (Some(id), _) => Some(id),
                (None, Some(ext)) => db::find_by_ext(conn, Kind::Customer, &org, &ext)?
                    .and_then(|c| c["id"].as_str().map(str::to_owned)),
                _ => None,
            };
            // Events of customers that do not exist are not picked up (nor passed over).
            let Some(customer_id) = customer_id else {
                continue;
            };
            last_billed = seq;
            if !subscription_of.contains_key(&customer_id) {
                let found = metered_subscription(conn, &org, &customer_id, &meter_id)?;
                subscription_of.insert(customer_id.clone(), found);
            }
            if let Some(Some(subscription_id)) = subscription_of.get(&customer_id) {
                conn.execute(
                    "INSERT OR IGNORE INTO billing_entries (subscription_id, meter_id, seq)
                     VALUES (?1, ?2, ?3)",
                    params![subscription_id, meter_id, seq],
                )?;
            }
        }
        conn.execute(
            "INSERT INTO billing_watermarks (meter_id, last_seq) VALUES (?1, ?2)
             ON CONFLICT (meter_id) DO UPDATE SET last_seq = excluded.last_seq",
            params![meter_id, last_billed],
        )?;
    }
    Ok(())
}

/// The customer's active subscription with a metered price on the meter, if any.
fn metered_subscription(
    conn: &Connection,
    org: &str,
    customer_id: &str,
    meter_id: &str,
) -> ApiResult<Option<String>> {
    Ok(db::list_docs(conn, Kind::Subscription, org)?
        .into_iter()
        .find(|s| {
            s["customer_id"] == customer_id
                && matches!(s["status"].as_str(), Some("active" | "trialing"))
                && s["_prices"].as_array().is_some_and(|prices| {
                    prices
                        .iter()
                        .any(|p| p["amount_type"] == "metered_unit" && p["meter_id"] == meter_id)
                })
        })
        .and_then(|s| s["id"].as_str().map(str::to_owned)))
}

/// Consumed units of the subscription's pending (not yet invoiced) entries for a meter.
pub fn pending_units(conn: &Connection, subscription_id: &str, meter: &Value) -> ApiResult<f64> {
    let meter_sql = MeterSql::from_doc(meter)?;
    let sql = format!(
        "SELECT {} FROM events WHERE seq IN (
             SELECT seq FROM billing_entries
             WHERE subscription_id = ?1 AND meter_id = ?2 AND order_id IS NULL)
         AND {}",
        meter_sql.aggregation.aggregate_sql(),
        meter_sql.clause()
    );
    let units: Option<f64> = conn.query_row(
        &sql,
        params![subscription_id, meter["id"].as_str().unwrap_or_default()],
        |row| row.get(0),
    )?;
    Ok(units.unwrap_or(0.0))
}

/// Marks the subscription's pending entries as invoiced by a renewal order.
pub fn mark_invoiced(conn: &Connection, subscription_id: &str, order_id: &str) -> ApiResult<()> {
    conn.execute(
        "UPDATE billing_entries SET order_id = ?2 WHERE subscription_id = ?1 AND order_id IS NULL",
        params![subscription_id, order_id],
    )?;
    Ok(())
}
