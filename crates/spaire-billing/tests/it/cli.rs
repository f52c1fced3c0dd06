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
