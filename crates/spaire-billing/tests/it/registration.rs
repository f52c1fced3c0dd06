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
