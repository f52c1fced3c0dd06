//! Python imports: what a module binds, and the edits that add the imports wiring needs after
//! the existing ones.

use tree_sitter::Node;

use crate::edit::Edit;
use crate::outcome::ImportNeed;
use crate::syntax::{named_children, text};
use crate::text::{line_end, newline};

#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub local: String,
    pub module: String,
    /// `from module import name`: `Some(name)`; `import module`: `None`.
    pub imported: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Imports {
    pub bindings: Vec<Binding>,
}

fn is_import(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "import_statement" | "import_from_statement" | "future_import_statement"
    )
}

impl Imports {
    pub fn collect(module: Node<'_>, src: &str) -> Self {
        let mut bindings = Vec::new();
        for stmt in named_children(module) {
            match stmt.kind() {
                "import_statement" => {
                    for name in named_children(stmt) {
                        let (dotted, alias) = match name.kind() {
                            "dotted_name" => (text(name, src), None),
                            "aliased_import" => (
                                name.child_by_field_name("name")
                                    .map_or("", |n| text(n, src)),
                                name.child_by_field_name("alias").map(|a| text(a, src)),
                            ),
                            _ => continue,
                        };
                        let local =
                            alias.unwrap_or_else(|| dotted.split('.').next().unwrap_or(dotted));
                        bindings.push(Binding {
                            local: local.to_owned(),
                            module: dotted.to_owned(),
                            imported: None,
                        });
                    }
                }
                "import_from_statement" => {
                    let Some(module_name) = stmt.child_by_field_name("module_name") else {
                        continue;
                    };
                    let module = text(module_name, src).to_owned();
                    let mut cursor = stmt.walk();
                    for name in stmt.children_by_field_name("name", &mut cursor) {
                        let (imported, local) = match name.kind() {
                            "dotted_name" => (text(name, src), text(name, src)),
                            "aliased_import" => (
                                name.child_by_field_name("name")
                                    .map_or("", |n| text(n, src)),
                                name.child_by_field_name("alias")
                                    .map_or("", |a| text(a, src)),
                            ),
                            _ => continue,
                        };
                        bindings.push(Binding {
                            local: local.to_owned(),
                            module: module.clone(),
                            imported: Some(imported.to_owned()),
                        });
                    }
                }
                _ => {}
            }
        }
        Self { bindings }
    }

    pub fn binds(&self, local: &str) -> bool {
        self.bindings.iter().any(|b| b.local == local)
    }

    /// Local name of `name` imported from a module (any module when `module` is None).
    pub fn local_for(&self, name: &str, module: Option<&str>) -> Option<&str> {
        self.bindings
            .iter()
            .find(|b| b.imported.as_deref() == Some(name) && module.is_none_or(|m| b.module == m))
            .map(|b| b.local.as_str())
    }

    pub fn imports_from_prefix(&self, prefix: &str) -> bool {
        self.bindings
            .iter()
            .any(|b| b.module == prefix || b.module.starts_with(&format!("{prefix}.")))
    }
}

/// Edits adding `needs`: merged into a one-line `from module import ...` of the same module, or
/// new lines after the last top-level import (before any code that is not an import).
pub(crate) fn edits(
    module: Node<'_>,
    src: &str,
    imports: &Imports,
    needs: &[ImportNeed],
) -> Vec<Edit> {
    let nl = newline(src);
    let statements = named_children(module);
    let mut out = Vec::new();
    let mut from_groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut plain: Vec<String> = Vec::new();
    for need in needs {
        match need {
            ImportNeed::Named { name, module } => {
                if imports.binds(name) {
                    continue;
                }
                match from_groups.iter_mut().find(|(m, _)| m == module) {
                    Some((_, names)) if names.contains(name) => {}
                    Some((_, names)) => names.push(name.clone()),
                    None => from_groups.push((module.clone(), vec![name.clone()])),
                }
            }
            ImportNeed::Module(m) => {
                if !imports.binds(m) && !plain.contains(m) {
                    plain.push(m.clone());
                }
            }
        }
    }
    let mut lines: Vec<String> = plain.iter().map(|m| format!("import {m}")).collect();
    let single = one_name_per_from_import(&statements, src);
    for (module_name, mut names) in from_groups {
        // isort / ruff order within one `from` import (our names are all snake_case).
        names.sort();
        let existing = statements.iter().find(|s| {
            s.kind() == "import_from_statement"
                && s.child_by_field_name("module_name")
                    .is_some_and(|m| text(m, src) == module_name)
                && !text(**s, src).contains(['(', '\\', '*', '\n'])
        });
        match existing {
            Some(stmt) if !single => out.push(Edit::insert(
                stmt.end_byte(),
                format!(", {}", names.join(", ")),
            )),
            _ if single => lines.extend(
                names
                    .iter()
                    .map(|name| format!("from {module_name} import {name}")),
            ),
            _ => lines.push(format!("from {module_name} import {}", names.join(", "))),
        }
    }
    if lines.is_empty() {
        return out;
    }
    let first_code = statements
        .iter()
        .position(|s| {
            matches!(
                s.kind(),
                "function_definition" | "class_definition" | "decorated_definition"
            )
        })
        .unwrap_or(statements.len());
    let last_import = statements[..first_code]
        .iter()
        .rev()
        .find(|s| is_import(**s));
    let docstring = statements.first().filter(|s| {
        s.kind() == "expression_statement"
            && named_children(**s)
                .first()
                .is_some_and(|e| e.kind() == "string")
    });
    match last_import.or(docstring) {
        Some(anchor) => {
            let text: String = lines.iter().map(|l| format!("{nl}{l}")).collect();
            out.push(Edit::insert(line_end(src, anchor.end_byte()), text));
        }
        None => {
            let text: String = lines.iter().map(|l| format!("{l}{nl}")).collect();
            out.push(Edit::insert(0, format!("{text}{nl}")));
        }
    }
    out
}

/// The file imports one name per `from` line (isort's `force-single-line`): several `from`
/// imports of a module that also imports more than one name from it, and none with a comma.
fn one_name_per_from_import(statements: &[Node<'_>], src: &str) -> bool {
    let froms: Vec<&str> = statements
        .iter()
        .filter(|s| s.kind() == "import_from_statement")
        .map(|s| text(*s, src))
        .collect();
    let module_of = |line: &str| line.split_whitespace().nth(1).map(str::to_owned);
    let repeated = froms.iter().enumerate().any(|(i, a)| {
        froms[i + 1..]
            .iter()
            .any(|b| module_of(a).is_some() && module_of(a) == module_of(b))
    });
    repeated && !froms.iter().any(|f| f.contains(','))
}
