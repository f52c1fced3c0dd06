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
        &["setup", "--dry-run", "--json"],
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

/// `plan`, `apply` and `verify` without a plan file: one error, one hint, one exit code,
/// whichever spelling of the directory they were given.
#[test]
fn no_plan_file_is_the_same_error_for_plan_apply_and_verify() {
    let dir = crate::common::copy_fixture("detect", "express");
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let mut outputs = Vec::new();
    for command in ["plan", "apply", "verify"] {
        let output = billing()
            .arg(command)
            .arg(dir.path().join("src").join(".."))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{command}");
        outputs.push(transcript(
            &output,
            &[
                (&root.display().to_string(), "[PROJECT]"),
                (&dir.path().display().to_string(), "[PROJECT]"),
            ],
        ));
    }
    assert_eq!(outputs[0], outputs[1], "plan and apply differ");
    assert_eq!(outputs[0], outputs[2], "plan and verify differ");
    insta::assert_snapshot!(outputs[0]);
}

/// Every bad flag value is a usage error (exit 2), including values only the plan's rules
/// or the server's limits refuse.
#[test]
fn every_bad_flag_value_exits_2() {
    let dir = crate::common::copy_fixture("detect", "express");
    let runs: &[&[&str]] = &[
        &["setup", "--cap", "abc"],
        &["setup", "--cap", "-5"],
        &["setup", "--credits", "3000000000"],
        &["setup", "--custom-meter", "é:x:count"],
        &["setup", "--unit-price", "x"],
        &["setup", "--environment", "moon"],
        &["setup", "--llm-markup", "x"],
        &["setup", "--webhook-url", "ftp://x"],
        &["setup", "--customer", "header:1,5"],
        &["setup", "--package", "nope", "--meter", "api-calls"],
        &["verify", "--timeout", "x"],
        &["emulator", "--fail-rate", "3"],
    ];
    for args in runs {
        let output = billing()
            .args(*args)
            .arg(if args[0] == "emulator" {
                "--port=0"
            } else {
                "."
            })
            .current_dir(dir.path())
            // An emulator that accepted its bad value would serve forever.
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            transcript(&output, &[])
        );
    }
}
