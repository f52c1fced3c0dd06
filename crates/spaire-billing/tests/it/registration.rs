//! API-call metering registered where requests really flow, on fixtures that reproduce the
//! idioms of real apps (issue 13): the diff `plan` shows for the edited (or created) file is
//! pinned per fixture, and the other candidate files stay untouched.

use crate::common::{billing, copy_fixture, transcript};

/// `plan`'s unified diff of `file` (from its `+++ b/<file>` line to the next file).
fn planned_diff(fixture: &str, file: &str) -> (String, String) {
    let dir = copy_fixture("plan", fixture);
    let output = billing().arg("plan").arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let marker = format!("+++ b/{file}\n");
    let start = stdout
        .find(&marker)
        .unwrap_or_else(|| panic!("no change to {file}:\n{stdout}"));
    let rest = &stdout[start..];
    let end = rest[marker.len()..]
        .find("\n--- ")
        .map_or(rest.len(), |i| marker.len() + i + 1);
    (rest[..end].to_owned(), stdout)
}

fn changed_files(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("+++ b/"))
        .collect()
}

#[test]
fn hono_registers_on_the_served_openapihono_app_not_the_sub_app() {
    let (diff, stdout) = planned_diff("reg-hono-subapp", "src/index.ts");
    assert!(!changed_files(&stdout).contains(&"src/api.ts"), "{stdout}");
    insta::assert_snapshot!(diff);
}

#[test]
fn fastify_autoload_gets_a_plugin_file_in_its_plugins_folder() {
    let (diff, stdout) = planned_diff(
        "reg-fastify-autoload",
        "src/plugins/external/spaire-billing.ts",
    );
    let files = changed_files(&stdout);
    assert!(!files.contains(&"src/server.ts"), "{stdout}");
    assert!(!files.contains(&"src/app.ts"), "{stdout}");
    assert!(!stdout.contains("Manual steps:"), "{stdout}");
    insta::assert_snapshot!(diff);
}

#[test]
fn elysia_registers_on_the_real_app_not_the_catch_fallback() {
    let (diff, stdout) = planned_diff("reg-elysia-fallback", "src/server.ts");
    assert!(
        !changed_files(&stdout).contains(&"src/index.ts"),
        "{stdout}"
    );
    insta::assert_snapshot!(diff);
}

#[test]
fn a_checkjs_commonjs_server_gets_require_and_javascript_modules() {
    let (diff, stdout) = planned_diff("reg-express-checkjs", "server.js");
    assert!(!diff.contains("+import "), "{diff}");
    assert!(stdout.contains("+++ b/lib/spaire/express.js"), "{stdout}");
    assert!(!stdout.contains("+++ b/lib/spaire/express.ts"), "{stdout}");
    insta::assert_snapshot!(diff);
}

#[test]
fn an_existing_sveltekit_handle_is_merged_with_sequence() {
    let (diff, stdout) = planned_diff("reg-sveltekit-hooks", "src/hooks.server.js");
    assert!(!stdout.contains("Manual steps:"), "{stdout}");
    insta::assert_snapshot!(diff);
}

#[test]
fn a_next_proxy_matcher_lets_the_webhook_through() {
    let (diff, _) = planned_diff("reach-next-proxy", "proxy.ts");
    insta::assert_snapshot!(diff);
}

#[test]
fn nuxt_csurf_excludes_the_webhook_and_paths_choose_what_is_billed() {
    let (diff, stdout) = planned_diff("reach-nuxt-csurf", "nuxt.config.ts");
    // Nuxt 4 (`app/` srcDir): the server directory stays at the root.
    assert!(
        stdout.contains("+++ b/server/middleware/spaire-api-calls.ts"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+++ b/server/api/webhooks/spaire.post.ts"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+const API_PATHS: readonly string[] = [\"/api/v1/\"];"),
        "{stdout}"
    );
    insta::assert_snapshot!(diff);
}

/// The manual steps `plan --json` lists.
fn planned_steps(fixture: &str) -> Vec<serde_json::Value> {
    let dir = copy_fixture("plan", fixture);
    let output = billing()
        .arg("plan")
        .arg(dir.path())
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("plan --json");
    json.pointer("/changes/manual_steps")
        .or_else(|| json.pointer("/manual_steps"))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_else(|| panic!("no manual steps in {json:#}"))
}

#[test]
fn next_app_router_handlers_are_wrapped_in_every_export_form() {
    let (posts, stdout) = planned_diff("reg-next-app", "app/api/posts/[postId]/route.ts");
    let (items, _) = planned_diff("reg-next-app", "app/api/items/route.ts");
    let (trpc, _) = planned_diff("reg-next-app", "app/api/trpc/[trpc]/route.ts");
    let files = changed_files(&stdout);
    // Never billed: auth, a webhook, an OG image, a page-level feed outside `/api/`.
    for untouched in [
        "app/api/auth/[...nextauth]/route.ts",
        "app/api/webhooks/stripe/route.ts",
        "app/api/og/route.tsx",
        "app/feed/route.ts",
        "app/api/legacy/route.ts",
    ] {
        assert!(!files.contains(&untouched), "{untouched}:\n{stdout}");
    }
    // The rule is stated where the preview lists the wrapper module.
    assert!(
        stdout.contains("never pages, redirects, static files, nor auth, webhook, cron"),
        "{stdout}"
    );
    insta::assert_snapshot!("next_app_posts", posts);
    insta::assert_snapshot!("next_app_items", items);
    insta::assert_snapshot!("next_app_trpc", trpc);
}

#[test]
fn a_next_route_that_cannot_be_wrapped_is_a_manual_step_at_its_line() {
    let steps = planned_steps("reg-next-app");
    let legacy: Vec<&serde_json::Value> = steps
        .iter()
        .filter(|s| s["file"] == "app/api/legacy/route.ts")
        .collect();
    assert_eq!(legacy.len(), 1, "{steps:#?}");
    assert_eq!(legacy[0]["line"], 1, "{steps:#?}");
    assert!(
        legacy[0]["instructions"]
            .as_str()
            .is_some_and(|i| i.contains("withApiCalls") && i.contains("not declared above")),
        "{steps:#?}"
    );
    // Routes were wrapped, so there is no blanket "wrap each handler" step.
    assert!(
        !steps.iter().any(|s| s["file"] == "lib/spaire/next.ts"),
        "{steps:#?}"
    );
}

#[test]
fn next_pages_router_default_exports_are_wrapped() {
    let (hello, stdout) = planned_diff("reg-next-pages", "pages/api/hello.js");
    let (user, _) = planned_diff("reg-next-pages", "pages/api/users/[id].js");
    let files = changed_files(&stdout);
    assert!(
        !files.contains(&"pages/api/auth/[...nextauth].js"),
        "{stdout}"
    );
    assert!(!files.contains(&"pages/api/cron.js"), "{stdout}");
    assert!(!files.contains(&"pages/index.js"), "{stdout}");
    insta::assert_snapshot!("next_pages_hello", hello);
    insta::assert_snapshot!("next_pages_user", user);
}

/// The wrapped routes are part of the applied plan: a second plan finds nothing to change
/// and `undo` restores every route file byte for byte.
#[test]
fn wrapped_next_routes_apply_once_and_undo_restores_them() {
    let dir = copy_fixture("plan", "reg-next-app");
    let original = crate::common::tree(dir.path());
    let plan = billing().arg("plan").arg(dir.path()).output().unwrap();
    assert!(plan.status.success(), "{}", transcript(&plan, &[]));
    let hash = crate::plan::plan_hash(&String::from_utf8_lossy(&plan.stdout));
    let apply = billing()
        .args(["apply", "--yes", "--plan", &hash])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(apply.status.code(), Some(0), "{}", transcript(&apply, &[]));
    let route = std::fs::read_to_string(dir.path().join("app/api/items/route.ts")).unwrap();
    assert!(
        route.contains("export const GET = withApiCalls(async () =>"),
        "{route}"
    );

    let again = billing().arg("plan").arg(dir.path()).output().unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("Nothing to change"),
        "{}",
        transcript(&again, &[])
    );

    let undo = billing().arg("undo").arg(dir.path()).output().unwrap();
    assert_eq!(undo.status.code(), Some(0), "{}", transcript(&undo, &[]));
    assert!(
        String::from_utf8_lossy(&undo.stdout).contains("restored app/api/items/route.ts"),
        "{}",
        transcript(&undo, &[])
    );
    assert_eq!(crate::common::tree(dir.path()), original);
}

fn step_about<'a>(steps: &'a [serde_json::Value], needle: &str) -> Option<&'a serde_json::Value> {
    steps.iter().find(|s| {
        s["instructions"]
            .as_str()
            .unwrap_or_default()
            .contains(needle)
    })
}

#[test]
fn react_router_serve_gets_root_route_middleware_under_v8_middleware() {
    let (diff, stdout) = planned_diff("reg-rr-middleware", "app/root.tsx");
    assert!(
        stdout.contains("+++ b/app/.server/spaire/remix.ts"),
        "{stdout}"
    );
    assert!(!stdout.contains("withApiCalls` from"), "{stdout}");
    insta::assert_snapshot!(diff);
}

#[test]
fn a_react_router_custom_express_server_gets_the_express_middleware_before_the_handler() {
    let (diff, stdout) = planned_diff("reg-rr-express-server", "server/app.ts");
    // server.js is plain JavaScript run by Node: it imports the built app, not TypeScript.
    assert!(!changed_files(&stdout).contains(&"server.js"), "{stdout}");
    assert!(
        !changed_files(&stdout).contains(&"app/root.tsx"),
        "{stdout}"
    );
    let mount = diff.find("createRequestHandler({").unwrap();
    let ours = diff.find("+app.use(spaireApiCalls());").unwrap();
    assert!(ours < mount, "{diff}");
    insta::assert_snapshot!(diff);
}

#[test]
fn react_router_without_the_middleware_flag_names_the_config_line_and_the_flag() {
    let steps = planned_steps("reg-rr-flag-off");
    let step = step_about(&steps, "unstable_middleware").unwrap_or_else(|| panic!("{steps:#?}"));
    assert_eq!(step["file"], "react-router.config.ts");
    assert_eq!(step["line"], 3);
    assert!(
        step["snippet"]
            .as_str()
            .unwrap()
            .contains("export const unstable_middleware = [spaireApiCalls];"),
        "{step}"
    );
}

#[test]
fn remix_v2_under_remix_serve_is_a_listed_step_to_wrap_api_loaders() {
    let steps = planned_steps("reg-remix-serve");
    let step =
        step_about(&steps, "Remix v2 has no middleware").unwrap_or_else(|| panic!("{steps:#?}"));
    assert!(
        step["instructions"].as_str().unwrap().contains("/api/"),
        "{step}"
    );
}

#[test]
fn gin_registers_on_the_served_engine_before_its_routes_and_flushes_on_sigterm() {
    let (diff, stdout) = planned_diff("reg-gin-realworld", "main.go");
    assert!(
        !changed_files(&stdout).contains(&"users/middleware.go"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Register the billing middleware"),
        "{stdout}"
    );
    insta::assert_snapshot!(diff);
}

#[test]
fn echo_registers_on_the_router_main_serves_not_inside_its_constructor() {
    let (diff, stdout) = planned_diff("reg-echo-router-pkg", "main.go");
    assert!(
        !changed_files(&stdout).contains(&"router/router.go"),
        "{stdout}"
    );
    insta::assert_snapshot!(diff);
}

#[test]
fn gin_with_its_own_shutdown_is_registered_and_the_flush_is_a_step_at_its_signal_line() {
    let (diff, _) = planned_diff("reg-gin-shutdown", "main.go");
    assert!(!diff.contains("FlushOnSignal"), "{diff}");
    let steps = planned_steps("reg-gin-shutdown");
    let step = step_about(&steps, "shutdown path").unwrap_or_else(|| panic!("{steps:#?}"));
    assert_eq!(
        (step["file"].as_str(), step["line"].as_u64()),
        (Some("main.go"), Some(27))
    );
    insta::assert_snapshot!(diff);
}

#[test]
fn gin_built_in_a_helper_is_a_listed_step_naming_the_constructor_line() {
    let steps = planned_steps("reg-gin-setup-func");
    let step = step_about(&steps, "Register the billing middleware")
        .unwrap_or_else(|| panic!("{steps:#?}"));
    assert_eq!(
        (step["file"].as_str(), step["line"].as_u64()),
        (Some("main.go"), Some(8))
    );
}

/// The registration edits are applied, not redone by a second plan, and undone byte for byte.
#[test]
fn registrations_apply_once_and_undo_byte_for_byte() {
    for fixture in [
        "reg-gin-realworld",
        "reg-echo-router-pkg",
        "reg-gin-shutdown",
        "reg-rr-middleware",
        "reg-rr-express-server",
    ] {
        let dir = copy_fixture("plan", fixture);
        let original = crate::common::tree(dir.path());
        let apply = billing()
            // The fixtures have no go.sum / node_modules for the project's own checks; the SDK
            // install is not what this tests.
            .args(["apply", "--yes", "--no-checks", "--no-install"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(
            apply.status.code(),
            Some(0),
            "{fixture}: {}",
            transcript(&apply, &[])
        );
        let again = billing().arg("plan").arg(dir.path()).output().unwrap();
        // No file edit is planned twice (the skipped SDK install may still be listed).
        let again_out = String::from_utf8_lossy(&again.stdout);
        assert!(
            again_out.starts_with("Nothing to change")
                || again_out.starts_with("Files: none to change"),
            "{fixture}: {}",
            transcript(&again, &[])
        );
        let undo = billing().arg("undo").arg(dir.path()).output().unwrap();
        assert_eq!(
            undo.status.code(),
            Some(0),
            "{fixture}: {}",
            transcript(&undo, &[])
        );
        assert_eq!(crate::common::tree(dir.path()), original, "{fixture}: undo");
    }
}
