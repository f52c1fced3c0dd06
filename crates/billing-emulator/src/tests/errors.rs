//! Authentication, scopes, organizations, validation and pagination shapes (§1, §8).

use reqwest::Method;
use serde_json::json;

use super::{Harness, token_spec};
use crate::EmulatorConfig;

async fn two_orgs() -> Harness {
    Harness::with_config(EmulatorConfig {
        tokens: vec![
            token_spec("tok-a@acme"),
            token_spec("tok-b@globex"),
            token_spec("tok-r@acme:meters:read"),
        ],
        ..EmulatorConfig::default()
    })
    .await
}

#[tokio::test]
async fn both_401_formats_and_403_insufficient_scope() {
    let h = two_orgs().await;
    let none = h.request_as(None, Method::GET, "/v1/meters/", None).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.body,
        json!({"error": "Unauthorized", "detail": "Unauthorized"})
    );
    assert_eq!(none.headers["www-authenticate"], "Bearer realm=\"spaire\"");
    let unknown = h
        .request_as(Some("spaire_oat_nope"), Method::GET, "/v1/meters/", None)
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body["error"], "invalid_token");
    assert_eq!(unknown.headers["cache-control"], "no-store");
    let session = h
        .request_as(
            Some("spaire_cst_customer-session"),
            Method::GET,
            "/v1/meters/",
            None,
        )
        .await;
    assert_eq!(session.body["error"], "Unauthorized");
    let read = h
        .request_as(Some("tok-r"), Method::GET, "/v1/meters/", None)
        .await;
    assert_eq!(read.status, 200);
    let write = h
        .request_as(
            Some("tok-r"),
            Method::POST,
            "/v1/events/ingest",
            Some(json!({"events": []})),
        )
        .await;
    assert_eq!(write.status, 403);
    assert_eq!(write.body["error"], "insufficient_scope");
    let challenge = write.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("scope=\"events:write web:write\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn other_organizations_objects_are_not_found() {
    let h = two_orgs().await;
    let meter = h
        .request_as(Some("tok-a"), Method::POST, "/v1/meters/", Some(json!({"name": "Acme", "filter": {"conjunction": "and", "clauses": []}, "aggregation": {"func": "count"}})))
        .await;
    let id = meter.body["id"].as_str().unwrap();
    let same_org = h
        .request_as(
            Some("tok-r"),
            Method::GET,
            &format!("/v1/meters/{id}"),
            None,
        )
        .await;
    assert_eq!(
        same_org.status, 200,
        "tokens of one organization share data"
    );
    let other = h
        .request_as(
            Some("tok-b"),
            Method::GET,
            &format!("/v1/meters/{id}"),
            None,
        )
        .await;
    assert_eq!(other.status, 404);
    assert_eq!(
        other.body,
        json!({"error": "ResourceNotFound", "detail": "Not found"})
    );
    let listed = h
        .request_as(Some("tok-b"), Method::GET, "/v1/meters/", None)
        .await;
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn organization_id_is_disallowed_with_an_organization_token() {
    let h = Harness::start().await;
    let org = h.emulator.organization_id("default").unwrap().to_owned();
    let reply = h
        .request(Method::POST, "/v1/meters/", Some(json!({"name": "X meter", "organization_id": org, "filter": {"conjunction": "and", "clauses": []}, "aggregation": {"func": "count"}})))
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["detail"][0]["type"], "organization_token");
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "organization_id"])
    );
    let reply = h.request(Method::POST, "/v1/events/ingest", Some(json!({"events": [{"name": "e", "external_customer_id": "u", "organization_id": org}]}))).await;
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "events", 0, "organization_id"])
    );
}

#[tokio::test]
async fn validation_errors_list_every_field() {
    let h = Harness::start().await;
    let reply = h
        .request(
            Method::POST,
            "/v1/meters/",
            Some(json!({"name": "ab", "filter": {"conjunction": "xor", "clauses": []}})),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"], "RequestValidationError");
    let locs: Vec<String> = reply.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["loc"].to_string())
        .collect();
    assert_eq!(
        locs,
        [
            r#"["body","name"]"#,
            r#"["body","filter","conjunction"]"#,
            r#"["body","aggregation"]"#
        ]
    );
    let bad_json = h
        .client
        .post(format!("{}/v1/meters/", h.emulator.base_url()))
        .bearer_auth(h.emulator.token())
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 422);
    let body: serde_json::Value = bad_json.json().await.unwrap();
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    let customer = h
        .request(
            Method::POST,
            "/v1/customers/",
            Some(json!({"email": "x@acme.io", "external_id": "dup"})),
        )
        .await;
    assert_eq!(customer.status, 201);
    let duplicate = h
        .request(
            Method::POST,
            "/v1/customers/",
            Some(json!({"email": "X@ACME.io", "external_id": "dup"})),
        )
        .await;
    assert_eq!(duplicate.body["error"], "SpaireRequestValidationError");
    assert_eq!(duplicate.body["detail"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn trailing_slashes_redirect_and_unknown_routes_are_starlette_404s() {
    let h = Harness::start().await;
    let reply = h
        .request_as(None, Method::GET, "/v1/customers?limit=2", None)
        .await;
    assert_eq!(reply.status, 307);
    assert!(
        reply.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/v1/customers/?limit=2")
    );
    let reply = h
        .request_as(None, Method::POST, "/v1/events/ingest/", None)
        .await;
    assert_eq!(reply.status, 307);
    let reply = h.request(Method::GET, "/v1/nothing", None).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, json!({"detail": "Not Found"}));
    let reply = h.request(Method::DELETE, "/v1/meters/", None).await;
    assert_eq!(reply.status, 405);
    let reply = h.request(Method::GET, "/api/v1/meters/", None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.contains_key("x-polar-deprecation-notice"));
}

#[tokio::test]
async fn pagination_clamps_the_limit_and_reports_pages() {
    let h = Harness::start().await;
    for i in 0..3 {
        h.customer(&format!("p{i}@acme.io"), None).await;
    }
    let page = h.get("/v1/customers/?limit=2&page=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["pagination"], json!({"total_count": 3, "max_page": 2}));
    let past = h.get("/v1/customers/?limit=2&page=5").await;
    assert_eq!(past["pagination"], json!({"total_count": 0, "max_page": 0}));
    let clamped = h.get("/v1/customers/?limit=1000").await;
    assert_eq!(clamped["pagination"]["max_page"], 1);
    let zero = h.request(Method::GET, "/v1/customers/?limit=0", None).await;
    assert_eq!(zero.status, 422);
    let bad_sort = h
        .request(Method::GET, "/v1/customers/?sorting=height", None)
        .await;
    assert_eq!(
        bad_sort.body["detail"][0]["loc"],
        json!(["query", "sorting", 0])
    );
}

#[tokio::test]
async fn meters_lock_once_events_match_and_archive_rules() {
    let h = Harness::start().await;
    let meter = h.meter(json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "lock"}]}), json!({"func": "count"})).await;
    let other_filter = json!({"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": "other"}]});
    let reply = h
        .patch(
            &format!("/v1/meters/{meter}"),
            json!({"filter": other_filter}),
        )
        .await;
    assert_eq!(reply.status, 200, "no events yet: still editable");
    h.ingest(json!([{"name": "other", "external_customer_id": "u"}]))
        .await;
    let reply = h
        .patch(
            &format!("/v1/meters/{meter}"),
            json!({"aggregation": {"func": "sum", "property": "x"}}),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["detail"][0]["type"], "forbidden");
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "aggregation"])
    );
    h.post("/v1/benefits/", json!({"type": "meter_credit", "description": "Credits", "properties": {"meter_id": meter, "units": 1, "rollover": false}})).await;
    let reply = h
        .patch(&format!("/v1/meters/{meter}"), json!({"is_archived": true}))
        .await;
    assert_eq!(reply.status, 422, "used by a benefit");
    let free = h
        .meter(
            json!({"conjunction": "and", "clauses": []}),
            json!({"func": "count"}),
        )
        .await;
    let reply = h
        .patch(&format!("/v1/meters/{free}"), json!({"is_archived": true}))
        .await;
    assert!(reply.body["archived_at"].is_string());
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_a_422_at_body() {
    let h = Harness::start().await;
    for path in [
        "/v1/meters/",
        "/v1/products/",
        "/v1/benefits/",
        "/v1/customers/",
    ] {
        let reply = h.request(Method::POST, path, Some(json!([1, 2]))).await;
        assert_eq!(reply.status, 422, "{path}: {}", reply.body);
        assert_eq!(reply.body["error"], "RequestValidationError", "{path}");
        assert_eq!(
            reply.body["detail"][0]["type"], "model_attributes_type",
            "{path}"
        );
        assert_eq!(reply.body["detail"][0]["loc"], json!(["body"]), "{path}");
    }
}
