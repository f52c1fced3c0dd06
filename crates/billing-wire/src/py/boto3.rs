//! boto3 `put_object(Body=..)` and `upload_file(Filename, ..)`: `record_storage_upload` with the
//! byte count after the call returned, when the count is known without reading the data again.

use tree_sitter::Node;

use super::{PyFile, customer::enclosing_functions, hoist, keyword, owning_statement};
use crate::edit::Edit;
use crate::helpers::PY_STORAGE;
use crate::outcome::{ImportNeed, SiteOutcome};
use crate::syntax::{descendants, named_children, text};

fn positional(call: Node<'_>, index: usize) -> Option<Node<'_>> {
    let args = call.child_by_field_name("arguments")?;
    named_children(args)
        .into_iter()
        .filter(|a| a.kind() != "keyword_argument")
        .nth(index)
}

fn is_cheap(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "identifier" | "string" | "attribute" | "integer"
    ) && !node.has_error()
}

enum Data {
    Bytes,
    Text,
}

fn literal_kind(node: Node<'_>, src: &str) -> Option<Data> {
    let t = text(node, src);
    let prefix: String = t.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    if prefix.to_ascii_lowercase().contains('f') {
        return None;
    }
    Some(if prefix.to_ascii_lowercase().contains('b') {
        Data::Bytes
    } else {
        Data::Text
    })
}

fn value_kind(value: Node<'_>, src: &str) -> Option<Data> {
    match value.kind() {
        "string" => literal_kind(value, src),
        "await" => value_kind(named_children(value).into_iter().next()?, src),
        "call" => {
            let callee = text(value.child_by_field_name("function")?, src);
            if callee.ends_with(".encode")
                || callee.ends_with(".read")
                || callee.ends_with(".getvalue")
                || matches!(callee, "bytes" | "bytearray")
            {
                Some(Data::Bytes)
            } else if callee == "json.dumps" || callee == "str" {
                Some(Data::Text)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn annotation_kind(annotation: &str) -> Option<Data> {
    match annotation.trim() {
        "bytes" | "bytearray" => Some(Data::Bytes),
        "str" => Some(Data::Text),
        _ => None,
    }
}

/// What `name` holds at `at`: from its last assignment before the call in the enclosing
/// function (or module), or the annotation of a parameter.
fn declared_kind(f: &PyFile<'_>, name: &str, at: Node<'_>) -> Option<Data> {
    let functions = enclosing_functions(at);
    let scope = functions.first().copied().unwrap_or(f.module);
    let last = descendants(scope).into_iter().rfind(|n| {
        n.kind() == "assignment"
            && n.start_byte() < at.start_byte()
            && n.child_by_field_name("left")
                .is_some_and(|l| text(l, f.src) == name)
    });
    if let Some(assignment) = last {
        if let Some(ty) = assignment.child_by_field_name("type") {
            return annotation_kind(text(ty, f.src));
        }
        return value_kind(assignment.child_by_field_name("right")?, f.src);
    }
    let params = functions.first()?.child_by_field_name("parameters")?;
    named_children(params).into_iter().find_map(|p| {
        let id = named_children(p)
            .into_iter()
            .find(|c| c.kind() == "identifier")?;
        (p.kind() == "typed_parameter" && text(id, f.src) == name)
            .then(|| annotation_kind(text(p.child_by_field_name("type")?, f.src)))
            .flatten()
    })
}

fn put_object_bytes(
    f: &PyFile<'_>,
    call: Node<'_>,
    statement: Node<'_>,
) -> Result<(String, Vec<Edit>), String> {
    if let Some(len) = keyword(call, "ContentLength", f.src).filter(|n| is_cheap(*n)) {
        return Ok((text(len, f.src).to_owned(), Vec::new()));
    }
    let body = keyword(call, "Body", f.src).ok_or("the call has no `Body=` argument")?;
    let kind = match body.kind() {
        "string" => literal_kind(body, f.src),
        "identifier" => declared_kind(f, text(body, f.src), call),
        _ => None,
    };
    let body_text = text(body, f.src);
    let size = |name: &str, kind: Data| match kind {
        Data::Bytes => format!("len({name})"),
        Data::Text => format!("len({name}.encode())"),
    };
    if let Some(kind) = kind {
        return Ok((size(body_text, kind), Vec::new()));
    }
    // `Body=request.files["file"].stream.read()`: computed once, in a local, so its length is
    // known without reading the stream again.
    let unknown = format!("the size of `Body={body_text}` is not known without reading it again");
    let Some(kind) = matches!(body.kind(), "call" | "await")
        .then(|| value_kind(body, f.src))
        .flatten()
    else {
        return Err(unknown);
    };
    hoist::evaluated_first(statement, body, call.child_by_field_name("function"), f.src)
        .map_err(|why| format!("{unknown}, and it cannot be read into a variable first: {why}"))?;
    let name = hoist::fresh_name(
        f,
        hoist::scope_of(f, call),
        &["body", "upload_body", "upload_bytes"],
    )
    .ok_or_else(|| format!("{unknown}, and no free local name holds it"))?;
    let edits = hoist::edits(f, statement, body, &name, None);
    Ok((size(&name, kind), edits))
}

pub(crate) fn upload(f: &PyFile<'_>, call: Node<'_>) -> SiteOutcome {
    let method = call
        .child_by_field_name("function")
        .and_then(|c| c.child_by_field_name("attribute"))
        .map_or("", |a| text(a, f.src));
    let snippet = |customer: &str, bytes: &str| {
        format!(
            "from {} import {PY_STORAGE}\n\n# after the upload returned:\n{PY_STORAGE}({customer}, {bytes})",
            f.usage_module
        )
    };
    if method == "put_object"
        && keyword(call, "Body", f.src).is_none()
        && keyword(call, "ContentLength", f.src).is_none()
    {
        // flask-s3-upload's `put_object(Key=username + "/")`: boto3 sends an empty body, so
        // the object is 0 bytes (a key ending in `/` is the console's folder marker). There
        // is nothing to record and nothing for the user to do, so it is no manual step
        // either (a step with nothing to do kept `status` reporting work left forever); the
        // files put into that folder are billed at their own uploads.
        return SiteOutcome::NothingToBill(
            "`put_object` without `Body=` stores an empty object (0 bytes; a key ending in `/` \
             is a folder marker), so this call uploads nothing to bill"
                .to_owned(),
        );
    }
    let Some(statement) = owning_statement(call) else {
        return SiteOutcome::manual(
            format!("`{method}` is not a statement of its own"),
            "Record the uploaded byte count right after the upload returned",
            snippet("customer_id", "byte_count"),
        );
    };
    if f.wired_after(statement, &[PY_STORAGE]) {
        return SiteOutcome::AlreadyWired;
    }
    let mut imports = vec![f.usage_import(PY_STORAGE)];
    let mut edits = Vec::new();
    let bytes = match method {
        "put_object" => put_object_bytes(f, call, statement).map(|(bytes, hoisted)| {
            edits = hoisted;
            bytes
        }),
        "upload_file" => match keyword(call, "Filename", f.src).or_else(|| positional(call, 0)) {
            Some(path) if is_cheap(path) => {
                let os = if f.imports.binds("os") {
                    "os".to_owned()
                } else {
                    imports.push(ImportNeed::Module("os".to_owned()));
                    "os".to_owned()
                };
                Ok(format!("{os}.path.getsize({})", text(path, f.src)))
            }
            _ => Err("the uploaded file name is not a plain variable or string".to_owned()),
        },
        "upload_fileobj" => {
            Err("the size of a file object is not known without seeking it".to_owned())
        }
        other => Err(format!(
            "`{other}` is not a boto3 upload spaire-billing knows"
        )),
    };
    let customer = f.customer(call);
    match (customer, bytes) {
        (Ok(customer), Ok(bytes)) => {
            imports.extend(customer.imports);
            edits.extend(customer.edits);
            edits.push(f.insert_after_statement(
                statement,
                &format!("{PY_STORAGE}({}, {bytes})", customer.expr),
            ));
            SiteOutcome::Wired {
                edits,
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
                    f.last_line(statement)
                ),
                snippet(
                    customer
                        .map_or("customer_id".to_owned(), |c| c.expr)
                        .as_str(),
                    bytes.as_deref().unwrap_or("byte_count"),
                ),
            )
        }
    }
}

/// `complete_multipart_upload(..)`: the object's size is the sum of its parts, which this call
/// does not carry; the app knows it (or asks S3 once).
pub(crate) fn multipart(f: &PyFile<'_>, call: Node<'_>) -> SiteOutcome {
    let customer = f
        .customer(call)
        .map_or_else(|_| "customer_id".to_owned(), |c| c.expr);
    let receiver = call
        .child_by_field_name("function")
        .and_then(|c| c.child_by_field_name("object"))
        .map_or("s3", |o| text(o, f.src));
    let (bucket, key) = (
        keyword(call, "Bucket", f.src).map_or("bucket", |n| text(n, f.src)),
        keyword(call, "Key", f.src).map_or("key", |n| text(n, f.src)),
    );
    SiteOutcome::manual(
        "a multipart upload's size is the sum of its parts, which this call does not carry",
        "After it completed, record the object's size: the sum of the part sizes you uploaded, or `ContentLength` from one `head_object`",
        format!(
            "from {} import {PY_STORAGE}\n\n# after complete_multipart_upload returned:\nsize = {receiver}.head_object(Bucket={bucket}, Key={key})[\"ContentLength\"]\n{PY_STORAGE}({customer}, size)",
            f.usage_module
        ),
    )
}

/// `generate_presigned_post(..)` / a presigned `put_object` URL: the browser uploads straight
/// to S3, so no bytes pass through this server and nothing is known to bill here.
pub(crate) fn presigned(f: &PyFile<'_>, call: Node<'_>) -> SiteOutcome {
    let customer = f
        .customer(call)
        .map_or_else(|_| "customer_id".to_owned(), |c| c.expr);
    let found = confirmation(f, call);
    let mut not_wired = String::new();
    if let Some(found) = &found {
        match &found.wiring {
            Ok(wiring) => {
                return SiteOutcome::WiredElsewhere {
                    file: found.file.clone(),
                    before: wiring.before.clone(),
                    after: wiring.after.clone(),
                    what: wiring.what.clone(),
                };
            }
            Err(why) if why.is_empty() => return SiteOutcome::AlreadyWired,
            Err(why) => not_wired = format!(" It is not recorded there automatically: {why}."),
        }
    }
    let todo = match found {
        Some(found) => format!(
            "Record it where the app learns the upload finished: here that is `{}` at {}:{} (in the class whose `{}` asks for this presigned upload), with the object's size (`ContentLength` from `head_object`, or the stored file's size) for the file's owner.{not_wired}",
            found.method, found.file, found.line, found.starter
        ),
        None => "Record it where the app learns the upload finished (the client's confirmation request, or an S3 event notification), with the object's `ContentLength` from `head_object`".to_owned(),
    };
    SiteOutcome::manual(
        "a presigned upload is not billed here: the file goes from the browser straight to S3, never through this server, and its size is only known once it arrived",
        todo,
        format!(
            "from {} import {PY_STORAGE}\n\n# where the app confirms the upload finished:\nsize = s3.head_object(Bucket=bucket, Key=key)[\"ContentLength\"]\n{PY_STORAGE}({customer}, size)",
            f.usage_module
        ),
    )
}

/// Where the app learns a presigned upload finished.
struct Confirmation {
    /// Root-relative file.
    file: String,
    line: u32,
    /// `Class.method` that confirms the upload.
    method: String,
    /// `Class.method` that called the presigned helper.
    starter: String,
    /// The record call added to the confirmation; why not (empty: it is already there).
    wiring: Result<FinishWiring, String>,
}

struct FinishWiring {
    before: String,
    after: String,
    what: String,
}

/// At most this many Python files of the package are read looking for the confirmation.
const MAX_FILES: usize = 400;
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// django-styleguide's direct upload: `s3_generate_presigned_post(..)` (a helper in
/// `integrations/aws/client.py`) is called by `FileDirectUploadService.start`, and the same
/// class's `finish` is where the client says the upload arrived. Found by reading the
/// package's Python files for a method that calls the function holding the presigned call,
/// and a method of the same class named like a confirmation (`finish`, `complete`, `confirm`,
/// `finalize`). Only named in the manual step: who owns the file and its size there are the
/// app's own model's business.
fn confirmation(f: &PyFile<'_>, call: Node<'_>) -> Option<Confirmation> {
    let helper = enclosing_functions(call).into_iter().last()?;
    let helper_name = text(helper.child_by_field_name("name")?, f.src).to_owned();
    let needle = format!("{helper_name}(");
    for (rel, source) in package_py_sources(f) {
        if !source.contains(&needle) {
            continue;
        }
        let Ok(tree) = crate::syntax::parse(tree_sitter_python::LANGUAGE.into(), "Python", &source)
        else {
            continue;
        };
        for n in descendants(tree.root_node()) {
            let Some(callee) = (n.kind() == "call")
                .then(|| n.child_by_field_name("function"))
                .flatten()
            else {
                continue;
            };
            let name = match callee.kind() {
                "identifier" => text(callee, &source),
                "attribute" => callee
                    .child_by_field_name("attribute")
                    .map_or("", |a| text(a, &source)),
                _ => "",
            };
            if name != helper_name {
                continue;
            }
            let Some(method) = enclosing_functions(n).into_iter().next() else {
                continue;
            };
            let Some(class) =
                crate::syntax::ancestors(method).find(|a| a.kind() == "class_definition")
            else {
                continue;
            };
            let class_name = class
                .child_by_field_name("name")
                .map_or("", |c| text(c, &source));
            let method_name = method
                .child_by_field_name("name")
                .map_or("", |c| text(c, &source));
            let Some(body) = class.child_by_field_name("body") else {
                continue;
            };
            let Some(finish) = descendants(body).into_iter().find(|d| {
                d.kind() == "function_definition"
                    && d.parent().is_some_and(|p| {
                        p.id() == body.id()
                            || (p.kind() == "decorated_definition"
                                && p.parent().is_some_and(|pp| pp.id() == body.id()))
                    })
                    && d.child_by_field_name("name").is_some_and(|c| {
                        let name = text(c, &source);
                        ["finish", "complete", "confirm", "finalize"]
                            .iter()
                            .any(|w| name.contains(w))
                    })
            }) else {
                continue;
            };
            let wiring = finish_wiring(f, &rel, &source, tree.root_node(), body, method, finish);
            return Some(Confirmation {
                wiring,
                file: rel,
                line: crate::syntax::line_of(finish),
                method: format!(
                    "{class_name}.{}",
                    finish
                        .child_by_field_name("name")
                        .map_or("", |c| text(c, &source))
                ),
                starter: format!("{class_name}.{method_name}"),
            });
        }
    }
    None
}

/// The package's Python files ([`collect_py`]) as (root-relative path, text), each read when
/// the caller reaches it; unreadable ones are skipped.
fn package_py_sources(f: &PyFile<'_>) -> impl Iterator<Item = (String, String)> {
    let base = if f.ctx.package.path == "." || f.ctx.package.path.is_empty() {
        String::new()
    } else {
        format!("{}/", f.ctx.package.path.trim_end_matches('/'))
    };
    let mut files = Vec::new();
    collect_py(f.ctx.root, &base, &mut files);
    let root = f.ctx.root.to_path_buf();
    files.into_iter().filter_map(move |rel| {
        let source = std::fs::read_to_string(root.join(&rel)).ok()?;
        Some((rel, source))
    })
}

/// The `.py` files under `dir` (root-relative, `/`-separated, ending in `/` unless empty),
/// skipping virtualenvs, dependencies, tests and migrations, at most [`MAX_FILES`].
fn collect_py(root: &std::path::Path, dir: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.is_dir() {
            let skipped = name.starts_with('.')
                || matches!(
                    name.as_str(),
                    "node_modules"
                        | "venv"
                        | "env"
                        | "__pycache__"
                        | "migrations"
                        | "tests"
                        | "site-packages"
                );
            if !skipped {
                collect_py(root, &format!("{dir}{name}/"), out);
            }
        } else if name.ends_with(".py") && meta.len() <= MAX_FILE_BYTES {
            out.push(format!("{dir}{name}"));
        }
    }
}

/// django-styleguide's `FileDirectUploadService`: `start` creates the model row with its owner
/// (`File(..., uploaded_by=self.user, ...)`) before asking for the presigned POST; `finish(*,
/// file: File)` is called by whoever the client is once the browser's upload to S3 is done.
/// The stored bytes belong to the user who started the upload, so they are billed to the
/// row's owner, never to the request's user (nothing checks that they are the same), with
/// `record_stored_file(file.uploaded_by_id, file.file, idempotency_key=...)` after the row is
/// saved. That helper reads the stored size once (`FieldFile.size`: `head_object` on S3, the
/// file's size on disk) and records nothing, with a logged warning, when there is no owner
/// or no object (the client called `finish` without uploading); the key (`file-upload:<pk>`)
/// makes a second `finish` of the same row count once.
///
/// Only wired when every link is visible: Django with `--customer session` (the generated
/// resolver bills `str(request.user.pk)`, which is what a `ForeignKey` to the user stores in
/// `<owner>_id`), the owner passed as `self.user` / `user` / `request.user` to the model's
/// constructor in `start`, a `finish` parameter annotated with that model, the model's
/// `FileField` / `ImageField` and `ForeignKey` owner found in the package, and no early
/// `return` in `finish`. Otherwise the step names what is missing.
#[allow(clippy::too_many_arguments)]
fn finish_wiring(
    f: &PyFile<'_>,
    rel: &str,
    source: &str,
    module: Node<'_>,
    class_body: Node<'_>,
    starter: Node<'_>,
    finish: Node<'_>,
) -> Result<FinishWiring, String> {
    use crate::helpers::PY_STORED_FILE;
    let finish_text = text(finish, source);
    if finish_text.contains(&format!("{PY_STORED_FILE}(")) {
        return Err(String::new());
    }
    let django = f
        .ctx
        .package
        .frameworks
        .iter()
        .any(|fw| fw.id == billing_detect::profile::FrameworkId::Django);
    if !django || !matches!(f.ctx.customer, billing_plan::CustomerSource::Session) {
        return Err("the file's owner is known to be the billed customer only on Django with `--customer session` (customers keyed by the user's pk)".to_owned());
    }
    if f.ctx.package.call_sites.iter().any(|c| c.file == rel) {
        return Err(format!("{rel} has billable calls of its own"));
    }
    let _ = class_body;
    // `File(..., uploaded_by=self.user, ...)` in `start`.
    let (model, owner) = descendants(starter)
        .into_iter()
        .filter(|n| n.kind() == "call")
        .find_map(|n| {
            let callee = n.child_by_field_name("function")?;
            if callee.kind() != "identifier" {
                return None;
            }
            let name = text(callee, source);
            if !name.chars().next().is_some_and(char::is_uppercase) {
                return None;
            }
            let args = n.child_by_field_name("arguments")?;
            named_children(args).into_iter().find_map(|a| {
                let value = a.child_by_field_name("value")?;
                (a.kind() == "keyword_argument"
                    && matches!(text(value, source), "self.user" | "user" | "request.user"))
                .then(|| {
                    (
                        name.to_owned(),
                        a.child_by_field_name("name")
                            .map_or("", |k| text(k, source))
                            .to_owned(),
                    )
                })
            })
        })
        .ok_or("the method that starts the upload stores no owner (`uploaded_by=self.user`) on the row it creates")?;
    // `finish(self, *, file: File)`.
    let params = finish
        .child_by_field_name("parameters")
        .ok_or("`finish` has no parameters")?;
    let row = named_children(params)
        .into_iter()
        .find_map(|p| {
            (matches!(p.kind(), "typed_parameter" | "typed_default_parameter")
                && p.child_by_field_name("type")
                    .is_some_and(|t| text(t, source) == model))
            .then(|| {
                named_children(p)
                    .into_iter()
                    .find(|c| c.kind() == "identifier")
                    .map(|c| text(c, source).to_owned())
            })
            .flatten()
        })
        .ok_or_else(|| format!("`finish` takes no parameter annotated `{model}`"))?;
    let (file_field, owner_is_fk) = model_fields(f, &model, &owner)
        .ok_or_else(|| format!("the model `{model}` (a `FileField` and its `{owner}` foreign key) was not found in the package"))?;
    if !owner_is_fk {
        return Err(format!(
            "`{model}.{owner}` is not a `ForeignKey` to the user"
        ));
    }
    let body = finish
        .child_by_field_name("body")
        .ok_or("`finish` has no body")?;
    let statements = named_children(body);
    let last = *statements.last().ok_or("`finish` is empty")?;
    let returns = descendants(body)
        .into_iter()
        .filter(|n| n.kind() == "return_statement")
        .count();
    let ends_in_return = last.kind() == "return_statement";
    if returns > usize::from(ends_in_return) {
        return Err("`finish` can return early".to_owned());
    }
    let anchor = if ends_in_return {
        *statements
            .iter()
            .rev()
            .nth(1)
            .ok_or("`finish` only returns")?
    } else {
        last
    };
    let q = super::first_quote(module, source);
    let call = format!(
        "{PY_STORED_FILE}({row}.{owner}_id, {row}.{file_field}, idempotency_key=f{q}{}-upload:{{{row}.pk}}{q})",
        model.to_ascii_lowercase()
    );
    let nl = crate::text::newline(source);
    let indent = crate::text::indent_at(source, anchor.start_byte());
    let mut edits = crate::edit::EditSet::default();
    edits.try_add(vec![Edit::insert(
        crate::text::line_end(source, anchor.end_byte()),
        format!("{nl}{indent}{call}"),
    )]);
    let imports = super::imports::Imports::collect(module, source);
    let need = ImportNeed::Named {
        name: PY_STORED_FILE.to_owned(),
        module: f.usage_module.to_owned(),
    };
    if !edits.try_add(super::imports::edits(module, source, &imports, &[need])) {
        return Err("the helper's import would overlap the edit".to_owned());
    }
    let after = edits.apply(source);
    let parses = crate::syntax::parse(tree_sitter_python::LANGUAGE.into(), "Python", &after)
        .is_ok_and(|t| !t.root_node().has_error());
    if !parses {
        return Err(
            "the edit would not have parsed (a bug in spaire-billing; please report it)".to_owned(),
        );
    }
    Ok(FinishWiring {
        before: source.to_owned(),
        after,
        what: format!(
            "records the stored file's size for its owner (`{row}.{owner}`) in `finish` at {rel}:{}",
            crate::syntax::line_of(finish)
        ),
    })
}

/// The model's file field and whether `owner` is a `ForeignKey`, read from `class <model>(`
/// in the package's Python files.
fn model_fields(f: &PyFile<'_>, model: &str, owner: &str) -> Option<(String, bool)> {
    let header = format!("class {model}(");
    for (_, source) in package_py_sources(f) {
        let Some(start) = source.find(&header) else {
            continue;
        };
        let rest = &source[start + header.len()..];
        let class_text = rest.find("\nclass ").map_or(rest, |end| &rest[..end]);
        let field = |kinds: &[&str]| {
            class_text.lines().find_map(|line| {
                let (name, value) = line.trim().split_once('=')?;
                let value = value.trim();
                kinds
                    .iter()
                    .any(|k| {
                        value.starts_with(&format!("models.{k}("))
                            || value.starts_with(&format!("{k}("))
                    })
                    .then(|| name.trim().to_owned())
            })
        };
        let file_field = field(&["FileField", "ImageField"])?;
        let owner_is_fk = class_text.lines().any(|line| {
            line.trim().split_once('=').is_some_and(|(name, value)| {
                name.trim() == owner && value.trim().contains("ForeignKey(")
            })
        });
        return Some((file_field, owner_is_fk));
    }
    None
}
