//! Detection facts for every fixture project in `tests/fixtures/detect` (one per framework
//! and per trap from issue 2). The CLI tests pin the rendered output; these pin the data.

use std::path::PathBuf;

use crate::profile::{CallSiteKind as K, Confidence, FrameworkId as F, *};
use crate::{DetectOptions, detect};

fn fixture(name: &str) -> ProjectProfile {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/detect")
        .join(name);
    let options = DetectOptions {
        check_git: false,
        ..DetectOptions::default()
    };
    detect(&dir, &options).unwrap()
}

fn only(profile: &ProjectProfile) -> &Package {
    assert_eq!(profile.packages.len(), 1, "{:#?}", profile.packages);
    &profile.packages[0]
}

fn ids(pkg: &Package) -> Vec<(F, Confidence)> {
    pkg.frameworks
        .iter()
        .map(|f| (f.id, f.confidence))
        .collect()
}

fn pm(pkg: &Package) -> (PackageManager, Confidence, String) {
    let p = pkg.package_manager.as_ref().unwrap();
    (p.id, p.confidence, p.evidence[0].file.clone())
}

fn calls(pkg: &Package, kind: K) -> Vec<String> {
    pkg.call_sites
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| format!("{}:{}", c.file, c.line))
        .collect()
}

fn framework(pkg: &Package, id: F) -> &Framework {
    pkg.frameworks.iter().find(|f| f.id == id).unwrap()
}

#[test]
fn nextjs_app_router_with_ai_sdk() {
    let p = fixture("nextjs-app");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Nextjs, Confidence::High)]);
    let next = framework(pkg, F::Nextjs);
    assert_eq!(next.major, Some(15));
    assert_eq!(next.details.app_dir.as_deref(), Some("src/app"));
    assert!(pkg.src_dir);
    assert_eq!(pkg.language, Language::TypeScript);
    assert_eq!(pkg.module_system, Some(ModuleSystem::Esm));
    assert_eq!(
        pm(pkg),
        (
            PackageManager::Pnpm,
            Confidence::High,
            "pnpm-lock.yaml".into()
        )
    );
    assert_eq!(pkg.aliases[0].prefix, "@/*");
    assert_eq!(pkg.aliases[0].target, "src/*");
    assert_eq!(calls(pkg, K::StreamText), ["src/app/api/chat/route.ts:8"]);
    // `import { generateText as gen }` is found under its local name.
    let aliased = pkg
        .call_sites
        .iter()
        .find(|c| c.kind == K::GenerateText)
        .unwrap();
    assert_eq!((aliased.callee.as_str(), aliased.line), ("gen", 6));
    assert_eq!(calls(pkg, K::GenerateObject), ["src/lib/ai.ts:14"]);
    assert_eq!(calls(pkg, K::RouteHandler).len(), 2);
    assert_eq!(pkg.integration("ai").unwrap().major, Some(5));
    let env: Vec<_> = pkg.env_vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(env, ["SPAIRE_ACCESS_TOKEN", "SPAIRE_SERVER_URL"]);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn nextjs_pages_router_in_javascript() {
    let p = fixture("nextjs-pages");
    let pkg = only(&p);
    let next = framework(pkg, F::Nextjs);
    assert_eq!(next.details.pages_dir.as_deref(), Some("pages"));
    assert_eq!(next.details.app_dir, None);
    assert_eq!(pkg.language, Language::JavaScript);
    assert_eq!(pm(pkg).0, PackageManager::Npm);
    assert_eq!(calls(pkg, K::RouteHandler), ["pages/api/complete.js:5"]);
    assert_eq!(pkg.aliases[0].target, "lib/*");
}

#[test]
fn express_commonjs_with_s3() {
    let p = fixture("express");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Express, Confidence::High)]);
    let e = framework(pkg, F::Express);
    assert_eq!(e.details.entry_file.as_deref(), Some("src/index.js"));
    assert_eq!(e.details.app_variable.as_deref(), Some("app"));
    assert_eq!(pkg.module_system, Some(ModuleSystem::Cjs));
    assert_eq!(pm(pkg).0, PackageManager::Yarn);
    assert_eq!(calls(pkg, K::S3PutObject), ["src/routes/uploads.js:9"]);
    assert_eq!(calls(pkg, K::S3Upload), ["src/routes/uploads.js:14"]);
    assert!(pkg.aliases.iter().any(|a| a.prefix == "#lib/*"));
}

#[test]
fn fastify_esm_with_bun() {
    let pkg = only(&fixture("fastify")).clone();
    assert_eq!(ids(&pkg), [(F::Fastify, Confidence::High)]);
    assert_eq!(pkg.module_system, Some(ModuleSystem::Esm));
    assert_eq!(pm(&pkg).0, PackageManager::Bun);
    assert_eq!(
        pkg.integration("@anthropic-ai/sdk").unwrap().kind,
        IntegrationKind::LlmClient
    );
}

#[test]
fn hono_tsconfig_extends_with_comments() {
    let p = fixture("hono");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Hono, Confidence::High)]);
    let alias = &pkg.aliases[0];
    assert_eq!(
        (alias.prefix.as_str(), alias.target.as_str()),
        ("@/*", "src/*")
    );
    assert_eq!(alias.source.file, "tsconfig.base.json");
    assert_eq!(calls(pkg, K::StreamText), ["src/routes/chat.ts:9"]);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn elysia_src_app_is_not_nextjs() {
    let pkg = only(&fixture("elysia")).clone();
    assert_eq!(ids(&pkg), [(F::Elysia, Confidence::High)]);
    assert_eq!(pm(&pkg).0, PackageManager::Bun);
}

#[test]
fn sveltekit_routes_and_lib_alias() {
    let p = fixture("sveltekit");
    let pkg = only(&p);
    let kit = framework(pkg, F::Sveltekit);
    assert_eq!(kit.confidence, Confidence::High);
    assert_eq!(kit.details.routes_dir.as_deref(), Some("src/routes"));
    assert!(
        pkg.aliases
            .iter()
            .any(|a| a.prefix == "$lib" && a.target == "src/lib")
    );
    assert_eq!(
        calls(pkg, K::StreamText),
        ["src/routes/api/chat/+server.ts:7"]
    );
}

#[test]
fn nuxt4_app_dir_is_not_nextjs() {
    let p = fixture("nuxt4");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Nuxt, Confidence::High)]);
    let nuxt = framework(pkg, F::Nuxt);
    assert_eq!(nuxt.details.src_dir.as_deref(), Some("app"));
    assert_eq!(nuxt.details.server_dir.as_deref(), Some("server"));
    assert!(
        pkg.aliases
            .iter()
            .any(|a| a.prefix == "~" && a.target == "app")
    );
    assert_eq!(calls(pkg, K::GenerateText), ["server/api/chat.post.ts:6"]);
    assert_eq!(calls(pkg, K::RouteHandler), ["server/api/chat.post.ts:4"]);
}

/// Real-world idioms (sruusk/assistant, sinarhen/TestrialAI): the client handed to routes on
/// `event.context`, an Assistants run (not the free `threads.messages.create`), and a client
/// held by a class (a field initializer, or `this.client = new OpenAI()` in the constructor).
#[test]
fn nuxt_clients_on_the_event_context_and_in_class_fields() {
    let p = fixture("nuxt-context-client");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Nuxt, Confidence::High)]);
    assert_eq!(
        calls(pkg, K::OpenaiAssistantRun),
        ["server/api/run.post.ts:5"]
    );
    assert_eq!(
        calls(pkg, K::OpenaiChatCompletion),
        [
            "server/utils/summarizer.ts:12",
            "server/utils/summarizer.ts:16"
        ]
    );
}

#[test]
fn astro_serving_hono_reports_both() {
    let p = fixture("astro");
    let pkg = only(&p);
    assert_eq!(
        ids(pkg),
        [(F::Astro, Confidence::High), (F::Hono, Confidence::High)]
    );
    let astro = framework(pkg, F::Astro);
    assert_eq!(astro.details.output.as_deref(), Some("server"));
    assert_eq!(astro.details.adapter.as_deref(), Some("@astrojs/node"));
    assert!(p.notes.iter().any(|n| n.contains("astro/tsconfigs/strict")));
}

#[test]
fn remix_route_modules_need_a_loader_or_action() {
    let pkg = only(&fixture("remix")).clone();
    assert_eq!(ids(&pkg), [(F::Remix, Confidence::High)]);
    assert_eq!(calls(&pkg, K::RouteHandler), ["app/routes/api.usage.ts:3"]);
}

#[test]
fn react_router_with_express_server() {
    let pkg = only(&fixture("react-router")).clone();
    assert_eq!(
        ids(&pkg),
        [
            (F::ReactRouter, Confidence::High),
            (F::Express, Confidence::High)
        ]
    );
    assert_eq!(
        framework(&pkg, F::ReactRouter)
            .details
            .routes_dir
            .as_deref(),
        Some("app/routes")
    );
}

#[test]
fn node_serverless() {
    let pkg = only(&fixture("node-serverless")).clone();
    assert_eq!(ids(&pkg), [(F::NodeServerless, Confidence::High)]);
    assert_eq!(calls(&pkg, K::S3PutObject), ["handler.js:6"]);
}

#[test]
fn fastapi_with_uv_and_boto3() {
    let p = fixture("fastapi");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Fastapi, Confidence::High)]);
    let api = framework(pkg, F::Fastapi);
    assert_eq!(api.details.entry_file.as_deref(), Some("app/main.py"));
    assert_eq!(api.details.app_variable.as_deref(), Some("app"));
    assert_eq!(
        pm(pkg),
        (PackageManager::Uv, Confidence::High, "uv.lock".into())
    );
    assert_eq!(calls(pkg, K::Boto3PutObject), ["app/storage.py:7"]);
    assert_eq!(calls(pkg, K::Boto3UploadFile), ["app/storage.py:11"]);
    assert_eq!(
        pkg.integration("spaire-sdk").unwrap().kind,
        IntegrationKind::SpaireSdk
    );
    // Names only: the token value in `.env` never reaches the profile.
    assert_eq!(pkg.env_vars[0].name, "SPAIRE_ACCESS_TOKEN");
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("polar_oat_do_not_print_me"));
    // tests/ is not app code.
    assert!(pkg.call_sites.iter().all(|c| !c.file.starts_with("tests/")));
}

#[test]
fn flask_requirements_split_with_r_includes() {
    let pkg = only(&fixture("flask")).clone();
    let flask = framework(&pkg, F::Flask);
    assert_eq!(flask.confidence, Confidence::High);
    assert_eq!(flask.evidence[0].file, "requirements/base.txt");
    assert_eq!(flask.major, Some(3));
    assert_eq!(pm(&pkg).0, PackageManager::Pip);
}

#[test]
fn django_with_a_stray_package_lock_is_python() {
    let p = fixture("django");
    let pkg = only(&p);
    assert_eq!(pkg.language, Language::Python);
    assert_eq!(pm(pkg).0, PackageManager::Pip);
    let dj = framework(pkg, F::Django);
    assert_eq!(
        dj.details.settings_module.as_deref(),
        Some("shopsite.settings")
    );
    assert_eq!(calls(pkg, K::Boto3UploadFile), ["shop/views.py:8"]);
}

/// Real-world idiom (thenewboston-Backend): `proj/manage.py` inside the project's own
/// package, settings `proj.project.settings` resolved from the root where requirements.txt
/// is. One package at the root (Django declared and confirmed), not a second one at `proj/`.
#[test]
fn django_manage_py_inside_its_own_package() {
    let p = fixture("django-manage-in-package");
    let pkg = only(&p);
    assert_eq!(pkg.path, ".");
    assert_eq!(ids(pkg), [(F::Django, Confidence::High)]);
    let dj = framework(pkg, F::Django);
    assert_eq!(dj.details.entry_file.as_deref(), Some("proj/manage.py"));
    assert_eq!(
        dj.details.settings_module.as_deref(),
        Some("proj.project.settings")
    );
    assert_eq!(
        calls(pkg, K::OpenaiChatCompletion),
        ["proj/art/views.py:13"]
    );
    assert_eq!(calls(pkg, K::OpenaiImage), ["proj/art/views.py:23"]);
    // startproject's layout in a subfolder (`site/manage.py` + `site/site/settings.py`) keeps
    // its own package: its settings module resolves inside it.
    let django = fixture("django");
    assert_eq!(only(&django).path, ".");
}

/// Real-world idiom (albinbenny99/Weather-django): no requirements file nor pyproject at all.
/// manage.py and the settings module it names (with `INSTALLED_APPS`) make Django certain, so
/// `setup` picks the package at the root without `--package`.
#[test]
fn django_without_any_manifest_is_certain_from_manage_py_and_its_settings() {
    let p = fixture("django-no-manifest");
    let pkg = only(&p);
    assert_eq!(pkg.path, ".");
    assert_eq!(pkg.language, Language::Python);
    assert_eq!(ids(pkg), [(F::Django, Confidence::High)]);
    let dj = framework(pkg, F::Django);
    assert_eq!(
        dj.details.settings_module.as_deref(),
        Some("forecast.settings")
    );
    assert!(
        dj.evidence
            .iter()
            .any(|e| e.file == "forecast/settings.py" && e.text == "INSTALLED_APPS"),
        "{:?}",
        dj.evidence
    );
}

#[test]
fn fastapi_with_pydantic_ai_agent_defined_elsewhere() {
    let pkg = only(&fixture("fastapi-pydantic-ai")).clone();
    assert_eq!(
        ids(&pkg),
        [
            (F::Fastapi, Confidence::High),
            (F::PydanticAi, Confidence::High)
        ]
    );
    assert_eq!(pm(&pkg).0, PackageManager::Poetry);
    assert_eq!(calls(&pkg, K::AgentRun), ["bot/main.py:11"]);
    assert_eq!(calls(&pkg, K::AgentRunStream), ["bot/main.py:18"]);
    assert_eq!(calls(&pkg, K::AgentRunSync), ["bot/main.py:26"]);
    assert_eq!(
        framework(&pkg, F::Fastapi).details.app_variable.as_deref(),
        Some("api")
    );
}

#[test]
fn poetry_legacy_dev_dependencies() {
    let pkg = only(&fixture("poetry-legacy")).clone();
    assert_eq!(ids(&pkg), [(F::Flask, Confidence::High)]);
    assert_eq!(pm(&pkg).0, PackageManager::Poetry);
}

#[test]
fn uv_workspace_root_without_project_and_app_in_backend() {
    let p = fixture("uv-workspace");
    let pkg = only(&p);
    assert_eq!(pkg.path, "backend");
    assert_eq!(ids(pkg), [(F::Fastapi, Confidence::High)]);
    // The lockfile at the workspace root applies to the member.
    assert_eq!(
        pm(pkg),
        (PackageManager::Uv, Confidence::High, "uv.lock".into())
    );
    assert_eq!(pkg.workspace.as_ref().unwrap().kind, "uv workspace");
}

#[test]
fn go_gin_and_net_http() {
    let p = fixture("go-gin");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Gin, Confidence::High)]);
    let gin = framework(pkg, F::Gin);
    assert_eq!(
        gin.details.module_path.as_deref(),
        Some("github.com/acme/usage-api")
    );
    assert_eq!(gin.details.app_variable.as_deref(), Some("r"));
    let p = fixture("go-echo");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Echo, Confidence::High)]);
    assert_eq!(
        framework(pkg, F::Echo).details.app_variable.as_deref(),
        Some("e")
    );
    assert_eq!(calls(pkg, K::RouteHandler), ["server.go:11"]);
    assert_eq!(
        pkg.integration("github.com/openai/openai-go").unwrap().kind,
        IntegrationKind::LlmClient
    );
    let p = fixture("go-nethttp");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::GoNethttp, Confidence::High)]);
    assert_eq!(calls(pkg, K::RouteHandler), ["cmd/server/main.go:10"]);
}

#[test]
fn laravel_with_a_stray_package_lock_is_php() {
    let pkg = only(&fixture("laravel")).clone();
    assert_eq!(pkg.language, Language::Php);
    assert_eq!(ids(&pkg), [(F::Laravel, Confidence::High)]);
    assert_eq!(pm(&pkg).0, PackageManager::Composer);
}

#[test]
fn rails() {
    let pkg = only(&fixture("rails")).clone();
    assert_eq!(ids(&pkg), [(F::Rails, Confidence::High)]);
    assert_eq!(framework(&pkg, F::Rails).version.as_deref(), Some("7.2.1"));
    assert_eq!(pm(&pkg).0, PackageManager::Bundler);
}

#[test]
fn pnpm_turbo_monorepo() {
    let p = fixture("pnpm-turbo-monorepo");
    let paths: Vec<_> = p.packages.iter().map(|p| p.path.as_str()).collect();
    // packages/ui and the config package have nothing to wire; the root has no framework.
    assert_eq!(paths, ["apps/api", "apps/web", "packages/ai"]);
    for pkg in &p.packages {
        assert_eq!(
            pm(pkg),
            (
                PackageManager::Pnpm,
                Confidence::High,
                "pnpm-lock.yaml".into()
            )
        );
        let ws = pkg.workspace.as_ref().unwrap();
        assert_eq!(
            (ws.root.as_str(), ws.kind.as_str()),
            (".", "pnpm-workspace.yaml + turbo.json")
        );
    }
    let web = p.package("apps/web").unwrap();
    assert_eq!(
        framework(web, F::Nextjs).details.app_dir.as_deref(),
        Some("app")
    );
    assert!(!web.src_dir);
    // tsconfig extends a workspace package that is not installed; module comes from base.json.
    assert_eq!(web.module_system, Some(ModuleSystem::Esm));
    assert_eq!(web.env_vars[0].name, "SPAIRE_ACCESS_TOKEN");
    let ai = p.package("packages/ai").unwrap();
    // `"ai": "catalog:"` resolved through pnpm-workspace.yaml.
    assert_eq!(ai.integration("ai").unwrap().major, Some(5));
    assert_eq!(calls(ai, K::GenerateText), ["packages/ai/src/index.ts:5"]);
    assert_eq!(
        p.package_for_path("apps/web/app/api/ask/route.ts")
            .map(|p| p.path.as_str()),
        Some("apps/web")
    );
    assert!(p.package_for_path("README.md").is_none());
}

#[test]
fn framework_only_in_dev_dependencies_with_star_spec() {
    let p = fixture("devdeps-only");
    let pkg = only(&p);
    let astro = framework(pkg, F::Astro);
    assert_eq!(astro.confidence, Confidence::High);
    assert_eq!(astro.major, None);
    assert!(astro.evidence[0].text.ends_with("(dev only)"));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.code == "production-deploy-config")
    );
}

#[test]
fn no_framework_means_no_packages() {
    assert!(fixture("no-framework").packages.is_empty());
}

#[test]
fn malformed_manifests_warn_with_positions_and_detection_continues() {
    let p = fixture("malformed");
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Express, Confidence::High)]);
    let at: Vec<_> = p
        .warnings
        .iter()
        .filter(|w| w.code == "malformed-manifest")
        .map(|w| (w.file.clone().unwrap(), w.line.unwrap(), w.column.unwrap()))
        .collect();
    assert_eq!(
        at,
        [
            ("package.json".into(), 4, 25),
            ("pnpm-workspace.yaml".into(), 3, 2),
            ("tools/pyproject.toml".into(), 2, 14),
        ]
    );
}

#[test]
fn detecting_twice_gives_no_drift() {
    let a = fixture("pnpm-turbo-monorepo");
    let b = fixture("pnpm-turbo-monorepo");
    assert_eq!(a, b);
    assert!(b.drift_from(&a).is_empty());
    let mut c = b.clone();
    c.packages.remove(0);
    assert_eq!(c.drift_from(&a), ["package `apps/api` is gone"]);
}

#[test]
fn every_fixture_detects_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/detect");
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let p = fixture(&name);
        if name != "no-framework" {
            assert!(
                p.packages.iter().any(|p| !p.frameworks.is_empty()),
                "{name}: no framework"
            );
        }
    }
}

#[test]
fn odd_files_are_skipped_with_notes_and_detection_continues() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |rel: &str, bytes: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    write(
        "package.json",
        br#"{"dependencies":{"hono":"^4.6.0","ai":"^5.0.0"}}"#,
    );
    write(
        "src/index.ts",
        b"import { Hono } from 'hono';\nconst app = new Hono();\n",
    );
    // Not UTF-8, but mentions the AI SDK: must be skipped, not mis-decoded.
    write(
        "src/latin1.ts",
        b"import { generateText } from \"ai\"; // caf\xe9\n",
    );
    // Larger than the limit below.
    write("src/huge.ts", &vec![b'/'; 4096]);
    write("apps/x/package.json", &vec![b' '; 4096]);
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("src"), root.join("src/loop")).unwrap();
    let options = DetectOptions {
        max_file_bytes: 1024,
        check_git: false,
        ..DetectOptions::default()
    };
    let p = detect(root, &options).unwrap();
    let pkg = only(&p);
    assert_eq!(ids(pkg), [(F::Hono, Confidence::High)]);
    let notes = p.notes.join("\n");
    assert!(
        notes.contains("`src/latin1.ts`: skipped: not UTF-8 text"),
        "{notes}"
    );
    assert!(
        notes.contains("`src/huge.ts`: skipped: 4096 bytes is over the 1024-byte limit"),
        "{notes}"
    );
    assert!(notes.contains("`apps/x/package.json`: skipped"), "{notes}");
    #[cfg(unix)]
    assert!(notes.contains("symlink loop"), "{notes}");
}

#[test]
fn read_budget_is_respected_and_noted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("package.json"), r#"{"dependencies":{"ai":"^5"}}"#).unwrap();
    std::fs::create_dir(root.join("lib")).unwrap();
    for i in 0..30 {
        std::fs::write(
            root.join(format!("lib/f{i:02}.ts")),
            "import { generateText } from \"ai\";\nexport const f = () => generateText({});\n",
        )
        .unwrap();
    }
    let options = DetectOptions {
        max_source_files: 10,
        check_git: false,
        ..DetectOptions::default()
    };
    let p = detect(root, &options).unwrap();
    assert_eq!(only(&p).call_sites.len(), 10);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("20 source files not read")),
        "{:?}",
        p.notes
    );
}
