//! Generation against the Go fixtures (compilation and runtime are proven in
//! `spaire-billing`'s `codegen_other` tests).

use std::path::{Path, PathBuf};

use billing_changeset::ChangeSet;
use billing_detect::{
    Confidence, Framework, FrameworkDetails, FrameworkId, Language, ProjectProfile,
};
use billing_plan::{BillingPlan, CustomerSource, Environment, ProjectSection, Webhooks};

use crate::Target;

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/codegen/go")
        .join(name)
}

pub(crate) fn profile(root: &Path, language: Language, ids: &[FrameworkId]) -> ProjectProfile {
    let frameworks: Vec<Framework> = ids
        .iter()
        .map(|id| Framework {
            id: *id,
            version: None,
            major: None,
            confidence: Confidence::High,
            evidence: Vec::new(),
            details: FrameworkDetails::default(),
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "schema_version": billing_detect::SCHEMA_VERSION,
        "root": root.display().to_string(),
        "packages": [{
            "path": ".",
            "language": language,
            "frameworks": frameworks,
            "aliases": [], "integrations": [], "call_sites": [], "env_vars": [],
        }],
        "warnings": [],
        "notes": [],
    }))
    .expect("profile JSON matches the contract")
}

pub(crate) fn plan(presets: &[&str]) -> BillingPlan {
    BillingPlan {
        call_site_customer: Default::default(),
        environment: Environment::Sandbox,
        server_url: None,
        project: ProjectSection {
            path: ".".to_owned(),
            framework: None,
        },
        customer: CustomerSource::Header {
            header: "x-customer-id".to_owned(),
        },
        meters: presets
            .iter()
            .flat_map(|p| billing_plan::preset(p).unwrap().meters)
            .collect(),
        prices: Vec::new(),
        credits: Vec::new(),
        webhooks: Some(Webhooks {
            events: vec!["order.paid".to_owned(), "customer.state_changed".to_owned()],
            url: None,
        }),
    }
}

pub(crate) fn dump(name: &str, changes: &ChangeSet) {
    if let Some(dump) = std::env::var_os("SPAIRE_DUMP_GENERATED") {
        let out = Path::new(&dump).join(name);
        for file in &changes.files {
            let path = out.join(&file.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &file.after).unwrap();
        }
    }
}

#[test]
fn go_package_uses_the_module_path_and_plan_keys() {
    let all = ["llm-tokens-split", "api-calls", "storage", "compute-time"];
    for (name, id) in [
        ("nethttp", FrameworkId::GoNethttp),
        ("gin", FrameworkId::Gin),
        ("echo", FrameworkId::Echo),
        ("chi", FrameworkId::Chi),
        ("fiber", FrameworkId::Fiber),
    ] {
        let root = fixture(name);
        let profile = profile(&root, Language::Go, &[id]);
        let plan = plan(&all);
        let target = Target {
            root: &root,
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk: false,
        };
        let changes = super::generate(&target).unwrap();
        dump(name, &changes);
        let usage = &changes
            .files
            .iter()
            .find(|f| f.path == "internal/spairebilling/usage.go")
            .unwrap()
            .after;
        for meter in &plan.meters {
            assert!(usage.contains(&format!("\"{}\"", meter.event)));
            if let Some(p) = &meter.aggregation.property {
                assert!(usage.contains(&format!("\"{p}\"")), "{p}");
            }
        }
        // Registered in main.go (gin, echo) or named in the manual step (the others).
        let registration: String = changes
            .manual_steps
            .iter()
            .filter_map(|s| s.snippet.clone())
            .chain(
                changes
                    .files
                    .iter()
                    .filter(|f| f.path == "main.go")
                    .map(|f| f.after.clone()),
            )
            .collect();
        assert!(
            registration.contains(&format!(
                "spairebilling \"example.com/{name}/internal/spairebilling\""
            )),
            "{name}: {registration}"
        );
    }
}

/// The registration goes on the router the app really serves (`engine := gin.New()` in
/// `server/server.go`, followed from `engine.Run(addr)`, not `server.Run` in main.go nor a
/// guessed `router := gin.Default()`), and, as the app has no shutdown path, main starts with
/// the signal hook that flushes usage on SIGTERM.
#[test]
fn registration_edits_the_served_router_and_adds_a_shutdown_path() {
    let root = fixture("gin-engine");
    let profile = profile(&root, Language::Go, &[FrameworkId::Gin]);
    let plan = plan(&["api-calls"]);
    let target = Target {
        root: &root,
        profile: &profile,
        package: &profile.packages[0],
        plan: &plan,
        without_sdk: false,
    };
    let changes = super::generate(&target).unwrap();
    assert!(
        changes.manual_steps.is_empty(),
        "{:?}",
        changes.manual_steps
    );
    let after = |path: &str| {
        let file = changes.files.iter().find(|f| f.path == path).unwrap();
        assert_eq!(file.origin, billing_changeset::FileOrigin::Wired);
        file.after.clone()
    };
    let server = after("server/server.go");
    assert!(
        server.contains(
            "\tengine := gin.New()\n\tengine.Use(spairebilling.GinAPICallMiddleware())\n\tengine.POST(spairebilling.WebhookPath, spairebilling.GinWebhookHandler())\n\tengine.Use(gin.Recovery())"
        ),
        "{server}"
    );
    assert!(server.contains("\tspairebilling \"example.com/ginengine/internal/spairebilling\"\n)"));
    let main = after("main.go");
    assert!(
        main.contains("func main() {\n\tspairebilling.FlushOnSignal(10 * time.Second)\n"),
        "{main}"
    );
    assert!(
        main.contains(
            "import (\n\t\"time\"\n\n\t\"example.com/ginengine/server\"\n\n\tspairebilling"
        ),
        "{main}"
    );
}

/// `session` customers: on gin and echo the resolver reads the key the app's own auth
/// middleware stores the user under; elsewhere (no such key) it is a listed stub.
#[test]
fn session_customer_reads_the_apps_context_key_or_is_a_listed_stub() {
    for (name, id, key) in [
        ("gin-auth-context", FrameworkId::Gin, Some("my_user_id")),
        ("echo-auth-context", FrameworkId::Echo, Some("user")),
        ("gin", FrameworkId::Gin, None),
        ("nethttp", FrameworkId::GoNethttp, None),
    ] {
        let root = fixture(name);
        let profile = profile(&root, Language::Go, &[id]);
        let mut plan = plan(&["api-calls"]);
        plan.customer = CustomerSource::Session;
        let target = Target {
            root: &root,
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk: false,
        };
        let changes = super::generate(&target).unwrap();
        let customer = &changes
            .files
            .iter()
            .find(|f| f.path == "internal/spairebilling/customer.go")
            .unwrap()
            .after;
        match key {
            Some(key) => {
                assert!(
                    customer.contains(&format!("const ContextUserKey = \"{key}\"")),
                    "{name}: {customer}"
                );
                assert!(
                    !customer.contains(crate::feeds::SESSION_STUB_MARKER),
                    "{name}"
                );
            }
            None => {
                assert!(!customer.contains("ContextUserKey"), "{name}: {customer}");
                assert!(
                    customer.contains(crate::feeds::SESSION_STUB_MARKER),
                    "{name}"
                );
            }
        }
    }
}
