//! Merges the API-call `handle` into an existing SvelteKit `src/hooks.server.{js,ts}` with
//! `sequence(spaireHandle, <the app's handle>)`: the app's own hook keeps running (after
//! ours, inside `resolve`), so `event.locals` it fills is there when the customer is resolved.

const APP_HANDLE: &str = "appHandle";

/// The edited hooks file, or `None` when its `handle` is not one of the shapes below (the
/// caller then lists a manual step): `export const handle = sequence(...)`,
/// `export [async] function handle(`, `export const handle[: Handle] = ...`.
pub fn merge_handle(source: &str, adapter_specifier: &str, esm: bool) -> Option<String> {
    if source.contains("spaireHandle") || source.contains(APP_HANDLE) || !esm {
        return None;
    }
    let import_adapter = format!("import {{ spaireHandle }} from \"{adapter_specifier}\";\n");
    // Already a sequence: ours goes first.
    if let Some(at) = find_line_start(source, "export const handle = sequence(") {
        let open = at + "export const handle = sequence(".len();
        let mut out = String::with_capacity(source.len() + 64);
        out.push_str(&source[..open]);
        out.push_str("spaireHandle, ");
        out.push_str(&source[open..]);
        return Some(add_imports(&out, &import_adapter));
    }
    let renamed = [
        ("export async function handle(", "async function appHandle("),
        ("export function handle(", "function appHandle("),
        ("export const handle:", "const appHandle:"),
        ("export const handle =", "const appHandle ="),
    ]
    .iter()
    .find_map(|(from, to)| {
        let at = find_line_start(source, from)?;
        let mut out = String::with_capacity(source.len() + 128);
        out.push_str(&source[..at]);
        out.push_str(to);
        out.push_str(&source[at + from.len()..]);
        Some(out)
    })?;
    // Used elsewhere too (`export { handle as h }`, a test calling it): renaming would break it.
    if mentions_word(&renamed, "handle") {
        return None;
    }
    let mut out = renamed;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(
        "\n// Spaire usage billing runs first and calls your handle through `resolve`.\nexport const handle = sequence(spaireHandle, appHandle);\n",
    );
    let imports = if source.contains("@sveltejs/kit/hooks") {
        import_adapter
    } else {
        format!("import {{ sequence }} from \"@sveltejs/kit/hooks\";\n{import_adapter}")
    };
    Some(add_imports(&out, &imports))
}

/// `word` occurs as a whole identifier (`handle`, not `appHandle` or `handler`).
fn mentions_word(source: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    source.match_indices(word).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Byte offset of `needle` at the start of a line (after indentation).
fn find_line_start(source: &str, needle: &str) -> Option<usize> {
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with(needle) {
            return Some(offset + line.len() - trimmed.len());
        }
        offset += line.len();
    }
    None
}

/// `imports` after the file's last top-level `import` line, else at the top.
fn add_imports(source: &str, imports: &str) -> String {
    let mut insert_at = 0;
    let mut offset = 0;
    let mut in_import = false;
    for line in source.split_inclusive('\n') {
        let code = line.trim_end();
        if in_import {
            if code.contains(" from ") || code.starts_with('}') {
                in_import = false;
                insert_at = offset + line.len();
            }
        } else if code.starts_with("import ") {
            if code.contains(" from ")
                || code.ends_with(';')
                || code.contains('"')
                || code.contains('\'')
            {
                insert_at = offset + line.len();
            } else {
                in_import = true;
            }
        }
        offset += line.len();
    }
    let mut out = String::with_capacity(source.len() + imports.len());
    out.push_str(&source[..insert_at]);
    out.push_str(imports);
    out.push_str(&source[insert_at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_handle_is_renamed_and_sequenced() {
        let source = "/** @type {import('@sveltejs/kit').Handle} */\nexport function handle({ event, resolve }) {\n\treturn resolve(event);\n}\n";
        let out = merge_handle(source, "./lib/spaire/sveltekit.js", true).expect("merged");
        assert_eq!(
            out,
            "import { sequence } from \"@sveltejs/kit/hooks\";\nimport { spaireHandle } from \"./lib/spaire/sveltekit.js\";\n/** @type {import('@sveltejs/kit').Handle} */\nfunction appHandle({ event, resolve }) {\n\treturn resolve(event);\n}\n\n// Spaire usage billing runs first and calls your handle through `resolve`.\nexport const handle = sequence(spaireHandle, appHandle);\n"
        );
        assert_eq!(merge_handle(&out, "./lib/spaire/sveltekit.js", true), None);
    }

    #[test]
    fn an_existing_sequence_gets_ours_first() {
        let source = "import { sequence } from '@sveltejs/kit/hooks';\nimport { auth } from './auth';\n\nexport const handle = sequence(auth, i18n);\n";
        let out = merge_handle(source, "$lib/spaire/sveltekit", true).expect("merged");
        assert!(out.contains("import { auth } from './auth';\nimport { spaireHandle } from \"$lib/spaire/sveltekit\";\n"), "{out}");
        assert!(out.contains("export const handle = sequence(spaireHandle, auth, i18n);"));
    }

    #[test]
    fn unknown_shapes_are_left_to_the_user() {
        assert_eq!(
            merge_handle("const handle = x;\nexport { handle };\n", "./a", true),
            None
        );
        assert_eq!(
            merge_handle(
                "export const handle: Handle = async () => {};\nexport { handle as h2 };\n",
                "./a",
                true
            ),
            None
        );
    }
}
