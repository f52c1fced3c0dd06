//! Where generated TypeScript/JavaScript files go and how they import each other, following
//! the package's own conventions (src dir, aliases, module system, framework layout).

use billing_detect::{Framework, FrameworkDetails, FrameworkId, Language, ModuleSystem, Package};

/// The package's conventions, resolved once per generation.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Package directory relative to the project root ("" for the root itself).
    package_dir: String,
    /// The framework the files are generated for (`None`: plain Node code, no adapters).
    pub framework: Option<FrameworkId>,
    pub details: FrameworkDetails,
    /// Major version of the framework, when known.
    pub framework_major: Option<u64>,
    /// `.ts` files with type annotations (else `.js`).
    pub typescript: bool,
    /// `import`/`export` syntax (else `require`/`module.exports`).
    pub esm_syntax: bool,
    /// Relative imports need an explicit `.js` extension (Node's ESM resolution).
    pub explicit_extension: bool,
    /// Whether a bundler resolves tsconfig `paths` aliases at runtime.
    bundler: bool,
    /// Package-relative directory of the shared modules (client, recorder, usage, ...).
    pub module_dir: String,
    src_dir: bool,
    /// (import prefix ending in `/`, package-relative target directory without trailing `/`).
    aliases: Vec<(String, String)>,
}

/// Frameworks whose build tool resolves extensionless imports and tsconfig path aliases.
fn uses_bundler(framework: Option<FrameworkId>) -> bool {
    framework.is_some_and(|id| id.info().capabilities.bundler)
}

impl Layout {
    pub fn new(package: &Package, framework: Option<&Framework>) -> Self {
        let framework_id = framework.map(|f| f.id);
        let details = framework.map(|f| f.details.clone()).unwrap_or_default();
        let typescript = package.language == Language::TypeScript;
        let bundler = uses_bundler(framework_id);
        let esm = package.module_system == Some(ModuleSystem::Esm);
        let esm_syntax = typescript || esm || bundler;
        let package_dir = if package.path == "." || package.path.is_empty() {
            String::new()
        } else {
            package.path.trim_end_matches('/').to_owned()
        };
        let aliases = package
            .aliases
            .iter()
            .filter_map(|alias| normalise_alias(&alias.prefix, &alias.target))
            .collect();
        let mut layout = Layout {
            package_dir,
            framework: framework_id,
            framework_major: framework.and_then(|f| f.major),
            details,
            typescript,
            esm_syntax,
            explicit_extension: !bundler && esm,
            bundler,
            module_dir: String::new(),
            src_dir: package.src_dir,
            aliases,
        };
        layout.module_dir = layout.default_module_dir();
        layout
    }

    fn default_module_dir(&self) -> String {
        let src = if self.src_dir { "src/" } else { "" };
        match self.framework {
            // `$lib/server` is SvelteKit's server-only directory: it can never reach the browser.
            Some(FrameworkId::Sveltekit) => "src/lib/server/spaire".to_owned(),
            Some(FrameworkId::Nuxt) => format!("{}/spaire", self.nuxt_server_dir()),
            Some(FrameworkId::Astro) => "src/lib/spaire".to_owned(),
            // `.server` directories are kept out of client bundles by Remix and React Router.
            Some(FrameworkId::Remix | FrameworkId::ReactRouter) => "app/.server/spaire".to_owned(),
            _ => format!("{src}lib/spaire"),
        }
    }

    /// Source file extension without the dot.
    pub fn file_ext(&self) -> &'static str {
        if self.typescript { "ts" } else { "js" }
    }

    /// Extension written on relative imports between generated modules ("" or ".js").
    pub fn import_ext(&self) -> &'static str {
        if self.explicit_extension { ".js" } else { "" }
    }

    /// Path of a shared module (e.g. "usage") relative to the package, with extension.
    pub fn module_file(&self, stem: &str) -> String {
        format!("{}/{stem}.{}", self.module_dir, self.file_ext())
    }

    /// A package-relative path as a project-root-relative one.
    pub fn to_root(&self, package_relative: &str) -> String {
        if self.package_dir.is_empty() {
            package_relative.to_owned()
        } else {
            format!("{}/{package_relative}", self.package_dir)
        }
    }

    /// A project-root-relative path as a package-relative one (None: outside the package).
    pub fn to_package(&self, root_relative: &str) -> Option<String> {
        let path = root_relative.trim_start_matches("./");
        if self.package_dir.is_empty() {
            return Some(path.to_owned());
        }
        path.strip_prefix(&self.package_dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_owned)
    }

    /// A framework-detail directory (may be written root- or package-relative) as a
    /// package-relative one.
    pub fn detail_dir(&self, dir: Option<&String>, default: &str) -> String {
        match dir {
            Some(dir) => self
                .to_package(dir)
                .unwrap_or_else(|| dir.trim_start_matches("./").to_owned())
                .trim_end_matches('/')
                .to_owned(),
            None => default.to_owned(),
        }
    }

    pub fn nuxt_server_dir(&self) -> String {
        self.detail_dir(self.details.server_dir.as_ref(), "server")
    }

    /// The import specifier for the shared module `stem` as seen from `from_file`
    /// (package-relative): an alias when the framework resolves it, else a relative path.
    pub fn specifier(&self, from_file: &str, stem: &str) -> String {
        self.specifier_to(from_file, &format!("{}/{stem}", self.module_dir))
    }

    /// The import specifier for the package-relative module `target` (without extension) as
    /// seen from `from_file`: an alias when the framework resolves it, else a relative path.
    pub fn specifier_to(&self, from_file: &str, target: &str) -> String {
        if let Some(aliased) = self.aliased(target) {
            return aliased;
        }
        let mut relative = relative_path(parent_dir(from_file), target);
        relative.push_str(self.import_ext());
        relative
    }

    fn aliased(&self, target: &str) -> Option<String> {
        self.aliases
            .iter()
            // Node itself resolves only package.json `imports` (`#...`); tsconfig `paths` need
            // a bundler at runtime, so plain Node servers get relative imports instead.
            .filter(|(prefix, _)| self.bundler || prefix.starts_with('#'))
            .filter_map(|(prefix, dir)| {
                let rest = if dir.is_empty() {
                    Some(target)
                } else {
                    target.strip_prefix(dir.as_str())?.strip_prefix('/')
                };
                rest.map(|rest| {
                    (
                        dir.len(),
                        format!("{prefix}{rest}{}", self.alias_ext(prefix)),
                    )
                })
            })
            // The most specific alias wins (`$lib` over `@/*` for src/lib/...).
            .max_by_key(|(len, _)| *len)
            .map(|(_, spec)| spec)
    }

    fn alias_ext(&self, prefix: &str) -> &'static str {
        if prefix.starts_with('#') {
            self.import_ext()
        } else {
            ""
        }
    }
}

/// ("@/*", "./src/*") → ("@/", "src"); ("$lib", "src/lib") → ("$lib/", "src/lib").
fn normalise_alias(prefix: &str, target: &str) -> Option<(String, String)> {
    let prefix = prefix.trim_end_matches('*');
    if prefix.is_empty() {
        return None;
    }
    let prefix = if prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    let target = target
        .trim_start_matches("./")
        .trim_end_matches('*')
        .trim_end_matches('/');
    let target = if target == "." { "" } else { target };
    // Aliases that point outside the package cannot be used for generated files.
    if target.starts_with("..") || target.starts_with('/') {
        return None;
    }
    Some((prefix, target.to_owned()))
}

fn parent_dir(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `./x` / `../x` from directory `from_dir` to `to` (both package-relative, `/`-separated).
fn relative_path(from_dir: &str, to: &str) -> String {
    let from: Vec<&str> = from_dir
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let to_parts: Vec<&str> = to
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let ups = from.len() - common;
    let mut out = if ups == 0 {
        "./".to_owned()
    } else {
        "../".repeat(ups)
    };
    out.push_str(&to_parts[common..].join("/"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path("src", "src/lib/spaire/usage"),
            "./lib/spaire/usage"
        );
        assert_eq!(
            relative_path("src/routes/api", "src/lib/spaire/usage"),
            "../../lib/spaire/usage"
        );
        assert_eq!(relative_path("", "lib/spaire/usage"), "./lib/spaire/usage");
        assert_eq!(relative_path("lib/spaire", "lib/spaire/usage"), "./usage");
    }

    #[test]
    fn aliases_normalise() {
        assert_eq!(
            normalise_alias("@/*", "./src/*"),
            Some(("@/".into(), "src".into()))
        );
        assert_eq!(
            normalise_alias("$lib", "src/lib"),
            Some(("$lib/".into(), "src/lib".into()))
        );
        assert_eq!(
            normalise_alias("~/*", "./*"),
            Some(("~/".into(), String::new()))
        );
        assert_eq!(normalise_alias("@shared/*", "../shared/*"), None);
        assert_eq!(normalise_alias("*", "src/*"), None);
    }
}
