//! AWS SDK v3 uploads: `new PutObjectCommand({ Body })` sent with `await client.send(..)`, and
//! `new Upload({ params: { Body } })` from `@aws-sdk/lib-storage` finished with `.done()`.
//! The byte count is recorded after the upload completed, only when it is known without
//! reading the body again.

use tree_sitter::Node;

use super::TsFile;
use super::customer::{enclosing_functions, unwrap_expr};
use crate::helpers::TS_STORAGE;
use crate::outcome::SiteOutcome;
use crate::syntax::{ancestors, descendants, named_children, next_statement, text};

fn constructed_from(f: &TsFile<'_>, new_expr: Node<'_>, module: &str, name: &str) -> bool {
    new_expr
        .child_by_field_name("constructor")
        .and_then(|c| f.imports.resolve(c, f.src))
        .is_some_and(|(m, n)| m == module && n == name)
}

fn property<'t>(object: Node<'t>, key: &str, src: &str) -> Option<Node<'t>> {
    named_children(object)
        .into_iter()
        .find_map(|p| match p.kind() {
            "pair"
                if p.child_by_field_name("key")
                    .is_some_and(|k| text(k, src).trim_matches(['"', '\'']) == key) =>
            {
                p.child_by_field_name("value")
            }
            "shorthand_property_identifier" if text(p, src) == key => Some(p),
            _ => None,
        })
}

fn first_object_arg(new_expr: Node<'_>) -> Option<Node<'_>> {
    let args = new_expr.child_by_field_name("arguments")?;
    named_children(args)
        .into_iter()
        .next()
        .filter(|a| a.kind() == "object")
}

/// Code for the number of bytes uploaded, from `ContentLength` or a `Body` whose type is
/// evident from its declaration (a Buffer / typed array / ArrayBuffer, or a string).
fn byte_count(f: &TsFile<'_>, params: Node<'_>, at: Node<'_>) -> Result<String, String> {
    if let Some(len) = property(params, "ContentLength", f.src)
        && matches!(
            len.kind(),
            "identifier" | "number" | "member_expression" | "shorthand_property_identifier"
        )
    {
        return Ok(text(len, f.src).to_owned());
    }
    let Some(body) = property(params, "Body", f.src) else {
        return Err("the upload has no `Body` property".to_owned());
    };
    match body.kind() {
        "string" | "template_string" if !text(body, f.src).contains("${") => {
            Ok(format!("Buffer.byteLength({})", text(body, f.src)))
        }
        "identifier" | "shorthand_property_identifier" => {
            let name = text(body, f.src);
            match declared_kind(f, name, at) {
                Some(BodyKind::Bytes) => Ok(format!("{name}.byteLength")),
                Some(BodyKind::Text) => Ok(format!("Buffer.byteLength({name})")),
                None => Err(format!(
                    "the size of `Body: {name}` is not known from its declaration (stream, Blob or unknown type)"
                )),
            }
        }
        _ => Err(format!(
            "the size of `Body: {}` is not known without reading it again",
            text(body, f.src)
        )),
    }
}

enum BodyKind {
    /// Buffer, Uint8Array, ArrayBuffer: `.byteLength`.
    Bytes,
    /// string: `Buffer.byteLength(..)`.
    Text,
}

fn kind_of_type(ty: &str) -> Option<BodyKind> {
    match ty.trim_start_matches(':').trim() {
        "Buffer"
        | "Uint8Array"
        | "ArrayBuffer"
        | "Buffer<ArrayBuffer>"
        | "Uint8Array<ArrayBuffer>" => Some(BodyKind::Bytes),
        "string" => Some(BodyKind::Text),
        _ => None,
    }
}

fn kind_of_value(value: Node<'_>, src: &str) -> Option<BodyKind> {
    let v = unwrap_expr(value);
    match v.kind() {
        "string" | "template_string" => Some(BodyKind::Text),
        "call_expression" => {
            let callee = text(v.child_by_field_name("function")?, src);
            let bytes = [
                "Buffer.from",
                "Buffer.alloc",
                "Buffer.concat",
                "readFileSync",
                "fs.readFileSync",
                "readFile",
                "fs.readFile",
                "fs.promises.readFile",
            ];
            if callee == "JSON.stringify"
                || callee.ends_with(".toString")
                || callee.ends_with(".text")
            {
                return Some(BodyKind::Text);
            }
            let reads_text = callee.contains("readFile")
                && v.child_by_field_name("arguments")
                    .is_some_and(|a| named_children(a).len() > 1);
            if reads_text {
                // readFile(path, "utf8") returns a string; with options it is ambiguous.
                return None;
            }
            (bytes.contains(&callee)
                || callee.ends_with(".arrayBuffer")
                || callee.ends_with(".encode"))
            .then_some(BodyKind::Bytes)
        }
        "new_expression" => {
            let ctor = text(v.child_by_field_name("constructor")?, src);
            matches!(ctor, "Uint8Array" | "ArrayBuffer").then_some(BodyKind::Bytes)
        }
        _ => None,
    }
}

/// The kind of `name` from its declaration (a `const` before `at` in an enclosing scope, or a
/// typed parameter of an enclosing function).
fn declared_kind(f: &TsFile<'_>, name: &str, at: Node<'_>) -> Option<BodyKind> {
    let functions = enclosing_functions(at);
    let scope = functions.first().copied().unwrap_or(f.program);
    for decl in descendants(scope) {
        if decl.kind() != "variable_declarator" || decl.start_byte() >= at.start_byte() {
            continue;
        }
        if decl
            .child_by_field_name("name")
            .is_none_or(|n| text(n, f.src) != name)
        {
            continue;
        }
        if let Some(ty) = decl.child_by_field_name("type") {
            return kind_of_type(text(ty, f.src));
        }
        return decl
            .child_by_field_name("value")
            .and_then(|v| kind_of_value(v, f.src));
    }
    for function in functions {
        for p in super::customer::parameters(function) {
            if p.kind() == "identifier" && text(p, f.src) == name {
                let ty = p.parent()?.child_by_field_name("type")?;
                return kind_of_type(text(ty, f.src));
            }
        }
    }
    None
}

/// The statement (directly in a block) containing `node`.
fn statement_of(node: Node<'_>) -> Option<Node<'_>> {
    std::iter::once(node).chain(ancestors(node)).find(|n| {
        n.parent().is_some_and(|p| {
            matches!(
                p.kind(),
                "statement_block" | "program" | "switch_case" | "switch_default"
            )
        })
    })
}

/// Where the upload has finished: after the statement that awaits it.
/// `new_expr` is awaited inline (`await s3.send(new PutObjectCommand(..))`,
/// `await new Upload(..).done()`), or assigned to a variable that a later statement of the
/// same block awaits (`await s3.send(cmd)`, `await upload.done()`).
fn completion_statement<'t>(
    f: &TsFile<'_>,
    new_expr: Node<'t>,
    completes: &dyn Fn(&str) -> bool,
) -> Option<Node<'t>> {
    let statement = statement_of(new_expr)?;
    let awaited_inline = ancestors(new_expr)
        .take_while(|a| a.id() != statement.id())
        .any(|a| a.kind() == "await_expression" && completes(text(a, f.src)));
    if awaited_inline {
        return Some(statement);
    }
    let declarator = new_expr
        .parent()
        .filter(|p| p.kind() == "variable_declarator")?;
    let name = text(declarator.child_by_field_name("name")?, f.src);
    let mut next = next_statement(statement);
    while let Some(s) = next {
        let awaits = descendants(s).iter().any(|n| {
            let t = text(*n, f.src);
            n.kind() == "await_expression"
                && (t.contains(&format!("({name})")) || t.contains(&format!("{name}.done(")))
                && completes(t)
        });
        if awaits {
            return Some(s);
        }
        next = next_statement(s);
    }
    None
}

fn wire_upload(
    f: &TsFile<'_>,
    new_expr: Node<'_>,
    params: Option<Node<'_>>,
    what: &str,
    completes: &dyn Fn(&str) -> bool,
) -> SiteOutcome {
    let end = f.style.end();
    let snippet = |customer: &str, bytes: &str| {
        format!(
            "import {{ {TS_STORAGE} }} from {}{end}\n\n// after the upload finished:\n{TS_STORAGE}({customer}, {bytes}){end}",
            f.style.string(f.usage_module)
        )
    };
    let Some(params) = params else {
        return SiteOutcome::manual(
            format!("the {what} parameters are not an object literal"),
            "Record the uploaded byte count after the upload finished",
            snippet("customerId", "byteCount"),
        );
    };
    let Some(statement) = completion_statement(f, new_expr, completes) else {
        return SiteOutcome::manual(
            format!("no `await` of the {what} was found in the same block"),
            "Record the uploaded byte count right after the upload is awaited",
            snippet("customerId", "byteCount"),
        );
    };
    if f.wired_after(statement, TS_STORAGE) {
        return SiteOutcome::AlreadyWired;
    }
    let customer = f.customer(new_expr);
    let bytes = byte_count(f, params, new_expr);
    match (customer, bytes) {
        (Ok(customer), Ok(bytes)) => {
            let record = format!("{TS_STORAGE}({}, {bytes}){end}", customer.expr);
            let mut imports = vec![f.usage_import(TS_STORAGE)];
            imports.extend(customer.imports.iter().cloned());
            SiteOutcome::Wired {
                edits: customer
                    .edits
                    .into_iter()
                    .chain([f.insert_after_statement(statement, &record)])
                    .collect(),
                imports,
                what: format!("records `{bytes}` bytes after the upload"),
            }
        }
        (customer, bytes) => {
            let reason = [customer.as_ref().err(), bytes.as_ref().err()]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join("; ");
            SiteOutcome::manual(
                reason,
                format!(
                    "Add the usage call after line {}, with the size of the upload in bytes",
                    crate::syntax::line_of(statement)
                        + u32::try_from(text(statement, f.src).matches('\n').count()).unwrap_or(0)
                ),
                snippet(
                    customer
                        .map_or("customerId".to_owned(), |c| c.expr)
                        .as_str(),
                    bytes.as_deref().unwrap_or("byteCount"),
                ),
            )
        }
    }
}

pub(crate) fn put_object(f: &TsFile<'_>, new_expr: Node<'_>) -> SiteOutcome {
    if !constructed_from(f, new_expr, "@aws-sdk/client-s3", "PutObjectCommand") {
        return SiteOutcome::Manual {
            reason: "`PutObjectCommand` is not imported from `@aws-sdk/client-s3`".to_owned(),
            todo: "Record the uploaded byte count after the upload finished".to_owned(),
            snippet: None,
        };
    }
    wire_upload(
        f,
        new_expr,
        first_object_arg(new_expr),
        "`PutObjectCommand`",
        &|t| t.contains(".send("),
    )
}

pub(crate) fn upload(f: &TsFile<'_>, new_expr: Node<'_>) -> SiteOutcome {
    if !constructed_from(f, new_expr, "@aws-sdk/lib-storage", "Upload") {
        return SiteOutcome::Manual {
            reason: "`Upload` is not imported from `@aws-sdk/lib-storage`".to_owned(),
            todo: "Record the uploaded byte count after the upload finished".to_owned(),
            snippet: None,
        };
    }
    let params = first_object_arg(new_expr)
        .and_then(|o| property(o, "params", f.src))
        .filter(|p| p.kind() == "object");
    wire_upload(f, new_expr, params, "`Upload`", &|t| t.contains(".done("))
}
