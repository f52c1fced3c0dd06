//! `package.json`.

use super::json::{self, Dialect, Node};
use super::{Dependency, Problem};
use crate::text::Lines;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageJson {
    pub file: String,
    pub name: Option<String>,
    /// `"type"` and its line.
    pub module_type: Option<(String, u32)>,
    pub dependencies: Vec<Dependency>,
    /// `workspaces` globs (array form or `{ "packages": [...] }`) and the line.
    pub workspaces: Option<(Vec<String>, u32)>,
    /// `imports` entries (`#app/*` → `./src/*`) with lines.
    pub imports: Vec<(String, String, u32)>,
    /// `packageManager` (corepack), e.g. "pnpm@9.12.0", with line.
    pub package_manager: Option<(String, u32)>,
    /// `main` entry, when declared.
    pub main: Option<String>,
    /// `scripts` (name, command).
    pub scripts: Vec<(String, String)>,
    /// Bun catalogs (`catalog` / `workspaces.catalog`): name → version, for `catalog:` specs.
    pub catalog: Vec<(String, String)>,
}

pub fn parse(file: &str, text: &str) -> (Option<PackageJson>, Option<Problem>) {
    let (node, err) = json::parse(text, Dialect::Json);
    let problem = err.map(|e| Problem {
        file: file.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message,
    });
    (node.map(|n| from_node(file, text, &n)), problem)
}

fn from_node(file: &str, text: &str, root: &Node) -> PackageJson {
    let mut pkg = PackageJson {
        file: file.to_owned(),
        ..PackageJson::default()
    };
    let lines = Lines::new(text);
    pkg.name = root.get("name").and_then(Node::as_str).map(str::to_owned);
    pkg.module_type = root
        .get("type")
        .and_then(|n| n.as_str().map(|s| (s.to_owned(), n.line)));
    pkg.main = root.get("main").and_then(Node::as_str).map(str::to_owned);
    pkg.package_manager = root
        .get("packageManager")
        .and_then(|n| n.as_str().map(|s| (s.to_owned(), n.line)));
    for (section, dev) in [
        ("dependencies", false),
        ("devDependencies", true),
        ("peerDependencies", false),
        ("optionalDependencies", false),
    ] {
        let Some(deps) = root.get(section) else {
            continue;
        };
        for (name, spec) in deps.members() {
            pkg.dependencies.push(Dependency {
                name: name.clone(),
                spec: spec.as_str().unwrap_or_default().to_owned(),
                file: file.to_owned(),
                line: spec.line,
                text: lines.text(spec.line),
                dev,
            });
        }
    }
    if let Some(ws) = root.get("workspaces") {
        let globs = match ws.get("packages") {
            Some(p) => p.strings(),
            None => ws.strings(),
        };
        pkg.workspaces = Some((globs.into_iter().map(str::to_owned).collect(), ws.line));
    }
    if let Some(imports) = root.get("imports") {
        for (key, target) in imports.members() {
            if let Some(t) = condition_target(target) {
                pkg.imports.push((key.clone(), t, target.line));
            }
        }
    }
    if let Some(scripts) = root.get("scripts") {
        for (name, cmd) in scripts.members() {
            if let Some(c) = cmd.as_str() {
                pkg.scripts.push((name.clone(), c.to_owned()));
            }
        }
    }
    for key in ["catalog"] {
        if let Some(cat) = root
            .get(key)
            .or_else(|| root.get("workspaces").and_then(|w| w.get(key)))
        {
            for (name, v) in cat.members() {
                if let Some(s) = v.as_str() {
                    pkg.catalog.push((name.clone(), s.to_owned()));
                }
            }
        }
    }
    pkg
}

/// `imports`/`exports` values are a path or an object of conditions; prefer the ones a
/// server build resolves.
fn condition_target(node: &Node) -> Option<String> {
    if let Some(s) = node.as_str() {
        return Some(s.to_owned());
    }
    for cond in ["node", "import", "default", "require"] {
        if let Some(t) = node.get(cond).and_then(condition_target) {
            return Some(t);
        }
    }
    None
}

impl PackageJson {
    pub fn dependency(&self, name: &str) -> Option<&Dependency> {
        // Prefer the runtime declaration when a package is listed twice.
        self.dependencies
            .iter()
            .filter(|d| d.name == name)
            .min_by_key(|d| d.dev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dependencies_workspaces_and_imports() {
        let text = r##"{
  "name": "web",
  "type": "module",
  "packageManager": "pnpm@9.12.0",
  "workspaces": { "packages": ["apps/*", "packages/*"] },
  "imports": { "#app/*": { "types": "./src/*.d.ts", "default": "./src/*" } },
  "dependencies": { "next": "^15.1.0", "@repo/ui": "workspace:*" },
  "devDependencies": { "typescript": "catalog:", "next": "^15.1.0" }
}"##;
        let (pkg, problem) = parse("package.json", text);
        assert!(problem.is_none());
        let pkg = pkg.unwrap();
        assert_eq!(pkg.name.as_deref(), Some("web"));
        assert_eq!(pkg.module_type, Some(("module".to_owned(), 3)));
        let next = pkg.dependency("next").unwrap();
        assert!(!next.dev);
        assert_eq!(next.line, 7);
        assert_eq!(pkg.dependency("typescript").unwrap().spec, "catalog:");
        assert_eq!(pkg.workspaces.unwrap().0, ["apps/*", "packages/*"]);
        assert_eq!(pkg.imports, [("#app/*".into(), "./src/*".into(), 6)]);
    }
}
