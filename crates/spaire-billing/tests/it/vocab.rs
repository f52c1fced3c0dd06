//! The shared vocabulary through the real CLI: every documented webhook event type plans,
//! a bad one gets a hint about the event, a mistyped framework is one located error with a
//! did-you-mean in every language, and Go / PHP / Ruby plans install no SDK.

use crate::common::{billing, copy_fixture, transcript};

const API_CALLS: &str = "environment = \"sandbox\"\n\n[[meters]]\npreset = \"api-calls\"\n";

fn with_plan(group: &str, name: &str, plan: &str) -> tempfile::TempDir {
    let dir = copy_fixture(group, name);
    std::fs::write(dir.path().join("spaire-billing.toml"), plan).unwrap();
    dir
}

fn events_toml(events: &[&str]) -> String {
    let list: Vec<String> = events.iter().map(|e| format!("\"{e}\"")).collect();
    format!("{API_CALLS}\n[webhooks]\nevents = [{}]\n", list.join(", "))
}

fn plan(dir: &std::path::Path) -> std::process::Output {
    billing().arg("plan").arg(dir).output().unwrap()
}

/// Fixtures per language: (fixture group, fixture name).
const PROJECTS: &[(&str, &str)] = &[
    ("plan", "express-app"),
    ("plan", "fastapi-app"),
    ("codegen/go", "nethttp"),
    ("codegen/php", "laravel11"),
    ("codegen/ruby", "rails"),
];

#[test]
fn member_created_and_every_documented_event_type_plan_in_every_language() {
    let all = billing_vocab::WEBHOOK_EVENT_NAMES;
    for (group, name) in PROJECTS {
        for events in [&["member.created"][..], all] {
            let dir = with_plan(group, name, &events_toml(events));
            let output = plan(dir.path());
            let text = transcript(&output, &[]);
            assert_eq!(output.status.code(), Some(0), "{name} {events:?}: {text}");
        }
    }
    // Python has no SDK model for `member.created`: its handler gets the raw `data`.
    let dir = with_plan("plan", "fastapi-app", &events_toml(&["member.created"]));
    let stdout = String::from_utf8_lossy(&plan(dir.path()).stdout).into_owned();
    assert!(
        stdout.contains("+def on_member_created(data: dict[str, Any]) -> None:"),
        "{stdout}"
    );
}

#[test]
fn an_unknown_event_type_gets_a_hint_about_the_event() {
    let dir = with_plan("plan", "express-app", &events_toml(&["member.joined"]));
    let output = plan(dir.path());
    let text = transcript(&output, &[]);
    assert_ne!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("spaire-billing.toml:7:11"), "{text}");
    assert!(
        text.contains("unknown webhook event type \"member.joined\""),
        "{text}"
    );
    assert!(
        text.contains("Spaire sends these `member` events: \"member.created\", \"member.updated\", \"member.deleted\""),
        "{text}"
    );
    assert!(!text.contains("framework"), "{text}");
}

#[test]
fn a_mistyped_framework_is_one_located_error_in_every_language() {
    for ((group, name), (typo, close)) in PROJECTS.iter().zip([
        ("nxtjs", "nextjs"),
        ("flsk", "flask"),
        ("gni", "gin"),
        ("larvel", "laravel"),
        ("rals", "rails"),
    ]) {
        let toml = format!("[project]\nframework = \"{typo}\"\n\n{API_CALLS}");
        let dir = with_plan(group, name, &toml);
        let output = plan(dir.path());
        let text = transcript(&output, &[]);
        assert_ne!(output.status.code(), Some(0), "{name}: {text}");
        let located =
            format!("spaire-billing.toml:2:13: project.framework: unknown framework \"{typo}\"");
        assert_eq!(
            text.matches("project.framework").count(),
            1,
            "{name}: {text}"
        );
        assert!(text.contains(&located), "{name}: {text}");
        assert!(
            text.contains(&format!("did you mean `framework = \"{close}\"`?")),
            "{name}: {text}"
        );
    }
}

#[test]
fn go_php_and_ruby_plans_install_no_sdk_and_status_misses_none() {
    for (group, name) in &PROJECTS[2..] {
        let dir = with_plan(group, name, &events_toml(&["order.paid"]));
        let output = plan(dir.path());
        let text = transcript(&output, &[]);
        assert_eq!(output.status.code(), Some(0), "{name}: {text}");
        assert!(!text.contains("Package installs:"), "{name}: {text}");
        let status = billing().arg("status").arg(dir.path()).output().unwrap();
        let text = transcript(&status, &[]);
        assert!(!text.contains("SDK:"), "{name}: {text}");
    }
    // TypeScript code imports the SDK, so a project without it is told to install it.
    let dir = with_plan("codegen/ts", "hono", &events_toml(&["order.paid"]));
    let status = billing().arg("status").arg(dir.path()).output().unwrap();
    let text = transcript(&status, &[]);
    assert!(text.contains("SDK:     missing: @spaire/sdk"), "{text}");
}
