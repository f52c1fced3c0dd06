//! `spaire-billing detect`: human and JSON output pinned per fixture project, exit codes,
//! and the pre-flight warnings. Fixtures are copied to a temporary directory first so the
//! repository's own git state and path never show up in the output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{billing, fixtures, in_ci, transcript};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of `tests/fixtures/detect/<name>`; the path is canonical so it matches
/// the `root` the binary prints.
fn project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&fixtures().join("detect").join(name), &dir);
    let dir = dir.canonicalize().unwrap();
    (tmp, dir)
}

fn detect(dir: &Path, extra: &[&str]) -> std::process::Output {
    billing()
        .env_remove("NODE_ENV")
        .arg("detect")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

fn run(name: &str, extra: &[&str]) -> String {
    let (_tmp, dir) = project(name);
    let output = detect(&dir, extra);
    let root = dir.display().to_string();
    transcript(&output, &[(root.as_str(), "[ROOT]")])
}

const FIXTURES: &[&str] = &[
    "astro",
    "devdeps-only",
    "django",
    "django-manage-in-package",
    "django-no-manifest",
    "elysia",
    "express",
    "fastapi",
    "fastapi-pydantic-ai",
    "fastify",
    "flask",
    "go-echo",
    "go-gin",
    "go-nethttp",
    "hono",
    "laravel",
    "malformed",
    "nextjs-app",
    "nextjs-pages",
    "node-serverless",
    "nuxt-context-client",
    "nuxt4",
    "pnpm-turbo-monorepo",
    "poetry-legacy",
    "rails",
    "react-router",
    "remix",
    "sveltekit",
    "uv-workspace",
];

#[test]
fn every_fixture_is_listed_here() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join("detect"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "no-framework")
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, FIXTURES);
}

#[test]
fn human_output_per_fixture() {
    for name in FIXTURES {
        let out = run(name, &[]);
        assert!(out.starts_with("exit: 0"), "{name}:\n{out}");
        insta::assert_snapshot!(format!("human_{name}"), out);
    }
}

#[test]
fn json_output_nextjs_app() {
    insta::assert_snapshot!(run("nextjs-app", &["--json"]));
}

#[test]
fn json_output_monorepo() {
    insta::assert_snapshot!(run("pnpm-turbo-monorepo", &["--json"]));
}

#[test]
fn json_output_malformed() {
    insta::assert_snapshot!(run("malformed", &["--json"]));
}

#[test]
fn json_output_fastapi_pydantic_ai() {
    insta::assert_snapshot!(run("fastapi-pydantic-ai", &["--json"]));
}

#[test]
fn json_is_valid_and_versioned_for_every_fixture() {
    for name in FIXTURES {
        let (_tmp, dir) = project(name);
        let output = detect(&dir, &["--json"]);
        assert!(output.status.success(), "{name}");
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["root"], dir.display().to_string());
        for pkg in v["packages"].as_array().unwrap() {
            for key in [
                "path",
                "language",
                "frameworks",
                "aliases",
                "integrations",
                "call_sites",
            ] {
                assert!(pkg.get(key).is_some(), "{name}: {key} missing");
            }
        }
        // Round-trips into the typed profile other crates consume.
        let typed: billing_detect::ProjectProfile = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            typed.packages.len(),
            v["packages"].as_array().unwrap().len()
        );
    }
}

#[test]
fn no_framework_is_a_clear_failure_with_exit_1() {
    insta::assert_snapshot!(run("no-framework", &[]));
}

#[test]
fn no_framework_with_json_still_prints_the_profile() {
    let out = run("no-framework", &["--json"]);
    assert!(out.starts_with("exit: 1"), "{out}");
    assert!(out.contains("\"packages\": []"), "{out}");
}

#[test]
fn missing_directory_is_an_error_with_a_hint() {
    let output = billing()
        .args(["detect", "/definitely/not/here"])
        .output()
        .unwrap();
    insta::assert_snapshot!(transcript(&output, &[]));
}

#[test]
fn env_values_are_never_printed() {
    let human = run("fastapi", &[]);
    let json = run("fastapi", &["--json"]);
    for out in [&human, &json] {
        assert!(out.contains("SPAIRE_ACCESS_TOKEN"), "{out}");
        assert!(!out.contains("polar_oat_do_not_print_me"), "{out}");
    }
}

#[test]
fn node_env_production_is_a_warning() {
    let (_tmp, dir) = project("express");
    let output = billing()
        .env("NODE_ENV", "production")
        .arg("detect")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning: NODE_ENV=production"), "{stderr}");
}

#[test]
fn uncommitted_changes_are_a_warning() {
    let git_ok = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !git_ok {
        assert!(!in_ci(), "git is required for this test in CI");
        eprintln!("skipping: git is not installed");
        return;
    }
    let (_tmp, dir) = project("express");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    let clean = String::from_utf8_lossy(&detect(&dir, &[]).stderr).to_string();
    assert!(!clean.contains("uncommitted"), "{clean}");
    std::fs::write(dir.join("src/new.js"), "module.exports = 1;\n").unwrap();
    std::fs::write(dir.join("src/index.js"), "// edited\n").unwrap();
    let dirty = String::from_utf8_lossy(&detect(&dir, &[]).stderr).to_string();
    assert!(dirty.contains("warning: 2 uncommitted changes"), "{dirty}");
}

#[test]
fn readme_command_works_on_the_repository_fixture() {
    // The README's run command, on the fixture in place (not a copy).
    let output = billing()
        .env_remove("NODE_ENV")
        .current_dir(crate::common::repo_root())
        .args(["detect", "tests/fixtures/detect/nextjs-app"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", transcript(&output, &[]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Next.js 15 · app router · src/ · TypeScript (ESM) · pnpm · Vercel AI SDK 5 (openai) · 3 LLM call sites"),
        "{stdout}"
    );
}
