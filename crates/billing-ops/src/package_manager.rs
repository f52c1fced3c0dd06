//! The command that runs a JS package manager the project declares but this machine lacks.
//!
//! A project that declares `"packageManager": "pnpm@9.12.0"` (corepack's field) expects that
//! exact pnpm; when `pnpm` is not on PATH, the install runs it from the npm registry through
//! `npx` (which ships with node), so the install neither fails nor falls back to another
//! package manager that would write a foreign lockfile. Yarn 2+ is not published as `yarn`
//! on npm but as `@yarnpkg/cli-dist`.

use std::path::Path;

use billing_detect::gates::on_path;

/// `argv` as it can run here, and a note saying what was substituted (for the live output).
pub fn runnable_argv(
    argv: &[String],
    cwd: &Path,
    root: &Path,
    present: &dyn Fn(&str) -> bool,
) -> (Vec<String>, Option<String>) {
    let Some((program, rest)) = argv.split_first() else {
        return (argv.to_vec(), None);
    };
    if !matches!(program.as_str(), "pnpm" | "yarn") || present(program) || !present("npx") {
        return (argv.to_vec(), None);
    }
    let declared = [cwd, root]
        .iter()
        .find_map(|dir| declared_manager(&dir.join("package.json")));
    let version = declared
        .as_ref()
        .filter(|(name, _)| name == program)
        .map(|(_, version)| version.clone());
    let spec: Vec<String> = match (program.as_str(), version.as_deref()) {
        ("yarn", Some(v)) if !v.starts_with("1.") => {
            vec!["-p".into(), format!("@yarnpkg/cli-dist@{v}"), "yarn".into()]
        }
        (name, Some(v)) => vec![format!("{name}@{v}")],
        (name, None) => vec![name.to_owned()],
    };
    let mut out = vec!["npx".to_owned(), "--yes".to_owned()];
    out.extend(spec);
    out.extend(rest.iter().cloned());
    let note = format!(
        "`{program}` is not on PATH; running {} from the npm registry through npx",
        match &version {
            Some(v) =>
                format!("{program} {v} (the version package.json's `packageManager` declares)"),
            None => format!("the latest {program} (package.json declares no version)"),
        }
    );
    (out, Some(note))
}

/// Whether `program` is on PATH (the production `present` for [`runnable_argv`]).
pub fn on_this_path(program: &str) -> bool {
    on_path(program).is_some()
}

/// `("pnpm", "9.12.0")` from a `packageManager` of `pnpm@9.12.0+sha512.…`.
fn declared_manager(package_json: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(package_json).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let field = value.get("packageManager")?.as_str()?;
    let (name, version) = field.split_once('@')?;
    let version = version.split('+').next()?.trim();
    // Only a plain version goes on a command line (the field is the user's text).
    let plain = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
    plain.then(|| (name.trim().to_owned(), version.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn project(manager: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            format!(r#"{{"name":"x","packageManager":"{manager}"}}"#),
        )
        .unwrap();
        dir
    }

    #[test]
    fn declared_pnpm_runs_through_npx_when_missing() {
        let dir = project("pnpm@9.12.0+sha512.abc");
        let only_npx = |p: &str| p == "npx";
        let (run, note) = runnable_argv(
            &argv(&["pnpm", "add", "@spaire/sdk"]),
            dir.path(),
            dir.path(),
            &only_npx,
        );
        assert_eq!(run, ["npx", "--yes", "pnpm@9.12.0", "add", "@spaire/sdk"]);
        assert!(note.unwrap().contains("9.12.0"));
        // On PATH: the plan's command, untouched.
        let all = |_: &str| true;
        let (run, note) = runnable_argv(
            &argv(&["pnpm", "add", "@spaire/sdk"]),
            dir.path(),
            dir.path(),
            &all,
        );
        assert_eq!(run, ["pnpm", "add", "@spaire/sdk"]);
        assert!(note.is_none());
    }

    #[test]
    fn yarn_berry_comes_from_its_own_package() {
        let dir = project("yarn@4.5.1");
        let only_npx = |p: &str| p == "npx";
        let (run, _) = runnable_argv(
            &argv(&["yarn", "add", "@spaire/sdk"]),
            dir.path(),
            dir.path(),
            &only_npx,
        );
        assert_eq!(
            run,
            [
                "npx",
                "--yes",
                "-p",
                "@yarnpkg/cli-dist@4.5.1",
                "yarn",
                "add",
                "@spaire/sdk"
            ]
        );
        let classic = project("yarn@1.22.22");
        let (run, _) = runnable_argv(
            &argv(&["yarn", "add", "x"]),
            classic.path(),
            classic.path(),
            &only_npx,
        );
        assert_eq!(run, ["npx", "--yes", "yarn@1.22.22", "add", "x"]);
    }

    #[test]
    fn odd_declarations_are_not_pasted_into_the_command() {
        let dir = project("pnpm@9; rm -rf /");
        let only_npx = |p: &str| p == "npx";
        let (run, _) = runnable_argv(
            &argv(&["pnpm", "add", "x"]),
            dir.path(),
            dir.path(),
            &only_npx,
        );
        assert_eq!(run, ["npx", "--yes", "pnpm", "add", "x"]);
    }
}
