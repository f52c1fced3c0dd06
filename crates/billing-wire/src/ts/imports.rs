//! What a JS/TS file imports (ESM `import` and CommonJS `require`), the file's own import style,
//! and the edits that add the imports wiring needs.

use billing_detect::profile::ModuleSystem;
use tree_sitter::Node;

use crate::edit::Edit;
use crate::outcome::ImportNeed;
use crate::syntax::{children, named_children, text};
use crate::text::{line_end, line_start, newline};

/// One local name bound by an import.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub local: String,
    pub module: String,
    /// The exported name, or `None` for a namespace / default / whole-module `require`.
    pub imported: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Imports {
    pub bindings: Vec<Binding>,
}

impl Imports {
    /// Collects top-level `import` statements and `const .. = require(..)` declarations.
    pub fn collect(program: Node<'_>, src: &str) -> Self {
        let mut bindings = Vec::new();
        for stmt in named_children(program) {
            match stmt.kind() {
                "import_statement" => collect_esm(stmt, src, &mut bindings),
                "lexical_declaration" | "variable_declaration" => {
                    collect_require(stmt, src, &mut bindings)
                }
                _ => {}
            }
        }
        Self { bindings }
    }

    /// `(module, exported name)` a callee refers to: `gen` (aliased named import),
    /// `ai.generateText` (namespace import or `require`), `generateText`.
    pub fn resolve(&self, callee: Node<'_>, src: &str) -> Option<(String, String)> {
        match callee.kind() {
            "identifier" => {
                let name = text(callee, src);
                self.bindings
                    .iter()
                    .find(|b| b.local == name && b.imported.is_some())
                    .map(|b| (b.module.clone(), b.imported.clone().unwrap_or_default()))
            }
            "member_expression" => {
                let object = callee.child_by_field_name("object")?;
                let property = callee.child_by_field_name("property")?;
                if object.kind() != "identifier" {
                    return None;
                }
                let name = text(object, src);
                self.bindings
                    .iter()
                    .find(|b| b.local == name && b.imported.is_none())
                    .map(|b| (b.module.clone(), text(property, src).to_owned()))
            }
            _ => None,
        }
    }

    /// The local name under which `name` is imported from any module, if it is.
    pub fn local_for(&self, name: &str) -> Option<&str> {
        self.bindings
            .iter()
            .find(|b| b.imported.as_deref() == Some(name))
            .map(|b| b.local.as_str())
    }

    pub fn binds(&self, local: &str) -> bool {
        self.bindings.iter().any(|b| b.local == local)
    }
}

fn string_value(node: Node<'_>, src: &str) -> Option<String> {
    (node.kind() == "string").then(|| {
        let raw = text(node, src);
        raw[1..raw.len().saturating_sub(1)].to_owned()
    })
}

fn collect_esm(stmt: Node<'_>, src: &str, out: &mut Vec<Binding>) {
    let Some(module) = stmt
        .child_by_field_name("source")
        .and_then(|s| string_value(s, src))
    else {
        return;
    };
    let Some(clause) = named_children(stmt)
        .into_iter()
        .find(|c| c.kind() == "import_clause")
    else {
        return;
    };
    for part in named_children(clause) {
        match part.kind() {
            "identifier" => out.push(Binding {
                local: text(part, src).to_owned(),
                module: module.clone(),
                imported: None,
            }),
            "namespace_import" => {
                if let Some(id) = named_children(part)
                    .into_iter()
                    .find(|c| c.kind() == "identifier")
                {
                    out.push(Binding {
                        local: text(id, src).to_owned(),
                        module: module.clone(),
                        imported: None,
                    });
                }
            }
            "named_imports" => {
                for spec in named_children(part) {
                    if spec.kind() != "import_specifier" {
                        continue;
                    }
                    let Some(name) = spec.child_by_field_name("name") else {
                        continue;
                    };
                    let local = spec.child_by_field_name("alias").unwrap_or(name);
                    out.push(Binding {
                        local: text(local, src).to_owned(),
                        module: module.clone(),
                        imported: Some(text(name, src).to_owned()),
                    });
                }
            }
            _ => {}
        }
    }
}

/// `require("m")` call → `"m"`.
fn require_module(value: Node<'_>, src: &str) -> Option<String> {
    if value.kind() != "call_expression" {
        return None;
    }
    let function = value.child_by_field_name("function")?;
    if text(function, src) != "require" {
        return None;
    }
    let args = value.child_by_field_name("arguments")?;
    let first = named_children(args).into_iter().next()?;
    string_value(first, src)
}

fn collect_require(stmt: Node<'_>, src: &str, out: &mut Vec<Binding>) {
    for decl in named_children(stmt) {
        if decl.kind() != "variable_declarator" {
            continue;
        }
        let (Some(name), Some(value)) = (
            decl.child_by_field_name("name"),
            decl.child_by_field_name("value"),
        ) else {
            continue;
        };
        let Some(module) = require_module(value, src) else {
            continue;
        };
        match name.kind() {
            "identifier" => out.push(Binding {
                local: text(name, src).to_owned(),
                module,
                imported: None,
            }),
            "object_pattern" => {
                for prop in named_children(name) {
                    let (imported, local) = match prop.kind() {
                        "shorthand_property_identifier_pattern" => {
                            (text(prop, src), text(prop, src))
                        }
                        "pair_pattern" => {
                            let (Some(k), Some(v)) = (
                                prop.child_by_field_name("key"),
                                prop.child_by_field_name("value"),
                            ) else {
                                continue;
                            };
                            if v.kind() != "identifier" {
                                continue;
                            }
                            (text(k, src), text(v, src))
                        }
                        _ => continue,
                    };
                    out.push(Binding {
                        local: local.to_owned(),
                        module: module.clone(),
                        imported: Some(imported.to_owned()),
                    });
                }
            }
            _ => {}
        }
    }
}

/// How this file writes imports, so added lines look like the existing ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    /// `import` (true) or `require` (false).
    pub esm: bool,
    pub quote: char,
    /// Statements end with `;`.
    pub semi: bool,
}

impl Style {
    pub fn of(program: Node<'_>, src: &str, file: &str, system: Option<ModuleSystem>) -> Self {
        let statements = named_children(program);
        let first_import = statements.iter().find(|s| s.kind() == "import_statement");
        let first_require = statements.iter().find(|s| is_require_declaration(**s, src));
        let esm = if file.ends_with(".mjs") || file.ends_with(".mts") {
            true
        } else if file.ends_with(".cjs") || file.ends_with(".cts") {
            false
        } else if first_import.is_some() {
            true
        } else if first_require.is_some() {
            false
        } else {
            let is_js = file.ends_with(".js") || file.ends_with(".jsx");
            !(is_js && system == Some(ModuleSystem::Cjs))
        };
        let sample = first_import.or(first_require).or(statements.first());
        let quote = first_string_quote(program, src).unwrap_or('"');
        let semi = sample.is_none_or(|s| text(*s, src).trim_end().ends_with(';'));
        Self { esm, quote, semi }
    }

    pub fn end(&self) -> &'static str {
        if self.semi { ";" } else { "" }
    }

    pub fn string(&self, value: &str) -> String {
        format!("{q}{value}{q}", q = self.quote)
    }
}

fn first_string_quote(program: Node<'_>, src: &str) -> Option<char> {
    let mut stack = vec![program];
    while let Some(n) = stack.pop() {
        if n.kind() == "string" {
            return text(n, src).chars().next();
        }
        let mut kids = children(n);
        kids.reverse();
        stack.extend(kids);
    }
    None
}

fn is_require_declaration(stmt: Node<'_>, src: &str) -> bool {
    matches!(stmt.kind(), "lexical_declaration" | "variable_declaration")
        && named_children(stmt).iter().any(|d| {
            d.kind() == "variable_declarator"
                && d.child_by_field_name("value")
                    .and_then(|v| require_module(v, src))
                    .is_some()
        })
}

fn is_directive(stmt: Node<'_>, src: &str) -> bool {
    stmt.kind() == "expression_statement"
        && named_children(stmt)
            .first()
            .is_some_and(|e| e.kind() == "string")
        && !text(stmt, src).contains('\n')
}

/// Edits adding `needs` (named imports) to the file, merged into an existing import or
/// `require` of the same module when there is one, else on a new line after the last import.
pub(crate) fn edits(
    program: Node<'_>,
    src: &str,
    imports: &Imports,
    style: Style,
    needs: &[ImportNeed],
) -> Vec<Edit> {
    let nl = newline(src);
    // Group the missing names by module, keeping first-seen order.
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for need in needs {
        let ImportNeed::Named { name, module } = need else {
            continue;
        };
        if imports.binds(name) {
            continue;
        }
        match grouped.iter_mut().find(|(m, _)| m == module) {
            Some((_, names)) => {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
            None => grouped.push((module.clone(), vec![name.clone()])),
        }
    }
    let statements = named_children(program);
    let mut out = Vec::new();
    let mut new_lines = Vec::new();
    for (module, names) in grouped {
        if let Some(edit) = merge_into_existing(&statements, src, style, &module, &names) {
            out.push(edit);
            continue;
        }
        let list = names.join(", ");
        new_lines.push(if style.esm {
            format!(
                "import {{ {list} }} from {}{}",
                style.string(&module),
                style.end()
            )
        } else {
            format!(
                "const {{ {list} }} = require({}){}",
                style.string(&module),
                style.end()
            )
        });
    }
    if new_lines.is_empty() {
        return out;
    }
    let last = statements
        .iter()
        .rev()
        .find(|s| {
            if style.esm {
                s.kind() == "import_statement"
            } else {
                is_require_declaration(**s, src)
            }
        })
        .copied();
    match last {
        Some(stmt) => {
            let at = line_end(src, stmt.end_byte());
            let text: String = new_lines.iter().map(|l| format!("{nl}{l}")).collect();
            out.push(Edit::insert(at, text));
        }
        None => {
            // Before the first statement that is not a directive ("use client", "use strict").
            let first_code = statements.iter().find(|s| !is_directive(**s, src));
            let text: String = new_lines.iter().map(|l| format!("{l}{nl}")).collect();
            match first_code {
                Some(stmt) => {
                    // The new imports, then a blank line, then the code as it was.
                    out.push(Edit::insert(
                        line_start(src, stmt.start_byte()),
                        format!("{text}{nl}"),
                    ));
                }
                None => out.push(Edit::insert(0, text)),
            }
        }
    }
    out
}

/// `import { a } from "m"` → `import { a, b } from "m"` (also the `require` destructuring).
fn merge_into_existing(
    statements: &[Node<'_>],
    src: &str,
    style: Style,
    module: &str,
    names: &[String],
) -> Option<Edit> {
    for stmt in statements {
        let list_node = if style.esm {
            if stmt.kind() != "import_statement" || text(*stmt, src).starts_with("import type") {
                continue;
            }
            let source = stmt.child_by_field_name("source")?;
            if string_value(source, src).as_deref() != Some(module) {
                continue;
            }
            named_children(*stmt)
                .into_iter()
                .find(|c| c.kind() == "import_clause")
                .and_then(|c| {
                    named_children(c)
                        .into_iter()
                        .find(|p| p.kind() == "named_imports")
                })
        } else {
            if !is_require_declaration(*stmt, src) {
                continue;
            }
            named_children(*stmt).into_iter().find_map(|d| {
                let value = d.child_by_field_name("value")?;
                let name = d.child_by_field_name("name")?;
                (require_module(value, src).as_deref() == Some(module)
                    && name.kind() == "object_pattern")
                    .then_some(name)
            })
        };
        let Some(list) = list_node else { continue };
        let items = named_children(list);
        let Some(last) = items.last() else { continue };
        if items.iter().any(|i| i.kind() == "rest_pattern") {
            continue;
        }
        return Some(Edit::insert(
            last.end_byte(),
            format!(", {}", names.join(", ")),
        ));
    }
    None
}
