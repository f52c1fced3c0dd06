//! The vocabulary as generators use it: every generator's declared imports are exactly what
//! its output imports, every documented webhook event type generates in every language, and
//! `[project] framework` is read by every generator.

use std::path::Path;

use billing_changeset::ChangeSet;
use billing_detect::{FrameworkId, Language};
use billing_plan::{BillingPlan, Webhooks};
use billing_vocab::sdk::SDKS;

use crate::go::tests::{plan, profile};
use crate::{Target, imported_packages};

/// (fixture directory under tests/fixtures/codegen, language, detected framework)
const CASES: &[(&str, Language, FrameworkId)] = &[
    ("ts/express-esm", Language::TypeScript, FrameworkId::Express),
    ("py/flask", Language::Python, FrameworkId::Flask),
    ("go/nethttp", Language::Go, FrameworkId::GoNethttp),
    ("go/gin", Language::Go, FrameworkId::Gin),
    ("php/laravel11", Language::Php, FrameworkId::Laravel),
    ("ruby/rails", Language::Ruby, FrameworkId::Rails),
];

fn every_event_plan() -> BillingPlan {
    let mut plan = plan(&["api-calls"]);
    plan.webhooks = Some(Webhooks {
        events: billing_vocab::WEBHOOK_EVENT_NAMES
            .iter()
            .map(|e| (*e).to_owned())
            .collect(),
        url: None,
    });
    plan
}

fn run(dir: &str, language: Language, id: FrameworkId, plan: &BillingPlan) -> ChangeSet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/codegen")
        .join(dir);
    let profile = profile(&root, language, &[id]);
    let target = Target {
        root: &root,
        profile: &profile,
        package: &profile.packages[0],
        plan,
        without_sdk: false,
    };
    crate::generate(&target).unwrap_or_else(|e| panic!("{dir}: {e}"))
}

/// The package names a generated file imports, per language (standard-library and relative
/// imports included; callers filter).
fn imports(language: Language, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines().map(str::trim) {
        match language.family() {
            billing_vocab::LanguageFamily::Go => {
                if line == "import (" {
                    in_block = true;
                } else if in_block && line == ")" {
                    in_block = false;
                } else if (in_block || line.starts_with("import \""))
                    && let Some(path) = line.split('"').nth(1)
                {
                    out.push(path.to_owned());
                }
            }
            billing_vocab::LanguageFamily::Php => {
                if let Some(rest) = line.strip_prefix("use ") {
                    out.push(
                        rest.split('\\')
                            .next()
                            .unwrap_or(rest)
                            .trim_end_matches(';')
                            .to_owned(),
                    );
                }
            }
            billing_vocab::LanguageFamily::Ruby => {
                if let Some(rest) = line.strip_prefix("require \"") {
                    out.push(rest.split('"').next().unwrap_or_default().to_owned());
                }
            }
            billing_vocab::LanguageFamily::Js => {
                if let Some(spec) = line
                    .strip_prefix("import ")
                    .and_then(|l| l.rsplit(" from ").next())
                    .and_then(|l| l.split(['"', '\'']).nth(1))
                {
                    out.push(spec.to_owned());
                }
            }
            billing_vocab::LanguageFamily::Python => {
                if let Some(rest) = line.strip_prefix("from ").or(line.strip_prefix("import ")) {
                    out.push(rest.split([' ', '.']).next().unwrap_or_default().to_owned());
                }
            }
        }
    }
    out
}

#[test]
fn declared_imports_are_what_the_output_imports_and_all_that_is_installed() {
    let plan = every_event_plan();
    for (dir, language, id) in CASES {
        let changes = run(dir, *language, *id, &plan);
        let declared = imported_packages(*language);
        let installed: Vec<&str> = changes
            .installs
            .iter()
            .flat_map(|i| i.packages.iter().map(String::as_str))
            .collect();
        let declared_names: Vec<&str> = declared.iter().map(|p| p.name).collect();
        assert_eq!(installed, declared_names, "{dir}: installs");

        // What the output adds: a wired app file keeps the imports it had (its own packages).
        let imported: Vec<String> = changes
            .files
            .iter()
            .flat_map(|f| {
                let before = f
                    .before
                    .as_deref()
                    .map(|b| imports(*language, b))
                    .unwrap_or_default();
                imports(*language, &f.after)
                    .into_iter()
                    .filter(move |i| !before.contains(i))
            })
            .collect();
        for sdk in SDKS {
            // How the package appears in an import statement of its own language.
            let import_name = match sdk.family {
                billing_vocab::LanguageFamily::Python => sdk.name.replace('-', "_"),
                _ => sdk.name.to_owned(),
            };
            let used = imported
                .iter()
                .any(|i| i == &import_name || i.starts_with(&format!("{import_name}/")));
            assert_eq!(
                used,
                declared.contains(&sdk),
                "{dir}: output imports {}: {used}; declared: {declared_names:?}",
                sdk.name
            );
        }
        match language.family() {
            billing_vocab::LanguageFamily::Go => {
                for path in &imported {
                    let first = path.split('/').next().unwrap_or_default();
                    let framework = [
                        "github.com/gin-gonic/gin",
                        "github.com/labstack/echo/v4",
                        "github.com/gofiber/fiber/v2",
                    ];
                    // The generated package itself, which the registration imports.
                    let generated = path.ends_with(&format!("/{}", crate::go::PACKAGE_DIR));
                    assert!(
                        !first.contains('.') || framework.contains(&path.as_str()) || generated,
                        "{dir}: Go output imports `{path}`, neither standard library nor the app's router"
                    );
                }
            }
            billing_vocab::LanguageFamily::Php => {
                for ns in &imported {
                    assert!(
                        ["App", "Illuminate", "Symfony", "Closure"].contains(&ns.as_str()),
                        "{dir}: PHP output uses `{ns}`"
                    );
                }
            }
            billing_vocab::LanguageFamily::Ruby => {
                for lib in &imported {
                    assert!(
                        [
                            "json",
                            "net/http",
                            "openssl",
                            "base64",
                            "time",
                            "uri",
                            "stringio",
                            "securerandom",
                            // The usage spool: the token's directory name, its files.
                            "digest",
                            "fileutils",
                            "tmpdir"
                        ]
                        .contains(&lib.as_str()),
                        "{dir}: Ruby output requires `{lib}`"
                    );
                }
            }
            _ => {}
        }
    }
}

#[test]
fn every_documented_event_type_gets_a_handler_in_every_language() {
    let plan = every_event_plan();
    for (dir, language, id) in CASES {
        let changes = run(dir, *language, *id, &plan);
        let all: String = changes.files.iter().map(|f| f.after.as_str()).collect();
        for event in billing_vocab::WEBHOOK_EVENT_TYPES {
            // The TypeScript SDK's `validateEvent` rejects types outside its union before the
            // switch, so those fall to the 202 default branch by design.
            if *language == Language::TypeScript && !event.typescript_sdk {
                continue;
            }
            // Python dispatches typed payloads by class, so its handler's docstring is what
            // names the type; every other language switches on the type string.
            let named = if *language == Language::Python {
                format!("`{}`:", event.name)
            } else {
                event.name.to_owned()
            };
            let quoted = [format!("\"{}\"", event.name), format!("'{}'", event.name)];
            assert!(
                all.contains(&named)
                    && (*language == Language::Python || quoted.iter().any(|q| all.contains(q))),
                "{dir}: no case for {}",
                event.name
            );
        }
    }
}

#[test]
fn python_handles_types_its_sdk_cannot_parse_from_the_raw_payload() {
    let mut plan = plan(&["api-calls"]);
    plan.webhooks = Some(Webhooks {
        events: vec!["member.created".into(), "order.paid".into()],
        url: None,
    });
    let changes = run("py/flask", Language::Python, FrameworkId::Flask, &plan);
    let webhooks = changes
        .files
        .iter()
        .find(|f| f.path.ends_with("spaire_billing/webhooks.py"))
        .expect("webhooks module");
    let text = &webhooks.after;
    assert!(
        text.contains("def on_member_created(data: dict[str, Any]) -> None:"),
        "{text}"
    );
    assert!(
        text.contains("def on_order_paid(event: WebhookOrderPaidPayload) -> None:"),
        "{text}"
    );
    assert!(
        text.contains("        if event is None:\n            _dispatch_unmodelled(body)"),
        "{text}"
    );
    assert!(
        text.contains(
            "    if event_type == \"member.created\":\n        on_member_created(payload[\"data\"])"
        ),
        "{text}"
    );
    assert!(!text.contains("WebhookMemberCreatedPayload"), "{text}");
}

#[test]
fn the_go_generator_reads_the_framework_override() {
    let mut plan = plan(&["api-calls"]);
    let detected = run("go/gin", Language::Go, FrameworkId::GoNethttp, &plan);
    assert!(!detected.files.iter().any(|f| f.path.ends_with("/gin.go")));
    plan.project.framework = Some(FrameworkId::Gin);
    let overridden = run("go/gin", Language::Go, FrameworkId::GoNethttp, &plan);
    assert!(
        overridden.files.iter().any(|f| f.path.ends_with("/gin.go")),
        "{:?}",
        overridden.files.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    // Registered on the gin router the app serves.
    let registered = overridden
        .files
        .iter()
        .filter(|f| f.path == "main.go")
        .map(|f| f.after.clone())
        .collect::<String>();
    assert!(
        registered.contains("spairebilling.GinAPICallMiddleware()"),
        "{registered}"
    );
}

#[test]
fn a_framework_of_another_language_is_an_error_in_every_generator() {
    for (dir, language, id) in CASES {
        let mut plan = plan(&["api-calls"]);
        let other = if language.family() == billing_vocab::LanguageFamily::Python {
            FrameworkId::Rails
        } else {
            FrameworkId::Flask
        };
        plan.project.framework = Some(other);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/codegen")
            .join(dir);
        let profile = profile(&root, *language, &[*id]);
        let target = Target {
            root: &root,
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk: false,
        };
        let err = crate::generate(&target).expect_err(dir).to_string();
        assert!(
            err.starts_with(&format!("`[project] framework = \"{other}\"` is a ")),
            "{dir}: {err}"
        );
        assert!(err.contains(language.display_name()), "{dir}: {err}");
    }
}
