//! The binary's exact error output (`error:` / `Caused by:` / `hint:`, exit code), one
//! snapshot per cause: each typed generation error that a project can trigger, a bad plan
//! file, bad flag values, and a missing plan file for every command that needs one.
//! Everything goes through the real renderer (`diagnostics::report`), nothing is re-rendered.

use std::path::Path;

use crate::common::{billing, copy_fixture, transcript};

const API_CALLS_PLAN: &str = "environment = \"sandbox\"\n\n[customer]\nfrom = \"header\"\nheader = \"x-customer-id\"\n\n[[meters]]\npreset = \"api-calls\"\n";

/// `spaire-billing <args> <project>` on a copy of a fixture with `plan` as its plan file.
fn run_on(
    group: &str,
    fixture: &str,
    plan: &str,
    edit: impl FnOnce(&Path),
    args: &[&str],
) -> String {
    let dir = copy_fixture(group, fixture);
    std::fs::write(dir.path().join("spaire-billing.toml"), plan).unwrap();
    edit(dir.path());
    let output = billing().args(args).arg(dir.path()).output().unwrap();
    let root = dir.path().canonicalize().unwrap();
    transcript(
        &output,
        &[
            (root.to_str().unwrap(), "[ROOT]"),
            (dir.path().to_str().unwrap(), "[ROOT]"),
        ],
    )
}

#[test]
fn generation_go_mod_without_a_module_line() {
    let out = run_on(
        "codegen",
        "go/nethttp",
        API_CALLS_PLAN,
        |root| std::fs::write(root.join("go.mod"), "go 1.19\n").unwrap(),
        &["plan"],
    );
    insta::assert_snapshot!(out);
}

#[test]
fn plan_unknown_webhook_event() {
    // Every documented type (`member.created` included) generates in every language, so an
    // unknown type is stopped by the plan check, located, with a hint about the event.
    let plan = format!("{API_CALLS_PLAN}\n[webhooks]\nevents = [\"order.shipped\"]\n");
    let out = run_on("codegen", "go/nethttp", &plan, |_| {}, &["plan"]);
    insta::assert_snapshot!(out);
}

#[test]
fn generation_framework_of_another_language() {
    let plan = API_CALLS_PLAN.replace(
        "[customer]",
        "[project]\npath = \".\"\nframework = \"flask\"\n\n[customer]",
    );
    let out = run_on("plan", "express-app", &plan, |_| {}, &["plan"]);
    insta::assert_snapshot!(out);
}

#[test]
fn generation_unreadable_project_file() {
    // `.env.example` is patched by generation; a directory in its place cannot be read.
    let out = run_on(
        "plan",
        "express-app",
        API_CALLS_PLAN,
        |root| std::fs::create_dir(root.join(".env.example")).unwrap(),
        &["plan"],
    );
    insta::assert_snapshot!(out);
}

#[test]
fn bad_plan_file_value() {
    let plan = API_CALLS_PLAN.replace("\"sandbox\"", "\"staging\"");
    let out = run_on("plan", "express-app", &plan, |_| {}, &["plan"]);
    insta::assert_snapshot!(out);
}

/// Every bad flag value is exit 2, judged by the plan file's rules before anything runs.
#[test]
fn bad_flag_values_exit_2() {
    let cases: &[&[&str]] = &[
        &["setup", "--cap", "abc"],
        &["setup", "--cap", "99999999999"],
        &["setup", "--credits", "3000000000"],
        &["setup", "--unit-price", "0"],
        &["setup", "--custom-meter", "zählung:zählung:count"],
        &["setup", "--customer", "header:1,5"],
        &["setup", "--meter", "tokens"],
        &["setup", "--environment", "staging"],
        &["setup", "--webhook-url", "http://example.com/hook"],
        &["plan", "--environment", "staging"],
        &["apply", "--server-url", "ftp://example.com"],
    ];
    let mut out = String::new();
    for args in cases {
        let output = billing().args(*args).arg("/nonexistent").output().unwrap();
        out.push_str(&format!("$ spaire-billing {}\n", args.join(" ")));
        out.push_str(&transcript(&output, &[]));
        out.push('\n');
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    insta::assert_snapshot!(out);
}

/// `plan`, `apply` and `verify` say the same thing, with the same exit code, when there is
/// no plan file.
#[test]
fn a_missing_plan_file_is_the_same_error_for_every_command() {
    let dir = copy_fixture("plan", "express-app");
    std::fs::remove_file(dir.path().join("spaire-billing.toml")).unwrap();
    let root = dir.path().canonicalize().unwrap();
    let mut outputs = Vec::new();
    for command in [&["plan"][..], &["apply", "--yes"], &["verify"]] {
        let output = billing().args(command).arg(&root).output().unwrap();
        outputs.push(transcript(&output, &[(root.to_str().unwrap(), "[ROOT]")]));
    }
    assert_eq!(outputs[0], outputs[1], "plan and apply differ");
    assert_eq!(outputs[0], outputs[2], "plan and verify differ");
    insta::assert_snapshot!(outputs[0]);
}
