//! Wraps the exported handlers of one Next.js route file with the generated API-call wrapper,
//! editing only the export itself (the handler's body, comments and formatting stay as they
//! are). App router: the exported HTTP-method handlers, in the three export forms
//! `export [async] function POST(...)`, `export const POST = ...` and
//! `export { handler as GET, handler as POST }`. Pages router: the default export.
//! A form that cannot be wrapped without changing what the file means is reported with its
//! line, for the caller to list as a manual step.

use tree_sitter::{Node, Parser};

/// The app-router handlers that serve API requests. `OPTIONS` (CORS preflights) and `HEAD`
/// (no body) never bill.
pub const BILLED_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Router {
    App,
    Pages,
}

impl Router {
    /// The wrapper the generated `next` module exports for this router.
    pub fn wrapper(self) -> &'static str {
        match self {
            Router::App => "withApiCalls",
            Router::Pages => "withApiCallsPages",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Wrap {
    /// The edited file and the handlers it wraps (`GET`, `POST`, ... or `default`).
    Wrapped {
        after: String,
        handlers: Vec<String>,
    },
    /// Wrapped already (a previous apply, or by hand).
    AlreadyWrapped,
    /// No handler to bill (no method export, no default export).
    Nothing,
    /// A handler export this module cannot wrap safely: 1-based line and why.
    Unsafe { line: u32, why: String },
}

/// `tsx`: parse with the TSX grammar (`.tsx`, `.jsx`, `.js`, `.mjs`), else TypeScript.
pub fn wrap(source: &str, tsx: bool, router: Router, specifier: &str) -> Wrap {
    let wrapper = router.wrapper();
    if mentions_word(source, wrapper) {
        return Wrap::AlreadyWrapped;
    }
    let mut parser = Parser::new();
    let language: tree_sitter::Language = if tsx {
        tree_sitter_typescript::LANGUAGE_TSX.into()
    } else {
        tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()
    };
    if parser.set_language(&language).is_err() {
        return Wrap::Unsafe {
            line: 1,
            why: "the TypeScript grammar could not be loaded".to_owned(),
        };
    }
    let Some(tree) = parser.parse(source, None) else {
        return Wrap::Unsafe {
            line: 1,
            why: "the file could not be parsed".to_owned(),
        };
    };
    let root = tree.root_node();
    if root.has_error() {
        let line = first_error_line(root);
        return Wrap::Unsafe {
            line,
            why: "the file does not parse as TypeScript/JavaScript".to_owned(),
        };
    }
    let style = Style::of(source, root);
    let mut w = Wrapper {
        source,
        root,
        wrapper,
        style,
        edits: Vec::new(),
        handlers: Vec::new(),
    };
    let outcome = match router {
        Router::App => w.app_exports(),
        Router::Pages => w.default_export(),
    };
    if let Err((line, why)) = outcome {
        return Wrap::Unsafe { line, why };
    }
    if w.edits.is_empty() {
        return Wrap::Nothing;
    }
    let import = w.import_edit(specifier);
    let Wrapper {
        mut edits,
        handlers,
        ..
    } = w;
    edits.push(import);
    Wrap::Wrapped {
        after: apply(source, edits),
        handlers,
    }
}

type Unsafe = (u32, String);

struct Wrapper<'s, 't> {
    source: &'s str,
    root: Node<'t>,
    wrapper: &'static str,
    style: Style,
    edits: Vec<(usize, usize, String)>,
    handlers: Vec<String>,
}

impl<'t> Wrapper<'_, 't> {
    fn text(&self, node: Node<'_>) -> &str {
        &self.source[node.byte_range()]
    }

    fn statements(&self) -> Vec<Node<'t>> {
        let mut cursor = self.root.walk();
        self.root.named_children(&mut cursor).collect()
    }

    fn insert(&mut self, at: usize, text: String) {
        self.edits.push((at, at, text));
    }

    fn app_exports(&mut self) -> Result<(), Unsafe> {
        for stmt in self.statements() {
            if stmt.kind() != "export_statement" {
                continue;
            }
            if let Some(decl) = stmt.child_by_field_name("declaration") {
                match decl.kind() {
                    "function_declaration" => self.function_export(stmt, decl)?,
                    "lexical_declaration" | "variable_declaration" => {
                        self.const_export(decl)?;
                    }
                    _ => {}
                }
            } else if let Some(clause) = named_child_of_kind(stmt, "export_clause") {
                self.clause_export(stmt, clause)?;
            } else if self.text(stmt).starts_with("export *") {
                return Err((
                    line(stmt),
                    "`export *` may re-export route handlers from another file".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// `export [async] function POST(...) {...}` becomes
    /// `export const POST = withApiCalls(async function POST(...) {...});`.
    fn function_export(&mut self, stmt: Node<'t>, decl: Node<'t>) -> Result<(), Unsafe> {
        let Some(name) = decl.child_by_field_name("name") else {
            return Ok(());
        };
        let name_text = self.text(name).to_owned();
        if !BILLED_METHODS.contains(&name_text.as_str()) {
            return Ok(());
        }
        // A function declaration is hoisted and callable by name; the wrapped const is not
        // hoisted, and a call from another handler would bill twice.
        if self.used_outside(&name_text, decl) {
            return Err((
                line(decl),
                format!(
                    "`{name_text}` is also used elsewhere in this file, so wrapping its declaration would change those uses"
                ),
            ));
        }
        let wrapper = self.wrapper;
        self.edits.push((
            stmt.start_byte(),
            decl.start_byte(),
            format!("export const {name_text} = {wrapper}("),
        ));
        let end = decl.end_byte();
        let semi = self.style.semi();
        self.insert(end, format!("){semi}"));
        self.handlers.push(name_text);
        Ok(())
    }

    /// `export const POST = <expression>;` becomes `export const POST = withApiCalls(<expression>);`.
    fn const_export(&mut self, decl: Node<'t>) -> Result<(), Unsafe> {
        let mut cursor = decl.walk();
        let declarators: Vec<Node<'t>> = decl
            .named_children(&mut cursor)
            .filter(|n| n.kind() == "variable_declarator")
            .collect();
        for declarator in declarators {
            let Some(name) = declarator.child_by_field_name("name") else {
                continue;
            };
            if name.kind() != "identifier" {
                let text = self.text(name);
                if BILLED_METHODS.iter().any(|m| mentions_word(text, m)) {
                    return Err((
                        line(name),
                        "route handlers exported by destructuring (`export const { GET, POST } = ...`) cannot be wrapped one by one".to_owned(),
                    ));
                }
                continue;
            }
            let name_text = self.text(name).to_owned();
            if !BILLED_METHODS.contains(&name_text.as_str()) {
                continue;
            }
            if declarator.child_by_field_name("type").is_some() {
                return Err((
                    line(declarator),
                    format!(
                        "`{name_text}` has a type annotation the wrapped handler may not satisfy"
                    ),
                ));
            }
            let Some(value) = declarator.child_by_field_name("value") else {
                continue;
            };
            if value.kind() == "identifier" && BILLED_METHODS.contains(&self.text(value)) {
                return Err((
                    line(declarator),
                    format!(
                        "`{name_text}` re-exports another handler, which would bill each call twice"
                    ),
                ));
            }
            let wrapper = self.wrapper;
            self.insert(value.start_byte(), format!("{wrapper}("));
            self.insert(value.end_byte(), ")".to_owned());
            self.handlers.push(name_text);
        }
        Ok(())
    }

    /// `export { handler as GET, handler as POST };` gets
    /// `const handlerWithApiCalls = withApiCalls(handler);` right before it, and exports that.
    fn clause_export(&mut self, stmt: Node<'t>, clause: Node<'t>) -> Result<(), Unsafe> {
        let mut cursor = clause.walk();
        let specifiers: Vec<Node<'t>> = clause
            .named_children(&mut cursor)
            .filter(|n| n.kind() == "export_specifier")
            .collect();
        let mut wrapped_locals: Vec<String> = Vec::new();
        for spec in specifiers {
            let Some(local) = spec.child_by_field_name("name") else {
                continue;
            };
            let alias = spec.child_by_field_name("alias");
            let exported = self.text(alias.unwrap_or(local)).to_owned();
            if !BILLED_METHODS.contains(&exported.as_str()) {
                continue;
            }
            if stmt.child_by_field_name("source").is_some() {
                return Err((
                    line(stmt),
                    format!("`{exported}` is re-exported from another module"),
                ));
            }
            let local_text = self.text(local).to_owned();
            if !self.declared_before(&local_text, stmt) {
                return Err((
                    line(spec),
                    format!(
                        "`{local_text}` is not declared above this export, so it cannot be wrapped here"
                    ),
                ));
            }
            let wrapped = format!("{local_text}WithApiCalls");
            if mentions_word(self.source, &wrapped) {
                return Err((line(spec), format!("`{wrapped}` is taken in this file")));
            }
            self.edits.push((
                spec.start_byte(),
                spec.end_byte(),
                format!("{wrapped} as {exported}"),
            ));
            if !wrapped_locals.contains(&local_text) {
                wrapped_locals.push(local_text);
            }
            self.handlers.push(exported);
        }
        if wrapped_locals.is_empty() {
            return Ok(());
        }
        let indent = line_indent(self.source, stmt.start_byte());
        let semi = self.style.semi();
        let wrapper = self.wrapper;
        let consts: String = wrapped_locals
            .iter()
            .map(|local| format!("const {local}WithApiCalls = {wrapper}({local}){semi}\n{indent}"))
            .collect();
        self.insert(stmt.start_byte(), consts);
        Ok(())
    }

    /// Pages router: `export default <handler>` becomes `export default withApiCallsPages(<handler>)`.
    fn default_export(&mut self) -> Result<(), Unsafe> {
        for stmt in self.statements() {
            if stmt.kind() == "expression_statement"
                && self.text(stmt).starts_with("module.exports")
            {
                return Err((
                    line(stmt),
                    "a CommonJS `module.exports` handler cannot be wrapped in place".to_owned(),
                ));
            }
            if stmt.kind() != "export_statement" || !has_token(stmt, "default") {
                continue;
            }
            let target = stmt
                .child_by_field_name("declaration")
                .or_else(|| stmt.child_by_field_name("value"));
            let Some(target) = target else {
                continue;
            };
            match target.kind() {
                "function_declaration" => {
                    if let Some(name) = target.child_by_field_name("name") {
                        let name = self.text(name).to_owned();
                        if self.used_outside(&name, target) {
                            return Err((
                                line(target),
                                format!(
                                    "`{name}` is also used elsewhere in this file, so wrapping its declaration would change those uses"
                                ),
                            ));
                        }
                    }
                }
                "class_declaration" | "class" => {
                    return Err((line(target), "the default export is a class".to_owned()));
                }
                _ => {}
            }
            let wrapper = self.wrapper;
            self.insert(target.start_byte(), format!("{wrapper}("));
            let semi = if target.kind() == "function_declaration" {
                self.style.semi()
            } else {
                ""
            };
            self.insert(target.end_byte(), format!("){semi}"));
            self.handlers.push("default".to_owned());
            return Ok(());
        }
        Ok(())
    }

    /// `name` occurs as an identifier outside `node` (its own declaration).
    fn used_outside(&self, name: &str, node: Node<'_>) -> bool {
        let range = node.byte_range();
        let mut found = false;
        visit(self.root, &mut |n| {
            if !found
                && matches!(n.kind(), "identifier" | "shorthand_property_identifier")
                && !range.contains(&n.start_byte())
                && self.text(n) == name
            {
                found = true;
            }
        });
        found
    }

    /// A top-level binding `name` (import, function, class, const/let/var) starts before `stmt`.
    fn declared_before(&self, name: &str, stmt: Node<'_>) -> bool {
        self.statements()
            .into_iter()
            .take_while(|s| s.start_byte() < stmt.start_byte())
            .any(|s| {
                let decl = if s.kind() == "export_statement" {
                    s.child_by_field_name("declaration")
                } else {
                    Some(s)
                };
                decl.is_some_and(|d| binds(d, name, self.source))
            })
    }

    /// The import of the wrapper, after the file's last import (or at its top).
    fn import_edit(&self, specifier: &str) -> (usize, usize, String) {
        let q = self.style.quote;
        let semi = self.style.semi();
        let line = format!(
            "import {{ {} }} from {q}{}{q}{semi}",
            self.wrapper,
            escape(specifier, q)
        );
        let last_import = self
            .statements()
            .into_iter()
            .rfind(|s| s.kind() == "import_statement");
        match last_import {
            Some(import) => (import.end_byte(), import.end_byte(), format!("\n{line}")),
            None => {
                // After directives ("use server") and leading comments, before the first statement.
                let first = self
                    .statements()
                    .into_iter()
                    .find(|s| {
                        s.kind() != "comment"
                            && !(s.kind() == "expression_statement"
                                && s.named_child(0).is_some_and(|c| c.kind() == "string"))
                    })
                    .map_or(self.source.len(), |s| s.start_byte());
                (first, first, format!("{line}\n\n"))
            }
        }
    }
}

/// Whether declaration `d` binds `name` at top level.
fn binds(d: Node<'_>, name: &str, source: &str) -> bool {
    let text = |n: Node<'_>| &source[n.byte_range()];
    match d.kind() {
        "function_declaration" | "class_declaration" | "generator_function_declaration" => d
            .child_by_field_name("name")
            .is_some_and(|n| text(n) == name),
        "lexical_declaration" | "variable_declaration" => {
            let mut cursor = d.walk();
            d.named_children(&mut cursor)
                .filter(|n| n.kind() == "variable_declarator")
                .any(|v| {
                    v.child_by_field_name("name").is_some_and(|n| {
                        let mut hit = false;
                        visit(n, &mut |i| {
                            hit |= i.kind().ends_with("identifier") && text(i) == name
                        });
                        hit
                    })
                })
        }
        "import_statement" => {
            let mut hit = false;
            visit(d, &mut |i| {
                // `import { a as b }`: the local binding is the last identifier of the specifier.
                if i.kind() == "import_specifier" {
                    let local = i
                        .child_by_field_name("alias")
                        .or_else(|| i.child_by_field_name("name"));
                    hit |= local.is_some_and(|l| text(l) == name);
                } else if matches!(i.kind(), "import_clause" | "namespace_import") {
                    let mut c = i.walk();
                    hit |= i
                        .named_children(&mut c)
                        .any(|n| n.kind() == "identifier" && text(n) == name);
                }
            });
            hit
        }
        _ => false,
    }
}

/// The file's own punctuation, so the added lines look like the rest of it.
struct Style {
    semicolons: bool,
    quote: char,
}

impl Style {
    fn of(source: &str, root: Node<'_>) -> Self {
        let mut cursor = root.walk();
        let imports: Vec<&str> = root
            .named_children(&mut cursor)
            .filter(|s| s.kind() == "import_statement")
            .map(|s| &source[s.byte_range()])
            .collect();
        match imports.last() {
            Some(last) => Style {
                semicolons: last.trim_end().ends_with(';'),
                quote: if last.contains('\'') && !last.contains('"') {
                    '\''
                } else {
                    '"'
                },
            },
            None => Style {
                semicolons: true,
                quote: '"',
            },
        }
    }

    fn semi(&self) -> &'static str {
        if self.semicolons { ";" } else { "" }
    }
}

fn escape(specifier: &str, quote: char) -> String {
    specifier
        .replace('\\', "\\\\")
        .replace(quote, &format!("\\{quote}"))
}

fn apply(source: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    // Later offsets first; at one offset, the edit pushed last goes in front.
    edits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let mut out = source.to_owned();
    for (start, end, text) in edits {
        out.replace_range(start..end, &text);
    }
    out
}

fn visit<'t>(node: Node<'t>, f: &mut impl FnMut(Node<'t>)) {
    f(node);
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        visit(child, f);
    }
}

fn named_child_of_kind<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).find(|c| c.kind() == kind)
}

fn has_token(node: Node<'_>, token: &str) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor).any(|c| c.kind() == token)
}

fn line(node: Node<'_>) -> u32 {
    u32::try_from(node.start_position().row + 1).unwrap_or(u32::MAX)
}

fn first_error_line(root: Node<'_>) -> u32 {
    let mut row = None;
    visit(root, &mut |n| {
        if row.is_none() && (n.is_error() || n.is_missing()) {
            row = Some(n.start_position().row);
        }
    });
    u32::try_from(row.unwrap_or(0) + 1).unwrap_or(u32::MAX)
}

/// The indentation of the line `at` is on.
fn line_indent(source: &str, at: usize) -> &str {
    let start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &source[start..at];
    &line[..line.len() - line.trim_start().len()]
}

/// `word` occurs as a whole identifier.
fn mentions_word(source: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    source.match_indices(word).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[cfg(test)]
mod tests;
