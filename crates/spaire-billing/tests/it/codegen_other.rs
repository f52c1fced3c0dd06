//! Proof for the standard-library generators (Go, PHP/Laravel, Ruby/Rails): `go vet` +
//! `go build` (Debian's Go; gin, echo and chi from Debian packages; fiber against a minimal
//! local stub because it cannot be installed here), `php -l`, `ruby -c`, and runtime tests
//! against the emulator for Go net/http and gin, plain PHP (curl) and plain Ruby (Net::HTTP).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use billing_detect::{FrameworkDetails, FrameworkId, Language, ProjectProfile};
use billing_plan::{BillingPlan, CustomerSource};

use crate::codegen::{self, Pricing};

const WEBHOOK_SECRET: &str = "spaire_whs_TestSecretForGeneratedCode0123456789abcdef";
const DEBIAN_GOCODE: &str = "/usr/share/gocode";

pub(crate) fn profile(root: &Path, language: Language, id: FrameworkId) -> ProjectProfile {
    codegen::profile(
        root,
        language,
        vec![codegen::framework(id, FrameworkDetails::default())],
    )
}

fn plans() -> Vec<(&'static str, BillingPlan)> {
    let all = ["llm-tokens-split", "api-calls", "storage", "compute-time"];
    let mut body = codegen::plan(&all, Pricing::Both, true, None);
    body.customer = CustomerSource::Body {
        field: "customerId".to_owned(),
    };
    let mut session = codegen::plan(&["api-calls"], Pricing::Unit, false, None);
    session.customer = CustomerSource::Session;
    vec![
        ("all", codegen::plan(&all, Pricing::Both, true, None)),
        (
            "api-only",
            codegen::plan(&["api-calls"], Pricing::Unit, false, None),
        ),
        (
            "llm-webhooks",
            codegen::plan(&["llm-tokens"], Pricing::Credits, true, None),
        ),
        ("body-customer", body),
        ("session-customer", session),
    ]
}

pub(crate) const GO_FIXTURES: &[(&str, FrameworkId)] = &[
    ("nethttp", FrameworkId::GoNethttp),
    ("gin", FrameworkId::Gin),
    ("echo", FrameworkId::Echo),
    ("chi", FrameworkId::Chi),
    ("fiber", FrameworkId::Fiber),
];

/// A GOPATH where `example.com/<case>` are the generated cases, gin/echo/chi come from
/// Debian's packages (linked under their module paths with major-version suffixes) and
/// fiber from the local stub. GOPATH mode because modules cannot be downloaded here.
struct GoPath {
    dir: tempfile::TempDir,
}

impl GoPath {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for (link, target) in [
            ("github.com/labstack/echo/v4", "github.com/labstack/echo"),
            ("github.com/go-chi/chi/v5", "github.com/go-chi/chi"),
        ] {
            let link = src.join(link);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(Path::new(DEBIAN_GOCODE).join("src").join(target), link)
                .unwrap();
        }
        codegen::copy_dir(&codegen::codegen_fixture("go", "stubs"), &src);
        GoPath { dir }
    }

    fn case_dir(&self, case: &str) -> PathBuf {
        self.dir.path().join("src/example.com").join(case)
    }

    fn go(&self, args: &[&str], cwd: &Path) -> Command {
        let mut cmd = Command::new("go");
        cmd.args(args)
            .current_dir(cwd)
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            .env(
                "GOPATH",
                format!("{}:{DEBIAN_GOCODE}", self.dir.path().display()),
            );
        cmd
    }
}

fn go_available() -> bool {
    if codegen::program("go").is_none() {
        return false;
    }
    let gin = Path::new(DEBIAN_GOCODE).join("src/github.com/gin-gonic/gin");
    codegen::toolchain(gin, "Debian's golang-github-gin-gonic-gin-dev").is_some()
}

/// Copies a Go fixture as `example.com/<case>` and generates into it.
fn go_case(
    gopath: &GoPath,
    case: &str,
    fixture: &str,
    id: FrameworkId,
    plan: &BillingPlan,
) -> PathBuf {
    let dir = gopath.case_dir(case);
    codegen::copy_dir(&codegen::codegen_fixture("go", fixture), &dir);
    std::fs::write(
        dir.join("go.mod"),
        format!("module example.com/{case}\n\ngo 1.19\n"),
    )
    .unwrap();
    codegen::generate_into(&dir, &profile(&dir, Language::Go, id), plan);
    dir
}

#[test]
fn generated_go_vets_and_builds_for_every_framework() {
    if !go_available() {
        return;
    }
    let gopath = GoPath::new();
    let mut cases = Vec::new();
    for (fixture, id) in GO_FIXTURES {
        for (name, plan) in plans() {
            let case = format!("{fixture}_{}", name.replace('-', "_"));
            go_case(&gopath, &case, fixture, *id, &plan);
            cases.push(format!("example.com/{case}/..."));
        }
    }
    let root = gopath.dir.path().join("src/example.com");
    // Generated Go, and the app files the registration edits (main.go), are gofmt-clean, so
    // users' `gofmt -l` CI checks stay green.
    let unformatted = codegen::run_ok(Command::new("gofmt").arg("-l").arg(&root), "gofmt -l");
    let unformatted: Vec<&str> = unformatted.lines().collect();
    assert!(unformatted.is_empty(), "not gofmt-clean: {unformatted:?}");
    let mut vet = gopath.go(&["vet"], &root);
    vet.args(&cases);
    codegen::run_ok(&mut vet, "go vet");
    let mut build = gopath.go(&["build"], &root);
    build.args(&cases);
    codegen::run_ok(&mut build, "go build");
}

/// The registration edits on real-app shapes (`tests/fixtures/plan/reg-*`, each copied to its
/// go.mod module path) keep the whole app gofmt-clean, vetted and building: the router line,
/// the webhook route, `FlushOnSignal` in main and the imports.
#[test]
fn registered_go_apps_stay_gofmt_clean_vet_and_build() {
    if !go_available() {
        return;
    }
    let gopath = GoPath::new();
    let mut cases = Vec::new();
    for (fixture, id, module, edited) in [
        ("reg-gin-realworld", FrameworkId::Gin, "reggin", true),
        ("reg-echo-router-pkg", FrameworkId::Echo, "regecho", true),
        ("reg-gin-shutdown", FrameworkId::Gin, "ginshutdown", true),
        ("reg-gin-setup-func", FrameworkId::Gin, "ginsetup", false),
    ] {
        let dir = gopath.case_dir(module);
        codegen::copy_dir(&crate::common::fixtures().join("plan").join(fixture), &dir);
        let mut plan = codegen::plan(&["api-calls"], Pricing::Unit, true, None);
        plan.customer = CustomerSource::Session;
        let changes = codegen::generate_into(&dir, &profile(&dir, Language::Go, id), &plan);
        assert_eq!(
            changes.files.iter().any(|f| f.path == "main.go"),
            edited,
            "{fixture}: {:?}",
            changes.files.iter().map(|f| &f.path).collect::<Vec<_>>()
        );
        cases.push(format!("example.com/{module}/..."));
    }
    let root = gopath.dir.path().join("src/example.com");
    let unformatted = codegen::run_ok(Command::new("gofmt").arg("-l").arg(&root), "gofmt -l");
    assert!(
        unformatted.trim().is_empty(),
        "not gofmt-clean: {unformatted}"
    );
    let mut vet = gopath.go(&["vet"], &root);
    vet.args(&cases);
    codegen::run_ok(&mut vet, "go vet");
    let mut build = gopath.go(&["build"], &root);
    build.args(&cases);
    codegen::run_ok(&mut build, "go build");
}

const GO_HARNESS: &str = r#"// Test harness: serves the fixture's routes through the generated middleware.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	ROUTER_IMPORT
	spairebilling "example.com/CASE/internal/spairebilling"
)

func llm(customerID string) {
	spairebilling.RecordLLMUsage(customerID, 10, 32, 0, "test-model")
}

func main() {
	handler := ROUTER
	server := &http.Server{Addr: os.Args[1], Handler: handler}
	go func() { _ = server.ListenAndServe() }()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = server.Shutdown(ctx)
	if err := spairebilling.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "flush:", err)
		os.Exit(1)
	}
}
"#;

const NETHTTP_ROUTER: &str = r#"func() http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
		mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
		mux.HandleFunc("/api/items", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "application/json"); _, _ = w.Write([]byte("[]")) })
		mux.HandleFunc("/api/auth/session", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "application/json"); _, _ = w.Write([]byte("{}")) })
		// No Content-Type set: net/http sniffs the page as text/html.
		mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<!DOCTYPE html><html><body>page</body></html>")) })
		mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/page", http.StatusFound) })
		mux.HandleFunc("/llm", func(w http.ResponseWriter, r *http.Request) { llm(r.Header.Get("x-customer-id")); _, _ = w.Write([]byte("ok")) })
		mux.Handle(spairebilling.WebhookPath, spairebilling.WebhookHandler())
		return spairebilling.APICallMiddleware(mux)
	}()"#;

const GIN_ROUTER: &str = r#"func() http.Handler {
		gin.SetMode(gin.ReleaseMode)
		router := gin.New()
		router.Use(spairebilling.GinAPICallMiddleware())
		router.GET("/health", func(c *gin.Context) { c.String(200, "ok") })
		router.GET("/boom", func(c *gin.Context) { c.String(500, "boom") })
		router.GET("/api/items", func(c *gin.Context) { c.JSON(200, []string{}) })
		router.GET("/api/auth/session", func(c *gin.Context) { c.JSON(200, map[string]string{}) })
		router.GET("/page", func(c *gin.Context) { c.Data(200, "text/html; charset=utf-8", []byte("<html>page</html>")) })
		router.GET("/old", func(c *gin.Context) { c.Redirect(302, "/page") })
		router.POST("/llm", func(c *gin.Context) { llm(c.GetHeader("x-customer-id")); c.String(200, "ok") })
		router.POST(spairebilling.WebhookPath, spairebilling.GinWebhookHandler())
		return router
	}()"#;

const ECHO_ROUTER: &str = r#"func() http.Handler {
		e := echo.New()
		e.HideBanner = true
		e.Use(spairebilling.EchoAPICallMiddleware())
		e.GET("/health", func(c echo.Context) error { return c.String(200, "ok") })
		e.GET("/boom", func(c echo.Context) error { return echo.NewHTTPError(500, "boom") })
		e.GET("/api/items", func(c echo.Context) error { return c.JSON(200, []string{}) })
		e.GET("/api/auth/session", func(c echo.Context) error { return c.JSON(200, map[string]string{}) })
		e.GET("/page", func(c echo.Context) error { return c.HTML(200, "<html>page</html>") })
		e.GET("/old", func(c echo.Context) error { return c.Redirect(302, "/page") })
		e.POST("/llm", func(c echo.Context) error { llm(c.Request().Header.Get("x-customer-id")); return c.String(200, "ok") })
		e.POST(spairebilling.WebhookPath, spairebilling.EchoWebhookHandler())
		return e
	}()"#;

/// Builds the harness for `fixture` and returns the binary.
fn go_harness(gopath: &GoPath, fixture: &str, id: FrameworkId, server_url: &str) -> PathBuf {
    let case = format!("run_{fixture}_{}", codegen::free_port());
    let plan = codegen::plan(
        &["llm-tokens", "api-calls"],
        Pricing::Unit,
        true,
        Some(server_url),
    );
    let dir = go_case(gopath, &case, fixture, id, &plan);
    let (import, router) = match fixture {
        "gin" => ("\"github.com/gin-gonic/gin\"", GIN_ROUTER),
        "echo" => ("\"github.com/labstack/echo/v4\"", ECHO_ROUTER),
        _ => ("", NETHTTP_ROUTER),
    };
    let harness = GO_HARNESS
        .replace("ROUTER_IMPORT", import)
        .replace("ROUTER", router)
        .replace("CASE", &case);
    std::fs::create_dir_all(dir.join("cmd/harness")).unwrap();
    std::fs::write(dir.join("cmd/harness/main.go"), harness).unwrap();
    let binary = dir.join("harness-bin");
    let mut build = gopath.go(
        &["build", "-o", binary.to_str().unwrap(), "./cmd/harness"],
        &dir,
    );
    codegen::run_ok(&mut build, "go build harness");
    binary
}

fn spawn_server(
    binary: &Path,
    args: &[&str],
    server_url: &str,
    token: &str,
    health: &str,
) -> (std::process::Child, String) {
    let port = codegen::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(binary)
        .args(args)
        .arg(&addr)
        .env("SPAIRE_ACCESS_TOKEN", token)
        .env("SPAIRE_SERVER_URL", server_url)
        .env("SPAIRE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        // Not the shared default spool directory: a server stopped while the API is down would
        // leave files there for every later run (the spool has its own test, spool_go_php.rs).
        .env("SPAIRE_USAGE_SPOOL_DIR", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://{addr}");
    codegen::wait_until_up(&format!("{base}{health}"), 30, &mut child);
    (child, base)
}

fn assert_webhooks(url: &str) {
    let body = codegen::order_paid_body();
    let headers = codegen::signed_headers(WEBHOOK_SECRET, &body);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        codegen::http("POST", url, &pairs, &body).unwrap().0,
        202,
        "signed order.paid"
    );
    // The same webhook-id again: acknowledged (200), not dispatched a second time.
    assert_eq!(
        codegen::http("POST", url, &pairs, &body).unwrap().0,
        200,
        "replayed order.paid"
    );
    assert_eq!(
        codegen::declared_oversize_status(url),
        413,
        "a 300 MB Content-Length is refused before the body is sent"
    );
    let tampered = body.replacen("order.paid", "order.paie", 1);
    assert_eq!(
        codegen::http("POST", url, &pairs, &tampered).unwrap().0,
        403,
        "tampered body"
    );
    let wrong = codegen::signed_headers("spaire_whs_another_secret", &body);
    let pairs: Vec<(&str, &str)> = wrong
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        codegen::http("POST", url, &pairs, &body).unwrap().0,
        403,
        "wrong secret"
    );
    let unknown = r#"{"type":"future.event","data":{}}"#;
    let headers = codegen::signed_headers(WEBHOOK_SECRET, unknown);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        codegen::http("POST", url, &pairs, unknown).unwrap().0,
        202,
        "unknown type"
    );
}

fn go_runtime(fixture: &str, id: FrameworkId) {
    if !go_available() {
        return;
    }
    let gopath = GoPath::new();
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let binary = go_harness(&gopath, fixture, id, &base_url);
    let plan = codegen::plan(&["llm-tokens", "api-calls"], Pricing::Unit, true, None);
    let meters: Vec<(String, String)> = plan
        .meters
        .iter()
        .map(|m| (m.name.clone(), api.create_meter(m)))
        .collect();
    let (mut child, base) = spawn_server(&binary, &[], &base_url, emulator.token(), "/health");
    let customer = format!("cust-go-{fixture}");
    for _ in 0..5 {
        assert_eq!(
            codegen::http(
                "GET",
                &format!("{base}/api/items"),
                &[("x-customer-id", &customer)],
                ""
            )
            .unwrap()
            .0,
            200
        );
    }
    assert_not_billed(&base, &customer);
    assert_eq!(
        codegen::http("GET", &format!("{base}/health"), &[], "")
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        codegen::http(
            "GET",
            &format!("{base}/boom"),
            &[("x-customer-id", &customer)],
            ""
        )
        .unwrap()
        .0,
        500
    );
    for _ in 0..3 {
        assert_eq!(
            codegen::http(
                "POST",
                &format!("{base}/llm"),
                &[("x-customer-id", &customer)],
                ""
            )
            .unwrap()
            .0,
            200
        );
    }
    assert_webhooks(&format!("{base}{}", billing_generate::go::WEBHOOK_PATH));
    let output = codegen::stop(&mut child, "TERM", 30);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "exit {:?}: {logs}", output.status);
    let total = |name: &str| {
        api.meter_total(
            &meters.iter().find(|(n, _)| n == name).unwrap().1,
            &customer,
        )
    };
    // 5 × /api/items + 3 × /llm; not the health check, page, redirect, session poll, error.
    assert_eq!(total("api-calls"), 8.0, "{logs}");
    assert_eq!(total("llm-token-usage"), 3.0 * 42.0, "{logs}");

    // API down: requests are answered at once and shutdown gives up within its deadline.
    let dead = format!("http://127.0.0.1:{}", codegen::free_port());
    let binary = go_harness(&gopath, fixture, id, &dead);
    let (mut child, base) = spawn_server(&binary, &[], &dead, "token-for-a-dead-api", "/health");
    for _ in 0..20 {
        let started = std::time::Instant::now();
        assert_eq!(
            codegen::http(
                "POST",
                &format!("{base}/llm"),
                &[("x-customer-id", "cust-down")],
                ""
            )
            .unwrap()
            .0,
            200
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "request blocked on the API"
        );
    }
    let output = codegen::stop(&mut child, "TERM", 40);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        logs.contains("could not be delivered") || logs.contains("flush:"),
        "{logs}"
    );
}

/// Issue #14: requests the `api-calls` meter never bills, each answered as the app answers it
/// (the caller's meter total proves none was counted): a health check, a page (HTML), a
/// redirect, and the auth library's session poll (JSON, under a never-billed `auth` segment).
fn assert_not_billed(base: &str, customer: &str) {
    for (path, status) in [
        ("/health", 200),
        ("/page", 200),
        ("/old", 302),
        ("/api/auth/session", 200),
    ] {
        assert_eq!(
            codegen::http(
                "GET",
                &format!("{base}{path}"),
                &[("x-customer-id", customer)],
                ""
            )
            .unwrap()
            .0,
            status,
            "{path}"
        );
    }
}

#[test]
fn go_nethttp_usage_reaches_the_meters_and_webhooks_verify() {
    go_runtime("nethttp", FrameworkId::GoNethttp);
}

#[test]
fn go_gin_usage_reaches_the_meters_and_webhooks_verify() {
    go_runtime("gin", FrameworkId::Gin);
}

#[test]
fn go_echo_usage_reaches_the_meters_and_webhooks_verify() {
    go_runtime("echo", FrameworkId::Echo);
}

const GIN_AUTH_ROUTER: &str = r#"func() http.Handler {
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		r.Use(spairebilling.GinAPICallMiddleware())
		r.POST(spairebilling.WebhookPath, spairebilling.GinWebhookHandler())
		r.GET("/health", func(c *gin.Context) { c.String(200, "ok") })
		public := r.Group("/api/public")
		public.Use(users.AuthMiddleware(false))
		public.GET("/", func(c *gin.Context) { c.String(200, "ok") })
		api := r.Group("/api")
		api.Use(users.AuthMiddleware(true))
		api.GET("/user", func(c *gin.Context) { c.String(200, "ok") })
		return r
	}()"#;

const ECHO_AUTH_ROUTER: &str = r#"func() http.Handler {
		e := echo.New()
		e.HideBanner = true
		e.Use(spairebilling.EchoAPICallMiddleware())
		e.POST(spairebilling.WebhookPath, spairebilling.EchoWebhookHandler())
		e.GET("/health", func(c echo.Context) error { return c.String(200, "ok") })
		api := e.Group("/api", auth.JWT())
		api.GET("/user", func(c echo.Context) error { return c.String(200, "ok") })
		return e
	}()"#;

/// `session` customers on gin and echo: the app's own auth middleware, on a route group,
/// stores the user in the framework context (`c.Set("my_user_id", id)` in gin-realworld,
/// `c.Set("user", userID)` in echo-realworld); the generated middleware finds that key in the
/// app's code and bills the signed-in user, and nobody for a request the auth refused.
fn go_session_runtime(fixture: &str, id: FrameworkId, key: &str, router: &str, import: &str) {
    if !go_available() {
        return;
    }
    let gopath = GoPath::new();
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let mut plan = codegen::plan(
        &["llm-tokens", "api-calls"],
        Pricing::Unit,
        true,
        Some(&base_url),
    );
    plan.customer = CustomerSource::Session;
    let case = format!("{}_{}", fixture.replace('-', "_"), codegen::free_port());
    let dir = go_case(&gopath, &case, fixture, id, &plan);
    let customer_go =
        std::fs::read_to_string(dir.join("internal/spairebilling/customer.go")).unwrap();
    assert!(
        customer_go.contains(&format!("const ContextUserKey = \"{key}\"")),
        "{customer_go}"
    );
    assert!(
        !customer_go.contains("returns no user id yet"),
        "{customer_go}"
    );
    // The fixture imports its own packages by the fixture's module path.
    for entry in walkdir_go(&dir) {
        let text = std::fs::read_to_string(&entry).unwrap();
        let moved = text.replace(
            &format!("example.com/{fixture}/"),
            &format!("example.com/{case}/"),
        );
        std::fs::write(&entry, moved).unwrap();
    }
    let harness = GO_HARNESS
        .replace(
            "ROUTER_IMPORT",
            &format!(
                "{import}\n\t\"example.com/{case}/{}\"",
                if fixture.starts_with("gin") {
                    "users"
                } else {
                    "auth"
                }
            ),
        )
        .replace("ROUTER", router)
        .replace("CASE", &case);
    std::fs::create_dir_all(dir.join("cmd/harness")).unwrap();
    std::fs::write(dir.join("cmd/harness/main.go"), harness).unwrap();
    let binary = dir.join("harness-bin");
    let mut build = gopath.go(
        &["build", "-o", binary.to_str().unwrap(), "./cmd/harness"],
        &dir,
    );
    codegen::run_ok(&mut build, "go build harness");
    let meter = api.create_meter(plan.meters.iter().find(|m| m.name == "api-calls").unwrap());
    let (mut child, base) = spawn_server(&binary, &[], &base_url, emulator.token(), "/health");
    let user = format!("{}", 40 + codegen::free_port() % 1000);
    let token = format!("Token {user}");
    for _ in 0..3 {
        let status = codegen::http(
            "GET",
            &format!("{base}/api/user"),
            &[("authorization", &token)],
            "",
        )
        .unwrap()
        .0;
        assert_eq!(status, 200);
    }
    // Refused by the app's auth: no user in the context, nothing billed.
    if fixture.starts_with("gin") {
        // Let through anonymously: the auth middleware stored id 0, which is nobody.
        let anonymous = codegen::http("GET", &format!("{base}/api/public/"), &[], "")
            .unwrap()
            .0;
        assert_eq!(anonymous, 200);
    }
    let refused = codegen::http("GET", &format!("{base}/api/user"), &[], "")
        .unwrap()
        .0;
    assert_eq!(refused, 401);
    let output = codegen::stop(&mut child, "TERM", 30);
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "exit {:?}: {logs}", output.status);
    assert_eq!(api.meter_total(&meter, &user), 3.0, "{logs}");
    assert_eq!(api.meter_total(&meter, "0"), 0.0, "{logs}");
}

fn walkdir_go(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walkdir_go(&path));
        } else if path.extension().is_some_and(|e| e == "go") {
            out.push(path);
        }
    }
    out
}

#[test]
fn go_gin_session_customer_is_the_user_the_apps_auth_middleware_set() {
    go_session_runtime(
        "gin-auth-context",
        FrameworkId::Gin,
        "my_user_id",
        GIN_AUTH_ROUTER,
        "\"github.com/gin-gonic/gin\"",
    );
}

#[test]
fn go_echo_session_customer_is_the_user_the_apps_auth_middleware_set() {
    go_session_runtime(
        "echo-auth-context",
        FrameworkId::Echo,
        "user",
        ECHO_AUTH_ROUTER,
        "\"github.com/labstack/echo/v4\"",
    );
}

/// Generated PHP and Ruby for every plan variant, for `php -l` / `ruby -c`.
fn generated_files(
    language_dir: &str,
    fixture: &str,
    language: Language,
    id: FrameworkId,
    ext: &str,
) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, plan) in plans() {
        let case = dir.path().join(name);
        codegen::copy_dir(&codegen::codegen_fixture(language_dir, fixture), &case);
        let changes = codegen::generate_into(&case, &profile(&case, language, id), &plan);
        files.extend(
            changes
                .files
                .iter()
                .filter(|f| f.path.ends_with(ext))
                .map(|f| case.join(&f.path)),
        );
    }
    (dir, files)
}

#[test]
fn generated_php_passes_php_lint() {
    let Some(php) = codegen::program("php") else {
        return;
    };
    for fixture in ["laravel11", "laravel10"] {
        let (_dir, files) =
            generated_files("php", fixture, Language::Php, FrameworkId::Laravel, ".php");
        assert!(files.len() > 20, "{fixture}: {} files", files.len());
        for file in files {
            codegen::run_ok(
                Command::new(&php).arg("-l").arg(&file),
                &format!("php -l {}", file.display()),
            );
        }
    }
}

#[test]
fn generated_ruby_passes_ruby_syntax_check() {
    let Some(ruby) = codegen::program("ruby") else {
        return;
    };
    let (_dir, files) = generated_files("ruby", "rails", Language::Ruby, FrameworkId::Rails, ".rb");
    assert!(files.len() > 20, "{} files", files.len());
    for file in files {
        codegen::run_ok(
            Command::new(&ruby).arg("-wc").arg(&file),
            &format!("ruby -c {}", file.display()),
        );
    }
}

/// Plain-PHP driver of the generated classes (no Laravel: they only need curl).
const PHP_DRIVER: &str = r#"<?php
foreach (['SpaireConfig', 'UsageRecorder', 'Usage', 'WebhookHandlers', 'WebhookVerifier'] as $class) {
    require __DIR__ . "/app/Spaire/{$class}.php";
}
use App\Spaire\Usage;
use App\Spaire\WebhookVerifier;

$mode = $argv[1];
if ($mode === 'record') {
    $started = microtime(true);
    for ($i = 0; $i < 5; $i++) {
        Usage::recordApiCall($argv[2], '/health', 'GET');
    }
    // The generated Laravel middleware (on minimal Request / Response stand-ins) bills API
    // calls only (1 here), never the health check, a page, a redirect, the auth session poll,
    // an asset or an error (issue #14).
    require __DIR__ . '/laravel_stubs.php';
    require __DIR__ . '/app/Http/Middleware/SpaireUsage.php';
    $routes = [
        '/api/items' => [200, 'application/json'],
        '/up' => [200, 'text/html; charset=UTF-8'],
        '/health' => [200, 'application/json'],
        '/dashboard' => [200, 'text/html; charset=UTF-8'],
        '/old' => [302, 'text/html; charset=UTF-8'],
        '/api/auth/session' => [200, 'application/json'],
        '/build/app.js' => [200, 'text/javascript'],
        '/boom' => [500, 'application/json'],
    ];
    $middleware = new \App\Http\Middleware\SpaireUsage();
    foreach ($routes as $path => [$status, $type]) {
        $request = new \Illuminate\Http\Request($path, ['x-customer-id' => $argv[2]]);
        $middleware->handle($request, fn ($r) => new \Symfony\Component\HttpFoundation\Response($status, ['Content-Type' => $type]));
    }
    for ($i = 0; $i < 3; $i++) {
        Usage::recordLlmUsage($argv[2], 10, 32, 0, 'test-model');
    }
    // Recording is in memory only; delivery happens at shutdown.
    fwrite(STDOUT, sprintf("recorded in %.1f ms\n", (microtime(true) - $started) * 1000));
} elseif ($mode === 'webhook') {
    $headers = json_decode(file_get_contents($argv[3]), true);
    $body = file_get_contents($argv[2]);
    // Twice in one process: the second delivery of a webhook-id is a replay.
    echo WebhookVerifier::handle($body, $headers), ' ', WebhookVerifier::handle($body, $headers);
} elseif ($mode === 'oversize') {
    echo WebhookVerifier::handle(str_repeat(' ', WebhookVerifier::MAX_BODY_BYTES + 1), []);
}
"#;

/// Minimal stand-ins for the two Laravel / Symfony classes the generated middleware uses
/// (Laravel itself cannot be installed here), with the real methods' behaviour: `path()` has
/// no leading slash (`/` for the root), header names are case-insensitive.
const PHP_LARAVEL_STUBS: &str = r#"<?php
namespace Symfony\Component\HttpFoundation {
    class HeaderBag
    {
        private array $headers = [];
        public function __construct(array $headers)
        {
            foreach ($headers as $name => $value) {
                $this->headers[strtolower($name)] = $value;
            }
        }
        public function get(string $key, ?string $default = null): ?string
        {
            return $this->headers[strtolower($key)] ?? $default;
        }
    }
    class Response
    {
        public HeaderBag $headers;
        public function __construct(private int $status, array $headers = [])
        {
            $this->headers = new HeaderBag($headers);
        }
        public function getStatusCode(): int
        {
            return $this->status;
        }
    }
}
namespace Illuminate\Http {
    class Request
    {
        public \Symfony\Component\HttpFoundation\HeaderBag $headers;
        public function __construct(private string $uri, array $headers = [])
        {
            $this->headers = new \Symfony\Component\HttpFoundation\HeaderBag($headers);
        }
        public function path(): string
        {
            $path = trim($this->uri, '/');
            return $path === '' ? '/' : $path;
        }
        public function method(): string
        {
            return 'GET';
        }
        public function header(string $key, ?string $default = null): ?string
        {
            return $this->headers->get($key, $default);
        }
        public function input(string $key, mixed $default = null): mixed
        {
            return $default;
        }
        public function user(): mixed
        {
            return null;
        }
    }
}
"#;

/// Plain-Ruby driver of the generated library (no Rails: it only needs the stdlib).
const RUBY_DRIVER: &str = r#"require_relative "lib/spaire_billing"

case ARGV[0]
when "record"
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  5.times { SpaireBilling::Usage.record_api_call(ARGV[1], "/health", "GET") }
  3.times { SpaireBilling::Usage.record_llm_usage(ARGV[1], input_tokens: 10, output_tokens: 32, model: "test-model") }
  # A Rack app behind the generated middleware counts like a real request: API calls only
  # (2 here), never the health check, a page, a redirect, the auth session poll, an asset or
  # an error (issue #14).
  routes = {
    "/api/items" => [200, { "content-type" => "application/json" }, ["[]"]],
    "/api/legacy" => [200, { "Content-Type" => "application/json" }, ["[]"]],
    "/health" => [200, { "content-type" => "text/plain" }, ["ok"]],
    "/" => [200, { "content-type" => "text/html; charset=utf-8" }, ["<html></html>"]],
    "/old" => [302, { "location" => "/" }, []],
    "/api/auth/session" => [200, { "content-type" => "application/json" }, ["{}"]],
    "/assets/app.js" => [200, { "content-type" => "text/javascript" }, [""]],
    "/boom" => [500, {}, ["boom"]]
  }
  app = SpaireBilling::ApiCallMiddleware.new(->(env) { routes.fetch(env["PATH_INFO"]) })
  routes.each_key do |path|
    app.call("PATH_INFO" => path, "REQUEST_METHOD" => "GET", "HTTP_X_CUSTOMER_ID" => ARGV[1])
  end
  puts format("recorded in %.1f ms", (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000)
when "webhook"
  require "json"
  body = File.read(ARGV[1])
  headers = JSON.parse(File.read(ARGV[2]))
  # Twice in one process: the second delivery of a webhook-id is a replay.
  print SpaireBilling::WebhookVerifier.handle(body, headers), " ", SpaireBilling::WebhookVerifier.handle(body, headers)
when "oversize"
  print SpaireBilling::WebhookVerifier.handle(" " * (SpaireBilling::WebhookVerifier::MAX_BODY_BYTES + 1), {})
end
"#;

struct Script {
    language_dir: &'static str,
    fixture: &'static str,
    language: Language,
    framework: FrameworkId,
    program: &'static str,
    driver_file: &'static str,
    driver: &'static str,
    /// Other files the driver loads: (name, text).
    extra: &'static [(&'static str, &'static str)],
    /// API calls the driver records per run (helpers + middleware).
    api_calls: f64,
}

const PHP: Script = Script {
    language_dir: "php",
    fixture: "laravel11",
    language: Language::Php,
    framework: FrameworkId::Laravel,
    program: "php",
    driver_file: "driver.php",
    driver: PHP_DRIVER,
    extra: &[("laravel_stubs.php", PHP_LARAVEL_STUBS)],
    api_calls: 6.0,
};

const RUBY: Script = Script {
    language_dir: "ruby",
    fixture: "rails",
    language: Language::Ruby,
    framework: FrameworkId::Rails,
    program: "ruby",
    driver_file: "driver.rb",
    driver: RUBY_DRIVER,
    extra: &[],
    api_calls: 7.0,
};

fn script_runtime(script: &Script) {
    let Some(program) = codegen::program(script.program) else {
        return;
    };
    let emulator =
        billing_emulator::spawn_background(billing_emulator::EmulatorConfig::default()).unwrap();
    let base_url = emulator.base_url();
    let api = codegen::Api {
        base: &base_url,
        token: emulator.token(),
    };
    let plan = codegen::plan(
        &["llm-tokens", "api-calls"],
        Pricing::Unit,
        true,
        Some(&base_url),
    );
    let meters: Vec<(String, String)> = plan
        .meters
        .iter()
        .map(|m| (m.name.clone(), api.create_meter(m)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    codegen::copy_dir(
        &codegen::codegen_fixture(script.language_dir, script.fixture),
        dir.path(),
    );
    codegen::generate_into(
        dir.path(),
        &profile(dir.path(), script.language, script.framework),
        &plan,
    );
    std::fs::write(dir.path().join(script.driver_file), script.driver).unwrap();
    for (name, text) in script.extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let run = |args: &[&str], server_url: &str, token: &str| {
        Command::new(&program)
            .arg(script.driver_file)
            .args(args)
            .current_dir(dir.path())
            .env("SPAIRE_ACCESS_TOKEN", token)
            .env("SPAIRE_SERVER_URL", server_url)
            .env("SPAIRE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            // The app's own spool, not the machine's temp dir: the "API down" run leaves its
            // events there, and a later run with the same token would send them.
            .env(
                "SPAIRE_USAGE_SPOOL_DIR",
                dir.path().join(".spaire-usage-spool"),
            )
            .output()
            .unwrap()
    };
    let customer = format!("cust-{}", script.program);
    let output = run(&["record", &customer], &base_url, emulator.token());
    let logs = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{logs}");
    let total = |name: &str| {
        api.meter_total(
            &meters.iter().find(|(n, _)| n == name).unwrap().1,
            &customer,
        )
    };
    assert_eq!(total("api-calls"), script.api_calls, "{logs}");
    assert_eq!(total("llm-token-usage"), 3.0 * 42.0, "{logs}");

    // Webhooks, each delivered twice: signed → 202 then 200 (replay, not dispatched again),
    // tampered → 403, wrong secret → 403, unknown type → 202 then 200; oversize → 413.
    let body = codegen::order_paid_body();
    let check = |body: &str, headers: &[(String, String)]| -> String {
        std::fs::write(dir.path().join("body.json"), body).unwrap();
        let map: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        std::fs::write(
            dir.path().join("headers.json"),
            serde_json::Value::Object(map).to_string(),
        )
        .unwrap();
        let output = run(
            &["webhook", "body.json", "headers.json"],
            &base_url,
            emulator.token(),
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let signed = codegen::signed_headers(WEBHOOK_SECRET, &body);
    assert_eq!(check(&body, &signed), "202 200");
    assert_eq!(
        check(&body.replacen("order.paid", "order.paie", 1), &signed),
        "403 403"
    );
    assert_eq!(
        check(&body, &codegen::signed_headers("spaire_whs_other", &body)),
        "403 403"
    );
    let unknown = r#"{"type":"future.event","data":{}}"#;
    assert_eq!(
        check(unknown, &codegen::signed_headers(WEBHOOK_SECRET, unknown)),
        "202 200"
    );
    let oversize = run(&["oversize"], &base_url, emulator.token());
    assert_eq!(
        String::from_utf8_lossy(&oversize.stdout).trim(),
        "413",
        "{}",
        String::from_utf8_lossy(&oversize.stderr)
    );

    // API down: recording still returns at once and the process exits cleanly.
    let dead = format!("http://127.0.0.1:{}", codegen::free_port());
    let started = std::time::Instant::now();
    let output = run(&["record", "cust-down"], &dead, "token-for-a-dead-api");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let recorded_ms: f64 = stdout
        .trim()
        .trim_start_matches("recorded in ")
        .trim_end_matches(" ms")
        .parse()
        .unwrap();
    assert!(recorded_ms < 100.0, "recording blocked: {stdout}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn php_recorder_and_webhook_verifier_work_against_the_emulator() {
    script_runtime(&PHP);
}

#[test]
fn ruby_recorder_and_webhook_verifier_work_against_the_emulator() {
    script_runtime(&RUBY);
}

/// What generation changes in each Go, Laravel and Rails fixture.
#[test]
fn other_languages_generation_snapshot() {
    let plan = codegen::plan(
        &["llm-tokens", "api-calls", "storage", "compute-time"],
        Pricing::Both,
        true,
        None,
    );
    let mut out = String::new();
    let cases: Vec<(&str, &str, Language, FrameworkId)> = GO_FIXTURES
        .iter()
        .map(|(name, id)| ("go", *name, Language::Go, *id))
        .chain([
            ("php", "laravel11", Language::Php, FrameworkId::Laravel),
            ("php", "laravel10", Language::Php, FrameworkId::Laravel),
            ("ruby", "rails", Language::Ruby, FrameworkId::Rails),
        ])
        .collect();
    for (language_dir, fixture, language, id) in cases {
        let dir = tempfile::tempdir().unwrap();
        codegen::copy_dir(&codegen::codegen_fixture(language_dir, fixture), dir.path());
        let changes = codegen::generate_into(dir.path(), &profile(dir.path(), language, id), &plan);
        out.push_str(&format!(
            "===== {fixture}\n{}\n",
            codegen::describe(&changes)
        ));
    }
    insta::assert_snapshot!(out);
}
