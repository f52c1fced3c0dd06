//! Registers the generated middleware in the file where the app object is built
//! (`const app = express()`, `Fastify()`, `new Hono()`, `new Elysia()`): adds the import and the
//! `use`/`register` lines right after construction, before any route or body parser.
//! When the file does not look as expected, the caller turns `None` into a manual step.

use billing_detect::FrameworkId;

/// What to register, and the import specifier of the generated adapter from the entry file.
pub struct Registration<'a> {
    pub framework: FrameworkId,
    pub app_variable: &'a str,
    pub adapter_specifier: &'a str,
    pub esm_syntax: bool,
    pub api_calls: bool,
    pub webhooks: bool,
}

impl Registration<'_> {
    fn exported_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.api_calls {
            names.push("spaireApiCalls");
        }
        if self.webhooks {
            names.push("spaireWebhooks");
        }
        names
    }

    fn import_line(&self) -> String {
        let names = self.exported_names().join(", ");
        if self.esm_syntax {
            format!("import {{ {names} }} from \"{}\";", self.adapter_specifier)
        } else {
            format!(
                "const {{ {names} }} = require(\"{}\");",
                self.adapter_specifier
            )
        }
    }

    /// Statements that go right after the app is constructed (Express, Fastify, Hono).
    fn statements(&self) -> Vec<String> {
        let app = self.app_variable;
        let mut lines = Vec::new();
        match self.framework {
            FrameworkId::Express => {
                if self.webhooks {
                    lines.push(format!(
                        "{app}.use(spaireWebhooks); // before any body parser: the webhook route needs the raw body"
                    ));
                }
                if self.api_calls {
                    lines.push(format!("{app}.use(spaireApiCalls());"));
                }
            }
            FrameworkId::Fastify => {
                if self.api_calls {
                    lines.push(format!("{app}.register(spaireApiCalls);"));
                }
                if self.webhooks {
                    lines.push(format!("{app}.register(spaireWebhooks);"));
                }
            }
            FrameworkId::Hono => {
                if self.api_calls {
                    lines.push(format!("{app}.use(\"*\", spaireApiCalls());"));
                }
                if self.webhooks {
                    lines.push(format!("{app}.route(\"/\", spaireWebhooks);"));
                }
            }
            _ => {}
        }
        lines
    }

    /// The edited entry file, or `None` when it cannot be edited safely.
    pub fn apply(&self, source: &str) -> Option<String> {
        if self.exported_names().is_empty() {
            return None;
        }
        // Already registered (a previous apply, or the user did it by hand).
        if self
            .exported_names()
            .iter()
            .any(|name| source.contains(name))
        {
            return None;
        }
        let with_registration = self.insert_after_construction(source)?;
        Some(insert_import(&with_registration, &self.import_line()))
    }

    fn constructor_patterns(&self) -> &'static [&'static str] {
        match self.framework {
            FrameworkId::Express => &["express("],
            FrameworkId::Fastify => &["Fastify(", "fastify("],
            FrameworkId::Hono => &[
                "new Hono(",
                "new Hono<",
                "new OpenAPIHono(",
                "new OpenAPIHono<",
            ],
            FrameworkId::Elysia => &["new Elysia(", "new Elysia<"],
            _ => &[],
        }
    }

    /// `.use(...)` calls chained right after the constructor: `new Hono().use(...)`.
    fn chain_calls(&self) -> Option<String> {
        let mut uses = String::new();
        match self.framework {
            FrameworkId::Hono => {
                if self.api_calls {
                    uses.push_str(".use(\"*\", spaireApiCalls())");
                }
                if self.webhooks {
                    uses.push_str(".route(\"/\", spaireWebhooks)");
                }
            }
            FrameworkId::Elysia => {
                if self.api_calls {
                    uses.push_str(".use(spaireApiCalls)");
                }
                if self.webhooks {
                    uses.push_str(".use(spaireWebhooks)");
                }
            }
            // `express().use(...)` chains are rare; a statement after them is not safe.
            _ => return None,
        }
        Some(uses)
    }

    /// Byte offset of the constructor call that builds the app: the one assigned to the app
    /// variable (`const app = express(`, `app = new Hono<Env>(`), else the first one.
    fn construction_start(&self, source: &str) -> Option<usize> {
        let app = self.app_variable;
        let mut first = None;
        let mut offset = 0;
        for line in source.split_inclusive('\n') {
            for pattern in self.constructor_patterns() {
                let Some(at) = line.find(pattern) else {
                    continue;
                };
                first.get_or_insert(offset + at);
                let before = line[..at].trim_end();
                let before = before.strip_suffix('=').map(str::trim_end);
                let declares = before.is_some_and(|b| {
                    let b = b.split(':').next().unwrap_or(b).trim_end();
                    b.rsplit(|c: char| c.is_whitespace()).next() == Some(app)
                });
                if declares {
                    return Some(offset + at);
                }
            }
            offset += line.len();
        }
        // Elysia apps are usually one chain without a variable: `new Elysia().get(..)`.
        if self.framework == FrameworkId::Elysia {
            first
        } else {
            None
        }
    }

    /// Registers right after the construction: chained `.use(...)` when the constructor call is
    /// followed by a chain (Hono, Elysia: middleware only applies to routes registered after
    /// it), else statements on the line after the construction statement, which may span lines
    /// (`const app = Fastify({\n  logger: true,\n})`).
    fn insert_after_construction(&self, source: &str) -> Option<String> {
        let start = self.construction_start(source)?;
        let open = start + source[start..].find('(')?;
        // `new Hono<{ Bindings: Env }>(`: the `(` after the type arguments.
        let close = matching_paren(source, open)?;
        let rest = &source[close + 1..];
        let next_code = rest.trim_start();
        if next_code.starts_with('.') || self.framework == FrameworkId::Elysia {
            let uses = self.chain_calls()?;
            let mut out = String::with_capacity(source.len() + uses.len());
            out.push_str(&source[..=close]);
            out.push_str(&uses);
            out.push_str(rest);
            return Some(out);
        }
        // The statement ends on the close paren's line: nothing but `;` and a comment after it.
        let line_end = rest.find('\n').map_or(source.len(), |i| close + 1 + i);
        let tail = source[close + 1..line_end].trim();
        if !(tail.is_empty()
            || tail == ";"
            || tail.starts_with("//")
            || tail.starts_with(";//")
            || tail.starts_with("; //"))
        {
            return None;
        }
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let indent: String = source[line_start..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let mut out = String::with_capacity(source.len() + 200);
        out.push_str(&source[..line_end]);
        out.push('\n');
        let statements = self.statements();
        for (i, statement) in statements.iter().enumerate() {
            out.push_str(&indent);
            out.push_str(statement);
            if i + 1 < statements.len() || line_end < source.len() {
                out.push('\n');
            }
        }
        if line_end < source.len() {
            out.push_str(&source[line_end + 1..]);
        } else {
            out.push('\n');
        }
        Some(out)
    }
}

/// Index of the `)` closing the `(` at byte `open`.
fn matching_paren(source: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (offset, c) in source[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + offset);
                }
            }
            _ => {}
        }
    }
    None
}

/// Inserts `import_line` after the last top-level import (or `require`) statement, else after
/// a shebang / "use strict" prologue.
pub(super) fn insert_import(source: &str, import_line: &str) -> String {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut insert_at = 0;
    let mut in_import = false;
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_end();
        if in_import {
            if code.contains(" from ") || code.starts_with("} from") || code.ends_with(';') {
                in_import = false;
                insert_at = i + 1;
            }
            continue;
        }
        let is_import = code.starts_with("import ") || code.starts_with("import{");
        let is_require =
            (code.starts_with("const ") || code.starts_with("var ") || code.starts_with("let "))
                && code.contains("require(");
        if is_import {
            if code.contains(" from ")
                || code.starts_with("import \"")
                || code.starts_with("import '")
            {
                insert_at = i + 1;
            } else {
                in_import = true;
            }
        } else {
            let prologue = i == insert_at
                && (code.starts_with("#!") || code == "\"use strict\";" || code == "'use strict';");
            if is_require || prologue {
                insert_at = i + 1;
            }
        }
    }
    let mut out = String::with_capacity(source.len() + import_line.len() + 1);
    for line in &lines[..insert_at] {
        out.push_str(line);
    }
    if insert_at > 0 && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(import_line);
    out.push('\n');
    for line in &lines[insert_at..] {
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn express(esm: bool) -> Registration<'static> {
        Registration {
            framework: FrameworkId::Express,
            app_variable: "app",
            adapter_specifier: "./lib/spaire/express.js",
            esm_syntax: esm,
            api_calls: true,
            webhooks: true,
        }
    }

    #[test]
    fn express_registration_goes_before_the_json_parser() {
        let source = "import express from \"express\";\n\nconst app = express();\napp.use(express.json());\n";
        let edited = express(true).apply(source).expect("editable");
        assert_eq!(
            edited,
            "import express from \"express\";\nimport { spaireApiCalls, spaireWebhooks } from \"./lib/spaire/express.js\";\n\nconst app = express();\napp.use(spaireWebhooks); // before any body parser: the webhook route needs the raw body\napp.use(spaireApiCalls());\napp.use(express.json());\n"
        );
        // A second run changes nothing.
        assert_eq!(express(true).apply(&edited), None);
    }

    #[test]
    fn commonjs_uses_require() {
        let source =
            "\"use strict\";\nconst express = require(\"express\");\nconst app = express();\n";
        let edited = express(false).apply(source).expect("editable");
        assert!(edited.contains("const express = require(\"express\");\nconst { spaireApiCalls, spaireWebhooks } = require(\"./lib/spaire/express.js\");\n"));
    }

    #[test]
    fn multi_line_construction_gets_registration_after_the_statement() {
        let source = "import Fastify from \"fastify\";\nconst app = Fastify({\n  logger: true,\n  http: { headersTimeout: 1 },\n});\napp.get(\"/\", () => \"ok\");\n";
        let reg = Registration {
            framework: FrameworkId::Fastify,
            app_variable: "app",
            adapter_specifier: "./lib/spaire/fastify.js",
            esm_syntax: true,
            api_calls: true,
            webhooks: false,
        };
        let edited = reg.apply(source).expect("editable");
        assert!(
            edited.contains(
                "  http: { headersTimeout: 1 },\n});\napp.register(spaireApiCalls);\napp.get("
            ),
            "{edited}"
        );
    }

    #[test]
    fn the_app_variable_wins_over_an_earlier_sub_app() {
        let reg = Registration {
            framework: FrameworkId::Hono,
            app_variable: "app",
            adapter_specifier: "./lib/spaire/hono.js",
            esm_syntax: true,
            api_calls: true,
            webhooks: false,
        };
        let source = "const api = new Hono();\nconst app = new OpenAPIHono<{ Bindings: Env }>();\napp.route(\"/api\", api);\n";
        let edited = reg.apply(source).expect("editable");
        assert!(
            edited.contains("const api = new Hono();\nconst app = new OpenAPIHono<{ Bindings: Env }>();\napp.use(\"*\", spaireApiCalls());\n"),
            "{edited}"
        );
    }

    #[test]
    fn a_hono_chain_gets_chained_use_calls() {
        let reg = Registration {
            framework: FrameworkId::Hono,
            app_variable: "app",
            adapter_specifier: "./lib/spaire/hono.js",
            esm_syntax: true,
            api_calls: true,
            webhooks: true,
        };
        let source =
            "const app = new Hono()\n  .get(\"/\", (c) => c.text(\"hi\"));\nexport default app;\n";
        let edited = reg.apply(source).expect("editable");
        assert!(
            edited.contains(
                "new Hono().use(\"*\", spaireApiCalls()).route(\"/\", spaireWebhooks)\n  .get("
            ),
            "{edited}"
        );
    }

    #[test]
    fn an_unterminated_construction_is_left_to_the_user() {
        let source = "import express from \"express\";\nconst app = express(\n";
        assert_eq!(express(true).apply(source), None);
    }

    #[test]
    fn elysia_chain_gets_use_calls() {
        let reg = Registration {
            framework: FrameworkId::Elysia,
            app_variable: "app",
            adapter_specifier: "./lib/spaire/elysia",
            esm_syntax: true,
            api_calls: true,
            webhooks: false,
        };
        let source = "import { Elysia } from \"elysia\";\nconst app = new Elysia({ prefix: \"/v1\" })\n  .get(\"/\", () => \"hi\")\n  .listen(3000);\n";
        let edited = reg.apply(source).expect("editable");
        assert!(edited.contains("new Elysia({ prefix: \"/v1\" }).use(spaireApiCalls)\n  .get"));
    }

    #[test]
    fn imports_spanning_lines_are_skipped_over() {
        let source = "import {\n  a,\n  b,\n} from \"x\";\nconst app = express();\n";
        let out = insert_import(source, "import y from \"y\";");
        assert_eq!(
            out,
            "import {\n  a,\n  b,\n} from \"x\";\nimport y from \"y\";\nconst app = express();\n"
        );
    }
}
