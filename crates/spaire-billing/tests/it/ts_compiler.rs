//! Compiler settings the generated TypeScript cannot meet are said at plan time, and the fix
//! they name works: checked with the real `tsc` of `tests/toolchains/node`.

use std::process::Command;

use billing_detect::{FrameworkDetails, FrameworkId, Language, ModuleSystem};

use crate::codegen::{self, Pricing};

/// `"moduleResolution": "node"` (node10) cannot resolve `@spaire/sdk/webhooks`: `plan` lists a
/// manual step for the tsconfig whose `paths` snippet, added as is, makes `tsc` pass.
#[test]
fn node10_module_resolution_gets_a_paths_mapping_that_compiles() {
    let fixture = crate::common::fixtures().join("codegen/ts-compiler/express-node10");
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

    let Some(tsc) = codegen::toolchain(
        crate::common::repo_root().join("tests/toolchains/node/node_modules/typescript/bin/tsc"),
        "tsc",
    ) else {
        return;
    };
    std::os::unix::fs::symlink(
        crate::common::repo_root().join("tests/toolchains/node/node_modules"),
        root.join("node_modules"),
    )
    .expect("link node_modules");
    let tsc_output = || {
        let out = Command::new("node")
            .arg(&tsc)
            .args(["-p", "tsconfig.json"])
            .current_dir(&root)
            .output()
            .expect("run tsc");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
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
