//! The host app must keep working after generation, and its own login must feed the
//! customer id: a FastAPI app that derives operation ids from route tags, a Rails app that
//! autoloads and eager-loads `lib/` with zeitwerk, a Rails 8 app whose user is
//! `Current.session.user`, a Flask-Login app.

use std::path::Path;
use std::process::Command;

use billing_detect::{FrameworkDetails, FrameworkId, Language};
use billing_plan::CustomerSource;

use crate::codegen::{self, Pricing};
use crate::codegen_py::venv_python;

fn python_profile(
    root: &Path,
    id: FrameworkId,
    entry: &str,
    var: &str,
) -> billing_detect::ProjectProfile {
    codegen::profile(
        root,
        Language::Python,
        vec![codegen::framework(
            id,
            FrameworkDetails {
                entry_file: Some(entry.to_owned()),
                app_variable: Some(var.to_owned()),
                ..FrameworkDetails::default()
            },
        )],
    )
}

/// The test venv's Python where it imports Flask-Login, with the extra `PYTHONPATH` it needs
/// (`SPAIRE_TEST_EXTRA_PYTHONPATH`); `None` as [`codegen::toolchain`] says.
fn flask_login_python() -> Option<(std::path::PathBuf, Option<String>)> {
    let python = venv_python()?;
    let extra = std::env::var("SPAIRE_TEST_EXTRA_PYTHONPATH").ok();
    let probe = Command::new(&python)
        .args(["-c", "import flask_login"])
        .envs(extra.iter().map(|p| ("PYTHONPATH", p.as_str())))
        .output()
        .unwrap();
    if !probe.status.success() {
        codegen::toolchain(
            Path::new("<venv>/flask_login").to_path_buf(),
            "Flask-Login in the Python test venv",
        )?;
    }
    Some((python, extra))
}

/// A Python program run in `dir` with the test venv; its stdout, panicking with both streams
/// on failure.
fn python_ok(python: &Path, dir: &Path, script: &str, extra_path: Option<&str>) -> String {
    let mut command = Command::new(python);
    command.arg("-c").arg(script).current_dir(dir);
    if let Some(path) = extra_path {
        command.env("PYTHONPATH", path);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{script}\n{stderr}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The full-stack FastAPI template's `generate_unique_id_function` reads `route.tags[0]`:
/// with an untagged webhook route every request answered 500 (the ids are computed lazily,
/// per request, in current FastAPI). The generated route is tagged, the app's own id
/// function stays in force, and an unsigned delivery reaches the webhook (403).
#[test]
fn fastapi_app_deriving_operation_ids_from_tags_still_starts() {
    let Some(python) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(
        &codegen::codegen_fixture("py", "fastapi-route-ids"),
        dir.path(),
    );
    let plan = codegen::plan(&["api-calls"], Pricing::Unit, true, None);
    let profile = python_profile(dir.path(), FrameworkId::Fastapi, "api/main.py", "app");
    let changes = codegen::generate_into(dir.path(), &profile, &plan);
    assert!(
        changes.files.iter().any(|f| f.path == "api/main.py"),
        "install_billing was not registered in the entry"
    );
    let out = python_ok(
        &python,
        dir.path(),
        "from fastapi.testclient import TestClient\n\
         from api.main import app\n\
         client = TestClient(app, raise_server_exceptions=False)\n\
         ids = sorted(op['operationId'] for p in app.openapi()['paths'].values() for op in p.values())\n\
         print(client.get('/items/').status_code, ids, client.post('/api/webhooks/spaire', content=b'{}').status_code)",
        None,
    );
    assert_eq!(
        out, "200 ['items-list_items'] 403",
        "the app's id function must stay in force for every route"
    );
}

/// Flask-Login keeps the user id in `session["_user_id"]`: the resolver asks Flask-Login
/// (`current_user.get_id()`) instead of guessing a key, so a signed-in request is counted
/// for that user.
#[test]
fn flask_login_user_is_the_customer() {
    let Some((python, extra)) = flask_login_python() else {
        return;
    };
    let (emulator, base_url) = codegen::emulator();
    let api = codegen::Api::of(&emulator, &base_url);
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", "flask-login"), dir.path());
    let mut plan = codegen::plan(&["api-calls"], Pricing::Unit, false, Some(&base_url));
    plan.customer = CustomerSource::Session;
    let meter = api.create_meter(&plan.meters[0]);
    let profile = python_profile(dir.path(), FrameworkId::Flask, "notes/__init__.py", "app");
    let changes = codegen::generate_into(dir.path(), &profile, &plan);
    let customer = changes
        .files
        .iter()
        .find(|f| f.path.ends_with("spaire_billing/customer.py"))
        .expect("customer.py");
    assert!(
        customer.after.contains("current_user.get_id()")
            && !customer.after.contains("returns no user id yet"),
        "{}",
        customer.after
    );
    let script = format!(
        "import os\n\
         os.environ['SPAIRE_ACCESS_TOKEN'] = {token:?}\n\
         os.environ['SPAIRE_SERVER_URL'] = {base_url:?}\n\
         from notes import create_app\n\
         from notes.spaire_billing.usage import flush_usage\n\
         client = create_app().test_client()\n\
         anonymous = client.get('/notes').status_code\n\
         client.post('/login/user-42')\n\
         signed_in = [client.get('/notes').status_code for _ in range(3)]\n\
         flush_usage()\n\
         print(anonymous, signed_in)",
        token = emulator.token(),
    );
    let out = python_ok(&python, dir.path(), &script, extra.as_deref());
    assert_eq!(out, "401 [200, 200, 200]");
    // The 3 signed-in reads; the sign-in itself is an auth route, never billed.
    assert_eq!(api.meter_total(&meter, "user-42"), 3.0);
}

/// Whether Ruby can load zeitwerk (Debian's `ruby-zeitwerk`, the autoloader Rails uses).
fn zeitwerk_ruby() -> Option<std::path::PathBuf> {
    let ruby = codegen::program("ruby")?;
    let ok = Command::new(&ruby)
        .args(["-e", "require 'zeitwerk'"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(ruby)
    } else {
        codegen::toolchain(
            Path::new("<ruby>/zeitwerk").to_path_buf(),
            "the zeitwerk gem (Debian ruby-zeitwerk)",
        )
    }
}

/// Boots `lib/` the three ways a Rails app can: the initializer's `require` before the
/// autoloader is set up (Rails 7+), after it (zeitwerk decorates `require`), and autoload
/// alone; then eager-loads as production does. A file whose constant does not match its
/// path (`spaire_billing/config.rb` without `SpaireBilling::Config`) fails here exactly as
/// `rails s -e production` does.
const ZEITWERK_BOOT: &str = r#"require "zeitwerk"
order = ARGV.fetch(0)
loader = Zeitwerk::Loader.new
loader.push_dir(File.expand_path("lib"))
require File.expand_path("lib/spaire_billing") if order == "require-first"
loader.setup
require File.expand_path("lib/spaire_billing") if order == "setup-first"
loader.eager_load
SpaireBilling::Config.server_url
SpaireBilling::Usage
print "ok"
"#;

#[test]
fn rails_lib_eager_loads_under_zeitwerk() {
    let Some(ruby) = zeitwerk_ruby() else { return };
    let all = ["llm-tokens-split", "api-calls", "storage", "compute-time"];
    let mut session = codegen::plan(&["api-calls"], Pricing::Unit, true, None);
    session.customer = CustomerSource::Session;
    for (case, plan) in [
        ("all", codegen::plan(&all, Pricing::Both, true, None)),
        ("session", session),
    ] {
        for fixture in ["rails", "rails-auth"] {
            let dir = tempfile::tempdir().unwrap();
            codegen::copy_dir(&codegen::codegen_fixture("ruby", fixture), dir.path());
            let profile =
                crate::codegen_other::profile(dir.path(), Language::Ruby, FrameworkId::Rails);
            codegen::generate_into(dir.path(), &profile, &plan);
            std::fs::write(dir.path().join("boot.rb"), ZEITWERK_BOOT).unwrap();
            for order in ["require-first", "setup-first", "autoload"] {
                let output = Command::new(&ruby)
                    .args(["boot.rb", order])
                    .current_dir(dir.path())
                    .output()
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&output.stdout),
                    "ok",
                    "{fixture}/{case}, {order}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
}

/// The Rails middleware reads the user the app's own login resolved during the request:
/// the controller's `current_user` (Devise or the app's), Rails 8 `Current.session.user`;
/// nobody signed in (or a lookup that raises) bills nobody. Without any login it is a stub
/// that the metering account lists.
const RAILS_RESOLVER_DRIVER: &str = r#"require_relative "lib/spaire_billing"
class Session < Struct.new(:user); end
class User < Struct.new(:id); end
class Current
  class << self
    attr_accessor :session
    def user = session&.user
  end
end
class Controller
  def initialize(user) = @user = user
  private
  def current_user = @user || raise("not found")
end
ids = []
SpaireBilling::Usage.singleton_class.define_method(:record_api_call) { |id, *_| ids << id }
app = ->(_env) { [200, {}, ["ok"]] }
middleware = SpaireBilling::ApiCallMiddleware.new(app)
middleware.call({ "PATH_INFO" => "/a", "action_controller.instance" => Controller.new(User.new(7)) })
middleware.call({ "PATH_INFO" => "/b", "action_controller.instance" => Controller.new(nil) })
Current.session = Session.new(User.new(9))
middleware.call({ "PATH_INFO" => "/c" })
Current.session = nil
middleware.call({ "PATH_INFO" => "/d" })
print ids.inspect
"#;

#[test]
fn rails_session_customer_comes_from_the_apps_login() {
    let Some(ruby) = codegen::program("ruby") else {
        return;
    };
    let mut plan = codegen::plan(&["api-calls"], Pricing::Unit, false, None);
    plan.customer = CustomerSource::Session;
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("ruby", "rails-auth"), dir.path());
    let profile = crate::codegen_other::profile(dir.path(), Language::Ruby, FrameworkId::Rails);
    let changes = codegen::generate_into(dir.path(), &profile, &plan);
    let middleware = |changes: &billing_changeset::ChangeSet| {
        changes
            .files
            .iter()
            .find(|f| f.path == "lib/spaire_billing/api_call_middleware.rb")
            .unwrap()
            .after
            .clone()
    };
    assert!(!middleware(&changes).contains("returns no user id yet"));
    std::fs::write(dir.path().join("driver.rb"), RAILS_RESOLVER_DRIVER).unwrap();
    let output = Command::new(&ruby)
        .arg("driver.rb")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        r#"["7", "9"]"#,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The plain fixture has no login: a stub, marked so the account lists it.
    let plain = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("ruby", "rails"), plain.path());
    let profile = crate::codegen_other::profile(plain.path(), Language::Ruby, FrameworkId::Rails);
    let stub = middleware(&codegen::generate_into(plain.path(), &profile, &plan));
    assert!(stub.contains("returns no user id yet"), "{stub}");
    assert!(!stub.contains("session[\"user_id\"]"), "{stub}");
}

/// Split Django settings: `manage.py` names the development module, production star-imports
/// the base. The middleware goes into the base (so production meters too), the webhook URL
/// into the URLconf the base names, ahead of the app's catch-all route.
#[test]
fn django_split_settings_meter_in_production() {
    let Some(python) = venv_python() else { return };
    let (emulator, base_url) = codegen::emulator();
    let api = codegen::Api::of(&emulator, &base_url);
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", "django-split"), dir.path());
    let plan = codegen::plan(&["api-calls"], Pricing::Unit, true, Some(&base_url));
    let meter = api.create_meter(&plan.meters[0]);
    let profile = codegen::profile(
        dir.path(),
        Language::Python,
        vec![codegen::framework(
            FrameworkId::Django,
            FrameworkDetails {
                settings_module: Some("site_cfg.settings.dev".to_owned()),
                ..FrameworkDetails::default()
            },
        )],
    );
    let changes = codegen::generate_into(dir.path(), &profile, &plan);
    let edited: Vec<&str> = changes
        .files
        .iter()
        .filter(|f| f.before.is_some())
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        edited,
        ["site_cfg/settings/base.py", "site_cfg/urls.py"],
        "{:?}",
        changes.manual_steps
    );
    let script = format!(
        "import os\n\
         os.environ['DJANGO_SETTINGS_MODULE'] = 'site_cfg.settings.production'\n\
         os.environ['SPAIRE_ACCESS_TOKEN'] = {token:?}\n\
         os.environ['SPAIRE_SERVER_URL'] = {base_url:?}\n\
         import django\n\
         django.setup()\n\
         from django.test import Client\n\
         from django.urls import resolve\n\
         from spaire_billing.usage import flush_usage\n\
         client = Client(enforce_csrf_checks=True)\n\
         statuses = [client.get('/api/docs/a', headers={{'x-customer-id': 'cust-prod'}}).status_code for _ in range(2)]\n\
         page = client.get('/docs/a', headers={{'x-customer-id': 'cust-prod'}}).status_code\n\
         hook = client.post('/api/webhooks/spaire', b'{{}}', content_type='application/json').status_code\n\
         flush_usage()\n\
         print(statuses, page, hook, resolve('/api/webhooks/spaire').func.__module__)",
        token = emulator.token(),
    );
    let out = python_ok(&python, dir.path(), &script, None);
    // An unsigned delivery reaches the webhook view (403 from verification, not the page).
    assert_eq!(out, "[200, 200] 200 403 spaire_billing.views");
    // The two API answers; the HTML page is not an API call.
    assert_eq!(api.meter_total(&meter, "cust-prod"), 2.0);
}

/// `php artisan config:cache` compiles config/*.php once (env() read there, at cache time)
/// and stops loading .env: `getenv()` then returns nothing at request time. The driver
/// evaluates the generated config/spaire.php with the environment set (the cache step),
/// clears the environment (the cached app), and serves `config()` from what was cached, as
/// Laravel's helpers do.
const LARAVEL_CACHED_CONFIG_DRIVER: &str = r#"<?php
function env(string $key, $default = null) { $v = getenv($key); return $v === false ? $default : $v; }
putenv('SPAIRE_ACCESS_TOKEN=tok-from-env-at-cache-time');
putenv('SPAIRE_WEBHOOK_SECRET=spaire_whs_cached');
$cached = ['spaire' => require __DIR__ . '/config/spaire.php'];
putenv('SPAIRE_ACCESS_TOKEN');
putenv('SPAIRE_WEBHOOK_SECRET');
putenv('SPAIRE_SERVER_URL');
unset($_ENV['SPAIRE_ACCESS_TOKEN'], $_SERVER['SPAIRE_ACCESS_TOKEN']);
final class Container { public function bound(string $id): bool { return $id === 'config'; } }
function app() { return new Container(); }
function config(string $key) {
    global $cached;
    [$file, $name] = explode('.', $key, 2);
    return $cached[$file][$name] ?? null;
}
require __DIR__ . '/app/Spaire/SpaireConfig.php';
echo App\Spaire\SpaireConfig::accessToken(), ' ', App\Spaire\SpaireConfig::webhookSecret(), ' ', App\Spaire\SpaireConfig::serverUrl();
"#;

#[test]
fn laravel_settings_survive_config_cache() {
    let Some(php) = codegen::program("php") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("php", "laravel11"), dir.path());
    let plan = codegen::plan(&["api-calls"], Pricing::Unit, true, None);
    let profile = crate::codegen_other::profile(dir.path(), Language::Php, FrameworkId::Laravel);
    codegen::generate_into(dir.path(), &profile, &plan);
    std::fs::write(dir.path().join("driver.php"), LARAVEL_CACHED_CONFIG_DRIVER).unwrap();
    let output = Command::new(&php)
        .arg("driver.php")
        .current_dir(dir.path())
        .env_remove("SPAIRE_ACCESS_TOKEN")
        .env_remove("SPAIRE_SERVER_URL")
        .env_remove("SPAIRE_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "tok-from-env-at-cache-time spaire_whs_cached {}",
            plan.public_server_url()
        ),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A FastAPI fixture (`svc/main.py`, `app`) generated with `[customer] from = "session"` and
/// an `api-calls` meter created in a fresh emulator; `run` drives the app through its own
/// `TestClient` (the `client` in `body`), flushes usage and prints what `body` prints last.
struct SessionHost {
    emulator: billing_emulator::BackgroundEmulator,
    base_url: String,
    meter: String,
    dir: tempfile::TempDir,
    changes: billing_changeset::ChangeSet,
}

impl SessionHost {
    fn new(fixture: &str, webhooks: bool) -> Self {
        let (emulator, base_url) = codegen::emulator();
        let api = codegen::Api::of(&emulator, &base_url);
        let dir = tempfile::tempdir().unwrap();
        codegen::copy_dir(&codegen::codegen_fixture("py", fixture), dir.path());
        let mut plan = codegen::plan(&["api-calls"], Pricing::Unit, webhooks, Some(&base_url));
        plan.customer = CustomerSource::Session;
        let meter = api.create_meter(&plan.meters[0]);
        let profile = python_profile(dir.path(), FrameworkId::Fastapi, "svc/main.py", "app");
        let changes = codegen::generate_into(dir.path(), &profile, &plan);
        SessionHost {
            emulator,
            base_url,
            meter,
            dir,
            changes,
        }
    }

    fn integration(&self) -> &str {
        &self
            .changes
            .files
            .iter()
            .find(|f| f.path == "svc/spaire_billing/integration.py")
            .expect("integration.py")
            .after
    }

    /// `body`: lines indented by 4 inside `with TestClient(app) as client:`, then `print(...)`
    /// at the left margin after the flush.
    fn run(&self, python: &Path, body: &str, print: &str) -> String {
        let script = format!(
            "import os\n\
             os.environ['SPAIRE_ACCESS_TOKEN'] = {token:?}\n\
             os.environ['SPAIRE_SERVER_URL'] = {base_url:?}\n\
             from fastapi.testclient import TestClient\n\
             from svc.main import app\n\
             from svc.spaire_billing.usage import flush_usage\n\
             with TestClient(app) as client:\n\
             {body}\
             flush_usage()\n\
             {print}",
            token = self.emulator.token(),
            base_url = self.base_url,
        );
        python_ok(python, self.dir.path(), &script, None)
    }

    fn billed(&self, customer: &str) -> f64 {
        codegen::Api::of(&self.emulator, &self.base_url).meter_total(&self.meter, customer)
    }
}

/// FastAPI with OAuth2 bearer tokens (no session at all): the app's own `get_current_user`
/// dependency, used through a `CurrentUser` annotated alias, is wrapped so the user it
/// returns is the customer. Sub-dependencies still inject, a bad token still fails, an
/// anonymous route bills nobody.
#[test]
fn fastapi_current_user_dependency_is_the_customer() {
    let Some(python) = venv_python() else { return };
    let host = SessionHost::new("fastapi-oauth2", true);
    assert!(
        host.integration()
            .contains("from svc.api.deps import get_current_user"),
        "{}",
        host.integration()
    );
    assert!(
        host.changes
            .files
            .iter()
            .all(|f| !f.after.contains("returns no user id yet"))
    );
    let out = host.run(
        &python,
        "    me = [client.get('/me', headers={'Authorization': 'Bearer signed-acct-7'}).json()['id'] for _ in range(3)]\n\
         \x20   forged = client.get('/me', headers={'Authorization': 'Bearer forged'}).status_code\n\
         \x20   public = client.get('/public').status_code\n",
        "print(me, forged, public)",
    );
    assert_eq!(out, "['acct-7', 'acct-7', 'acct-7'] 403 200");
    assert_eq!(host.billed("acct-7"), 3.0);
}

/// FastAPI where the billable routes take their user from a dependency with no conventional
/// name (`user: User = Depends(user_exists)`, a lookup by the path's id, as in
/// Emre-Taro/chat_gpt_101_back) beside a `get_current_user` used by `/me` only. Wrapping only
/// `get_current_user` left every chat request without a customer (its usage dropped); both
/// are wrapped now, the `userId` attribute is read, and a generator dependency whose parameter
/// says "users" is left alone (wrapped, it would hand FastAPI a generator object). That app
/// also defines `get_current_user` below `install_billing(app)`, so the wrapping happens at
/// the first request, never while `svc.main` is still being imported.
#[test]
fn fastapi_every_user_dependency_the_routes_inject_is_the_customer() {
    let Some(python) = venv_python() else { return };
    let host = SessionHost::new("fastapi-path-user", false);
    for import in [
        "from svc.main import get_current_user as user_dependency_1",
        "from svc.routers.chat import user_exists as user_dependency_2",
    ] {
        assert!(
            host.integration().contains(import),
            "{import}\n{}",
            host.integration()
        );
    }
    assert!(
        !host.integration().contains("get_users"),
        "{}",
        host.integration()
    );
    let out = host.run(
        &python,
        "    owners = [client.post('/u-1/chat').json()['owner'] for _ in range(2)]\n\
         \x20   missing = client.post('/u-404/chat').status_code\n\
         \x20   me = client.get('/me', headers={'Authorization': 'Bearer signed-acct-5'}).json()['id']\n",
        "print(owners, missing, me)",
    );
    assert_eq!(out, "['acct-9', 'acct-9'] 404 acct-5");
    assert_eq!(host.billed("acct-9"), 2.0);
    assert_eq!(host.billed("acct-5"), 1.0);
}

/// ContextVar mode in Flask: a call site with no user id of its own is wired with
/// `current_customer_id()`, which the generated `before_request` hook fills from Flask-Login.
/// A signed-in request records exactly one event for that user; an anonymous one records none.
#[test]
fn flask_request_customer_reaches_a_call_site_without_a_user_id() {
    let Some((python, extra)) = flask_login_python() else {
        return;
    };
    let (emulator, base_url) = codegen::emulator();
    let api = codegen::Api::of(&emulator, &base_url);
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(&codegen::codegen_fixture("py", "flask-login"), dir.path());
    let mut plan = codegen::plan(&["llm-tokens"], Pricing::Unit, false, Some(&base_url));
    plan.customer = CustomerSource::Session;
    let meter = api.create_meter(&plan.meters[0]);
    let profile = python_profile(dir.path(), FrameworkId::Flask, "notes/__init__.py", "app");
    codegen::generate_into(dir.path(), &profile, &plan);
    // The route is what wiring writes for a call with no user id in scope.
    let script = format!(
        "import os\n\
         os.environ['SPAIRE_ACCESS_TOKEN'] = {token:?}\n\
         os.environ['SPAIRE_SERVER_URL'] = {base_url:?}\n\
         from notes import create_app\n\
         from notes.spaire_billing.usage import current_customer_id, flush_usage, record_llm_usage\n\
         app = create_app()\n\
         @app.get('/ask')\n\
         def ask() -> str:\n\
         \x20   record_llm_usage(current_customer_id(), {{'input_tokens': 7, 'output_tokens': 5}}, model='gpt-4o')\n\
         \x20   return 'ok'\n\
         client = app.test_client()\n\
         anonymous = client.get('/ask').status_code\n\
         client.post('/login/user-7')\n\
         signed_in = client.get('/ask').status_code\n\
         flush_usage()\n\
         print(anonymous, signed_in, repr(current_customer_id()))",
        token = emulator.token(),
    );
    let out = python_ok(&python, dir.path(), &script, extra.as_deref());
    assert_eq!(out, "200 200 ''", "outside a request there is no customer");
    let total = api.meter_total(&meter, "user-7");
    assert!(
        total > 0.0,
        "the signed-in request's tokens were not counted"
    );
    assert_eq!(
        api.events("user-7").len(),
        1,
        "one request, one event for its user"
    );
}
