//! The project's own gates: which formatter, linter and type-checker it uses, where their
//! configuration is, and whether each is installed where the project would run it.
//!
//! Generated and edited files must pass the same gates as the rest of the project's code
//! (issue 15): apply formats exactly the files it touches with the project's formatter, and
//! the post-apply checks run the project's own linter and type-checker. Detection is plain
//! file reading, like the rest of `detect`, and every finding carries its evidence.
//!
//! Configuration is looked up from the package directory up to the project root (monorepos
//! keep `.prettierrc`, `biome.json` or `eslint.config.js` at the root). Binaries are looked
//! up where the project installs them: `node_modules/.bin` from the package up to the root,
//! the project's virtualenv (`.venv`, `venv`), `vendor/bin`, `bin/`; tools that are
//! conventionally global (`gofmt`, `go`) come from `PATH`, and so do Python tools when the
//! project has no virtualenv (the CI of most Python projects installs them globally).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::profile::{Evidence, Language};

/// One tool the project's code has to satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateTool {
    Prettier,
    Biome,
    /// `eslint.config.*` (ESLint 9 flat config).
    EslintFlat,
    /// `.eslintrc*` or `eslintConfig` in package.json (ESLint ≤ 8).
    EslintLegacy,
    Dprint,
    Tsc,
    Ruff,
    Black,
    Isort,
    Flake8,
    Mypy,
    Gofmt,
    GoVet,
    Pint,
    PhpCsFixer,
    Rubocop,
    Standard,
}

/// What a gate checks; a tool can be both (Biome, ruff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateRole {
    Format,
    Lint,
    TypeCheck,
}

impl GateTool {
    /// The name users know the tool by, and the binary's name.
    pub fn program(self) -> &'static str {
        match self {
            Self::Prettier => "prettier",
            Self::Biome => "biome",
            Self::EslintFlat | Self::EslintLegacy => "eslint",
            Self::Dprint => "dprint",
            Self::Tsc => "tsc",
            Self::Ruff => "ruff",
            Self::Black => "black",
            Self::Isort => "isort",
            Self::Flake8 => "flake8",
            Self::Mypy => "mypy",
            Self::Gofmt => "gofmt",
            Self::GoVet => "go",
            Self::Pint => "pint",
            Self::PhpCsFixer => "php-cs-fixer",
            Self::Rubocop => "rubocop",
            Self::Standard => "standardrb",
        }
    }

    /// The roles the tool plays in a project that configures it.
    pub fn roles(self) -> &'static [GateRole] {
        match self {
            Self::Prettier | Self::Dprint | Self::Black | Self::Isort | Self::Gofmt => {
                &[GateRole::Format]
            }
            Self::Pint | Self::PhpCsFixer => &[GateRole::Format],
            Self::Biome | Self::Ruff | Self::Rubocop | Self::Standard => {
                &[GateRole::Format, GateRole::Lint]
            }
            Self::EslintFlat | Self::EslintLegacy | Self::Flake8 => &[GateRole::Lint],
            Self::Tsc | Self::Mypy | Self::GoVet => &[GateRole::TypeCheck],
        }
    }
}

/// A gate found in the project.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub tool: GateTool,
    /// The configuration file, relative to the project root (`None`: the tool's defaults,
    /// e.g. Prettier declared in devDependencies without a config file).
    pub config: Option<String>,
    pub evidence: Evidence,
    /// Absolute path of the binary the project would run, when it is installed.
    pub binary: Option<PathBuf>,
}

impl Gate {
    pub fn is(&self, role: GateRole) -> bool {
        self.tool.roles().contains(&role)
    }
}

/// Every gate of one package, in the order they run (import sorting before formatting,
/// formatting before lint fixes).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Gates {
    pub gates: Vec<Gate>,
}

impl Gates {
    pub fn with_role(&self, role: GateRole) -> impl Iterator<Item = &Gate> {
        self.gates.iter().filter(move |g| g.is(role))
    }

    pub fn get(&self, tool: GateTool) -> Option<&Gate> {
        self.gates.iter().find(|g| g.tool == tool)
    }
}

/// The gates of the package at `package_dir` (absolute) inside the project at `root`.
pub fn detect_gates(root: &Path, package_dir: &Path, language: Language) -> Gates {
    let look = Lookup::new(root, package_dir);
    let mut gates = Vec::new();
    match language {
        Language::TypeScript | Language::JavaScript => javascript(&look, &mut gates),
        Language::Python => python(&look, &mut gates),
        Language::Go => go(&look, &mut gates),
        Language::Php => php(&look, &mut gates),
        Language::Ruby => ruby(&look, &mut gates),
    }
    Gates { gates }
}

/// Finds files from the package directory up to the root.
struct Lookup<'a> {
    root: &'a Path,
    /// The package directory, then each parent up to and including the root.
    dirs: Vec<PathBuf>,
}

impl<'a> Lookup<'a> {
    fn new(root: &'a Path, package_dir: &Path) -> Self {
        let mut dirs = Vec::new();
        let mut dir = Some(package_dir);
        while let Some(d) = dir {
            dirs.push(d.to_path_buf());
            if d == root || !d.starts_with(root) {
                break;
            }
            dir = d.parent();
        }
        if dirs.is_empty() {
            dirs.push(root.to_path_buf());
        }
        Self { root, dirs }
    }

    fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(self.root).unwrap_or(path);
        rel.to_string_lossy().replace('\\', "/")
    }

    /// The nearest of `names` (first match per directory, nearest directory first).
    fn config(&self, names: &[&str]) -> Option<PathBuf> {
        self.dirs.iter().find_map(|dir| {
            names
                .iter()
                .map(|name| dir.join(name))
                .find(|p| p.is_file())
        })
    }

    /// The nearest file named `name` whose text satisfies `matches`.
    fn config_containing(
        &self,
        names: &[&str],
        matches: impl Fn(&str) -> bool,
    ) -> Option<(PathBuf, String)> {
        self.dirs.iter().find_map(|dir| {
            names.iter().find_map(|name| {
                let path = dir.join(name);
                let text = read_small(&path)?;
                matches(&text).then_some((path, text))
            })
        })
    }

    fn evidence(&self, path: &Path, text: impl Into<String>) -> Evidence {
        Evidence {
            file: self.relative(path),
            line: None,
            text: text.into(),
        }
    }

    /// `node_modules/.bin/<name>` from the package up to the root.
    fn node_bin(&self, name: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.join("node_modules/.bin").join(name))
            .find(|p| p.is_file())
    }

    /// The project's virtualenv, else `PATH`.
    fn python_bin(&self, name: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .flat_map(|d| [d.join(".venv/bin"), d.join("venv/bin"), d.join("env/bin")])
            .map(|bin| bin.join(name))
            .find(|p| p.is_file())
            .or_else(|| on_path(name))
    }

    fn dir_bin(&self, relative: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.join(relative))
            .find(|p| p.is_file())
    }
}

/// Reads a config-sized file (configs are small; a huge file is not a config).
fn read_small(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 512 * 1024 {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// `tool` on `PATH`.
pub fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    })
}

const PRETTIER_CONFIGS: &[&str] = &[
    ".prettierrc",
    ".prettierrc.json",
    ".prettierrc.json5",
    ".prettierrc.yaml",
    ".prettierrc.yml",
    ".prettierrc.toml",
    ".prettierrc.js",
    ".prettierrc.cjs",
    ".prettierrc.mjs",
    ".prettierrc.ts",
    "prettier.config.js",
    "prettier.config.cjs",
    "prettier.config.mjs",
    "prettier.config.ts",
];
const BIOME_CONFIGS: &[&str] = &["biome.json", "biome.jsonc"];
const ESLINT_FLAT_CONFIGS: &[&str] = &[
    "eslint.config.js",
    "eslint.config.mjs",
    "eslint.config.cjs",
    "eslint.config.ts",
    "eslint.config.mts",
    "eslint.config.cts",
];
const ESLINT_LEGACY_CONFIGS: &[&str] = &[
    ".eslintrc.js",
    ".eslintrc.cjs",
    ".eslintrc.json",
    ".eslintrc.yaml",
    ".eslintrc.yml",
    ".eslintrc",
];
const DPRINT_CONFIGS: &[&str] = &[
    "dprint.json",
    ".dprint.json",
    "dprint.jsonc",
    ".dprint.jsonc",
];

fn javascript(look: &Lookup<'_>, gates: &mut Vec<Gate>) {
    // package.json keys and devDependencies, nearest package.json first.
    let manifests: Vec<(PathBuf, serde_json::Value)> = look
        .dirs
        .iter()
        .map(|d| d.join("package.json"))
        .filter_map(|p| {
            let text = read_small(&p)?;
            let value = serde_json::from_str(&text).ok()?;
            Some((p, value))
        })
        .collect();
    let key_in_manifest = |key: &str| {
        manifests
            .iter()
            .find(|(_, v)| v.get(key).is_some())
            .map(|(p, _)| p.clone())
    };
    let declared = |dep: &str| {
        manifests
            .iter()
            .find(|(_, v)| {
                ["devDependencies", "dependencies"]
                    .iter()
                    .any(|section| v.get(section).and_then(|s| s.get(dep)).is_some())
            })
            .map(|(p, _)| p.clone())
    };

    if let Some(path) = look.config(BIOME_CONFIGS) {
        gates.push(Gate {
            tool: GateTool::Biome,
            config: Some(look.relative(&path)),
            evidence: look.evidence(&path, "Biome configuration"),
            binary: look.node_bin("biome"),
        });
    }
    let prettier = look
        .config(PRETTIER_CONFIGS)
        .map(|p| (p, "Prettier configuration"))
        .or_else(|| key_in_manifest("prettier").map(|p| (p, "`prettier` key in package.json")))
        .or_else(|| declared("prettier").map(|p| (p, "prettier in package.json dependencies")));
    // A Prettier config beside a Biome the project depends on, with Prettier in no manifest
    // and no script: a leftover, not a tool the project runs (novel: `prettier.config.js` at
    // 80 columns at the root, `biome format` at 120 in the app's scripts, Prettier only as a
    // transitive binary). Formatting with both would leave the files in Prettier's layout,
    // which the project's Biome then reports.
    let script_runs = |tool: &str| {
        manifests.iter().any(|(_, v)| {
            v.get("scripts")
                .and_then(|s| s.as_object())
                .is_some_and(|scripts| {
                    scripts
                        .values()
                        .any(|cmd| cmd.as_str().is_some_and(|c| c.contains(tool)))
                })
        })
    };
    let prettier = prettier.filter(|_| {
        let biome_in_use = look.config(BIOME_CONFIGS).is_some()
            && (declared("@biomejs/biome").is_some() || script_runs("biome"));
        !biome_in_use
            || declared("prettier").is_some()
            || key_in_manifest("prettier").is_some()
            || script_runs("prettier")
    });
    if let Some((path, why)) = prettier {
        let config = PRETTIER_CONFIGS
            .iter()
            .any(|name| path.ends_with(name))
            .then(|| look.relative(&path));
        gates.push(Gate {
            tool: GateTool::Prettier,
            config,
            evidence: look.evidence(&path, why),
            binary: look.node_bin("prettier"),
        });
    }
    if let Some(path) = look.config(DPRINT_CONFIGS) {
        gates.push(Gate {
            tool: GateTool::Dprint,
            config: Some(look.relative(&path)),
            evidence: look.evidence(&path, "dprint configuration"),
            binary: look.node_bin("dprint").or_else(|| on_path("dprint")),
        });
    }
    // ESLint: a flat config wins over a legacy one (ESLint 9 ignores `.eslintrc*`).
    let eslint = look
        .config(ESLINT_FLAT_CONFIGS)
        .map(|p| (p, GateTool::EslintFlat, "ESLint flat config"))
        .or_else(|| {
            look.config(ESLINT_LEGACY_CONFIGS)
                .map(|p| (p, GateTool::EslintLegacy, "ESLint legacy config"))
        })
        .or_else(|| {
            key_in_manifest("eslintConfig").map(|p| {
                (
                    p,
                    GateTool::EslintLegacy,
                    "`eslintConfig` key in package.json",
                )
            })
        });
    if let Some((path, tool, why)) = eslint {
        gates.push(Gate {
            tool,
            config: (tool != GateTool::EslintLegacy || !path.ends_with("package.json"))
                .then(|| look.relative(&path)),
            evidence: look.evidence(&path, why),
            binary: look.node_bin("eslint"),
        });
    }
    if let Some(path) = look.dirs.first().map(|d| d.join("tsconfig.json"))
        && path.is_file()
    {
        gates.push(Gate {
            tool: GateTool::Tsc,
            config: Some(look.relative(&path)),
            evidence: look.evidence(&path, "TypeScript project"),
            binary: look.node_bin("tsc"),
        });
    }
}

fn python(look: &Lookup<'_>, gates: &mut Vec<Gate>) {
    let pyproject = |section: &str| {
        look.config_containing(&["pyproject.toml"], |text| {
            text.lines().any(|l| {
                let l = l.trim();
                l == format!("[tool.{section}]") || l.starts_with(&format!("[tool.{section}."))
            })
        })
        .map(|(p, _)| (p, format!("[tool.{section}] in pyproject.toml")))
    };
    let ini_section = |names: &[&str], section: &str| {
        look.config_containing(names, |text| {
            text.lines().any(|l| l.trim() == format!("[{section}]"))
        })
        .map(|(p, _)| (p, format!("[{section}] section")))
    };
    let pre_commit = |hook: &str| {
        look.config_containing(&[".pre-commit-config.yaml"], |text| {
            text.contains(&format!("id: {hook}"))
        })
        .map(|(p, _)| (p, format!("`{hook}` pre-commit hook")))
    };
    let own_file = |names: &[&str], what: &str| {
        look.config(names)
            .map(|p| (p, format!("{what} configuration")))
    };
    let found = [
        (
            GateTool::Isort,
            pyproject("isort")
                .or_else(|| own_file(&[".isort.cfg"], "isort"))
                .or_else(|| ini_section(&["setup.cfg", "tox.ini"], "isort"))
                .or_else(|| ini_section(&["setup.cfg", "tox.ini"], "tool:isort"))
                .or_else(|| pre_commit("isort")),
        ),
        (
            GateTool::Black,
            pyproject("black").or_else(|| pre_commit("black")),
        ),
        (
            GateTool::Ruff,
            own_file(&["ruff.toml", ".ruff.toml"], "ruff")
                .or_else(|| pyproject("ruff"))
                .or_else(|| pre_commit("ruff"))
                .or_else(|| pre_commit("ruff-format")),
        ),
        (
            GateTool::Flake8,
            own_file(&[".flake8"], "flake8")
                .or_else(|| ini_section(&["setup.cfg", "tox.ini"], "flake8"))
                .or_else(|| pre_commit("flake8")),
        ),
        (
            GateTool::Mypy,
            own_file(&["mypy.ini", ".mypy.ini"], "mypy")
                .or_else(|| pyproject("mypy"))
                .or_else(|| ini_section(&["setup.cfg"], "mypy")),
        ),
    ];
    for (tool, found) in found {
        if let Some((path, why)) = found {
            gates.push(Gate {
                tool,
                config: Some(look.relative(&path)),
                evidence: look.evidence(&path, why),
                binary: look.python_bin(tool.program()),
            });
        }
    }
}

fn go(look: &Lookup<'_>, gates: &mut Vec<Gate>) {
    let Some(go_mod) = look.config(&["go.mod"]) else {
        return;
    };
    // gofmt is the language's own rule, not a project choice: every Go project has it.
    gates.push(Gate {
        tool: GateTool::Gofmt,
        config: None,
        evidence: look.evidence(&go_mod, "Go module (gofmt is the standard format)"),
        binary: on_path("gofmt"),
    });
    gates.push(Gate {
        tool: GateTool::GoVet,
        config: None,
        evidence: look.evidence(&go_mod, "Go module"),
        binary: on_path("go"),
    });
}

fn php(look: &Lookup<'_>, gates: &mut Vec<Gate>) {
    if let Some(path) = look.config(&["pint.json"]) {
        gates.push(Gate {
            tool: GateTool::Pint,
            config: Some(look.relative(&path)),
            evidence: look.evidence(&path, "Pint configuration"),
            binary: look.dir_bin("vendor/bin/pint"),
        });
    } else if let Some(path) = look.dir_bin("vendor/bin/pint") {
        gates.push(Gate {
            tool: GateTool::Pint,
            config: None,
            evidence: look.evidence(&path, "Pint installed (Laravel's default style)"),
            binary: Some(path),
        });
    }
    if let Some(path) = look.config(&[
        ".php-cs-fixer.php",
        ".php-cs-fixer.dist.php",
        ".php_cs",
        ".php_cs.dist",
    ]) {
        gates.push(Gate {
            tool: GateTool::PhpCsFixer,
            config: Some(look.relative(&path)),
            evidence: look.evidence(&path, "PHP-CS-Fixer configuration"),
            binary: look.dir_bin("vendor/bin/php-cs-fixer"),
        });
    }
}

fn ruby(look: &Lookup<'_>, gates: &mut Vec<Gate>) {
    let standard = look.config(&[".standard.yml"]).or_else(|| {
        look.config_containing(&["Gemfile"], |t| {
            t.lines().any(|l| {
                let l = l.trim();
                l.starts_with("gem \"standard\"") || l.starts_with("gem 'standard'")
            })
        })
        .map(|(p, _)| p)
    });
    if let Some(path) = standard {
        gates.push(Gate {
            tool: GateTool::Standard,
            config: Some(look.relative(&path)),
            evidence: look.evidence(&path, "Standard Ruby"),
            binary: look
                .dir_bin("bin/standardrb")
                .or_else(|| on_path("standardrb")),
        });
    } else if let Some(path) = look.config(&[".rubocop.yml"]) {
        gates.push(Gate {
            tool: GateTool::Rubocop,
            config: Some(look.relative(&path)),
            evidence: look.evidence(&path, "RuboCop configuration"),
            binary: look.dir_bin("bin/rubocop").or_else(|| on_path("rubocop")),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn tools(gates: &Gates) -> Vec<GateTool> {
        gates.gates.iter().map(|g| g.tool).collect()
    }

    #[test]
    fn monorepo_root_configs_apply_to_a_package() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "package.json", r#"{"prettier": {"semi": false}}"#);
        write(root, "eslint.config.mjs", "export default [];");
        write(root, ".eslintrc.json", "{}");
        write(root, "apps/web/package.json", r#"{"name": "web"}"#);
        write(root, "apps/web/tsconfig.json", "{}");
        write(root, "node_modules/.bin/prettier", "");
        let gates = detect_gates(root, &root.join("apps/web"), Language::TypeScript);
        assert_eq!(
            tools(&gates),
            [GateTool::Prettier, GateTool::EslintFlat, GateTool::Tsc]
        );
        let prettier = gates.get(GateTool::Prettier).unwrap();
        assert_eq!(
            prettier.config, None,
            "inline config: defaults + package.json"
        );
        assert_eq!(prettier.evidence.file, "package.json");
        assert!(prettier.binary.is_some(), "root node_modules/.bin is used");
        assert_eq!(
            gates.get(GateTool::EslintFlat).unwrap().config.as_deref(),
            Some("eslint.config.mjs")
        );
        assert!(gates.get(GateTool::Tsc).unwrap().binary.is_none());
    }

    #[test]
    fn biome_and_legacy_eslint_in_package_json() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "biome.jsonc", "{}");
        write(root, "package.json", r#"{"eslintConfig": {}}"#);
        let gates = detect_gates(root, root, Language::JavaScript);
        assert_eq!(tools(&gates), [GateTool::Biome, GateTool::EslintLegacy]);
        assert_eq!(gates.get(GateTool::EslintLegacy).unwrap().config, None);
    }

    /// novel: a Prettier config at the root, Biome in the dependencies and scripts, Prettier
    /// in none: Biome formats. A Prettier the project depends on stays a gate beside Biome.
    #[test]
    fn a_leftover_prettier_config_beside_biome_is_no_gate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "biome.json", "{}");
        write(root, "prettier.config.js", "module.exports = {};");
        write(
            root,
            "package.json",
            r#"{"devDependencies": {"@biomejs/biome": "^1.9.4"}}"#,
        );
        write(
            root,
            "apps/web/package.json",
            r#"{"scripts": {"format": "biome format ."}}"#,
        );
        write(root, "node_modules/.bin/prettier", "");
        let gates = detect_gates(root, &root.join("apps/web"), Language::TypeScript);
        assert_eq!(tools(&gates), [GateTool::Biome]);
        write(
            root,
            "package.json",
            r#"{"devDependencies": {"@biomejs/biome": "^1.9.4", "prettier": "^3.0.0"}}"#,
        );
        let gates = detect_gates(root, &root.join("apps/web"), Language::TypeScript);
        assert_eq!(tools(&gates), [GateTool::Biome, GateTool::Prettier]);
        // Without Biome in use, a Prettier config alone is a gate, as before.
        write(root, "package.json", "{}");
        write(root, "apps/web/package.json", "{}");
        let gates = detect_gates(root, &root.join("apps/web"), Language::TypeScript);
        assert_eq!(tools(&gates), [GateTool::Biome, GateTool::Prettier]);
    }

    #[test]
    fn python_tools_from_pyproject_setup_cfg_and_pre_commit() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "pyproject.toml",
            "[tool.black]\nline-length = 100\n\n[tool.ruff.lint]\nselect = [\"E\"]\n",
        );
        write(root, "setup.cfg", "[flake8]\nmax-line-length = 100\n");
        write(
            root,
            ".pre-commit-config.yaml",
            "repos:\n  - hooks:\n      - id: isort\n",
        );
        let gates = detect_gates(root, root, Language::Python);
        assert_eq!(
            tools(&gates),
            [
                GateTool::Isort,
                GateTool::Black,
                GateTool::Ruff,
                GateTool::Flake8
            ]
        );
        assert_eq!(
            gates.get(GateTool::Ruff).unwrap().evidence.text,
            "[tool.ruff] in pyproject.toml"
        );
        assert!(gates.get(GateTool::Isort).unwrap().evidence.file == ".pre-commit-config.yaml");
    }

    #[test]
    fn nothing_configured_means_no_gates() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "package.json", r#"{"name": "x"}"#);
        assert!(
            detect_gates(root, root, Language::JavaScript)
                .gates
                .is_empty()
        );
        write(root, "pyproject.toml", "[project]\nname = \"x\"\n");
        assert!(detect_gates(root, root, Language::Python).gates.is_empty());
    }

    #[test]
    fn ruby_and_php() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Gemfile", "gem 'standard', group: :dev\n");
        write(root, "pint.json", "{}");
        assert_eq!(
            tools(&detect_gates(root, root, Language::Ruby)),
            [GateTool::Standard]
        );
        assert_eq!(
            tools(&detect_gates(root, root, Language::Php)),
            [GateTool::Pint]
        );
    }
}
