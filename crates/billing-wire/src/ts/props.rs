//! A callback whose destructured parameter leaves `session` out although its caller passes
//! one: `createDocumentHandler({ onCreateDocument: async ({ title }) => streamText(..) })`,
//! where the project's own `createDocumentHandler` types that parameter as
//! `{ title; session: Session }`. The session is added to the destructuring.
//!
//! Only the project's own modules are read (a relative or aliased import), and only when the
//! declaring module itself reads `session.user.id` from such props, so the added binding and
//! the id path type-check the way the project's code does.

use tree_sitter::Node;

use super::TsFile;
use super::customer::parameters;
use crate::edit::Edit;
use crate::syntax::{descendants, named_children, parse, text};

/// `session` added to the callback's destructured parameter: the local name, the id
/// expression and the edits.
pub(crate) fn session_from_props(
    f: &TsFile<'_>,
    functions: &[Node<'_>],
) -> Option<(String, Vec<Edit>)> {
    functions.iter().find_map(|function| {
        let pattern = parameters(*function).into_iter().next()?;
        // An explicit annotation is the user's choice of type: not ours to widen.
        if pattern.kind() != "object_pattern"
            || pattern.parent()?.child_by_field_name("type").is_some()
        {
            return None;
        }
        let pair = function.parent().filter(|p| p.kind() == "pair")?;
        let key = text(pair.child_by_field_name("key")?, f.src);
        let call = pair
            .parent()?
            .parent()
            .filter(|a| a.kind() == "arguments")?
            .parent()?;
        let callee = call
            .child_by_field_name("function")
            .filter(|c| c.kind() == "identifier")?;
        let binding = f
            .imports
            .bindings
            .iter()
            .find(|b| b.local == text(callee, f.src))?;
        let imported = binding.imported.as_deref()?;
        let module = read_local_module(f, &binding.module)?;
        if !declares_session_prop(&module, imported, key) {
            return None;
        }
        let (local, edits) = super::llm::bind_in_pattern(f, pattern, "session", *function).ok()?;
        Some((format!("{local}?.user?.id"), edits))
    })
}

/// Source of a project module imported as `spec` from the file being wired.
fn read_local_module(f: &TsFile<'_>, spec: &str) -> Option<String> {
    let package = f
        .ctx
        .package
        .path
        .trim_start_matches("./")
        .trim_end_matches('/');
    let base = if spec.starts_with('.') {
        let dir = f.ctx.file.rsplit_once('/').map_or("", |(d, _)| d);
        normalize(&format!("{dir}/{spec}"))?
    } else {
        let alias = f.ctx.package.aliases.iter().find_map(|a| {
            let prefix = a.prefix.trim_end_matches('*');
            let rest = spec.strip_prefix(prefix)?;
            Some(format!("{}{rest}", a.target.trim_end_matches('*')))
        })?;
        let joined = if package.is_empty() || package == "." {
            alias
        } else {
            format!("{package}/{alias}")
        };
        normalize(&joined)?
    };
    let stem = base.trim_end_matches(".js");
    ["ts", "tsx", "mts", "js"]
        .iter()
        .flat_map(|ext| [format!("{stem}.{ext}"), format!("{stem}/index.{ext}")])
        .find_map(|candidate| crate::read_source(f.ctx.root, &candidate).ok())
}

/// `a/./b/../c` → `a/c`; `None` when it climbs out of the project.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// In `module`, the function `name`'s first parameter types property `key` as a callback
/// whose props type (a local `type` / `interface`) has `session`, and the module reads
/// `….session.user.id` itself.
fn declares_session_prop(module: &str, name: &str, key: &str) -> bool {
    let Ok(tree) = parse(
        tree_sitter_typescript::LANGUAGE_TSX.into(),
        "TypeScript",
        module,
    ) else {
        return false;
    };
    let nodes = descendants(tree.root_node());
    let compact = module.replace(char::is_whitespace, "");
    if !(compact.contains("session.user.id") || compact.contains("session?.user?.id")) {
        return false;
    }
    let Some(function) = nodes.iter().find(|n| {
        n.kind() == "function_declaration"
            && n.child_by_field_name("name")
                .is_some_and(|x| text(x, module) == name)
    }) else {
        return false;
    };
    let Some(config_type) = parameters(*function)
        .first()
        .and_then(|p| p.parent())
        .and_then(|p| p.child_by_field_name("type"))
    else {
        return false;
    };
    // `onCreateDocument: (params: Props) => ...` inside the config's object type.
    let props_type = descendants(config_type).into_iter().find_map(|n| {
        (n.kind() == "property_signature"
            && n.child_by_field_name("name")
                .is_some_and(|k| text(k, module) == key))
        .then(|| {
            descendants(n)
                .into_iter()
                .find(|t| t.kind() == "function_type")
                .and_then(|ft| {
                    let params = ft.child_by_field_name("parameters")?;
                    let first = named_children(params).into_iter().next()?;
                    let ty = first.child_by_field_name("type")?;
                    Some(text(ty, module).trim_start_matches(':').trim().to_owned())
                })
        })
        .flatten()
    });
    let Some(props_type) = props_type else {
        return false;
    };
    nodes.iter().any(|n| {
        matches!(n.kind(), "type_alias_declaration" | "interface_declaration")
            && n.child_by_field_name("name")
                .is_some_and(|x| text(x, module) == props_type)
            && descendants(*n).iter().any(|p| {
                p.kind() == "property_signature"
                    && p.child_by_field_name("name")
                        .is_some_and(|k| text(k, module) == "session")
            })
    })
}
