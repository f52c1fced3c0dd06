//! `/v1/benefits/` for `meter_credit` benefits (api-reference §5).

use billing_vocab::webhook::types as webhook_types;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::{Auth, scopes};
use crate::db::{self, Kind};
use crate::errors::{ApiError, ApiResult, Detail};
use crate::loc;
use crate::query::{Page, Params};
use crate::resources::{
    iso, metadata_matches, new_id, path_uuid, public, reject_organization_id, sort_docs,
};
use crate::state::AppState;
use crate::validate::{Checker, at, body_object, parse_body};
use crate::webhooks;

/// Benefit types the server knows; only `meter_credit` is emulated.
const BENEFIT_TYPES: &[&str] = &[
    "custom",
    "discord",
    "github_repository",
    "downloadables",
    "license_keys",
    "meter_credit",
    "feature_flag",
];

/// The `meter_credit` properties `{meter_id, units, rollover}`, all required; every problem
/// is recorded in `c` before the first missing one ends the parse.
fn meter_credit_properties(
    c: &mut Checker,
    value: &Value,
    loc: &[Value],
) -> Option<(String, i64, bool)> {
    let props = c.object(value, loc)?;
    let meter_id = c
        .required(props, "meter_id", loc)
        .and_then(|v| c.uuid4(v, at(loc, "meter_id")));
    // `units: int = Field(gt=0, le=INT_MAX)` on the server: the lower bound is a `gt`.
    let units = c
        .required(props, "units", loc)
        .and_then(|v| c.int(v, at(loc, "units"), None, Some(2_147_483_647)))
        .filter(|units| {
            let positive = *units > 0;
            if !positive {
                c.push(
                    Detail::new(
                        "greater_than",
                        at(loc, "units"),
                        "Input should be greater than 0",
                        props["units"].clone(),
                    )
                    .with_ctx(json!({"gt": 0})),
                );
            }
            positive
        });
    let rollover = c
        .required(props, "rollover", loc)
        .and_then(|v| c.bool(v, at(loc, "rollover")));
    Some((meter_id?.to_string(), units?, rollover?))
}

/// A meter the caller's organization can read, or the server's 422 for `properties.meter_id`.
fn require_meter(conn: &rusqlite::Connection, org: &str, meter_id: &str) -> ApiResult<()> {
    if db::get_doc(conn, Kind::Meter, org, meter_id)?.is_none() {
        return Err(ApiError::service(Detail::new(
            "value_error",
            loc!["body", "properties", "meter_id"],
            "This meter does not exist.",
            json!(meter_id),
        )));
    }
    Ok(())
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = auth.require(scopes::BENEFITS_WRITE)?.to_owned();
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    match obj.get("type").and_then(Value::as_str) {
        Some("meter_credit") => {}
        Some(other) if BENEFIT_TYPES.contains(&other) => {
            return Err(ApiError::validation(Detail::new(
                "value_error",
                loc!["body", "type"],
                format!(
                    "Value error, the emulator only supports meter_credit benefits, not {other}"
                ),
                json!(other),
            )));
        }
        _ => {
            return Err(ApiError::validation(
                Detail::new(
                    "union_tag_invalid",
                    base,
                    "Input tag found using 'type' does not match any of the expected tags",
                    body.clone(),
                )
                .with_ctx(json!({"discriminator": "'type'"})),
            ));
        }
    }
    let base = at(&base, "meter_credit");
    let description = c
        .required(obj, "description", &base)
        .and_then(|v| c.string(v, at(&base, "description"), 3, Some(42)));
    let properties = c
        .required(obj, "properties", &base)
        .and_then(|v| meter_credit_properties(&mut c, v, &at(&base, "properties")));
    let metadata = c.metadata(obj, &base);
    c.finish()?;
    reject_organization_id(obj, &[json!("body")])?;
    let (Some(description), Some((meter_id, units, rollover))) = (description, properties) else {
        return Err(ApiError::Internal(
            "validated benefit fields missing".into(),
        ));
    };
    let conn = state.db();
    require_meter(&conn, &org, &meter_id)?;
    let doc = json!({
        "id": new_id(),
        "created_at": iso(state.now()),
        "modified_at": null,
        "type": "meter_credit",
        "description": description,
        "selectable": true,
        "deletable": true,
        "organization_id": org,
        "metadata": metadata.unwrap_or_default(),
        "properties": {"units": units, "rollover": rollover, "meter_id": meter_id},
    });
    db::insert_doc(&conn, Kind::Benefit, &org, None, &doc)?;
    let jobs = webhooks::emit(
        &conn,
        &state,
        &org,
        webhook_types::BENEFIT_CREATED,
        public(&doc),
    )?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok((StatusCode::CREATED, Json(public(&doc))))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::BENEFITS_READ)?.to_owned();
    let params = Params::parse(raw.as_deref());
    let page = Page::from_params(&params)?;
    let sorting = params.sorting(
        &["created_at", "description", "type", "user_order"],
        "-created_at",
    )?;
    let types = params.all("type");
    let ids = params.uuids("id")?;
    let excluded = params.uuids("exclude_id")?;
    let query = params.get("query").map(str::to_lowercase);
    let conn = state.db();
    let mut docs: Vec<Value> = db::list_docs(&conn, Kind::Benefit, &org)?
        .into_iter()
        .enumerate()
        .filter(|(_, b)| types.is_empty() || types.iter().any(|t| b["type"] == *t))
        .filter(|(_, b)| ids.is_empty() || ids.iter().any(|id| b["id"] == id.as_str()))
        .filter(|(_, b)| !excluded.iter().any(|id| b["id"] == id.as_str()))
        .filter(|(_, b)| {
            query.as_ref().is_none_or(|q| {
                b["description"]
                    .as_str()
                    .is_some_and(|d| d.to_lowercase().contains(q))
            })
        })
        .filter(|(_, b)| metadata_matches(b, &params))
        .map(|(seq, b)| {
            let mut out = public(&b);
            out["_seq"] = json!(seq);
            out
        })
        .collect();
    sort_docs(&mut docs, &sorting, |name| match name {
        "created_at" | "user_order" => "_seq",
        other => other,
    });
    let docs: Vec<Value> = docs.iter().map(public).collect();
    Ok(Json(page.slice(docs)))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::BENEFITS_READ)?.to_owned();
    let id = path_uuid(&id)?;
    let conn = state.db();
    let doc = db::get_doc(&conn, Kind::Benefit, &org, &id)?.ok_or(ApiError::NotFound)?;
    Ok(Json(public(&doc)))
}

/// `PATCH /v1/benefits/{id}`: description, metadata and the `meter_credit` properties. The
/// type cannot change; new units apply to the next grant or renewal, like on the server.
pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let org = auth.require(scopes::BENEFITS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let body = parse_body(&body)?;
    let base = loc!["body"];
    let obj = body_object(&body)?;
    let mut c = Checker::new();
    if let Some(kind) = Checker::optional(obj, "type")
        && kind != "meter_credit"
    {
        return Err(ApiError::validation(Detail::new(
            "value_error",
            loc!["body", "type"],
            "Value error, the type of a benefit cannot be changed",
            kind.clone(),
        )));
    }
    let base = at(&base, METER_CREDIT_UPDATE);
    if let Some(kind) = Checker::optional(obj, "type") {
        c.literal(kind, at(&base, "type"), &["meter_credit"]);
    } else {
        c.push(Detail::new(
            "missing",
            at(&base, "type"),
            "Field required",
            body.clone(),
        ));
    }
    let description = Checker::optional(obj, "description")
        .and_then(|v| c.string(v, at(&base, "description"), 3, Some(42)));
    let properties = Checker::optional(obj, "properties")
        .and_then(|v| meter_credit_properties(&mut c, v, &at(&base, "properties")));
    let metadata = c.metadata(obj, &base);
    if !c.is_ok() {
        return Err(ApiError::Validation(other_update_members_errors(
            obj.get("type"),
            &body,
            c.errors,
        )));
    }
    let conn = state.db();
    let mut doc = db::get_doc(&conn, Kind::Benefit, &org, &id)?.ok_or(ApiError::NotFound)?;
    if let Some(description) = description {
        doc["description"] = json!(description);
    }
    if let Some((meter_id, units, rollover)) = properties {
        require_meter(&conn, &org, &meter_id)?;
        doc["properties"] = json!({"units": units, "rollover": rollover, "meter_id": meter_id});
    }
    if let Some(metadata) = metadata {
        doc["metadata"] = json!(metadata);
    }
    doc["modified_at"] = json!(iso(state.now()));
    db::update_doc(&conn, &doc, None)?;
    let jobs = webhooks::emit(
        &conn,
        &state,
        &org,
        webhook_types::BENEFIT_UPDATED,
        public(&doc),
    )?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok(Json(public(&doc)))
}

/// The meter-credit member of the server's `BenefitUpdate` union.
const METER_CREDIT_UPDATE: &str = "BenefitMeterCreditUpdate";

/// The other members of `BenefitUpdate` (a plain union, not discriminated), with the `type`
/// each accepts, in the server's order; the meter-credit member comes last.
const OTHER_UPDATE_MEMBERS: &[(&str, &str)] = &[
    ("BenefitCustomUpdate", "custom"),
    ("BenefitDiscordUpdate", "discord"),
    ("BenefitGitHubRepositoryUpdate", "github_repository"),
    ("BenefitDownloadablesUpdate", "downloadables"),
    ("BenefitLicenseKeysUpdate", "license_keys"),
];

/// A failed `BenefitUpdate` lists every union member's errors, as pydantic does: for the
/// other members their `type` error (missing, or not their literal), then the meter-credit
/// member's own errors. (Their other fields are not re-validated here: for an emulated
/// meter-credit benefit, `detail` starts with the same entries as on the server.)
fn other_update_members_errors(
    kind: Option<&Value>,
    body: &Value,
    meter_credit_errors: Vec<Detail>,
) -> Vec<Detail> {
    let mut details = Vec::new();
    for (member, literal) in OTHER_UPDATE_MEMBERS {
        let loc = loc!["body", *member, "type"];
        details.push(match kind {
            None => Detail::new("missing", loc, "Field required", body.clone()),
            Some(value) => {
                let expected = format!("'{literal}'");
                Detail::new(
                    "literal_error",
                    loc,
                    format!("Input should be {expected}"),
                    value.clone(),
                )
                .with_ctx(json!({ "expected": expected }))
            }
        });
    }
    details.extend(meter_credit_errors);
    details
}

/// `DELETE /v1/benefits/{id}` → 204. The benefit is detached from every product first, which
/// revokes its grants (credits taken back as on the server), then it is gone: GET gives 404
/// and its meter can be archived once no price uses it.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let org = auth.require(scopes::BENEFITS_WRITE)?.to_owned();
    let id = path_uuid(&id)?;
    let mut conn = state.db();
    db::get_doc(&conn, Kind::Benefit, &org, &id)?.ok_or(ApiError::NotFound)?;
    let tx = conn.transaction()?;
    let mut jobs = Vec::new();
    for mut product in db::list_docs(&tx, Kind::Product, &org)? {
        let previous: Vec<String> = product["_benefit_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !previous.contains(&id) {
            continue;
        }
        let remaining: Vec<&String> = previous.iter().filter(|b| **b != id).collect();
        product["_benefit_ids"] = json!(remaining);
        product["modified_at"] = json!(iso(state.now()));
        db::update_doc(&tx, &product, None)?;
        jobs.extend(crate::billing::sync_product_benefits(
            &tx, &state, &org, &product, &previous,
        )?);
    }
    db::delete_doc(&tx, &id)?;
    tx.commit()?;
    drop(conn);
    webhooks::spawn(&state, jobs);
    Ok(StatusCode::NO_CONTENT)
}
