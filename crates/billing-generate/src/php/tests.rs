//! Laravel generation and registration against the fixtures (syntax and runtime are proven
//! in `spaire-billing`'s `codegen_other` tests).

use std::path::Path;

use billing_detect::{FrameworkId, Language};

use crate::Target;
use crate::go::tests::{dump, plan, profile};

fn generate(name: &str) -> billing_changeset::ChangeSet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/codegen/php")
        .join(name);
    let profile = profile(&root, Language::Php, &[FrameworkId::Laravel]);
    let plan = plan(&["llm-tokens-split", "api-calls", "storage", "compute-time"]);
    let target = Target {
        root: &root,
        profile: &profile,
        package: &profile.packages[0],
        plan: &plan,
        without_sdk: false,
    };
    let changes = super::generate(&target).unwrap();
    dump(name, &changes);
    changes
}

fn after<'a>(changes: &'a billing_changeset::ChangeSet, path: &str) -> &'a str {
    &changes
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path}"))
        .after
}

#[test]
fn laravel_11_registers_in_bootstrap_app() {
    let changes = generate("laravel11");
    let bootstrap = after(&changes, "bootstrap/app.php");
    assert!(bootstrap.contains(
        "    ->withMiddleware(function (Middleware $middleware) {\n        $middleware->append(\\App\\Http\\Middleware\\SpaireUsage::class);\n        $middleware->validateCsrfTokens(except: ['api/webhooks/spaire']);\n        //\n"
    ));
    assert!(after(&changes, "routes/web.php").contains("SpaireWebhookController::class"));
    assert!(changes.manual_steps.is_empty());
}

#[test]
fn older_laravel_registers_in_the_kernel_and_csrf_middleware() {
    let changes = generate("laravel10");
    assert!(after(&changes, "app/Http/Kernel.php").contains(
        "    protected $middleware = [\n        \\App\\Http\\Middleware\\SpaireUsage::class,\n"
    ));
    assert!(
        after(&changes, "app/Http/Middleware/VerifyCsrfToken.php")
            .contains("    protected $except = [\n        'api/webhooks/spaire',\n")
    );
}
