//! Global CLI behaviour: help, version, exit codes.

use crate::common::{billing, transcript};

#[test]
fn version_prints_the_crate_version() {
    let output = billing().arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("spaire-billing {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_flag_is_a_usage_error_with_exit_2() {
    let output = billing().arg("--no-such-flag").output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        transcript(&output, &[])
    );
}

#[test]
fn help_documents_exit_codes() {
    let output = billing().arg("--help").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Exit status:"));
    assert!(stdout.contains("2  usage error"));
}

/// Every `--json` output starts with `schema_version` (docs/json.md), and `--no-install` /
/// its old name `--skip-installs` are one flag.
#[test]
fn every_json_output_starts_with_a_schema_version() {
    let dir = crate::common::copy_fixture("plan", "express-app");
    let runs: &[&[&str]] = &[
        &["plan", "--json"],
        &["apply", "--dry-run", "--json", "--no-install"],
        &["apply", "--dry-run", "--json", "--skip-installs"],
        &["status", "--json"],
        &["detect", "--json"],
    ];
    for args in runs {
        let output = billing().args(*args).arg(dir.path()).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", transcript(&output, &[])));
        let first = value.as_object().and_then(|o| o.keys().next().cloned());
        assert_eq!(first.as_deref(), Some("schema_version"), "{args:?}");
        assert!(value["schema_version"].as_u64().is_some(), "{args:?}");
    }
}
