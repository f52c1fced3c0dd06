//! Where a JS/TS project keeps its environment, so the Spaire variables land where the app
//! really reads them:
//!
//! - the directory of the `.env` it loads: a package of a monorepo often loads the root's
//!   (`"with-env": "dotenv -e ../../.env --"` in create-t3-turbo, `node --env-file=../../.env`,
//!   `dotenv.config({ path: "../../.env" })`), so `.env.example` belongs next to that file;
//! - a t3-env `env.ts` (`createEnv({ server: {..}, runtimeEnv: {..} })`): the app validates every
//!   variable there (and its lint forbids `process.env` elsewhere), so the Spaire variables are
//!   added to its `server` schema, and to `runtimeEnv` when it lists the server variables.

use std::path::{Component, Path};

/// The project-root-relative directory holding the `.env` the package loads, when the package
/// names one outside itself; `None` means the package directory.
pub(crate) fn env_dir(root: &Path, package_dir: &str) -> Option<String> {
    let read = |name: &str| std::fs::read_to_string(root.join(package_dir).join(name)).ok();
    let mut sources: Vec<String> = Vec::new();
    sources.extend(read("package.json"));
    for name in [
        "next.config.js",
        "next.config.mjs",
        "next.config.ts",
        "src/env.ts",
        "src/env.js",
        "src/env.mjs",
        "env.ts",
        "vite.config.ts",
    ] {
        sources.extend(read(name));
    }
    let target = sources.iter().find_map(|text| dotenv_path(text))?;
    let dir = target.rsplit_once('/').map_or("", |(dir, _)| dir);
    normalize(package_dir, dir).filter(|d| d != package_dir)
}

/// The relative `.env` path a text names: `dotenv -e P`, `--env-file=P` / `--env-file P`,
/// `config({ path: "P" })`. Only relative paths that end in a `.env` file name.
fn dotenv_path(text: &str) -> Option<String> {
    const MARKERS: &[&str] = &[
        "dotenv -e ",
        "--env-file=",
        "--env-file ",
        "path: \"",
        "path: '",
    ];
    for marker in MARKERS {
        let mut rest = text;
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            let path: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '`' | ')' | ','))
                .collect();
            let file = path.rsplit('/').next().unwrap_or(&path);
            if path.starts_with('.') && (file == ".env" || file.starts_with(".env.")) {
                return Some(path);
            }
        }
    }
    None
}

/// `package_dir/relative` resolved to a root-relative path ("" is the root), or `None` when it
/// leaves the project.
fn normalize(package_dir: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = package_dir.split('/').filter(|p| !p.is_empty()).collect();
    for component in Path::new(relative).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(name) => parts.push(name.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// Candidate t3-env files, package-relative.
pub(crate) const T3_ENV_FILES: &[&str] = &[
    "src/env.ts",
    "src/env.js",
    "src/env.mjs",
    "env.ts",
    "env.js",
    "env.mjs",
];

/// The variables added to a t3-env schema: name and whether the app's code requires it.
/// All are `.optional()` in the schema: a missing token must not stop an app from booting or
/// building; the generated client reports it when usage is sent.
pub(crate) fn extend_t3_env(text: &str, names: &[&str]) -> Option<String> {
    if !text.contains("createEnv(") || !text.contains("@t3-oss/env") {
        return None;
    }
    let zod = zod_local(text)?;
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !text.contains(&format!("{n}:")))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = text.to_owned();
    // `runtimeEnv: { .. }` must list every server variable (a type error otherwise);
    // `experimental__runtimeEnv` lists client variables only, `runtimeEnv: process.env` all.
    if let Some(body) = object_body(&out, "runtimeEnv: {") {
        let entries: String = missing
            .iter()
            .map(|n| format!("{}{n}: process.env.{n},\n", body.indent))
            .collect();
        out.insert_str(
            body.open + 1,
            &format!("\n{}", entries.trim_end_matches('\n')),
        );
    }
    let server = object_body(&out, "server: {")?;
    let entries: String = missing
        .iter()
        .map(|n| format!("{}{n}: {zod}.string().optional(),\n", server.indent))
        .collect();
    out.insert_str(
        server.open + 1,
        &format!("\n{}", entries.trim_end_matches('\n')),
    );
    Some(out)
}

struct ObjectBody {
    /// Byte offset of the `{`.
    open: usize,
    /// Indentation of the object's entries.
    indent: String,
}

/// The object literal after `marker` (exactly one occurrence that is not `experimental__`).
fn object_body(text: &str, marker: &str) -> Option<ObjectBody> {
    let at = text.match_indices(marker).find_map(|(at, _)| {
        let before = &text[..at];
        let word_start = !before.ends_with(|c: char| c.is_alphanumeric() || c == '_');
        word_start.then_some(at)
    })?;
    let open = at + marker.len() - 1;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let key_indent: String = text[line_start..at]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let unit = if text.contains("\n\t") { "\t" } else { "  " };
    Some(ObjectBody {
        open,
        indent: format!("{key_indent}{unit}"),
    })
}

/// The local name of zod's `z` in the env file (`import { z } from "zod"` / `"zod/v4"`).
fn zod_local(text: &str) -> Option<&'static str> {
    let imports_z = text.lines().any(|l| {
        let l = l.trim();
        l.starts_with("import")
            && (l.contains("{ z }") || l.contains("* as z"))
            && (l.contains("\"zod") || l.contains("'zod"))
    });
    imports_z.then_some("z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monorepo_package_that_loads_the_root_env() {
        assert_eq!(
            dotenv_path("\"with-env\": \"dotenv -e ../../.env --\""),
            Some("../../.env".into())
        );
        assert_eq!(
            dotenv_path("node --env-file=../.env.local server.js"),
            Some("../.env.local".into())
        );
        assert_eq!(
            dotenv_path("config({ path: \"../../.env\" })"),
            Some("../../.env".into())
        );
        assert_eq!(dotenv_path("path: \"./routes\""), None);
        assert_eq!(normalize("apps/web", "../.."), Some(String::new()));
        assert_eq!(normalize("apps/web", "../../.."), None);
    }

    #[test]
    fn a_t3_env_gets_the_variables_in_server_and_runtime_env() {
        let src = "import { createEnv } from \"@t3-oss/env-nextjs\";\nimport { z } from \"zod\";\n\nexport const env = createEnv({\n  server: {\n    DATABASE_URL: z.string().url(),\n  },\n  client: {},\n  runtimeEnv: {\n    DATABASE_URL: process.env.DATABASE_URL,\n  },\n});\n";
        let out = extend_t3_env(src, &["SPAIRE_ACCESS_TOKEN"]).unwrap();
        assert!(
            out.contains(
                "  server: {\n    SPAIRE_ACCESS_TOKEN: z.string().optional(),\n    DATABASE_URL"
            ),
            "{out}"
        );
        assert!(
            out.contains("  runtimeEnv: {\n    SPAIRE_ACCESS_TOKEN: process.env.SPAIRE_ACCESS_TOKEN,\n    DATABASE_URL"),
            "{out}"
        );
        // Twice changes nothing; `experimental__runtimeEnv` (client variables only) is left.
        assert_eq!(extend_t3_env(&out, &["SPAIRE_ACCESS_TOKEN"]), None);
        let exp = src.replace("runtimeEnv: {", "experimental__runtimeEnv: {");
        let out = extend_t3_env(&exp, &["SPAIRE_ACCESS_TOKEN"]).unwrap();
        assert!(!out.contains("process.env.SPAIRE"), "{out}");
        // Not zod, not t3-env: not touched.
        assert_eq!(extend_t3_env(&src.replace("{ z }", "{ y }"), &["X"]), None);
        assert_eq!(extend_t3_env("export const env = {};\n", &["X"]), None);
    }
}
