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
