//! Injection fuzz of code generation (issue #17): hostile plan values (quotes, `*/`, `${…}`,
//! `#{…}`, `?>`, backslashes, Unicode) go through generation for every language and
//! framework fixture, and every generated file must still parse with the language's real
//! parser and hold no injected statement. Each hostile value carries the call `pwned()`; the
//! checkers under `tests/injection/` fail when `pwned` is code rather than text in a literal
//! or comment. One checker run per language keeps this cheap.

use std::path::{Path, PathBuf};
use std::process::Command;

use billing_detect::{FrameworkDetails, FrameworkId, Language, ProjectProfile};
use billing_plan::{
    Aggregation, AggregationFunc, BillingPlan, CreditGrant, CustomerSource, Environment, Meter,
    MeterKind, ProductRef, ProjectSection, Webhooks,
};

use crate::codegen;
use crate::common;

/// Meter names that try to leave a string, comment, docstring, template literal,
/// interpolation or PHP mode in some language. All are printable one-line text, which the
/// plan validator accepts (Spaire does too), so only escaping stands between them and code.
const HOSTILE_NAMES: &[&str] = &[
    r#"m1 "; pwned(); ""#,
    "m2 '; pwned(); '",
    "m3 */ pwned(); /*",
    "m4 ${pwned()} `${pwned()}`",
    "m5 #{pwned()}",
    "m6 ?> <?php pwned(); ?>",
    r#"m7 \"; pwned(); // \"#,
    r#"m8 """; pwned(); """"#,
    "m9 </script><script>pwned()</script>",
    "m10 %s %d {0} {pwned} é ü 😀 \u{200b}",
    r"m11 \u0022; pwned(); \x27 \",
];

/// Values the validator must refuse outright (line breaks cannot be escaped in a comment).
const REFUSED_NAMES: &[&str] = &["m12\npwned()\n", "m13\r\npwned()", "m14\u{2028}pwned()"];

const SECRET: &str = "fuzzsecret";

/// A plan whose custom meters carry every hostile name, each with credits (so the names also
/// reach balance helpers as string literals), webhooks, and a server URL with credentials.
fn hostile_plan(customer: CustomerSource) -> BillingPlan {
    // An api-calls meter makes every language generate its request → customer code, where
    // `customer.module` lands.
    let mut meters = billing_plan::preset("api-calls").expect("preset").meters;
    meters.extend(HOSTILE_NAMES.iter().enumerate().map(|(i, name)| Meter {
        name: (*name).to_owned(),
        event: format!("fuzz-event-{i}"),
        aggregation: Aggregation {
            func: AggregationFunc::Count,
            property: None,
        },
        kind: MeterKind::Custom,
        preset: None,
        markup: None,
        paths: None,
    }));
    let credits = meters
        .iter()
        .map(|m| CreditGrant {
            meter: m.name.clone(),
            product: ProductRef("Pro".to_owned()),
            units: 100,
            rollover: false,
        })
        .collect();
    let plan = BillingPlan {
        call_site_customer: Default::default(),
        environment: Environment::Sandbox,
        server_url: Some(format!(
            "https://fuzzuser:{SECRET}@api.example.com/base;x=1&y=!*"
        )),
        project: ProjectSection {
            path: ".".to_owned(),
            framework: None,
        },
        customer,
        meters,
        prices: Vec::new(),
        credits,
        webhooks: Some(Webhooks {
            events: billing_plan::DEFAULT_WEBHOOK_EVENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
            url: None,
        }),
    };
    billing_plan::validate(&plan).unwrap_or_else(|e| panic!("hostile plan refused: {e}"));
    plan
}

fn function(function: &str, module: &str) -> CustomerSource {
    CustomerSource::Function {
        function: function.to_owned(),
        module: module.to_owned(),
    }
}

/// Generates into a copy of `fixture` under `root`; returns the written files.
fn generate(
    root: &Path,
    fixture: &Path,
    profile: &ProjectProfile,
    plan: &BillingPlan,
) -> Vec<PathBuf> {
    codegen::copy_dir(fixture, root);
    let changes = codegen::generate_into(root, profile, plan);
    for var in &changes.env_vars {
        assert!(
            !var.purpose.contains(SECRET),
            "{}: {}",
            var.name,
            var.purpose
        );
    }
    changes.files.iter().map(|f| root.join(&f.path)).collect()
}

/// Every generated file, by language, across the fixtures.
#[derive(Default)]
struct Generated {
    js: Vec<PathBuf>,
    py: Vec<PathBuf>,
    go: Vec<PathBuf>,
    php: Vec<PathBuf>,
    rb: Vec<PathBuf>,
    other: Vec<PathBuf>,
}

impl Generated {
    fn add(&mut self, files: Vec<PathBuf>) {
        for file in files {
            let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
            let list = match ext {
                "ts" | "tsx" | "js" | "mjs" | "cjs" | "mts" | "cts" => &mut self.js,
                "py" => &mut self.py,
                "go" => &mut self.go,
                "php" => &mut self.php,
                "rb" => &mut self.rb,
                _ => &mut self.other,
            };
            list.push(file);
        }
    }

    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.js
            .iter()
            .chain(&self.py)
            .chain(&self.go)
            .chain(&self.php)
            .chain(&self.rb)
            .chain(&self.other)
    }
}

fn generate_everything(dir: &Path) -> Generated {
    let mut out = Generated::default();
    for fixture in crate::codegen_ts::fixtures() {
        let root = dir.join(format!("ts-{}", fixture.name));
        let customer = function("getUserId", "@/lib/auth");
        let profile = crate::codegen_ts::profile_for(&root, &fixture);
        out.add(generate(
            &root,
            &codegen::codegen_fixture("ts", fixture.name),
            &profile,
            &hostile_plan(customer),
        ));
    }
    for name in ["fastapi", "flask", "django"] {
        let root = dir.join(format!("py-{name}"));
        let profile = crate::codegen_py::fixture_profile(name, &root);
        out.add(generate(
            &root,
            &codegen::codegen_fixture("py", name),
            &profile,
            &hostile_plan(function("get_user_id", "app.auth")),
        ));
    }
    let others = [
        (
            "go",
            "nethttp",
            Language::Go,
            FrameworkId::GoNethttp,
            function("UserID", "example.com/app/auth"),
        ),
        (
            "go",
            "gin",
            Language::Go,
            FrameworkId::Gin,
            function("UserID", "example.com/app/auth"),
        ),
        (
            "go",
            "echo",
            Language::Go,
            FrameworkId::Echo,
            function("UserID", "example.com/app/auth"),
        ),
        (
            "go",
            "fiber",
            Language::Go,
            FrameworkId::Fiber,
            function("UserID", "example.com/app/auth"),
        ),
        (
            "go",
            "chi",
            Language::Go,
            FrameworkId::Chi,
            function("UserID", "example.com/app/auth"),
        ),
        (
            "php",
            "laravel11",
            Language::Php,
            FrameworkId::Laravel,
            function("resolve", "App/Auth/Customer"),
        ),
        (
            "ruby",
            "rails",
            Language::Ruby,
            FrameworkId::Rails,
            function("customer_id", "App::Auth"),
        ),
    ];
    for (language_dir, name, language, id, customer) in others {
        let root = dir.join(format!("{language_dir}-{name}"));
        let profile = codegen::profile(
            &root,
            language,
            vec![codegen::framework(id, FrameworkDetails::default())],
        );
        out.add(generate(
            &root,
            &codegen::codegen_fixture(language_dir, name),
            &profile,
            &hostile_plan(customer),
        ));
    }
    out
}

/// Runs one checker over `files`; panics with its report when it finds a problem.
fn check(mut command: Command, files: &[PathBuf], what: &str) {
    assert!(!files.is_empty(), "no {what} files were generated");
    command.args(files);
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what} checker: cannot start: {e}"));
    assert!(
        output.status.success(),
        "{what} checker found problems in generated code ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn checker(name: &str) -> PathBuf {
    common::repo_root().join("tests/injection").join(name)
}

#[test]
fn hostile_plan_values_never_become_code_in_any_language() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate_everything(dir.path());

    // Credentials never reach a written file; the host does.
    for file in generated.all() {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains(SECRET),
            "{} holds the URL password",
            file.display()
        );
    }
    let env_example = dir.path().join("ts-express-esm/.env.example");
    let env_example = std::fs::read_to_string(&env_example).unwrap();
    assert!(
        env_example.contains("\nSPAIRE_SERVER_URL=https://api.example.com/base;x=1&y=!*\n"),
        "{env_example}"
    );

    let node_modules = common::repo_root().join("tests/toolchains/node/node_modules");
    if codegen::toolchain(node_modules.join("typescript"), "typescript").is_some()
        && let Some(node) = codegen::program("node")
    {
        let mut command = Command::new(node);
        command.arg(checker("check.mjs")).arg(&node_modules);
        check(command, &generated.js, "TypeScript/JavaScript");
    }
    if let Some(python) = codegen::program("python3") {
        let mut command = Command::new(python);
        command.arg(checker("check.py"));
        check(command, &generated.py, "Python");
    }
    if let Some(go) = codegen::program("go") {
        let binary = dir.path().join("check-go");
        codegen::run_ok(
            Command::new(go)
                .env("GO111MODULE", "off")
                .arg("build")
                .arg("-o")
                .arg(&binary)
                .arg(checker("check.go")),
            "go build check.go",
        );
        check(Command::new(binary), &generated.go, "Go");
    }
    if let Some(php) = codegen::program("php") {
        let mut command = Command::new(php);
        command.arg(checker("check.php"));
        check(command, &generated.php, "PHP");
    }
    if let Some(ruby) = codegen::program("ruby") {
        let mut command = Command::new(ruby);
        command.arg(checker("check.rb"));
        check(command, &generated.rb, "Ruby");
    }
}

#[test]
fn line_breaks_in_names_are_refused_by_the_validator() {
    for name in REFUSED_NAMES {
        let mut plan = hostile_plan(function("getUserId", "@/lib/auth"));
        plan.meters[0].name = (*name).to_owned();
        plan.credits[0].meter = (*name).to_owned();
        let err = billing_plan::validate(&plan).expect_err(name).to_string();
        assert!(err.contains("meters[0].name"), "{name:?}: {err}");
    }
}

/// The filters are the second line: a plan that skipped validation (a bug elsewhere, a hand
/// edit between validate and generate) fails to generate instead of producing code.
#[test]
fn an_unvalidated_hostile_module_fails_generation_in_every_language() {
    let cases = [
        ("ts", "express-esm", "x\"); pwned(); (\""),
        ("ts", "express-esm", "data:text/javascript,pwned()"),
        ("py", "fastapi", "os; pwned()"),
        ("go", "nethttp", "x\"; pwned()"),
        ("php", "laravel11", "A;pwned()"),
        ("ruby", "rails", "A; pwned"),
    ];
    for (language_dir, name, module) in cases {
        let dir = tempfile::tempdir().unwrap();
        codegen::copy_dir(&codegen::codegen_fixture(language_dir, name), dir.path());
        let profile = match language_dir {
            "ts" => {
                let fixture = crate::codegen_ts::fixtures()
                    .into_iter()
                    .find(|f| f.name == name)
                    .unwrap();
                crate::codegen_ts::profile_for(dir.path(), &fixture)
            }
            "py" => crate::codegen_py::fixture_profile(name, dir.path()),
            "go" => codegen::profile(
                dir.path(),
                Language::Go,
                vec![codegen::framework(
                    FrameworkId::GoNethttp,
                    FrameworkDetails::default(),
                )],
            ),
            "php" => codegen::profile(
                dir.path(),
                Language::Php,
                vec![codegen::framework(
                    FrameworkId::Laravel,
                    FrameworkDetails::default(),
                )],
            ),
            _ => codegen::profile(
                dir.path(),
                Language::Ruby,
                vec![codegen::framework(
                    FrameworkId::Rails,
                    FrameworkDetails::default(),
                )],
            ),
        };
        let mut plan = hostile_plan(function("getUserId", "@/lib/auth"));
        plan.customer = function("getUserId", module);
        let target = billing_generate::Target {
            root: dir.path(),
            profile: &profile,
            package: &profile.packages[0],
            plan: &plan,
            without_sdk: false,
        };
        let err = billing_generate::generate(&target)
            .err()
            .unwrap_or_else(|| panic!("{language_dir}: {module:?} was generated"));
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert!(
            chain.contains("refusing to write it"),
            "{language_dir}: {chain}"
        );
    }
}
