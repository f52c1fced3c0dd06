//! Fastify apps that load their plugins with `@fastify/autoload`
//! (`fastify.register(AutoLoad, { dir: path.join(import.meta.dirname, "plugins") })`, the
//! fastify-cli layout): billing is a plugin file in that folder, which autoload registers with
//! the app's other plugins, instead of an edit of the app file.

/// The folder (relative to `source`'s directory) the first autoload of a `plugins` folder
/// reads, or `None` when `source` autoloads no plugins folder.
pub fn plugins_dir(source: &str) -> Option<String> {
    let local = autoload_import(source)?;
    let needle = format!("register({local}");
    let mut search = 0;
    while let Some(found) = source[search..].find(&needle) {
        let at = search + found + needle.len();
        search = at;
        // `register(AutoLoad,` and not `register(AutoLoadSomethingElse`.
        if !source[at..].trim_start().starts_with(',') {
            continue;
        }
        let options = &source[at..source.len().min(at + 400)];
        let Some(dir_at) = options.find("dir:") else {
            continue;
        };
        let Some(literal) = first_string_literal(&options[dir_at..]) else {
            continue;
        };
        let dir = literal.trim_start_matches("./").trim_end_matches('/');
        let safe = !dir.is_empty()
            && !dir.contains("..")
            && dir
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'));
        if safe && dir.split('/').any(|segment| segment == "plugins") {
            return Some(dir.to_owned());
        }
    }
    None
}

/// The local name of `@fastify/autoload`'s default export.
fn autoload_import(source: &str) -> Option<&str> {
    for line in source.lines() {
        let line = line.trim();
        if !line.contains("@fastify/autoload") {
            continue;
        }
        let name = if let Some(rest) = line.strip_prefix("import ") {
            rest.split([' ', ',']).next()
        } else {
            ["const ", "let ", "var "]
                .iter()
                .find_map(|kw| line.strip_prefix(kw))
                .and_then(|rest| rest.split([' ', '=']).next())
        }?;
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            return Some(name);
        }
    }
    None
}

fn first_string_literal(text: &str) -> Option<&str> {
    let start = text.find(['\'', '"'])?;
    let quote = text[start..].chars().next()?;
    let end = text[start + 1..].find(quote)?;
    Some(&text[start + 1..start + 1 + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_plugins_folder() {
        let source = "import path from 'node:path'\nimport fastifyAutoload from '@fastify/autoload'\n\nexport default async function app (fastify, opts) {\n  await fastify.register(fastifyAutoload, {\n    dir: path.join(import.meta.dirname, 'plugins/external'),\n    options: {}\n  })\n  fastify.register(fastifyAutoload, {\n    dir: path.join(import.meta.dirname, 'routes'),\n  })\n}\n";
        assert_eq!(plugins_dir(source).as_deref(), Some("plugins/external"));
    }

    #[test]
    fn commonjs_and_routes_only() {
        let source = "const AutoLoad = require(\"@fastify/autoload\");\nmodule.exports = async function (fastify) {\n  fastify.register(AutoLoad, { dir: path.join(__dirname, \"plugins\") });\n};\n";
        assert_eq!(plugins_dir(source).as_deref(), Some("plugins"));
        let routes_only = "import AutoLoad from '@fastify/autoload'\nfastify.register(AutoLoad, { dir: join(__dirname, 'routes') })\n";
        assert_eq!(plugins_dir(routes_only), None);
        assert_eq!(plugins_dir("fastify.register(x, { dir: 'plugins' })"), None);
    }
}
