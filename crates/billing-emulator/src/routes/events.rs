//! `POST /v1/events/ingest` and `GET /v1/events/` (api-reference §2).

use billing_vocab::webhook::types as webhook_types;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

use crate::auth::{Auth, scopes};
use crate::balance;
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::filter::{Filter, parse_filter, sql_str};
use crate::loc;
use crate::quantities::{customer_clause, metadata_clause};
use crate::query::{Page, Params};
use crate::resources::{iso_micros, new_id, path_uuid};
use crate::routes::meters::MeterSql;
use crate::state::AppState;
use crate::validate::{Checker, at, body_object, parse_body};
use crate::webhooks;

/// One validated event, ready to insert.
#[derive(Debug)]
struct NewEvent {
    id: String,
    name: String,
    timestamp: i64,
    customer_id: Option<String>,
    external_customer_id: Option<String>,
    member_id: Option<String>,
    external_member_id: Option<String>,
    external_id: Option<String>,
    parent_ref: Option<String>,
    organization_id_sent: Option<Value>,
    /// Validated metadata, already serialised for the insert.
    metadata: String,
}

/// The common case without building any error locations: a well-formed event. Anything
/// unusual (a problem, structured `_cost`/`_llm` metadata) returns `None` and goes through
/// the full validator, which reports pydantic-shaped errors. Ingest throughput depends on
/// this path.
fn fast_event(obj: &Map<String, Value>, now_micros: i64) -> Option<NewEvent> {
    let optional_str = |key: &str| -> Option<Option<String>> {
        match obj.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        }
    };
    let name = obj.get("name")?.as_str()?.to_owned();
    if obj.contains_key("customer_id") && obj.contains_key("external_customer_id") {
        // Which union member wins depends on the fields set: the full validator decides.
        return None;
    }
    let (customer_id, external_customer_id, member_id, external_member_id) =
        match obj.get("customer_id") {
            Some(Value::String(raw)) => {
                let id = uuid::Uuid::parse_str(raw)
                    .ok()
                    .filter(|u| u.get_version_num() == 4)?;
                let member = match obj.get("member_id") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(m)) => Some(
                        uuid::Uuid::parse_str(m)
                            .ok()
                            .filter(|u| u.get_version_num() == 4)?
                            .to_string(),
                    ),
                    Some(_) => return None,
                };
                (Some(id.to_string()), None, member, None)
            }
            Some(_) => return None,
            None => (
                None,
                Some(obj.get("external_customer_id")?.as_str()?.to_owned()),
                None,
                optional_str("external_member_id")?,
            ),
        };
    let timestamp = match obj.get("timestamp") {
        None | Some(Value::Null) => now_micros,
        Some(Value::String(text)) => {
            let micros = crate::validate::parse_datetime_str(text)
                .ok()?
                .timestamp_micros();
            (micros <= now_micros).then_some(micros)?
        }
        Some(_) => return None,
    };
    if obj.get("organization_id").is_some_and(|v| !v.is_null()) {
        return None;
    }
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::Object(map)) => {
            let plain = map.iter().all(|(key, value)| {
                key != "_cost"
                    && key != "_llm"
                    && match value {
                        Value::String(s) => !s.is_empty() && s.chars().count() <= 500,
                        Value::Number(_) | Value::Bool(_) => true,
                        _ => false,
                    }
            });
            if !plain {
                return None;
            }
            serde_json::to_string(map).ok()?
        }
        Some(_) => return None,
    };
    Some(NewEvent {
        id: new_id(),
        name,
        timestamp,
        customer_id,
        external_customer_id,
        member_id,
        external_member_id,
        external_id: optional_str("external_id")?,
        parent_ref: optional_str("parent_id")?,
        organization_id_sent: None,
        metadata,
    })
}

const CUSTOMER_SHAPE: &str = "EventCreateCustomer";
const EXTERNAL_SHAPE: &str = "EventCreateExternalCustomer";

/// Which member of `EventCreateCustomer | EventCreateExternalCustomer` the server's smart
/// union (pydantic-core 2.41, validating the parsed JSON in Python mode) picks when the
/// event could be either; the emulator tries them in this order. Of the members that
/// validate, more fields set wins; on equal counts the more exact validation wins, and on a
/// further tie the first member (`EventCreateCustomer`). The customer member is always
/// lax (its `customer_id` is a string turned into a UUID); the external member is lax only
/// when it also converts something: a `timestamp` string, an `organization_id`, a `_cost`
/// amount (a decimal). So `{customer_id, external_customer_id}` is stored under the
/// external id, the same event with a `timestamp` under `customer_id`, and `member_id`
/// makes `customer_id` win (checked on the running server and with its pydantic, 2026-12-02).
fn union_preference(event: &Map<String, Value>) -> [&'static str; 2] {
    let set = |keys: &[&str]| keys.iter().filter(|k| event.contains_key(**k)).count();
    let customer_fields = set(&["customer_id", "member_id"]);
    let external_fields = set(&["external_customer_id", "external_member_id"]);
    let external_is_lax = set(&["timestamp", "organization_id"]) > 0
        || event
            .get("metadata")
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key("_cost"));
    let customer_first = match customer_fields.cmp(&external_fields) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => external_is_lax,
    };
    if customer_first {
        [CUSTOMER_SHAPE, EXTERNAL_SHAPE]
    } else {
        [EXTERNAL_SHAPE, CUSTOMER_SHAPE]
    }
}

/// Validates one event as one union member; errors are reported under the member's name.
fn validate_shape(
    c: &mut Checker,
    obj: &Map<String, Value>,
    base: &[Value],
    shape: &str,
    now_micros: i64,
) -> Option<NewEvent> {
    let loc = at(base, shape);
    // In the server model's field order, so `detail` lists errors in pydantic's order.
    let timestamp = match Checker::optional(obj, "timestamp") {
        None => Some(now_micros),
        Some(v) => c.aware_datetime(v, at(&loc, "timestamp")).and_then(|dt| {
            let micros = dt.timestamp_micros();
            if micros > now_micros {
                c.push(
                    Detail::new(
                        "value_error",
                        at(&loc, "timestamp"),
                        "Value error, Timestamp must be in the past.",
                        v.clone(),
                    )
                    .with_ctx(json!({"error": {}})),
                );
                None
            } else {
                Some(micros)
            }
        }),
    };
    let name = c
        .required(obj, "name", &loc)
        .and_then(|v| c.string(v, at(&loc, "name"), 0, None));
    let organization_id_sent = Checker::optional(obj, "organization_id").cloned();
    if let Some(org) = &organization_id_sent {
        c.uuid4(org, at(&loc, "organization_id"));
    }
    let external_id = Checker::optional(obj, "external_id")
        .and_then(|v| c.string(v, at(&loc, "external_id"), 0, None));
    let parent_ref = Checker::optional(obj, "parent_id")
        .and_then(|v| c.string(v, at(&loc, "parent_id"), 0, None));
    let metadata = validate_event_metadata(c, obj, &loc);
    let (customer_id, external_customer_id, member_id, external_member_id) =
        if shape == CUSTOMER_SHAPE {
            let customer = c
                .required(obj, "customer_id", &loc)
                .and_then(|v| c.uuid4(v, at(&loc, "customer_id")))
                .map(|u| u.to_string());
            let member = Checker::optional(obj, "member_id")
                .and_then(|v| c.uuid4(v, at(&loc, "member_id")))
                .map(|u| u.to_string());
            (customer, None, member, None)
        } else {
            let external = c
                .required(obj, "external_customer_id", &loc)
                .and_then(|v| c.string(v, at(&loc, "external_customer_id"), 0, None));
            let member = Checker::optional(obj, "external_member_id")
                .and_then(|v| c.string(v, at(&loc, "external_member_id"), 0, None));
            (None, external, None, member)
        };
    let ok = name.is_some()
        && timestamp.is_some()
        && (customer_id.is_some() || external_customer_id.is_some())
        && metadata.is_some();
    if !ok {
        return None;
    }
    Some(NewEvent {
        id: new_id(),
        name: name?,
        timestamp: timestamp?,
        customer_id,
        external_customer_id,
        member_id,
        external_member_id,
        external_id,
        parent_ref,
        organization_id_sent,
        metadata: serde_json::to_string(&crate::event_output::stored_metadata(metadata?)).ok()?,
    })
}

/// `EventMetadataInput`: string (1–500), int, float or bool values under any key, except
/// the structured `_cost` and `_llm` keys. No 40-character or 50-key limits for events.
fn validate_event_metadata(
    c: &mut Checker,
    obj: &Map<String, Value>,
    loc: &[Value],
) -> Option<Map<String, Value>> {
    let Some(value) = Checker::optional(obj, "metadata") else {
        return Some(Map::new());
    };
    let loc = at(loc, "metadata");
    let Value::Object(map) = value else {
        c.push(Detail::new(
            "dict_type",
            loc,
            "Input should be a valid dictionary",
            value.clone(),
        ));
        return None;
    };
    let before = c.errors.len();
    for (key, item) in map {
        let item_loc = at(&loc, key.as_str());
        match key.as_str() {
            "_cost" => validate_cost(c, item, item_loc),
            "_llm" => validate_llm(c, item, item_loc),
            _ => event_metadata_value(c, item, &item_loc),
        }
    }
    (c.errors.len() == before).then(|| map.clone())
}

/// One value of `EventMetadataInput`: the union `constr(1..500) | int | float | bool`. A
/// value no member accepts gets one error per member, labelled like pydantic's union
/// (`constrained-str`, `int`, `float`, `bool`), as the server lists them.
fn event_metadata_value(c: &mut Checker, item: &Value, loc: &[Value]) {
    let text = match item {
        Value::Number(_) | Value::Bool(_) => return,
        Value::String(s) => Some(s.chars().count()),
        _ => None,
    };
    let mut member = |label: &str, kind: &str, msg: &str, ctx: Option<Value>| {
        let detail = Detail::new(kind, at(loc, label), msg, item.clone());
        c.push(match ctx {
            Some(ctx) => detail.with_ctx(ctx),
            None => detail,
        });
    };
    match text {
        Some(len) if (1..=500).contains(&len) => {}
        Some(len) => {
            // An empty or over-long string: every non-string member fails to parse it.
            if len == 0 {
                member(
                    "constrained-str",
                    "string_too_short",
                    "String should have at least 1 character",
                    Some(json!({"min_length": 1})),
                );
            } else {
                member(
                    "constrained-str",
                    "string_too_long",
                    "String should have at most 500 characters",
                    Some(json!({"max_length": 500})),
                );
            }
            member(
                "int",
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                None,
            );
            member(
                "float",
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
                None,
            );
            member(
                "bool",
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
                None,
            );
        }
        None => {
            member(
                "constrained-str",
                "string_type",
                "Input should be a valid string",
                None,
            );
            member("int", "int_type", "Input should be a valid integer", None);
            member(
                "float",
                "float_type",
                "Input should be a valid number",
                None,
            );
            member("bool", "bool_type", "Input should be a valid boolean", None);
        }
    }
}

fn validate_cost(c: &mut Checker, item: &Value, loc: Vec<Value>) {
    let Some(obj) = c.object(item, &loc) else {
        return;
    };
    if let Some(amount) = c.required(obj, "amount", &loc) {
        let text = match amount {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        };
        let valid = text.parse::<rust_decimal::Decimal>().ok().is_some_and(|d| {
            let integer_digits = d.trunc().abs().to_string().trim_start_matches('0').len();
            integer_digits <= 5 && d.scale() <= 12
        });
        if !valid {
            c.push(Detail::new(
                "decimal_parsing",
                at(&loc, "amount"),
                "Input should be a valid decimal with at most 5 digits before the decimal point and 12 decimal places",
                amount.clone(),
            ));
        }
    }
    if let Some(currency) = c.required(obj, "currency", &loc) {
        c.literal(currency, at(&loc, "currency"), &["usd"]);
    }
}

fn validate_llm(c: &mut Checker, item: &Value, loc: Vec<Value>) {
    let Some(obj) = c.object(item, &loc) else {
        return;
    };
    for key in ["vendor", "model"] {
        if let Some(v) = c.required(obj, key, &loc) {
            c.string(v, at(&loc, key), 0, None);
        }
    }
    for key in ["input_tokens", "output_tokens", "total_tokens"] {
        if let Some(v) = c.required(obj, key, &loc) {
            c.int(v, at(&loc, key), None, None);
        }
    }
    if let Some(v) = Checker::optional(obj, "cached_input_tokens") {
        c.int(v, at(&loc, "cached_input_tokens"), None, None);
    }
    for key in ["prompt", "response"] {
        if let Some(v) = Checker::optional(obj, key) {
            c.string(v, at(&loc, key), 0, None);
        }
    }
}

/// Inserts a system event (credits, resets, customer lifecycle) and returns its `seq`.
pub fn insert_system_event(
    conn: &Connection,
    org: &str,
    name: &str,
    customer_id: &str,
    metadata: &Value,
    timestamp_micros: i64,
) -> ApiResult<i64> {
    conn.execute(
        "INSERT INTO events (id, org, customer_id, name, source, ts, ingested_at, metadata)
         VALUES (?1, ?2, ?3, ?4, 'system', ?5, ?6, jsonb(?7))",
        params![
            new_id(),
            org,
            customer_id,
            name,
            timestamp_micros,
            chrono::Utc::now().timestamp_micros(),
            metadata.to_string()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub async fn ingest(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::EVENTS_WRITE)?.to_owned();
    let body = parse_body(&body)?;
    let now = state.now().timestamp_micros();
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    let events_loc = at(&base, "events");
    let Some(items) = c
        .required(obj, "events", &base)
        .and_then(|v| c.list(v, events_loc.clone()))
    else {
        return Err(ApiError::Validation(c.errors));
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_loc = at(&events_loc, i);
        let Some(event_obj) = c.object(item, &item_loc) else {
            continue;
        };
        if let Some(event) = fast_event(event_obj, now) {
            events.push(event);
            continue;
        }
        let order = union_preference(event_obj);
        let mut first = Checker::new();
        let mut second = Checker::new();
        if let Some(event) = validate_shape(&mut first, event_obj, &item_loc, order[0], now)
            .or_else(|| validate_shape(&mut second, event_obj, &item_loc, order[1], now))
        {
            events.push(event);
            continue;
        }
        let (customer_errors, external_errors) = if order[0] == CUSTOMER_SHAPE {
            (first.errors, second.errors)
        } else {
            (second.errors, first.errors)
        };
        c.errors.extend(customer_errors);
        c.errors.extend(external_errors);
    }
    c.finish()?;

    let mut conn = state.db();
    check_service_rules(&conn, &org, &events)?;
    crate::server_limits::check_event_names(events.iter().map(|e| e.name.as_str()))?;
    let tx = conn.transaction()?;
    let first_new_seq = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM events", [], |r| {
        r.get::<_, i64>(0)
    })?;
    let (inserted, touched) = insert_batch(&tx, &org, &events, now)?;
    // Dropping `tx` without commit on error stores nothing, like the server's failed insert.
    crate::server_limits::check_batch_ceiling(&tx, &org, first_new_seq, inserted)?;
    if inserted > 0 {
        crate::meter_values::sync_org(&tx, &org)?;
    }
    let mut jobs = Vec::new();
    let notify = webhooks::subscribed(&tx, &org, webhook_types::CUSTOMER_STATE_CHANGED)?;
    for customer_id in &touched {
        balance::touch_customer(&tx, &org, customer_id, now)?;
        // The server sends this after its (debounced) recomputation changed a balance.
        if notify && let Some(customer) = db::get_doc(&tx, Kind::Customer, &org, customer_id)? {
            let customer_state = crate::routes::customers::state_json(&tx, &org, &customer)?;
            jobs.extend(webhooks::emit(
                &tx,
                &state,
                &org,
                webhook_types::CUSTOMER_STATE_CHANGED,
                customer_state,
            )?);
        }
    }
    tx.commit()?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok(Json(
        json!({"inserted": inserted, "duplicates": events.len() as i64 - inserted}),
    ))
}

/// Service-level checks that reject the whole batch: organization_id with an OAT, unknown
/// customers or members, unknown parents, parent cycles.
fn check_service_rules(conn: &Connection, org: &str, events: &[NewEvent]) -> ApiResult<()> {
    let mut details = Vec::new();
    let mut known_customers: HashMap<String, Option<Value>> = HashMap::new();
    let batch_refs: HashSet<&str> = events
        .iter()
        .flat_map(|e| [Some(e.id.as_str()), e.external_id.as_deref()])
        .flatten()
        .collect();
    for (i, event) in events.iter().enumerate() {
        let loc = loc!["body", "events", i];
        if let Some(sent) = &event.organization_id_sent {
            details.push(Detail::new(
                "organization_token",
                at(&loc, "organization_id"),
                "Setting organization_id is disallowed when using an organization token.",
                sent.clone(),
            ));
        }
        if let Some(customer_id) = &event.customer_id {
            let customer = match known_customers.get(customer_id) {
                Some(found) => found.clone(),
                None => {
                    let found = db::get_doc(conn, Kind::Customer, org, customer_id)?
                        .filter(|c| c["deleted_at"].is_null());
                    known_customers.insert(customer_id.clone(), found.clone());
                    found
                }
            };
            match customer {
                None => details.push(Detail::new(
                    "customer_id",
                    at(&loc, "customer_id"),
                    "Customer not found.",
                    json!(customer_id),
                )),
                Some(customer) => {
                    if let Some(member_id) = &event.member_id
                        && customer["_owner_member_id"].as_str() != Some(member_id.as_str())
                    {
                        details.push(Detail::new(
                            "member_id",
                            at(&loc, "member_id"),
                            "Member not found.",
                            json!(member_id),
                        ));
                    }
                }
            }
        }
        if let Some(parent) = &event.parent_ref
            && !batch_refs.contains(parent.as_str())
            && resolve_parent(conn, org, parent)?.is_none()
        {
            details.push(Detail::new(
                "parent_id",
                at(&loc, "parent_id"),
                "Parent event not found.",
                json!(parent),
            ));
        }
    }
    if !details.is_empty() {
        return Err(ApiError::ServiceValidation(details));
    }
    detect_parent_cycle(events)
}

fn resolve_parent(conn: &Connection, org: &str, reference: &str) -> ApiResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT id FROM events WHERE org = ?1 AND (id = ?2 OR external_id = ?2) LIMIT 1",
            params![org, reference],
            |row| row.get::<_, String>(0),
        )
        .optional()?)
}

fn detect_parent_cycle(events: &[NewEvent]) -> ApiResult<()> {
    let index: HashMap<&str, usize> = events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            [
                Some((e.id.as_str(), i)),
                e.external_id.as_deref().map(|x| (x, i)),
            ]
        })
        .flatten()
        .collect();
    for start in 0..events.len() {
        let mut seen = HashSet::new();
        let mut current = start;
        while let Some(parent) = events[current]
            .parent_ref
            .as_deref()
            .and_then(|p| index.get(p))
        {
            if !seen.insert(current) {
                return Err(ApiError::Domain {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    error: "EventError",
                    detail: "Circular dependency detected in event parent relationships".to_owned(),
                });
            }
            current = *parent;
        }
    }
    Ok(())
}

/// Inserts with `ON CONFLICT DO NOTHING` on (organization, external_id); returns the number
/// inserted and the customers whose meters need a refresh.
fn insert_batch(
    conn: &Connection,
    org: &str,
    events: &[NewEvent],
    now: i64,
) -> ApiResult<(i64, HashSet<String>)> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (id, org, external_id, customer_id, external_customer_id, member_id,
             external_member_id, parent_id, name, source, ts, ingested_at, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'user', ?10, ?11, jsonb(?12))
         ON CONFLICT DO NOTHING",
    )?;
    let mut ids_by_ref: HashMap<&str, &str> = HashMap::new();
    for event in events {
        ids_by_ref.insert(event.id.as_str(), event.id.as_str());
        if let Some(ext) = &event.external_id {
            ids_by_ref.entry(ext.as_str()).or_insert(event.id.as_str());
        }
    }
    let mut inserted = 0;
    let mut touched_ids: HashSet<String> = HashSet::new();
    let mut touched_external: HashSet<&str> = HashSet::new();
    for event in events {
        let parent_id = match &event.parent_ref {
            None => None,
            Some(reference) => match ids_by_ref.get(reference.as_str()) {
                Some(id) => Some((*id).to_owned()),
                None => resolve_parent(conn, org, reference)?,
            },
        };
        let changed = stmt.execute(params![
            event.id,
            org,
            event.external_id,
            event.customer_id,
            event.external_customer_id,
            event.member_id,
            event.external_member_id,
            parent_id,
            event.name,
            event.timestamp,
            now,
            event.metadata,
        ])?;
        if changed > 0 {
            inserted += 1;
            if let Some(id) = &event.customer_id {
                touched_ids.insert(id.clone());
            }
            if let Some(ext) = &event.external_customer_id {
                touched_external.insert(ext.as_str());
            }
        }
    }
    let externals: Vec<&str> = touched_external.into_iter().collect();
    touched_ids.extend(db::customers_with_external_ids(conn, org, &externals)?);
    Ok((inserted, touched_ids))
}

/// The label of an event: the server's `SYSTEM_EVENT_LABELS` for system events (the name
/// itself when it has none), the name for user events.
fn label_for(name: &str, source: &str) -> String {
    if source == "user" {
        return name.to_owned();
    }
    crate::system_events::label(name).to_owned()
}

const EVENT_COLUMNS: &str = "seq, id, org, customer_id, external_customer_id, member_id, external_member_id, \
     parent_id, name, source, ts, json(metadata), (SELECT COUNT(*) FROM events AS child WHERE child.parent_id = events.id)";

fn event_json(
    row: &rusqlite::Row<'_>,
    customers: &mut HashMap<String, Value>,
    conn: &Connection,
) -> rusqlite::Result<Value> {
    let org: String = row.get(2)?;
    let customer_id: Option<String> = row.get(3)?;
    let external_customer_id: Option<String> = row.get(4)?;
    let name: String = row.get(8)?;
    let source: String = row.get(9)?;
    let metadata =
        serde_json::from_str::<Value>(&row.get::<_, String>(11)?).unwrap_or_else(|_| json!({}));
    let metadata = if source == "user" {
        crate::event_output::user_metadata(metadata)
    } else {
        metadata
    };
    // Events sent with an external id are linked to the customer lazily, at read time.
    let key = customer_id
        .clone()
        .map(|id| format!("id:{id}"))
        .or_else(|| external_customer_id.clone().map(|ext| format!("ext:{ext}")));
    let customer = match key {
        None => Value::Null,
        Some(key) => {
            if !customers.contains_key(&key) {
                let found = if let Some(id) = key.strip_prefix("id:") {
                    db::get_doc(conn, Kind::Customer, &org, id)?
                } else {
                    db::find_by_ext(conn, Kind::Customer, &org, &key[4..])?
                };
                customers.insert(
                    key.clone(),
                    found
                        .map(|c| balance::customer_output(&c))
                        .unwrap_or(Value::Null),
                );
            }
            customers[&key].clone()
        }
    };
    Ok(json!({
        "id": row.get::<_, String>(1)?,
        "timestamp": iso_micros(row.get(10)?),
        "organization_id": org,
        // The column stays NULL for external-id events; only `customer` is linked lazily.
        "customer_id": customer_id,
        "customer": customer,
        "external_customer_id": external_customer_id,
        "member_id": row.get::<_, Option<String>>(5)?,
        "external_member_id": row.get::<_, Option<String>>(6)?,
        "child_count": row.get::<_, i64>(12)?,
        "parent_id": row.get::<_, Option<String>>(7)?,
        "label": label_for(&name, &source),
        "name": name,
        "source": source,
        "metadata": metadata,
    }))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::EVENTS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(&["timestamp"], "-timestamp")?;
    let mut conditions = vec![format!("org = {}", sql_str(&org))];
    if let Some(raw_filter) = params.get("filter") {
        let parsed: Option<Filter> = serde_json::from_str::<Value>(raw_filter)
            .ok()
            .and_then(|v| {
                let mut c = Checker::new();
                parse_filter(&mut c, &v, &[]).filter(|_| c.is_ok())
            });
        match parsed {
            Some(filter) => conditions.push(format!("({})", filter.to_sql())),
            None => {
                return Err(ApiError::validation(Detail::new(
                    "value_error",
                    loc!["query", "filter"],
                    "Value error, Invalid filter",
                    json!(raw_filter),
                )));
            }
        }
    }
    for (key, op) in [("start_timestamp", ">"), ("end_timestamp", "<")] {
        if let Some(raw_ts) = params.get(key) {
            let ts = crate::validate::parse_datetime_str(raw_ts).map_err(|_| {
                ApiError::validation(Detail::new(
                    "datetime_from_date_parsing",
                    loc!["query", key],
                    "Input should be a valid datetime or date",
                    json!(raw_ts),
                ))
            })?;
            conditions.push(format!("ts {op} {}", ts.timestamp_micros()));
        }
    }
    if params.get("query").is_some() && params.get("organization_id").is_none() {
        return Err(ApiError::validation(Detail::new(
            "missing",
            loc!["query", "organization_id"],
            "organization_id is required when using query",
            Value::Null,
        )));
    }
    let customer_ids = params.uuids("customer_id")?;
    let external_ids: Vec<String> = params
        .all("external_customer_id")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let conn = state.db();
    if let Some(clause) = customer_clause(&conn, &org, &customer_ids, &external_ids)? {
        conditions.push(clause);
    }
    for (key, column) in [("name", "name"), ("source", "source")] {
        let values = params.all(key);
        if !values.is_empty() {
            let list: Vec<String> = values.iter().map(|v| sql_str(v)).collect();
            conditions.push(format!("{column} IN ({})", list.join(", ")));
        }
    }
    let meter_ids = params.uuids("meter_id")?;
    if let Some(meter_id) = meter_ids.last() {
        let Some(meter) = db::get_doc(&conn, Kind::Meter, &org, meter_id)? else {
            return Err(ApiError::service(Detail::new(
                "meter_id",
                loc!["query", "meter_id"],
                "Meter not found.",
                json!(meter_id),
            )));
        };
        conditions.push(format!("({})", MeterSql::from_doc(&meter)?.clause()));
    }
    if let Some(parent) = params.get("parent_id") {
        conditions.push(format!("parent_id = {}", sql_str(parent)));
    }
    if let Some(clause) = metadata_clause(&params.metadata()) {
        conditions.push(clause);
    }
    let where_sql = conditions.join(" AND ");
    let order = if sorting.first().is_some_and(|(_, desc)| !*desc) {
        "ASC"
    } else {
        "DESC"
    };
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM events WHERE {where_sql}"),
        [],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {where_sql} ORDER BY ts {order}, seq {order} LIMIT ?1 OFFSET ?2"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut customers = HashMap::new();
    let mut rows = stmt.query(params![page.limit, page.offset()])?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        items.push(event_json(row, &mut customers, &conn)?);
    }
    Ok(Json(page.body(items, total)))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::EVENTS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE org = ?1 AND id = ?2");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![org, id])?;
    let mut customers = HashMap::new();
    match rows.next()? {
        Some(row) => Ok(Json(event_json(row, &mut customers, &conn)?)),
        None => Err(ApiError::NotFound),
    }
}
