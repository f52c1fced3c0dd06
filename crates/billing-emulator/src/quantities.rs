//! `GET /v1/meters/{id}/quantities` (api-reference §3.2): points `start + k·interval`, each
//! aggregating the whole calendar bucket (in `timezone`) that contains it; range limits;
//! `total` rules per aggregation; optional per-customer aggregation.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::filter::sql_str;
use crate::loc;
use crate::meter_values;
use crate::query::Params;
use crate::resources::iso;
use crate::routes::meters::MeterSql;

const CUSTOMER_FUNCS: &[&str] = &billing_vocab::meter::AGGREGATION_NAMES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Year,
    Month,
    Week,
    Day,
    Hour,
}

impl Interval {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "year" => Self::Year,
            "month" => Self::Month,
            "week" => Self::Week,
            "day" => Self::Day,
            "hour" => Self::Hour,
            _ => return None,
        })
    }

    /// `kit/time_queries.py::is_under_limits`, in days between the two dates.
    fn max_days(self) -> i64 {
        match self {
            Self::Hour => 7,
            Self::Day => 366,
            Self::Week => 371,
            Self::Month => 1460,
            Self::Year => 3650,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub interval: Interval,
    pub timezone: Tz,
    pub customer_ids: Vec<String>,
    pub external_customer_ids: Vec<String>,
    pub metadata: Vec<(String, String)>,
    pub customer_aggregation: Option<String>,
}

/// `datetime.isoformat()` of an aware datetime given as its UTC instant and the wall-clock
/// time it was sent with: `2024-01-01T00:00:00+02:00`, microseconds only when non-zero,
/// `+00:00` rather than `Z`.
fn python_isoformat(utc: DateTime<Utc>, wall: NaiveDateTime) -> String {
    let offset = (wall - utc.naive_utc()).num_seconds();
    let sign = if offset < 0 { '-' } else { '+' };
    let (hours, minutes) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
    let fraction = match wall.and_utc().timestamp_subsec_micros() {
        0 => String::new(),
        micros => format!(".{micros:06}"),
    };
    format!(
        "{}{fraction}{sign}{hours:02}:{minutes:02}",
        wall.format("%Y-%m-%dT%H:%M:%S")
    )
}

fn query_datetime(
    params: &Params,
    key: &str,
    errors: &mut Vec<Detail>,
) -> Option<(DateTime<Utc>, NaiveDateTime)> {
    let Some(raw) = params.get(key) else {
        errors.push(Detail::new(
            "missing",
            loc!["query", key],
            "Field required",
            Value::Null,
        ));
        return None;
    };
    let fixed = DateTime::parse_from_rfc3339(raw.trim())
        .or_else(|_| DateTime::parse_from_rfc3339(&raw.trim().replacen(' ', "T", 1)));
    match fixed {
        Ok(dt) => Some((dt.with_timezone(&Utc), dt.naive_local())),
        Err(_) => {
            let naive = crate::validate::parse_datetime_str(raw).is_err()
                && NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f").is_ok();
            let (kind, msg) = if naive {
                ("timezone_aware", "Input should have timezone info")
            } else {
                (
                    "datetime_from_date_parsing",
                    "Input should be a valid datetime or date",
                )
            };
            errors.push(Detail::new(kind, loc!["query", key], msg, json!(raw)));
            None
        }
    }
}

impl Request {
    pub fn from_params(params: &Params) -> ApiResult<Self> {
        let mut errors = Vec::new();
        let start = query_datetime(params, "start_timestamp", &mut errors);
        let end = query_datetime(params, "end_timestamp", &mut errors);
        if let Some((_, wall)) = &start {
            // The lower bound is checked on the wall-clock value, ignoring the offset.
            let floor = NaiveDate::from_ymd_opt(2023, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .unwrap_or_default();
            if *wall < floor {
                errors.push(
                    Detail::new(
                        "greater_than_equal",
                        loc!["query", "start_timestamp"],
                        "Input should be greater than or equal to 2023-01-01T00:00:00",
                        json!(params.get("start_timestamp")),
                    )
                    .with_ctx(json!({"ge": "2023-01-01T00:00:00"})),
                );
            }
        }
        let interval = match params.get("interval") {
            None => {
                errors.push(Detail::new(
                    "missing",
                    loc!["query", "interval"],
                    "Field required",
                    Value::Null,
                ));
                None
            }
            Some(raw) => {
                let parsed = Interval::parse(raw);
                if parsed.is_none() {
                    errors.push(
                        Detail::new(
                            "enum",
                            loc!["query", "interval"],
                            "Input should be 'year', 'month', 'week', 'day' or 'hour'",
                            json!(raw),
                        )
                        .with_ctx(json!({"expected": "'year', 'month', 'week', 'day' or 'hour'"})),
                    );
                }
                parsed
            }
        };
        let timezone = match params.get("timezone") {
            None => Some(Tz::UTC),
            Some(raw) => match raw.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(Detail::new(
                        "value_error",
                        loc!["query", "timezone"],
                        format!("Value error, No time zone found with key {raw}"),
                        json!(raw),
                    ));
                    None
                }
            },
        };
        let customer_aggregation = match params.get("customer_aggregation_function") {
            None => None,
            Some(raw) if CUSTOMER_FUNCS.contains(&raw) => Some(raw.to_owned()),
            Some(raw) => {
                errors.push(Detail::new(
                    "enum",
                    loc!["query", "customer_aggregation_function"],
                    "Input should be 'count', 'sum', 'max', 'min', 'avg' or 'unique'",
                    json!(raw),
                ));
                None
            }
        };
        let customer_ids = params.uuids("customer_id")?;
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let (Some((start, start_wall)), Some((end, end_wall)), Some(interval), Some(timezone)) =
            (start, end, interval, timezone)
        else {
            return Err(ApiError::Internal(
                "validated quantities query incomplete".into(),
            ));
        };
        if (end.date_naive() - start.date_naive()).num_days() > interval.max_days() {
            // A service-level check on the server (`SpaireRequestValidationError`) whose
            // input is the parsed (start, end, interval), as Python prints them.
            return Err(ApiError::service(Detail::new(
                "value_error",
                loc!["query"],
                "The interval is too big. Try to change the interval or reduce the date range.",
                json!([
                    python_isoformat(start, start_wall),
                    python_isoformat(end, end_wall),
                    params.get("interval"),
                ]),
            )));
        }
        Ok(Self {
            start,
            end,
            interval,
            timezone,
            customer_ids,
            external_customer_ids: params
                .all("external_customer_id")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            metadata: params.metadata(),
            customer_aggregation,
        })
    }
}

/// Adds one interval in the session time zone, as Postgres does for `timestamptz + interval`.
fn add_interval(point: DateTime<Utc>, interval: Interval, tz: Tz) -> Option<DateTime<Utc>> {
    match interval {
        Interval::Hour => Some(point + Duration::hours(1)),
        Interval::Day | Interval::Week | Interval::Month | Interval::Year => {
            let local = point.with_timezone(&tz).naive_local();
            let next = match interval {
                Interval::Day => local + Duration::days(1),
                Interval::Week => local + Duration::days(7),
                Interval::Month => local.checked_add_months(chrono::Months::new(1))?,
                _ => local.checked_add_months(chrono::Months::new(12))?,
            };
            to_utc(next, tz)
        }
    }
}

fn to_utc(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(dt) => Some(dt.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(early, _) => Some(early.with_timezone(&Utc)),
        // A local time skipped by a DST jump: Postgres moves it forward by the gap.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map(|dt| dt.with_timezone(&Utc)),
    }
}

/// `[start, end)` in UTC of the calendar bucket containing `point` in `tz`.
fn bucket(
    point: DateTime<Utc>,
    interval: Interval,
    tz: Tz,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local = point.with_timezone(&tz).naive_local();
    let date = local.date();
    let start_local = match interval {
        Interval::Hour => date.and_hms_opt(chrono::Timelike::hour(&local), 0, 0)?,
        Interval::Day => date.and_hms_opt(0, 0, 0)?,
        Interval::Week => (date - Duration::days(i64::from(date.weekday().num_days_from_monday())))
            .and_hms_opt(0, 0, 0)?,
        Interval::Month => {
            NaiveDate::from_ymd_opt(date.year(), date.month(), 1)?.and_hms_opt(0, 0, 0)?
        }
        Interval::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1)?.and_hms_opt(0, 0, 0)?,
    };
    let start = to_utc(start_local, tz)?;
    let end = match interval {
        Interval::Hour => start + Duration::hours(1),
        _ => add_interval(start, interval, tz)?,
    };
    Some((start, end))
}

/// SQL restricting events to the given customers; each id also matches the other kind of
/// id through the customer's `external_id` (§2, §3.2).
pub fn customer_clause(
    conn: &Connection,
    org: &str,
    customer_ids: &[String],
    external_ids: &[String],
) -> ApiResult<Option<String>> {
    if customer_ids.is_empty() && external_ids.is_empty() {
        return Ok(None);
    }
    let mut ids: Vec<String> = customer_ids.to_vec();
    let mut externals: Vec<String> = external_ids.to_vec();
    for id in customer_ids {
        if let Some(customer) = db::get_doc(conn, Kind::Customer, org, id)?
            && let Some(ext) = customer["external_id"].as_str()
        {
            externals.push(ext.to_owned());
        }
    }
    for ext in external_ids {
        if let Some(customer) = db::find_by_ext(conn, Kind::Customer, org, ext)?
            && let Some(id) = customer["id"].as_str()
        {
            ids.push(id.to_owned());
        }
    }
    let list = |values: &[String]| {
        values
            .iter()
            .map(|v| sql_str(v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !ids.is_empty() {
        parts.push(format!("customer_id IN ({})", list(&ids)));
    }
    if !externals.is_empty() {
        parts.push(format!("external_customer_id IN ({})", list(&externals)));
    }
    Ok(Some(format!("({})", parts.join(" OR "))))
}

/// `metadata[k]=v` on events: the stored value's text form equals `v`.
pub fn metadata_clause(metadata: &[(String, String)]) -> Option<String> {
    if metadata.is_empty() {
        return None;
    }
    let mut keys: Vec<&str> = metadata.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    let parts: Vec<String> = keys
        .iter()
        .map(|key| {
            let path = sql_str(&format!("$.\"{}\"", key.replace('"', "")));
            let values: Vec<String> = metadata
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| sql_str(v))
                .collect();
            format!(
                "(CASE json_type(metadata, {path}) WHEN 'text' THEN json_extract(metadata, {path}) WHEN 'null' THEN NULL ELSE (metadata -> {path}) END) IN ({})",
                values.join(", ")
            )
        })
        .collect();
    Some(parts.join(" AND "))
}

fn aggregate_expr(inner: &str, customer_func: Option<&str>) -> (String, bool) {
    let inner = inner.to_owned();
    match customer_func {
        None => (inner, false),
        Some(func) => {
            let outer = match func {
                "count" => "COUNT(v)",
                "sum" => "SUM(v)",
                "max" => "MAX(v)",
                "min" => "MIN(v)",
                "avg" => "AVG(v)",
                _ => "COUNT(DISTINCT v)",
            };
            (format!("{outer}|{inner}"), true)
        }
    }
}

pub fn compute(
    conn: &Connection,
    org: &str,
    meter_id: &str,
    meter: &MeterSql,
    request: &Request,
) -> ApiResult<Value> {
    if request.end < request.start {
        return Ok(json!({"quantities": [], "total": 0.0}));
    }
    // Materialised values answer everything except `metadata[...]` filters, which need the
    // events' JSON.
    let (table, mut conditions, aggregate) = if request.metadata.is_empty() {
        meter_values::sync(conn, org, meter_id, meter)?;
        (
            "meter_values",
            vec![format!("meter_id = {}", sql_str(meter_id))],
            meter.aggregation.materialized_aggregate_sql(),
        )
    } else {
        (
            "events",
            vec![
                format!("org = {}", sql_str(org)),
                format!("({})", meter.clause()),
            ],
            meter.aggregation.aggregate_sql(),
        )
    };
    if let Some(clause) = customer_clause(
        conn,
        org,
        &request.customer_ids,
        &request.external_customer_ids,
    )? {
        conditions.push(clause);
    }
    if let Some(clause) = metadata_clause(&request.metadata) {
        conditions.push(clause);
    }
    let base_where = conditions.join(" AND ");
    let (expr, grouped) = aggregate_expr(&aggregate, request.customer_aggregation.as_deref());
    let bucket_sql = if grouped {
        let (outer, inner) = expr.split_once('|').unwrap_or_default();
        format!(
            "SELECT {outer}, COUNT(*) FROM (SELECT {inner} AS v FROM {table} WHERE {base_where} AND ts >= ?1 AND ts < ?2 \
             GROUP BY COALESCE(customer_id, external_customer_id))"
        )
    } else {
        format!("SELECT {expr}, COUNT(*) FROM {table} WHERE {base_where} AND ts >= ?1 AND ts < ?2")
    };
    let mut stmt = conn.prepare_cached(&bucket_sql)?;
    let mut quantities = Vec::new();
    let mut non_empty: Vec<f64> = Vec::new();
    let mut all: Vec<f64> = Vec::new();
    let mut point = request.start;
    // generate_series is inclusive of `end`.
    let mut guard = 0;
    while point <= request.end && guard < 100_000 {
        guard += 1;
        let Some((lo, hi)) = bucket(point, request.interval, request.timezone) else {
            break;
        };
        let (value, rows): (Option<f64>, i64) = stmt
            .query_row([lo.timestamp_micros(), hi.timestamp_micros()], |row| {
                Ok((row.get::<_, Option<f64>>(0)?, row.get::<_, i64>(1)?))
            })?;
        let quantity = value.unwrap_or(0.0);
        quantities.push(json!({"timestamp": iso(point), "quantity": quantity}));
        all.push(quantity);
        if rows > 0 {
            non_empty.push(quantity);
        }
        match add_interval(point, request.interval, request.timezone) {
            Some(next) if next > point => point = next,
            _ => break,
        }
    }
    let total = match meter.aggregation.func() {
        "count" | "sum" => all.iter().sum(),
        "max" => non_empty
            .iter()
            .copied()
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            })
            .unwrap_or(0.0),
        "min" => non_empty
            .iter()
            .copied()
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.min(v)))
            })
            .unwrap_or(0.0),
        // avg and unique: over every matching event, with no time restriction at all.
        _ => {
            let sql = format!("SELECT {aggregate} FROM {table} WHERE {base_where}");
            conn.query_row(&sql, [], |row| row.get::<_, Option<f64>>(0))?
                .unwrap_or(0.0)
        }
    };
    Ok(json!({"quantities": quantities, "total": total}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn buckets_are_whole_calendar_units_in_the_time_zone() {
        let (lo, hi) = bucket(utc("2026-03-15T10:30:00Z"), Interval::Month, Tz::UTC).unwrap();
        assert_eq!(
            (lo, hi),
            (utc("2026-03-01T00:00:00Z"), utc("2026-04-01T00:00:00Z"))
        );
        let (lo, hi) = bucket(utc("2026-03-18T10:30:00Z"), Interval::Week, Tz::UTC).unwrap();
        assert_eq!(
            (lo, hi),
            (utc("2026-03-16T00:00:00Z"), utc("2026-03-23T00:00:00Z"))
        );
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let (lo, _) = bucket(utc("2026-01-01T23:30:00Z"), Interval::Day, berlin).unwrap();
        assert_eq!(lo, utc("2026-01-01T23:00:00Z"));
    }

    #[test]
    fn months_are_added_by_repeated_calendar_addition() {
        let next = add_interval(utc("2026-01-31T00:00:00Z"), Interval::Month, Tz::UTC).unwrap();
        assert_eq!(next, utc("2026-02-28T00:00:00Z"));
    }
}
