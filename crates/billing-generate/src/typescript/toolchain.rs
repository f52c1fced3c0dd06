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

use std::path::Path;

use billing_changeset::ManualStep;

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

/// Whether the tsconfig's `moduleResolution` is node10, which ignores package `exports`: then
/// tsc cannot resolve the SDK subpaths the generated webhook handler imports.
pub(crate) fn ignores_package_exports(root: &Path, tsconfig: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join(tsconfig)) else {
        return false;
    };
    json_string_after(&text, "\"moduleResolution\"")
        .is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "node" | "node10"))
}

/// Whether the tsconfig's program surely contains `file` (root-relative) on its own, not only
/// through an import: no `files` list, and no `include`, or an `include` pattern covering it
/// (`**/*.ts`, `src/**/*`, a directory). Conservative: anything else is "no", and the caller
/// falls back to the manual step. An ambient declaration file is seen only this way.
pub(crate) fn includes(root: &Path, tsconfig: &str, file: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join(tsconfig)) else {
        return false;
    };
    let dir = Path::new(tsconfig).parent().unwrap_or(Path::new(""));
    let Ok(file) = Path::new(file).strip_prefix(dir) else {
        return false;
    };
    let file = file.to_string_lossy();
    if text.contains("\"files\"") {
        return false;
    }
    // `"exclude": ["node_modules"]` (Next.js) leaves the module directory in; any pattern
    // whose fixed part could match it does not.
    if let Some(excluded) = string_list(&text, "\"exclude\"") {
        let hit = excluded.iter().any(|pattern| {
            let fixed = pattern
                .trim_start_matches("./")
                .split('*')
                .next()
                .unwrap_or("");
            if fixed.is_empty() {
                // `**/*.test.ts`: only what ends like the pattern
                file.ends_with(pattern.rsplit('*').next().unwrap_or(""))
            } else {
                file.starts_with(fixed.trim_end_matches('/'))
            }
        });
        if hit {
            return false;
        }
    }
    let Some(included) = string_list(&text, "\"include\"") else {
        return !text.contains("\"include\"");
    };
    included.iter().any(|pattern| {
        let pattern = pattern.trim_start_matches("./");
        match pattern.split_once('*') {
            None => file.starts_with(&format!("{}/", pattern.trim_end_matches('/'))),
            Some((prefix, _)) => {
                file.starts_with(prefix)
                    && (pattern.ends_with("**/*")
                        || pattern.ends_with("**/*.ts")
                        || (pattern.ends_with("/*.ts") || pattern == "*.ts")
                            && !file[prefix.len()..].contains('/'))
            }
        }
    })
}

/// The strings of the JSON array after `key` (a flat list, as tsconfig's `include`).
fn string_list(text: &str, key: &str) -> Option<Vec<String>> {
    let at = text.find(key)? + key.len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let list = rest.strip_prefix('[')?.split_once(']')?.0;
    Some(
        list.split(',')
            .filter_map(|item| item.trim().strip_prefix('"')?.strip_suffix('"'))
            .map(str::to_owned)
            .collect(),
    )
}

/// The manual step for a node10 `moduleResolution` when the plan generates the webhook
/// handler (the only generated import of an SDK subpath).
pub(crate) fn module_resolution_step(root: &Path, tsconfig: &str) -> Option<ManualStep> {
    let text = std::fs::read_to_string(root.join(tsconfig)).ok()?;
    let setting = json_string_after(&text, "\"moduleResolution\"")?;
    if !matches!(setting.to_ascii_lowercase().as_str(), "node" | "node10") {
        return None;
    }
    Some(ManualStep {
        file: tsconfig.to_owned(),
        line: text
            .lines()
            .position(|l| l.contains("\"moduleResolution\""))
            .and_then(|i| u32::try_from(i + 1).ok()),
        instructions: format!(
            "`\"moduleResolution\": \"{setting}\"` ignores package `exports`, so tsc cannot \
             resolve the SDK subpaths the generated webhook handler imports \
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
        assert!(ignores_package_exports(p.path(), "tsconfig.json"));
        let step = module_resolution_step(p.path(), "tsconfig.json").unwrap();
        assert_eq!(step.line, Some(4));
        assert!(step.snippet.unwrap().contains("\"@spaire/sdk/*\""));
        let bundler = project(&[(
            "tsconfig.json",
            "{\"compilerOptions\": {\"moduleResolution\": \"bundler\"}}",
        )]);
        assert!(!ignores_package_exports(bundler.path(), "tsconfig.json"));
        assert!(module_resolution_step(bundler.path(), "tsconfig.json").is_none());
    }

    #[test]
    fn a_file_is_included_only_when_a_pattern_surely_covers_it() {
        let with = |tsconfig: &str| project(&[("web/tsconfig.json", tsconfig)]);
        let file = "web/lib/spaire/sdk-subpaths.d.ts";
        let next = with(r#"{"include": ["next-env.d.ts", "**/*.ts", "**/*.tsx"]}"#);
        assert!(includes(next.path(), "web/tsconfig.json", file));
        assert!(includes(with("{}").path(), "web/tsconfig.json", file));
        assert!(includes(
            with(r#"{"include": ["./lib"]}"#).path(),
            "web/tsconfig.json",
            file
        ));
        assert!(includes(
            with(r#"{"include": ["lib/**/*"]}"#).path(),
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"include": ["src/**/*.ts"]}"#).path(),
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"include": ["lib/*.ts"]}"#).path(),
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"files": ["lib/a.ts"]}"#).path(),
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with(r#"{"exclude": ["lib"]}"#).path(),
            "web/tsconfig.json",
            file
        ));
        assert!(!includes(
            with("{}").path(),
            "web/tsconfig.json",
            "other/x.d.ts"
        ));
    }
}
