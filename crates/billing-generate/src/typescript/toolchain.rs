//! The project's TypeScript compiler settings that the generated code cannot meet, said at
//! plan time (before anything is written) as manual steps with the fix:
//!
//! - TypeScript 4.x: `@spaire/sdk` depends on zod 4, whose declaration files use TypeScript 5
//!   syntax; tsc 4.9 reports parse errors there even with `skipLibCheck` (measured: 3 errors for
//!   one `import { Spaire } from "@spaire/sdk"`, 200+ under `node16`). No import of the SDK
//!   compiles, so the only fix is the compiler. The generated files have no error of their own
//!   under 4.9.5 (`typescript_4_gets_a_plan_step...` in `tests/it/ts_compiler.rs`).
//! - `"moduleResolution": "node"` (node10) ignores package `exports`, so tsc cannot resolve
//!   `@spaire/sdk/webhooks` (Node itself can, at runtime). Where the tsconfig's program surely
//!   includes the generated module directory, the generator writes a declaration file mapping
//!   the SDK's subpaths to its declaration files (no change to the user's tsconfig); otherwise
//!   a type-only `paths` entry, said as a manual step, fixes it without changing the mode.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use billing_changeset::ManualStep;
use billing_detect::manifest::tsconfig::{Resolver, Setting, TsConfig};
use billing_detect::profile::Package;

/// The version of `typescript` the package compiles with and where it was read.
pub(crate) fn typescript_version(root: &Path, package_dir: &str) -> Option<(String, u64, String)> {
    installed_version(root, package_dir, "typescript")
}

/// The version of the npm package `name` the package runs with and where it was read:
/// installed (`node_modules/<name>/package.json`, the package's or the root's), else locked
/// (`package-lock.json`, `pnpm-lock.yaml`, `yarn.lock`), else the requirement in
/// `package.json`.
pub(crate) fn installed_version(
    root: &Path,
    package_dir: &str,
    name: &str,
) -> Option<(String, u64, String)> {
    let dirs: Vec<&str> = if package_dir.is_empty() {
        vec![""]
    } else {
        vec![package_dir, ""]
    };
    let join = |dir: &str, file: &str| {
        if dir.is_empty() {
            file.to_owned()
        } else {
            format!("{dir}/{file}")
        }
    };
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).ok();
    for dir in &dirs {
        let rel = join(dir, &format!("node_modules/{name}/package.json"));
        if let Some(version) = read(&rel).and_then(|t| json_string_after(&t, "\"version\"")) {
            return with_major(version, rel);
        }
    }
    let at_name = format!("{name}@");
    for dir in &dirs {
        let rel = join(dir, "package-lock.json");
        if let Some(version) = read(&rel).and_then(|t| {
            let at = t.find(&format!("\"node_modules/{name}\""))?;
            json_string_after(&t[at..], "\"version\"")
        }) {
            return with_major(version, rel);
        }
        let rel = join(dir, "pnpm-lock.yaml");
        if let Some(version) = read(&rel).and_then(|t| {
            // `  typescript@5.9.3:` (v9) or `  /typescript@4.9.5:` (v6); prereleases keep
            // their tag (`next@15.0.0-canary.152(react@..)`).
            t.lines().find_map(|l| {
                let l = l.trim().trim_start_matches('/').trim_start_matches('\'');
                let rest = l.strip_prefix(&at_name)?;
                let version: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                    .collect();
                version
                    .starts_with(|c: char| c.is_ascii_digit())
                    .then_some(version)
            })
        }) {
            return with_major(version, rel);
        }
        let rel = join(dir, "yarn.lock");
        if let Some(version) = read(&rel).and_then(|t| {
            let at = t
                .lines()
                .position(|l| l.trim_start_matches('"').starts_with(&at_name))?;
            t.lines().skip(at + 1).take(3).find_map(|l| {
                let v = l.trim().strip_prefix("version")?;
                Some(v.trim().trim_matches(['"', ':', ' ']).to_owned())
            })
        }) {
            return with_major(version, rel);
        }
    }
    let rel = join(package_dir, "package.json");
    let spec = read(&rel).and_then(|t| json_string_after(&t, &format!("\"{name}\"")))?;
    let major = billing_detect::text::major_of(&spec)?;
    Some((spec, major, rel))
}

fn with_major(version: String, source: String) -> Option<(String, u64, String)> {
    let major = version.split('.').next()?.parse().ok()?;
    Some((version, major, source))
}

/// The string value after `key` (`"key": "value"`), first occurrence.
fn json_string_after(text: &str, key: &str) -> Option<String> {
    let at = text.find(key)? + key.len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// The manual step for a TypeScript 4 (or older) compiler, if the package has one.
pub(crate) fn typescript_major_step(root: &Path, package_dir: &str) -> Option<ManualStep> {
    let (version, major, source) = typescript_version(root, package_dir)?;
    if major >= 5 {
        return None;
    }
    Some(ManualStep {
        file: source.clone(),
        line: None,
        instructions: format!(
            "This project compiles with TypeScript {version} (from {source}), which cannot \
             type-check any import of `@spaire/sdk`: the SDK depends on zod 4, whose \
             declaration files use TypeScript 5 syntax (`const` type parameters), and tsc 4.x \
             reports parse errors in them even with `skipLibCheck`, then no other error. The \
             generated files themselves have no error under tsc 4.9 (checked file by file); \
             upgrade the compiler (`npm install --save-dev typescript@^5`, or the same with \
             your package manager) so `tsc` passes, then run `spaire-billing plan` again. The \
             code runs either way: only `tsc` is affected."
        ),
        snippet: None,
    })
}

/// The tsconfig and its `extends` chain, read as tsc reads them. `packages` are the workspace
/// packages an `extends` may point at when `node_modules` is not installed.
fn load(root: &Path, packages: &[Package], tsconfig: &str) -> TsConfig {
    let workspace_packages: HashMap<String, PathBuf> = packages
        .iter()
        .filter_map(|p| {
            let dir = match p.path.trim_start_matches("./") {
                "." | "" => root.to_path_buf(),
                dir => root.join(dir),
            };
            Some((p.name.clone()?, dir))
        })
        .collect();
    let resolver = Resolver {
        root,
        workspace_packages: &workspace_packages,
        max_bytes: billing_detect::DetectOptions::default().max_file_bytes,
    };
    let config = root.join(tsconfig);
    let package_dir = config.parent().unwrap_or(root);
    resolver.load(&config, package_dir)
}

/// The tsconfig's `moduleResolution` when it is node10, which ignores package `exports`: then
/// tsc cannot resolve the SDK subpaths the generated webhook handler imports. Read through the
/// `extends` chain: Astro's `astro/tsconfigs/base` (astro-chatgpt-demo) sets `"node"` for a
/// tsconfig that does not say it.
fn node10_resolution(config: &TsConfig) -> Option<&Setting> {
    config
        .module_resolution
        .as_ref()
        .filter(|s| matches!(s.value.to_ascii_lowercase().as_str(), "node" | "node10"))
}

/// Whether the tsconfig (or a config it extends) sets a node10 `moduleResolution`.
pub(crate) fn ignores_package_exports(root: &Path, packages: &[Package], tsconfig: &str) -> bool {
    node10_resolution(&load(root, packages, tsconfig)).is_some()
}

/// Whether the tsconfig's program surely contains `file` (root-relative) on its own, not only
/// through an import: the tsconfig and its `extends` chain read as tsc reads them, see
/// [`TsConfig::surely_includes`](billing_detect::manifest::tsconfig::TsConfig::surely_includes).
/// Anything unsure is "no", and the caller falls back to the manual step. `packages` are
/// the workspace packages an `extends` may point at when `node_modules` is not installed.
pub(crate) fn includes(root: &Path, packages: &[Package], tsconfig: &str, file: &str) -> bool {
    load(root, packages, tsconfig).surely_includes(&root.join(file))
}

/// The manual step for a node10 `moduleResolution` when the plan generates the webhook
/// handler (the only generated import of an SDK subpath).
pub(crate) fn module_resolution_step(
    root: &Path,
    packages: &[Package],
    tsconfig: &str,
) -> Option<ManualStep> {
    let config = load(root, packages, tsconfig);
    let setting = node10_resolution(&config)?;
    let value = &setting.value;
    // Set in the tsconfig itself: point at the line. Inherited: the step is about the
    // tsconfig (where the override goes), naming the base that sets it.
    let (line, inherited) = if setting.file == tsconfig {
        (Some(setting.line), String::new())
    } else {
        (
            None,
            format!(
                " (inherited from `{}`, line {})",
                setting.file, setting.line
            ),
        )
    };
    Some(ManualStep {
        file: tsconfig.to_owned(),
        line,
        instructions: format!(
            "`\"moduleResolution\": \"{value}\"`{inherited} ignores package `exports`, so tsc \
             cannot resolve the SDK subpaths the generated webhook handler imports \
             (`@spaire/sdk/webhooks`, `@spaire/sdk/models/errors/..`; Node resolves them at \
             runtime). Either switch to `\"bundler\"` (Next.js, Vite) or \
             `\"node16\"`, or keep your setting and add this type-only mapping to \
             `compilerOptions`"
        ),
        snippet: Some(
            "\"paths\": {\n  \"@spaire/sdk/*\": [\"./node_modules/@spaire/sdk/dist/commonjs/*\"]\n}"
                .to_owned(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    #[test]
    fn the_installed_then_locked_then_declared_typescript_wins() {
        let installed = project(&[
            (
                "package.json",
                "{\"devDependencies\": {\"typescript\": \"^5.0.0\"}}",
            ),
            (
                "node_modules/typescript/package.json",
                "{\"name\": \"typescript\", \"version\": \"4.9.5\"}",
            ),
        ]);
        let (v, major, source) = typescript_version(installed.path(), "").unwrap();
        assert_eq!((v.as_str(), major), ("4.9.5", 4));
        assert_eq!(source, "node_modules/typescript/package.json");
        let step = typescript_major_step(installed.path(), "").unwrap();
        assert!(
            step.instructions.contains("TypeScript 4.9.5"),
            "{}",
            step.instructions
        );
        assert!(
            step.instructions.contains("typescript@^5"),
            "{}",
            step.instructions
        );

        let locked = project(&[
            (
                "apps/web/package.json",
                "{\"devDependencies\": {\"typescript\": \"~4.9\"}}",
            ),
            (
                "pnpm-lock.yaml",
                "packages:\n\n  typescript@4.9.5:\n    resolution: {}\n",
            ),
        ]);
        let (v, _, source) = typescript_version(locked.path(), "apps/web").unwrap();
        assert_eq!((v.as_str(), source.as_str()), ("4.9.5", "pnpm-lock.yaml"));

        let yarn = project(&[("yarn.lock", "typescript@^4.9.0:\n  version \"4.9.4\"\n")]);
        assert_eq!(typescript_version(yarn.path(), "").unwrap().0, "4.9.4");

        let declared = project(&[(
            "package.json",
            "{\"devDependencies\": {\"typescript\": \"^5.9.3\"}}",
        )]);
        assert_eq!(typescript_version(declared.path(), "").unwrap().1, 5);
        assert!(typescript_major_step(declared.path(), "").is_none());
        assert!(typescript_major_step(project(&[]).path(), "").is_none());
    }

    #[test]
    fn node10_resolution_gets_a_paths_mapping() {
        let p = project(&[(
            "tsconfig.json",
            "{\n  // comments are fine\n  \"compilerOptions\": {\n    \"moduleResolution\": \"Node\"\n  }\n}\n",
        )]);
        assert!(ignores_package_exports(p.path(), &[], "tsconfig.json"));
        let step = module_resolution_step(p.path(), &[], "tsconfig.json").unwrap();
        assert_eq!(step.line, Some(4));
        assert!(step.snippet.unwrap().contains("\"@spaire/sdk/*\""));
        let bundler = project(&[(
            "tsconfig.json",
            "{\"compilerOptions\": {\"moduleResolution\": \"bundler\"}}",
        )]);
        assert!(!ignores_package_exports(
            bundler.path(),
            &[],
            "tsconfig.json"
        ));
        assert!(module_resolution_step(bundler.path(), &[], "tsconfig.json").is_none());
        // Inherited from a base in node_modules (Astro's `astro/tsconfigs/base`): the step
        // names the base, and the leaf's own setting wins over it.
        let base = (
            "node_modules/astro/tsconfigs/base.json",
            "{\n  \"compilerOptions\": {\n    \"module\": \"ES2022\",\n    \"moduleResolution\": \"node\"\n  }\n}\n",
        );
        let astro = project(&[
            ("tsconfig.json", r#"{"extends": "astro/tsconfigs/base"}"#),
            base,
        ]);
        assert!(ignores_package_exports(astro.path(), &[], "tsconfig.json"));
        let step = module_resolution_step(astro.path(), &[], "tsconfig.json").unwrap();
        assert_eq!(step.line, None);
        assert!(
            step.instructions
                .contains("inherited from `node_modules/astro/tsconfigs/base.json`, line 4"),
            "{}",
            step.instructions
        );
        let overridden = project(&[
            (
                "tsconfig.json",
                r#"{"extends": "astro/tsconfigs/base", "compilerOptions": {"moduleResolution": "Bundler"}}"#,
            ),
            base,
        ]);
        assert!(!ignores_package_exports(
            overridden.path(),
            &[],
            "tsconfig.json"
        ));
    }

    #[test]
    fn a_file_is_included_only_when_a_pattern_surely_covers_it() {
        let with = |tsconfig: &str| project(&[("web/tsconfig.json", tsconfig)]);
        let file = "web/lib/spaire/sdk-subpaths.d.ts";
        let next = with(r#"{"include": ["next-env.d.ts", "**/*.ts", "**/*.tsx"]}"#);
        assert!(includes(next.path(), &[], "web/tsconfig.json", file));
        assert!(includes(with("{}").path(), &[], "web/tsconfig.json", file));
        assert!(includes(
            with(r#"{"include": ["./lib"]}"#).path(),
            &[],
            "web/tsconfig.json",
            file
        ));
        assert!(includes(
            with(r#"{"include": ["lib/**/*"]}"#).path(),
            &[],
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"include": ["src/**/*.ts"]}"#).path(),
            &[],
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"include": ["lib/*.ts"]}"#).path(),
            &[],
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"files": ["lib/a.ts"]}"#).path(),
            &[],
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"exclude": ["lib"]}"#).path(),
            &[],
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with("{}").path(),
            &[],
            "web/tsconfig.json",
            "other/x.d.ts"
        ));
    }

    /// `include` / `exclude` / `files` come from the nearest config in the `extends` chain
    /// that sets each, relative to the config that declares them; a leaf without `include`
    /// is not "everything" when its base has one.
    #[test]
    fn include_exclude_and_files_follow_extends_as_tsc_does() {
        let file = "web/lib/spaire/sdk-subpaths.d.ts";
        let included = |files: &[(&str, &str)]| {
            includes(project(files).path(), &[], "web/tsconfig.json", file)
        };
        let leaf = (
            "web/tsconfig.json",
            r#"{"extends": "../base/tsconfig.json"}"#,
        );
        // The base's `src/**/*` means `base/src/**/*`: the web app's lib is not in it.
        assert!(!included(&[
            leaf,
            ("base/tsconfig.json", r#"{"include": ["src/**/*"]}"#)
        ]));
        // ... and `../web/**/*` from the base is the web app's whole tree.
        assert!(included(&[
            leaf,
            ("base/tsconfig.json", r#"{"include": ["../web/**/*"]}"#)
        ]));
        // A base beside the leaf: its `lib` is the leaf's `lib`.
        assert!(included(&[
            ("web/tsconfig.json", r#"{"extends": "./tsconfig.base"}"#),
            ("web/tsconfig.base.json", r#"{"include": ["lib"]}"#),
        ]));
        // The leaf's own `include` wins over the base's; the base's `exclude` still applies.
        assert!(included(&[
            (
                "web/tsconfig.json",
                r#"{"extends": "../base/tsconfig.json", "include": ["**/*.ts"]}"#
            ),
            (
                "base/tsconfig.json",
                r#"{"include": ["src"], "exclude": ["*.test.ts"]}"#
            ),
        ]));
        assert!(!included(&[
            (
                "web/tsconfig.json",
                r#"{"extends": "../base/tsconfig.json", "include": ["**/*.ts"]}"#
            ),
            ("base/tsconfig.json", r#"{"exclude": ["../web/lib/**"]}"#),
        ]));
        // A base from a workspace package (no node_modules): found through the packages.
        let root = project(&[
            (
                "web/tsconfig.json",
                r#"{"extends": "@repo/tsconfig/next.json"}"#,
            ),
            ("packages/tsconfig/next.json", r#"{"include": ["src"]}"#),
        ]);
        let packages: Vec<Package> = vec![
            serde_json::from_value(serde_json::json!({
                "path": "packages/tsconfig", "name": "@repo/tsconfig", "language": "typescript",
                "frameworks": [], "aliases": [], "integrations": [], "call_sites": [],
                "env_vars": [],
            }))
            .expect("package JSON"),
        ];
        assert!(!includes(root.path(), &packages, "web/tsconfig.json", file));
        // Unreadable base, nothing set here: it might set `include`, so "no".
        assert!(!included(&[(
            "web/tsconfig.json",
            r#"{"extends": "@tsconfig/not-installed"}"#
        )]));
    }

    /// tsc's wildcards skip dot folders and package folders, exclude whole folders, and list
    /// `files` exactly; `outDir` is excluded only while no `exclude` is set.
    #[test]
    fn wildcards_and_defaults_are_tscs() {
        let included = |tsconfig: &str, file: &str| {
            includes(
                project(&[("web/tsconfig.json", tsconfig)]).path(),
                &[],
                "web/tsconfig.json",
                file,
            )
        };
        let file = "web/lib/spaire/sdk-subpaths.d.ts";
        assert!(!included("{}", "web/.spaire/sdk-subpaths.d.ts"));
        assert!(included(
            r#"{"include": [".spaire/*.ts"]}"#,
            "web/.spaire/sdk-subpaths.d.ts"
        ));
        // A last component with a `.` is a file name, and a last `**` matches nothing.
        assert!(!included(
            r#"{"include": [".spaire"]}"#,
            "web/.spaire/sdk-subpaths.d.ts"
        ));
        assert!(!included(r#"{"include": ["lib/**"]}"#, file));
        assert!(!included("{}", "web/node_modules/x/a.d.ts"));
        assert!(included(r#"{"include": ["lib/*/*.d.ts"]}"#, file));
        assert!(!included(r#"{"include": ["lib/?/*.d.ts"]}"#, file));
        assert!(included(
            r#"{"files": ["./lib/spaire/sdk-subpaths.d.ts"]}"#,
            file
        ));
        assert!(included(
            r#"{"files": ["index.ts"], "include": ["lib/**/*"]}"#,
            file
        ));
        assert!(!included(r#"{"exclude": ["**/spaire"]}"#, file));
        assert!(included(r#"{"exclude": ["**/*.test.ts"]}"#, file));
        assert!(!included(r#"{"compilerOptions": {"outDir": "lib"}}"#, file));
        assert!(included(
            r#"{"compilerOptions": {"outDir": "lib"}, "exclude": ["dist"]}"#,
            file
        ));
        // Brackets and braces are literal in tsc's patterns.
        assert!(!included(r#"{"include": ["{lib,src}/**/*"]}"#, file));
        assert!(!included(r#"{"include": [/* unterminated"#, file));
    }
}
