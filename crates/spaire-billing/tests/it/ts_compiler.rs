//! Compiler settings the generated TypeScript cannot meet are said at plan time, and the fix
//! they name works: checked with the real `tsc` of `tests/toolchains/node`.

use std::path::PathBuf;
use std::process::Command;

use billing_detect::{FrameworkDetails, FrameworkId, Language, ModuleSystem};

use crate::codegen::{self, Pricing};

/// `"moduleResolution": "node"` (node10) cannot resolve `@spaire/sdk/webhooks`: `plan` lists a
/// manual step for the tsconfig whose `paths` snippet, added as is, makes `tsc` pass.
#[test]
fn node10_module_resolution_gets_a_paths_mapping_that_compiles() {
    let (_work, root, changes) = express_app("express-node10");

    let step = changes
        .manual_steps
        .iter()
        .find(|s| s.file == "tsconfig.json")
        .unwrap_or_else(|| panic!("no tsconfig step in {:#?}", changes.manual_steps));
    assert_eq!(step.line, Some(5), "{step:#?}");
    assert!(
        step.instructions.contains("@spaire/sdk/webhooks"),
        "{}",
        step.instructions
    );
    let snippet = step.snippet.as_deref().expect("a paths snippet");

    let Some(tsc) = codegen::link_tsc(&root) else {
        return;
    };
    let tsc_output = || codegen::run_tsc(&tsc, &root);
    // The problem is real: without the mapping, the generated webhook handler does not compile.
    let (ok, text) = tsc_output();
    assert!(
        !ok && text.contains("TS2307") && text.contains("@spaire/sdk/webhooks"),
        "{text}"
    );

    // The step's fix, pasted into `compilerOptions` as the step says.
    let tsconfig = std::fs::read_to_string(root.join("tsconfig.json")).expect("tsconfig");
    let fixed = tsconfig.replacen(
        "\"compilerOptions\": {",
        &format!("\"compilerOptions\": {{\n{snippet},"),
        1,
    );
    std::fs::write(root.join("tsconfig.json"), fixed).expect("write tsconfig");
    let (ok, text) = tsc_output();
    assert!(ok, "tsc still fails with the mapping:\n{text}");
}

/// The same node10 project whose `include` covers the generated module directory (as a
/// Next.js tsconfig's `**/*.ts` does): the generator adds a declaration file beside the webhook
/// handler that maps the subpaths to the SDK's own declarations, so the project's `tsc` passes
/// without a change to its tsconfig. Measured on a real Next.js app (clerk-nextjs-demo): 4 new
/// errors without it.
#[test]
fn node10_with_the_module_dir_included_compiles_through_generated_declarations() {
    let (_work, root, changes) = express_app("express-node10-included");

    assert!(
        !changes
            .manual_steps
            .iter()
            .any(|s| s.file == "tsconfig.json"),
        "the tsconfig needs no manual change: {:#?}",
        changes.manual_steps
    );
    let declarations = changes
        .files
        .iter()
        .find(|f| f.path.ends_with("sdk-subpaths.d.ts"))
        .unwrap_or_else(|| {
            panic!(
                "no declaration file in {:#?}",
                changes.files.iter().map(|f| &f.path).collect::<Vec<_>>()
            )
        });
    assert!(
        declarations
            .after
            .contains("declare module \"@spaire/sdk/webhooks\"")
    );

    let Some(tsc) = codegen::link_tsc(&root) else {
        return;
    };
    let tsc_output = || codegen::run_tsc(&tsc, &root);
    let (ok, text) = tsc_output();
    assert!(
        ok,
        "the generated code does not compile under node10:\n{text}"
    );

    // The declarations are what makes it compile: without them the handler's imports fail.
    std::fs::remove_file(root.join(&declarations.path)).expect("remove declarations");
    let (ok, text) = tsc_output();
    assert!(
        !ok && text.contains("TS2307") && text.contains("@spaire/sdk/webhooks"),
        "{text}"
    );
}

/// `[customer] from = "session"` in a Next.js app-router app with Auth.js v5: the generated
/// resolver reads the app's own `auth()` (no stub), the usage module exports
/// `sessionCustomerId()` for wired call sites, and the recorder flushes through the installed
/// Next.js's `after()`. All of it type-checks against the real `next` and `ai` types.
#[test]
fn authjs_session_resolver_and_after_flush_type_check_with_real_next() {
    let (customer, changes, recorder) = authjs_app("next-authjs");
    assert!(customer.contains("(await auth())?.user?.id"), "{customer}");
    let after_lines: Vec<&str> = recorder
        .lines()
        .filter(|l| l.contains("afterResponse") || l.contains("flushAfterResponse"))
        .collect();
    insta::assert_snapshot!(format!(
        "--- lib/spaire/customer.ts\n{customer}--- lib/spaire/recorder.ts (after)\n{}\n",
        after_lines.join("\n")
    ));
    assert!(
        !changes.files.iter().any(|f| f.summary.contains("keyed by")),
        "{:#?}",
        changes.files
    );
}

/// Better Auth made by the app's own factory (create-t3-turbo: `export const auth =
/// initAuth({..})` of its `@acme/auth` workspace package, which the same file calls as
/// `auth.api.getSession`): the resolver reads that session instead of staying a listed stub,
/// and type-checks against the instance's types and the real `next/headers`.
#[test]
fn better_auth_from_the_apps_own_factory_resolves_the_session() {
    let (customer, _, _) = authjs_app("next-better-auth-factory");
    assert!(
        customer.contains("(await auth.api.getSession({ headers: await headers() }))?.user.id"),
        "{customer}"
    );
    assert!(customer.contains("from \"@/auth/server\""), "{customer}");
}

/// An Auth.js app whose schema keys users by email (`prisma/schema.prisma`: `email String
/// @id`) has no user id on its session: the resolver returns the email, the generated comment
/// and the plan preview say that the email is the Spaire customer's external id (and where
/// the schema says so), and it type-checks against the session's `string | null` email.
#[test]
fn authjs_session_resolver_keys_customers_by_email_when_the_schema_does() {
    let (customer, changes, _) = authjs_app("next-authjs-email");
    assert!(
        customer.contains("return (await auth())?.user?.email;"),
        "{customer}"
    );
    assert!(
        customer.contains("the customer id is the user's email, which keys the app's users (`prisma/schema.prisma:3`"),
        "{customer}"
    );
    let summary = changes
        .files
        .iter()
        .find(|f| f.path == "lib/spaire/customer.ts")
        .map(|f| f.summary.clone())
        .expect("customer module planned");
    assert!(
        summary.contains("customers are keyed by the user's email")
            && summary.contains("as `externalCustomerId`"),
        "{summary}"
    );
}

/// Generates `[customer] from = "session"` billing into a copy of the Auth.js fixture `name`
/// (with what detect reads from its schema) and type-checks it with the real `next` and `ai`:
/// the customer module, the changes and the recorder.
fn authjs_app(name: &str) -> (String, billing_changeset::ChangeSet, String) {
    let fixture = crate::common::fixtures()
        .join("codegen/ts-compiler")
        .join(name);
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("app");
    codegen::copy_dir(&fixture, &root);
    let user_key = billing_detect::detect(&root, &billing_detect::DetectOptions::default())
        .expect("detect the fixture")
        .packages
        .into_iter()
        .find_map(|p| p.user_key);
    // Linked before generating: the installed `next` decides which `after` is imported.
    let tsc = codegen::link_tsc(&root);

    let details = FrameworkDetails {
        app_dir: Some("app".into()),
        ..FrameworkDetails::default()
    };
    let mut profile = codegen::profile(
        &root,
        Language::TypeScript,
        vec![codegen::framework(FrameworkId::Nextjs, details)],
    );
    profile.packages[0].module_system = Some(ModuleSystem::Esm);
    profile.packages[0].user_key = user_key;
    profile.packages[0].aliases = vec![billing_detect::profile::Alias {
        prefix: "@/*".into(),
        target: "./*".into(),
        source: billing_detect::profile::Evidence {
            file: "tsconfig.json".into(),
            line: None,
            text: String::new(),
        },
    }];
    let mut plan = codegen::plan(&["llm-tokens"], Pricing::Unit, false, None);
    plan.customer = billing_plan::model::CustomerSource::Session;
    let changes = codegen::generate_into(&root, &profile, &plan);

    let read = |file: &str| std::fs::read_to_string(root.join(file)).expect("generated file");
    let customer = read("lib/spaire/customer.ts");
    assert!(
        !customer.contains(billing_generate::feeds::SESSION_STUB_MARKER),
        "{customer}"
    );
    assert!(
        !changes
            .manual_steps
            .iter()
            .any(|s| s.file == "lib/spaire/customer.ts"),
        "{:#?}",
        changes.manual_steps
    );
    let recorder = read("lib/spaire/recorder.ts");

    if let Some(tsc) = tsc {
        let (ok, text) = codegen::run_tsc(&tsc, &root);
        assert!(ok, "tsc failed:\n{text}");
    }
    (customer, changes, recorder)
}

/// Next.js route handlers wrapped in place (function declarations with Next 15's
/// `{ params: Promise<...> }` context, const exports, `export { handler as GET }`) keep
/// their types: the wrapped routes and the wrapper module type-check against the real
/// `next` of `tests/toolchains/node`, and a Next-style check of each export's signature holds.
#[test]
fn wrapped_next_routes_type_check_against_real_next_types() {
    let fixture = crate::common::fixtures().join("plan/reg-next-app");
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("app");
    codegen::copy_dir(&fixture, &root);
    std::fs::remove_file(root.join("spaire-billing.toml")).expect("fixture plan");

    let details = FrameworkDetails {
        app_dir: Some("app".into()),
        ..FrameworkDetails::default()
    };
    let mut next = codegen::framework(FrameworkId::Nextjs, details);
    next.major = Some(15);
    let mut profile = codegen::profile(&root, Language::TypeScript, vec![next]);
    profile.packages[0].module_system = Some(ModuleSystem::Esm);
    profile.packages[0].tsconfig = Some("tsconfig.json".into());
    let plan = codegen::plan(&["api-calls"], Pricing::Unit, true, None);
    let changes = codegen::generate_into(&root, &profile, &plan);
    let wrapped: Vec<&str> = changes
        .files
        .iter()
        .filter(|f| f.path.starts_with("app/api/") && f.before.is_some())
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        wrapped,
        [
            "app/api/items/route.ts",
            "app/api/posts/[postId]/route.ts",
            "app/api/trpc/[trpc]/route.ts"
        ],
        "{changes:#?}"
    );

    // What Next's generated route types demand of an export: a function whose first
    // parameter accepts a NextRequest and whose second accepts the route's context.
    std::fs::write(
        root.join("app/route-signatures.ts"),
        r#"import type { NextRequest } from "next/server";
import * as posts from "./api/posts/[postId]/route";
import * as items from "./api/items/route";
import * as trpc from "./api/trpc/[trpc]/route";

type Handler<C> = (request: NextRequest, context: C) => Promise<Response> | Response;
type PostsContext = { params: Promise<{ postId: string }> };
type NoParams = { params: Promise<{}> };
type TrpcContext = { params: Promise<{ trpc: string }> };

export const checks: [Handler<PostsContext>, Handler<PostsContext>, Handler<NoParams>, Handler<NoParams>, Handler<TrpcContext>, Handler<TrpcContext>] = [
  posts.GET,
  posts.PATCH,
  items.GET,
  items.POST,
  trpc.GET,
  trpc.POST,
];
// The wrapped handler still demands the context its declaration asks for.
// @ts-expect-error a context without `params` is refused, as before wrapping
export const wrong: Handler<{}> = posts.GET;
"#,
    )
    .expect("write signature checks");

    let Some(tsc) = codegen::link_tsc(&root) else {
        return;
    };
    let (ok, text) = codegen::run_tsc(&tsc, &root);
    assert!(ok, "tsc fails on the wrapped routes:\n{text}");
}

/// A TypeScript 4 project: the SDK cannot be type-checked by tsc 4.x (zod 4's declaration files
/// use TypeScript 5 syntax), so `plan` says so before writing, naming the compiler and the fix.
/// Checked with a real tsc 4.9.5 (`tests/toolchains/node-ts4`): the step's reason is true (the
/// only errors are syntax errors in zod's declarations) and the generated files themselves
/// have no error of their own, syntax or type, under 4.9.
#[test]
fn typescript_4_gets_a_plan_step_and_the_generated_code_has_no_errors_of_its_own() {
    let (_work, root, changes) = express_app("express-ts4");

    let step = changes
        .manual_steps
        .iter()
        .find(|s| s.file == "package.json")
        .unwrap_or_else(|| panic!("no TypeScript 4 step in {:#?}", changes.manual_steps));
    for said in ["TypeScript 4.9.5", "zod", "typescript@^5"] {
        assert!(step.instructions.contains(said), "{}", step.instructions);
    }

    let ts4 = crate::common::repo_root().join("tests/toolchains/node-ts4");
    let Some(ts) = codegen::toolchain(ts4.join("node_modules/typescript"), "TypeScript 4.9") else {
        return;
    };
    // The SDK and the framework types from the main toolchain; the compiler is 4.9.
    std::os::unix::fs::symlink(codegen::node_modules(), root.join("node_modules"))
        .expect("link node_modules");
    let check = || {
        let out = Command::new("node")
            .arg(ts4.join("own-errors.cjs"))
            .arg(&ts)
            .arg("tsconfig.json")
            .current_dir(&root)
            .output()
            .expect("run the TypeScript 4.9 check");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("check output")
    };
    let report = check();
    assert_eq!(report["version"], "4.9.5", "{report:#}");
    // The step's reason, measured: tsc 4.9 cannot parse zod 4's declarations ...
    let libraries = report["libraries"].as_object().expect("libraries");
    assert!(
        !libraries.is_empty() && libraries.keys().all(|file| file.starts_with("zod/")),
        "{report:#}"
    );
    // ... while every generated file (and the edited entry) compiles under 4.9.
    assert_eq!(report["own"], serde_json::json!([]), "{report:#}");
    let checked = report["files"].to_string();
    let generated: Vec<&str> = changes
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.ends_with(".ts"))
        .collect();
    assert!(generated.len() >= 4, "{generated:?}");
    for file in &generated {
        assert!(
            checked.contains(&format!("/app/{file}\"")),
            "{file} not checked: {checked}"
        );
    }

    // The check sees errors in the project's files (it is not blind past zod's).
    let usage = root.join(
        generated
            .iter()
            .find(|p| p.ends_with("/usage.ts"))
            .expect("a usage module"),
    );
    let mut text = std::fs::read_to_string(&usage).expect("usage module");
    text.push_str("export const notANumber: number = \"text\";\n");
    std::fs::write(&usage, text).expect("write usage module");
    let own = check()["own"].to_string();
    assert!(own.contains("TS2322") && own.contains("usage.ts"), "{own}");
}

/// Generates `api-calls` billing with webhooks into a copy of the Express fixture `name` of
/// `codegen/ts-compiler` (CommonJS, `src/server.ts`, its `tsconfig.json`): the temporary
/// directory (kept alive by the caller), the project root in it, and the changes.
fn express_app(name: &str) -> (tempfile::TempDir, PathBuf, billing_changeset::ChangeSet) {
    let fixture = crate::common::fixtures()
        .join("codegen/ts-compiler")
        .join(name);
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("app");
    codegen::copy_dir(&fixture, &root);
    let details = FrameworkDetails {
        entry_file: Some("src/server.ts".into()),
        app_variable: Some("app".into()),
        ..FrameworkDetails::default()
    };
    let mut profile = codegen::profile(
        &root,
        Language::TypeScript,
        vec![codegen::framework(FrameworkId::Express, details)],
    );
    profile.packages[0].module_system = Some(ModuleSystem::Cjs);
    profile.packages[0].tsconfig = Some("tsconfig.json".into());
    let plan = codegen::plan(&["api-calls"], Pricing::Unit, true, None);
    let changes = codegen::generate_into(&root, &profile, &plan);
    (work, root, changes)
}
