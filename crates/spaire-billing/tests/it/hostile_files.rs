//! `detect` and `plan` on hostile projects (issue #17): a manifest that is a symlink to
//! `/dev/zero`, a FIFO in place of a manifest, a 50k-line `requirements.txt`, and a
//! malformed `package.json`. Functional assertions only; the time bound is measured by
//! `benches/detect-hostile/run.sh`, not asserted here (CI machines vary).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::billing;

/// The project of the issue: FastAPI with a 50k-line requirements.txt, plus a
/// `pyproject.toml` symlinked to `/dev/zero` and a FIFO named `Pipfile`.
pub fn hostile_project(dir: &Path) {
    let mut requirements = String::from("fastapi==0.115.0\n");
    for i in 0..50_000 {
        // Short lines keep the file under detect's 1 MiB per-file bound, so it is parsed.
        requirements.push_str(&format!("p{i}>=1 # x\n"));
    }
    std::fs::write(dir.join("requirements.txt"), requirements).unwrap();
    std::fs::write(
        dir.join("main.py"),
        "from fastapi import FastAPI\n\napp = FastAPI()\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("pyproject.toml")).unwrap();
    let fifo = dir.join("Pipfile");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo failed");
}

#[test]
fn detect_skips_devices_and_fifos_and_reads_a_huge_requirements_file() {
    let tmp = tempfile::tempdir().unwrap();
    hostile_project(tmp.path());
    // A hang on the FIFO or an endless read of /dev/zero must fail the test, not stall CI.
    let output = billing()
        .arg("detect")
        .arg(tmp.path())
        .arg("--json")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("detect finishes within 60 s");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let profile: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let package = &profile["packages"][0];
    assert_eq!(package["language"], "python", "{profile}");
    let frameworks: Vec<&str> = package["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(frameworks.contains(&"fastapi"), "{frameworks:?}");
    let notes = profile["notes"].to_string();
    assert!(
        !notes.contains("requirements.txt"),
        "the big file was skipped: {notes}"
    );
    for file in ["pyproject.toml", "Pipfile"] {
        assert!(
            notes.contains(&format!("`{file}`: skipped: not a regular file")),
            "{file} not reported as skipped: {notes}"
        );
    }
}

#[test]
fn plan_names_the_malformed_manifest_like_detect() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("package.json"),
        "{\n  \"name\": \"shop\",\n  \"dependencies\": {\n    \"express\": \"^4.19.2\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("spaire-billing.toml"),
        "[customer]\nfrom = \"header\"\nheader = \"x-user\"\n\n[[meters]]\npreset = \"api-calls\"\n",
    )
    .unwrap();

    let detect = billing().arg("detect").arg(dir).output().unwrap();
    let detect_err = String::from_utf8_lossy(&detect.stderr);
    let diagnostic = detect_err
        .lines()
        .find(|l| l.contains("`package.json:"))
        .unwrap_or_else(|| panic!("detect names no package.json position: {detect_err}"))
        .trim_start_matches("warning: ")
        .to_owned();

    let plan = billing()
        .arg("plan")
        .arg(dir)
        .env("SPAIRE_ACCESS_TOKEN", "")
        .output()
        .unwrap();
    let plan_err = String::from_utf8_lossy(&plan.stderr);
    assert!(!plan.status.success(), "{plan_err}");
    assert!(
        plan_err.contains(&diagnostic),
        "plan must repeat detect's diagnostic {diagnostic:?}:\n{plan_err}"
    );
    assert!(!plan_err.contains("no package.json"), "{plan_err}");
}
