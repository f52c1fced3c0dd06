//! `/_emulator/*` authorization: endpoints acting on every organization need the admin
//! token; an organization's token cannot wipe the others (issue 17, item 7).

use reqwest::Method;
use serde_json::json;

use super::{Harness, token_spec};
use crate::EmulatorConfig;

fn two_organizations() -> EmulatorConfig {
    EmulatorConfig {
        tokens: vec![
            token_spec("acme-token@acme"),
            token_spec("globex-token@globex"),
        ],
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn an_organization_token_cannot_reset_or_move_the_clock() {
    let h = Harness::with_config(two_organizations()).await;
    let created = h
        .request_as(
            Some("globex-token"),
            Method::POST,
            "/v1/customers/",
            Some(json!({"email": "a@globex.dev"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    for (path, body) in [
        ("/_emulator/reset", None),
        ("/_emulator/clock/advance", Some(json!({"days": 1}))),
    ] {
        let refused = h
            .request_as(Some("acme-token"), Method::POST, path, body)
            .await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        assert_eq!(refused.body["error"], "EmulatorAdminRequired");
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap()
                .contains("SPAIRE_EMULATOR_ADMIN_TOKEN"),
            "{}",
            refused.body
        );
        let anonymous = h.request_as(None, Method::POST, path, None).await;
        assert_eq!(anonymous.status, 401);
        let wrong = h
            .request_as(Some("not-a-token"), Method::POST, path, None)
            .await;
        assert_eq!(wrong.status, 401);
    }
    // Globex's customer survived acme's attempt, and the clock did not move.
    let listed = h
        .request_as(Some("globex-token"), Method::GET, "/v1/customers/", None)
        .await;
    assert_eq!(listed.body["pagination"]["total_count"], 1);
    let clock = h
        .request_as(Some("acme-token"), Method::GET, "/_emulator/clock", None)
        .await;
    assert_eq!(clock.status, 200);
    assert_eq!(clock.body["offset_seconds"], 0);

    // The admin token may, and is no organization token on /v1.
    h.admin_post("/_emulator/clock/advance", json!({"seconds": 60}))
        .await;
    let admin = h.emulator.admin_token().to_owned();
    assert!(admin.starts_with(crate::ADMIN_TOKEN_PREFIX));
    let on_v1 = h
        .request_as(Some(&admin), Method::GET, "/v1/customers/", None)
        .await;
    assert_eq!(on_v1.status, 401);
    let reset = h
        .request_as(Some(&admin), Method::POST, "/_emulator/reset", None)
        .await;
    assert_eq!(reset.status, 204);
    let listed = h
        .request_as(Some("globex-token"), Method::GET, "/v1/customers/", None)
        .await;
    assert_eq!(listed.body["pagination"]["total_count"], 0);
}

#[tokio::test]
async fn a_chosen_admin_token_is_used_and_must_differ_from_organization_tokens() {
    let h = Harness::with_config(EmulatorConfig {
        admin_token: Some("ci-admin".to_owned()),
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(h.emulator.admin_token(), "ci-admin");
    let reset = h
        .request_as(Some("ci-admin"), Method::POST, "/_emulator/reset", None)
        .await;
    assert_eq!(reset.status, 204);
    let clash = crate::serve(EmulatorConfig {
        admin_token: Some(crate::DEFAULT_TOKEN.to_owned()),
        ..EmulatorConfig::default()
    })
    .await;
    assert!(
        matches!(&clash, Err(crate::EmulatorError::Config(m)) if m.contains("admin token")),
        "{:?}",
        clash.err()
    );
}
