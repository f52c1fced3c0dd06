//! `pnpm-workspace.yaml`: member globs and the `catalog:` / `catalogs:` version tables.

use super::Problem;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PnpmWorkspace {
    pub packages: Vec<String>,
    /// Default catalog (`catalog:`), name → version.
    pub catalog: Vec<(String, String)>,
    /// Named catalogs (`catalog:react18`), catalog → name → version.
    pub catalogs: Vec<(String, Vec<(String, String)>)>,
}

pub fn parse_pnpm_workspace(file: &str, text: &str) -> (Option<PnpmWorkspace>, Option<Problem>) {
    let value: serde_yaml_ng::Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, column) = e
                .location()
                .map_or((1, 1), |l| (l.line() as u32, l.column() as u32));
            return (
                None,
                Some(Problem {
                    file: file.to_owned(),
                    line,
                    column,
                    message: first_line(&e.to_string()),
                }),
            );
        }
    };
    let mut ws = PnpmWorkspace::default();
    if let Some(items) = value.get("packages").and_then(|p| p.as_sequence()) {
        ws.packages = items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect();
    }
    if let Some(cat) = value.get("catalog") {
        ws.catalog = string_map(cat);
    }
    if let Some(cats) = value.get("catalogs").and_then(|c| c.as_mapping()) {
        for (name, table) in cats {
            if let Some(name) = name.as_str() {
                ws.catalogs.push((name.to_owned(), string_map(table)));
            }
        }
    }
    (Some(ws), None)
}

fn string_map(value: &serde_yaml_ng::Value) -> Vec<(String, String)> {
    value
        .as_mapping()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let version = match v {
                        serde_yaml_ng::Value::String(s) => s.clone(),
                        serde_yaml_ng::Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Some((k.as_str()?.to_owned(), version))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_owned()
}

impl PnpmWorkspace {
    /// Resolves a `catalog:` / `catalog:name` spec to the version it stands for.
    pub fn resolve(&self, package: &str, spec: &str) -> Option<&str> {
        let name = spec.strip_prefix("catalog:")?.trim();
        let table = if name.is_empty() || name == "default" {
            &self.catalog
        } else {
            &self.catalogs.iter().find(|(n, _)| n == name)?.1
        };
        table
            .iter()
            .find(|(p, _)| p == package)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_packages_and_catalogs() {
        let text = "packages:\n  - apps/*\n  - 'packages/*'\ncatalog:\n  ai: ^5.0.0\ncatalogs:\n  next15:\n    next: 15.1.0\n";
        let (ws, p) = parse_pnpm_workspace("pnpm-workspace.yaml", text);
        assert!(p.is_none());
        let ws = ws.unwrap();
        assert_eq!(ws.packages, ["apps/*", "packages/*"]);
        assert_eq!(ws.resolve("ai", "catalog:"), Some("^5.0.0"));
        assert_eq!(ws.resolve("next", "catalog:next15"), Some("15.1.0"));
        assert_eq!(ws.resolve("next", "^15"), None);
    }

    #[test]
    fn bad_yaml_has_a_position() {
        let (ws, p) = parse_pnpm_workspace("pnpm-workspace.yaml", "packages:\n  - a\n b: [\n");
        assert!(ws.is_none());
        let p = p.unwrap();
        assert!(p.line >= 2, "{p:?}");
    }
}
