//! One snapshot per generated file, for every framework fixture × three representative
//! plans, so any template change shows up in review as a diff of the files users get.
//! Generation only (no toolchains): cheap enough to run on every test run.
//!
//! The summaries in `codegen_ts` / `codegen_py` / `codegen_other` list what is generated;
//! these pin the contents.

use std::path::Path;

use billing_changeset::ChangeSet;
use billing_detect::{FrameworkId, Language, ProjectProfile};
use billing_plan::{BillingPlan, CustomerSource};

use crate::codegen::{self, Pricing};

/// (label, plan): LLM tokens priced per unit; API calls with credits; storage and compute
/// with credits, overage and webhooks.
fn plans(customer: &CustomerSource) -> Vec<(&'static str, BillingPlan)> {
    let mut out = vec![
        (
            "llm-unit",
            codegen::plan(&["llm-tokens"], Pricing::Unit, false, None),
        ),
        (
            "api-credits",
            codegen::plan(&["api-calls"], Pricing::Credits, false, None),
        ),
        (
            "storage-compute-webhooks",
            codegen::plan(&["storage", "compute-time"], Pricing::Both, true, None),
        ),
    ];
    for (_, plan) in &mut out {
        plan.customer = customer.clone();
    }
    out
}

fn snapshot_files(case: &str, changes: &ChangeSet) {
    assert!(!changes.files.is_empty(), "{case}: nothing generated");
    for file in &changes.files {
        let name = format!("{case}__{}", file.path.replace(['/', '\\'], "__"));
        insta::with_settings!({
            snapshot_path => "snapshots/files",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("{case}: {} ({:?} {:?})", file.path, file.action, file.origin),
        }, {
            insta::assert_snapshot!(name, file.after);
        });
    }
}

fn generate(
    fixture_dir: &Path,
    profile: impl Fn(&Path) -> ProjectProfile,
    plan: &BillingPlan,
) -> ChangeSet {
    generate_with(fixture_dir, profile, plan, false)
}

fn generate_with(
    fixture_dir: &Path,
    profile: impl Fn(&Path) -> ProjectProfile,
    plan: &BillingPlan,
    without_sdk: bool,
) -> ChangeSet {
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(fixture_dir, dir.path());
    let profile = profile(dir.path());
    let target = billing_generate::Target {
        root: dir.path(),
        profile: &profile,
        package: &profile.packages[0],
        plan,
        without_sdk,
    };
    billing_generate::generate(&target).unwrap_or_else(|e| panic!("generate: {e}"))
}

#[test]
fn typescript_generated_files() {
    for fixture in crate::codegen_ts::fixtures() {
        for (label, plan) in plans(&fixture.customer) {
            let changes = generate(
                &codegen::codegen_fixture("ts", fixture.name),
                |root| crate::codegen_ts::profile_for(root, &fixture),
                &plan,
            );
            snapshot_files(&format!("ts-{}-{label}", fixture.name), &changes);
        }
    }
}

#[test]
fn python_generated_files() {
    let header = CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    };
    for fixture in crate::codegen_py::FIXTURES {
        for (label, plan) in plans(&header) {
            let changes = generate(
                &codegen::codegen_fixture("py", fixture),
                |root| crate::codegen_py::fixture_profile(fixture, root),
                &plan,
            );
            snapshot_files(&format!("py-{fixture}-{label}"), &changes);
        }
    }
    // Where the project's pins block spaire-sdk: the modules that differ (client, balances
    // over the standard library, webhooks verified by `standardwebhooks`).
    let (_, plan) = plans(&header).pop().unwrap();
    let mut changes = generate_with(
        &codegen::codegen_fixture("py", "flask"),
        |root| crate::codegen_py::fixture_profile("flask", root),
        &plan,
        true,
    );
    changes.files.retain(|f| {
        ["client.py", "balance.py", "webhooks.py"]
            .iter()
            .any(|name| f.path.ends_with(name))
    });
    assert_eq!(changes.files.len(), 3);
    snapshot_files("py-flask-storage-compute-webhooks-without-sdk", &changes);
}

#[test]
fn go_php_ruby_generated_files() {
    let header = CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    };
    let cases: Vec<(&str, &str, Language, FrameworkId)> = crate::codegen_other::GO_FIXTURES
        .iter()
        .map(|(name, id)| ("go", *name, Language::Go, *id))
        .chain([
            ("php", "laravel11", Language::Php, FrameworkId::Laravel),
            ("php", "laravel10", Language::Php, FrameworkId::Laravel),
            ("ruby", "rails", Language::Ruby, FrameworkId::Rails),
        ])
        .collect();
    for (language_dir, fixture, language, id) in cases {
        for (label, plan) in plans(&header) {
            let changes = generate(
                &codegen::codegen_fixture(language_dir, fixture),
                |root| crate::codegen_other::profile(root, language, id),
                &plan,
            );
            snapshot_files(&format!("{language_dir}-{fixture}-{label}"), &changes);
        }
    }
}
