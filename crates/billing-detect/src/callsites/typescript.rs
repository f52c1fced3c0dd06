//! TypeScript / JavaScript: imports (ESM and `require`, including aliases and namespaces),
//! AI SDK and S3 call sites, app constructions and route registrations.

use std::collections::HashMap;

use tree_sitter::{Node, Parser};

use super::{Construction, string_value, text, visit};
use crate::profile::{CallSite, CallSiteKind};
use crate::text::LineIndex;

/// Words that make a file worth parsing.
const NEEDLES: &[&str] = &[
    "\"ai\"",
    "'ai'",
    "@aws-sdk/",
    "ai/rsc",
    "openai",
    "anthropic",
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/realtime",
    "express",
    "astify",
    "hono",
    "elysia",
    ".get(",
    ".post(",
    ".put(",
    ".patch(",
    ".delete(",
    ".route(",
    ".all(",
];

pub fn worth_parsing(src: &str) -> bool {
    NEEDLES.iter().any(|n| src.contains(n))
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    pub calls: Vec<CallSite>,
    pub constructions: Vec<Construction>,
    /// Route registrations (`app.get("/x", ...)`): line and the callee as written.
    pub routes: Vec<(u32, String)>,
    /// Modules imported by the file.
    pub imports: Vec<String>,
}

/// Which grammar: TSX also parses plain JavaScript with JSX; `.ts` needs the TS grammar
/// because `<T>expr` casts are not JSX there.
pub fn analyze(file: &str, src: &str) -> Findings {
    let tsx = !(file.ends_with(".ts") || file.ends_with(".mts") || file.ends_with(".cts"));
    let language = if tsx {
        tree_sitter_typescript::LANGUAGE_TSX
    } else {
        tree_sitter_typescript::LANGUAGE_TYPESCRIPT
    };
    let mut parser = Parser::new();
    if parser.set_language(&language.into()).is_err() {
        return Findings::default();
    }
    let Some(tree) = parser.parse(src, None) else {
        return Findings::default();
    };
    let index = LineIndex::new(src);
    let root = tree.root_node();

    // Pass 1: what each local name refers to: (module, imported name | "default" | "*").
    let mut bindings: HashMap<String, (String, String)> = HashMap::new();
    let mut imports = Vec::new();
    visit(root, |node| match node.kind() {
        "import_statement" => {
            let Some(module) = node
                .child_by_field_name("source")
                .and_then(|s| string_value(s, src))
            else {
                return;
            };
            imports.push(module.clone());
            visit(node, |n| match n.kind() {
                "import_specifier" => {
                    let name = n.child_by_field_name("name").map(|x| text(x, src));
                    let alias = n.child_by_field_name("alias").map(|x| text(x, src));
                    if let Some(name) = name {
                        let local = alias.unwrap_or(name).to_owned();
                        bindings.insert(local, (module.clone(), name.to_owned()));
                    }
                }
                "namespace_import" => {
                    if let Some(id) = first_named(n, "identifier") {
                        bindings.insert(text(id, src).to_owned(), (module.clone(), "*".into()));
                    }
                }
                "import_clause" => {
                    if let Some(id) = first_named(n, "identifier") {
                        bindings
                            .insert(text(id, src).to_owned(), (module.clone(), "default".into()));
                    }
                }
                _ => {}
            });
        }
        "variable_declarator" => {
            let (Some(name), Some(value)) = (
                node.child_by_field_name("name"),
                node.child_by_field_name("value"),
            ) else {
                return;
            };
            let Some(module) = require_target(value, src) else {
                return;
            };
            imports.push(module.clone());
            match name.kind() {
                "identifier" => {
                    bindings.insert(text(name, src).to_owned(), (module, "default".into()));
                }
                "object_pattern" => {
                    for i in 0..name.named_child_count() {
                        let Some(p) = name.named_child(i as u32) else {
                            continue;
                        };
                        match p.kind() {
                            "shorthand_property_identifier_pattern" => {
                                let n = text(p, src).to_owned();
                                bindings.insert(n.clone(), (module.clone(), n));
                            }
                            "pair_pattern" => {
                                let key = p.child_by_field_name("key").map(|k| text(k, src));
                                let val = p.child_by_field_name("value").map(|v| text(v, src));
                                if let (Some(k), Some(v)) = (key, val) {
                                    bindings.insert(v.to_owned(), (module.clone(), k.to_owned()));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    });

    // Pass 2: calls and constructions.
    let mut out = Findings {
        imports,
        ..Findings::default()
    };
    let resolve = |callee: Node<'_>| -> Option<(String, String)> {
        match callee.kind() {
            "identifier" => bindings.get(text(callee, src)).cloned(),
            "member_expression" => {
                let object = callee.child_by_field_name("object")?;
                let property = callee.child_by_field_name("property")?;
                let (module, imported) = bindings.get(text(object, src))?;
                (imported == "*" || imported == "default")
                    .then(|| (module.clone(), text(property, src).to_owned()))
            }
            _ => None,
        }
    };
    // Vendor clients constructed in this file: `const claude = new Anthropic()`.
    let mut clients: Vec<(String, &'static str)> = Vec::new();
    visit(root, |node| {
        if node.kind() != "new_expression" {
            return;
        }
        let vendor = node
            .child_by_field_name("constructor")
            .and_then(&resolve)
            .and_then(|(module, _)| match module.as_str() {
                "openai" | "openai-edge" => Some("openai"),
                "@anthropic-ai/sdk" => Some("anthropic"),
                _ => None,
            });
        if let (Some(vendor), Some(var)) = (vendor, assigned_variable(node, src)) {
            clients.push((var, vendor));
        }
    });
    visit(root, |node| {
        let (callee, is_new) = match node.kind() {
            "call_expression" => (node.child_by_field_name("function"), false),
            "new_expression" => (node.child_by_field_name("constructor"), true),
            _ => return,
        };
        let Some(callee) = callee else { return };
        let (line, column) = index.line_col(src, callee.start_byte());
        if let Some((module, imported)) = resolve(callee) {
            let kind = match (module.as_str(), imported.as_str(), is_new) {
                ("ai", "generateText", false) => Some(CallSiteKind::GenerateText),
                ("ai", "streamText", false) => Some(CallSiteKind::StreamText),
                ("ai", "generateObject", false) => Some(CallSiteKind::GenerateObject),
                ("ai", "streamObject", false) => Some(CallSiteKind::StreamObject),
                ("ai", "embed" | "embedMany", false) => Some(CallSiteKind::Embed),
                ("ai", "generateImage" | "experimental_generateImage", false) => {
                    Some(CallSiteKind::GenerateImage)
                }
                ("ai/rsc", "streamUI", false) => Some(CallSiteKind::StreamUi),
                ("@aws-sdk/client-s3", "PutObjectCommand", true) => Some(CallSiteKind::S3PutObject),
                ("@aws-sdk/lib-storage", "Upload", true) => Some(CallSiteKind::S3Upload),
                _ => None,
            };
            if let Some(kind) = kind {
                out.calls.push(CallSite {
                    kind,
                    file: String::new(),
                    line,
                    column,
                    callee: text(callee, src).to_owned(),
                });
                return;
            }
            let base = match (module.as_str(), imported.as_str()) {
                // `new OpenAPIHono()` is a Hono app (a subclass with OpenAPI routes).
                ("@hono/zod-openapi", "OpenAPIHono") => "hono",
                _ => module.split('/').next().unwrap_or(&module),
            };
            let constructs = matches!(
                (base, imported.as_str(), is_new),
                ("express", "default", false)
                    | ("fastify", "default" | "fastify" | "Fastify", false)
                    | ("hono", "Hono" | "OpenAPIHono", true)
                    | ("elysia", "Elysia", true)
            );
            if constructs {
                out.constructions.push(Construction {
                    module: base.to_owned(),
                    imported,
                    line,
                    variable: assigned_variable(node, src),
                    in_fallback: inside_catch(node),
                });
                return;
            }
        }
        if !is_new && let Some(kind) = llm_client_call(callee, src, &out.imports, &clients) {
            out.calls.push(CallSite {
                kind,
                file: String::new(),
                line,
                column,
                callee: text(callee, src).to_owned(),
            });
            return;
        }
        if !is_new && is_model_api_fetch(node, callee, src) {
            out.calls.push(CallSite {
                kind: CallSiteKind::LlmHttpFetch,
                file: String::new(),
                line,
                column,
                callee: text(callee, src).to_owned(),
            });
            return;
        }
        if !is_new && let Some(route) = route_registration(node, callee, src) {
            out.routes.push((line, route));
        }
    });
    out
}

/// A vendor SDK call by its method path: `openai.chat.completions.create(..)`,
/// `anthropic.messages.create(..)`, `openai.createChatCompletion(..)` (openai-edge / v3),
/// `openai.beta.threads.runs.create(..)` (Assistants). The client is a `new OpenAI()` /
/// `new Anthropic()` of this file (also a class field or `this.client = new OpenAI()` in a
/// constructor, called as `this.client`), or a receiver segment whose name says which vendor
/// it is (`openai.`, `event.context.openai.`, `this.openaiClient.`), or `client` in a file
/// that imports the SDK.
fn llm_client_call(
    callee: Node<'_>,
    src: &str,
    imports: &[String],
    clients: &[(String, &'static str)],
) -> Option<CallSiteKind> {
    if callee.kind() != "member_expression" {
        return None;
    }
    let path: String = text(callee, src)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '?' && *c != '!')
        .collect();
    // The receiver: the path before the SDK's method path (`chat.completions.create` needs at
    // least three segments to remain a call on something).
    let segments: Vec<&str> = path.split('.').collect();
    let receiver = &segments[..segments.len().saturating_sub(3).max(1)];
    let is = |vendor: &str, sdk: &[&str]| {
        clients
            .iter()
            .any(|(v, w)| *w == vendor && path.starts_with(&format!("{v}.")))
            || receiver
                .iter()
                .any(|s| s.to_ascii_lowercase().contains(vendor))
            || receiver.contains(&"client") && imports.iter().any(|i| sdk.contains(&i.as_str()))
    };
    let openai = is("openai", &["openai", "openai-edge"]);
    let anthropic = is("anthropic", &["@anthropic-ai/sdk"]);
    let ends = |suffix: &str| path.ends_with(suffix) && path.len() > suffix.len();
    if openai && ends(".chat.completions.create") {
        Some(CallSiteKind::OpenaiChatCompletion)
    } else if openai && ends(".responses.create") {
        Some(CallSiteKind::OpenaiResponse)
    } else if openai && ends(".embeddings.create") {
        Some(CallSiteKind::OpenaiEmbedding)
    } else if openai
        && (ends(".images.generate")
            || (ends(".createImage") && !imports.iter().any(|i| i == "openai-edge")))
    {
        // `openai` v3's `createImage` is image generation too (`response.data.data`, one
        // entry per image); `openai-edge`'s returns a fetch `Response` and stays legacy.
        Some(CallSiteKind::OpenaiImage)
    } else if openai
        && [
            ".runs.create",
            ".runs.createAndPoll",
            ".runs.stream",
            ".runs.createAndStream",
            ".createAndRun",
            ".createAndRunPoll",
            ".createAndRunStream",
        ]
        .iter()
        .any(|m| ends(&format!(".threads{m}")))
    {
        // An Assistants run: its usage is on the finished run (adding a message costs nothing).
        Some(CallSiteKind::OpenaiAssistantRun)
    } else if openai
        && (ends(".createChatCompletion")
            || ends(".createEmbedding")
            || ends(".createCompletion")
            || ends(".createImage"))
    {
        Some(CallSiteKind::OpenaiLegacy)
    } else if anthropic && (ends(".messages.create") || ends(".messages.stream")) {
        Some(CallSiteKind::AnthropicMessage)
    } else {
        None
    }
}

/// `fetch(<url>, ..)` whose URL names a model API endpoint.
fn is_model_api_fetch(call: Node<'_>, callee: Node<'_>, src: &str) -> bool {
    matches!(text(callee, src), "fetch" | "globalThis.fetch")
        && fetch_url(call, src).is_some_and(|url| {
            MODEL_API_ENDPOINTS
                .iter()
                .any(|endpoint| url.contains(endpoint))
        })
}

/// What in a URL says it is a model API's REST endpoint.
const MODEL_API_ENDPOINTS: &[&str] = &[
    "api.openai.com/v1/",
    "api.anthropic.com/v1/",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/messages",
    "/v1/realtime",
];

/// The URL a `fetch(<url>, ..)` call requests, as far as the file spells it: a string or
/// template literal, with `${name}` (or a bare `name`) replaced by the string literals of the
/// file's `const name = ..` declaration. `const baseUrl = "https://api.openai.com/v1/realtime"`
/// then `fetch(`${baseUrl}?model=${model}`)` (openai-realtime-console) reads as
/// `https://api.openai.com/v1/realtime?model=`. Wiring reads it too, to tell a Realtime
/// session from a call whose response carries `usage`.
pub fn fetch_url(call: Node<'_>, src: &str) -> Option<String> {
    let url = call
        .child_by_field_name("arguments")
        .and_then(|a| a.named_child(0))?;
    let program = {
        let mut top = call;
        while let Some(parent) = top.parent() {
            top = parent;
        }
        top
    };
    match url.kind() {
        "string" => Some(text(url, src).to_owned()),
        "identifier" => constant_strings(program, text(url, src), src),
        "template_string" => {
            let mut out = text(url, src).to_owned();
            for i in 0..url.named_child_count() {
                let Some(sub) = url.named_child(i as u32) else {
                    continue;
                };
                let name = sub.named_child(0).filter(|n| n.kind() == "identifier");
                if sub.kind() == "template_substitution"
                    && let Some(name) = name
                    && let Some(value) = constant_strings(program, text(name, src), src)
                {
                    out = out.replace(text(sub, src), &value);
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// The string and template literals in the initializer of the file's declaration of `name`
/// (`const base = (env.BASE || 'https://api.openai.com').trim()` gives
/// `'https://api.openai.com'`), joined; `None` when the file declares no such variable.
fn constant_strings(program: Node<'_>, name: &str, src: &str) -> Option<String> {
    let mut found = None;
    visit(program, |node| {
        if found.is_some() || node.kind() != "variable_declarator" {
            return;
        }
        let declared = node
            .child_by_field_name("name")
            .is_some_and(|n| n.kind() == "identifier" && text(n, src) == name);
        let Some(value) = node.child_by_field_name("value").filter(|_| declared) else {
            return;
        };
        let mut literals = String::new();
        visit(value, |n| {
            if matches!(n.kind(), "string" | "template_string")
                && n.parent()
                    .is_none_or(|p| p.kind() != "template_substitution")
            {
                literals.push_str(text(n, src));
            }
        });
        found = Some(literals);
    });
    found
}

/// Why a raw model-API `fetch` in browser code cannot be wired where it is.
pub const BROWSER_FETCH: &str = "runs in the browser: the usage must be recorded on your server";

/// Why a `fetch` opening a Realtime session has no usage to read.
pub const REALTIME_FETCH: &str = "opens a Realtime session: usage arrives as `response.done` \
    events over the data channel (a WebSocket session: over the socket), never in this response";

/// How far from its detected line a call may have moved in a file with planned edits.
const NEAR_LINES: u32 = 10;

/// What makes the raw model-API `fetch` on (or near) `line` of `file` unwireable as it is
/// (the [`BROWSER_FETCH`] / [`REALTIME_FETCH`] reasons that apply); empty when none does or
/// no such call is near that line.
pub fn raw_fetch_notes(file: &str, src: &str, line: u32) -> Vec<&'static str> {
    let tsx = !(file.ends_with(".ts") || file.ends_with(".mts") || file.ends_with(".cts"));
    let language = if tsx {
        tree_sitter_typescript::LANGUAGE_TSX
    } else {
        tree_sitter_typescript::LANGUAGE_TYPESCRIPT
    };
    let mut parser = Parser::new();
    let Some(tree) = parser
        .set_language(&language.into())
        .ok()
        .and_then(|()| parser.parse(src, None))
    else {
        return Vec::new();
    };
    // The nearest such fetch within a few lines: `plan` reads the file with its planned edits
    // (an import and a registration inserted above move the call down).
    let mut nearest: Option<(u32, String)> = None;
    visit(tree.root_node(), |node| {
        let callee = node.child_by_field_name("function");
        if node.kind() == "call_expression"
            && let Some(callee) = callee
            && let Ok(row) = u32::try_from(callee.start_position().row + 1)
            && row.abs_diff(line) <= NEAR_LINES
            && nearest
                .as_ref()
                .is_none_or(|(d, _)| row.abs_diff(line) < *d)
            && is_model_api_fetch(node, callee, src)
            && let Some(url) = fetch_url(node, src)
        {
            nearest = Some((row.abs_diff(line), url));
        }
    });
    let Some((_, url)) = nearest else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    if runs_in_browser(file, src) {
        notes.push(BROWSER_FETCH);
    }
    if url.contains("/v1/realtime") {
        notes.push(REALTIME_FETCH);
    }
    notes
}

/// Whether a JavaScript/TypeScript file runs in the browser, so a model call there cannot
/// record usage with the server-side access token: a `"use client"` module, a file under a
/// `client/`, `components/` or `public/` folder, or a React component using hooks (Vite
/// client code; Next.js server components cannot call hooks). Code under `server/`, `api/`
/// or `routes/` is the server's.
pub fn runs_in_browser(file: &str, src: &str) -> bool {
    let dirs: Vec<&str> = file.split('/').rev().skip(1).collect();
    let in_dir = |names: &[&str]| dirs.iter().any(|d| names.contains(d));
    if in_dir(&["server", "api", "routes", "functions", "lambda"]) {
        return false;
    }
    let directive = src.trim_start().starts_with("\"use client\"")
        || src.trim_start().starts_with("'use client'");
    let component = (file.ends_with(".jsx") || file.ends_with(".tsx"))
        && (src.contains("from \"react\"") || src.contains("from 'react'"))
        && ["useState(", "useEffect(", "useRef("]
            .iter()
            .any(|hook| src.contains(hook));
    directive || component || in_dir(&["client", "components", "public"])
}

fn first_named<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    (0..node.named_child_count())
        .filter_map(|i| node.named_child(i as u32))
        .find(|c| c.kind() == kind)
}

/// `require("m")` (possibly awaited or wrapped in parentheses) → "m".
fn require_target(value: Node<'_>, src: &str) -> Option<String> {
    let mut v = value;
    while matches!(v.kind(), "await_expression" | "parenthesized_expression") {
        v = v.named_child(0)?;
    }
    if v.kind() != "call_expression" {
        return None;
    }
    let f = v.child_by_field_name("function")?;
    if text(f, src) != "require" {
        return None;
    }
    let args = v.child_by_field_name("arguments")?;
    string_value(args.named_child(0)?, src)
}

/// `const app = new Hono().basePath("/api")` → "app".
/// Whether `node` sits in a `catch` clause (an error-fallback app, never the real one).
fn inside_catch(node: Node<'_>) -> bool {
    let mut current = node;
    while let Some(parent) = current.parent() {
        if parent.kind() == "catch_clause" {
            return true;
        }
        current = parent;
    }
    false
}

fn assigned_variable(node: Node<'_>, src: &str) -> Option<String> {
    let mut current = node;
    while let Some(parent) = current.parent() {
        match parent.kind() {
            "variable_declarator" => {
                let name = parent.child_by_field_name("name")?;
                return (name.kind() == "identifier").then(|| text(name, src).to_owned());
            }
            "assignment_expression" => {
                let left = parent.child_by_field_name("left")?;
                return Some(text(left, src).to_owned());
            }
            // `class S { private client = new OpenAI() }`: used as `this.client`.
            "public_field_definition" => {
                let name = parent.child_by_field_name("name")?;
                return Some(format!("this.{}", text(name, src)));
            }
            "member_expression"
            | "call_expression"
            | "await_expression"
            | "parenthesized_expression"
            | "as_expression"
            | "arguments" => current = parent,
            _ => return None,
        }
    }
    None
}

const ROUTE_METHODS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "all", "options", "head", "route",
];

/// `app.post("/chat", handler)` / `router.get('/x', ...)`: an HTTP method called with a
/// path literal as first argument.
fn route_registration(call: Node<'_>, callee: Node<'_>, src: &str) -> Option<String> {
    if callee.kind() != "member_expression" {
        return None;
    }
    let property = text(callee.child_by_field_name("property")?, src);
    if !ROUTE_METHODS.contains(&property) {
        return None;
    }
    let args = call.child_by_field_name("arguments")?;
    let first = args.named_child(0)?;
    let path = string_value(first, src)?;
    if !path.starts_with('/') || args.named_child_count() < 2 && property != "route" {
        return None;
    }
    let object = callee.child_by_field_name("object")?;
    let receiver = if object.kind() == "identifier" {
        text(object, src)
    } else {
        "" // a chain such as `new Elysia().get(...)`
    };
    Some(format!("{receiver}.{property}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(f: &Findings) -> Vec<(CallSiteKind, u32, &str)> {
        f.calls
            .iter()
            .map(|c| (c.kind, c.line, c.callee.as_str()))
            .collect()
    }

    #[test]
    fn aliased_and_namespace_ai_imports() {
        let src = r#"import { generateText as gen, streamText } from "ai";
import * as ai from 'ai';
import { openai } from "@ai-sdk/openai";
export async function POST() {
  const a = await gen({ model: openai("gpt-4o"), prompt: "x" });
  const b = streamText({ model: openai("gpt-4o"), prompt: "y" });
  const c = await ai.generateObject({});
  generateText({}); // not imported: not a call site
}
"#;
        let f = analyze("route.ts", src);
        assert_eq!(
            kinds(&f),
            [
                (CallSiteKind::GenerateText, 5, "gen"),
                (CallSiteKind::StreamText, 6, "streamText"),
                (CallSiteKind::GenerateObject, 7, "ai.generateObject"),
            ]
        );
        assert_eq!(f.calls[0].column, 19);
    }

    #[test]
    fn commonjs_require_and_s3() {
        let src = r#"const { streamObject: so } = require("ai");
const express = require("express");
const { PutObjectCommand } = require("@aws-sdk/client-s3");
const { Upload } = require("@aws-sdk/lib-storage");
const app = express();
app.post("/upload", async (req, res) => {
  await s3.send(new PutObjectCommand({ Bucket: "b" }));
  await new Upload({ client: s3 }).done();
  so({});
});
"#;
        let f = analyze("server.js", src);
        assert_eq!(
            kinds(&f),
            [
                (CallSiteKind::S3PutObject, 7, "PutObjectCommand"),
                (CallSiteKind::S3Upload, 8, "Upload"),
                (CallSiteKind::StreamObject, 9, "so"),
            ]
        );
        assert_eq!(f.constructions.len(), 1);
        assert_eq!(f.constructions[0].variable.as_deref(), Some("app"));
        assert_eq!(f.routes, [(6, "app.post".to_owned())]);
    }

    #[test]
    fn hono_elysia_fastify_constructions() {
        let src = "import { Hono } from 'hono'\nimport Fastify from 'fastify'\nimport { Elysia } from 'elysia'\nconst app = new Hono().basePath('/api')\nconst f = Fastify({ logger: true })\nnew Elysia().get('/', () => 'hi').listen(3000)\n";
        let f = analyze("index.ts", src);
        let c: Vec<_> = f
            .constructions
            .iter()
            .map(|c| (c.module.as_str(), c.line, c.variable.as_deref()))
            .collect();
        assert_eq!(
            c,
            [
                ("hono", 4, Some("app")),
                ("fastify", 5, Some("f")),
                ("elysia", 6, None)
            ]
        );
        assert_eq!(f.routes, [(6, ".get".to_owned())]);
    }

    #[test]
    fn vendor_sdk_calls_embeddings_and_stream_ui() {
        let src = r#"import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { embed, embedMany } from "ai";
import { streamUI } from "ai/rsc";
const openai = new OpenAI();
const claude = new Anthropic();
export async function POST() {
  const a = await openai.chat.completions.create({ model: "gpt-4o", messages: [] });
  const b = await openai.responses.create({ model: "gpt-4o", input: "x" });
  const c = await claude.messages.create({ model: "claude", max_tokens: 9, messages: [] });
  const d = await embed({ model, value: "x" });
  const e = await embedMany({ model, values: ["x"] });
  const f = await streamUI({ model, prompt: "x" });
  const g = await db.messages.create({ text: "not anthropic" });
}
"#;
        let f = analyze("route.ts", src);
        assert_eq!(
            kinds(&f),
            [
                (
                    CallSiteKind::OpenaiChatCompletion,
                    8,
                    "openai.chat.completions.create"
                ),
                (CallSiteKind::OpenaiResponse, 9, "openai.responses.create"),
                (CallSiteKind::AnthropicMessage, 10, "claude.messages.create"),
                (CallSiteKind::Embed, 11, "embed"),
                (CallSiteKind::Embed, 12, "embedMany"),
                (CallSiteKind::StreamUi, 13, "streamUI"),
            ]
        );
        // openai-edge, and a client imported from the app's own module.
        let edge = "import { Configuration, OpenAIApi } from 'openai-edge'\nconst openai = new OpenAIApi(new Configuration())\nexport const run = () => openai.createChatCompletion({ model: 'x', messages: [] })\n";
        assert_eq!(
            kinds(&analyze("a.ts", edge)),
            [(CallSiteKind::OpenaiLegacy, 3, "openai.createChatCompletion")]
        );
        let raw = "const base = process.env.BASE ?? 'https://api.openai.com'\nexport const run = () => fetch(`${base}/v1/chat/completions`, { method: 'POST' })\nexport const other = () => fetch('/api/health')\n";
        assert!(worth_parsing(raw));
        assert_eq!(
            kinds(&analyze("a.ts", raw)),
            [(CallSiteKind::LlmHttpFetch, 2, "fetch")]
        );
        let local = "import { openai } from '@/lib/openai'\nexport const run = () => openai.chat.completions.create({ model: 'x', messages: [] })\n";
        assert!(worth_parsing(local));
        assert_eq!(
            kinds(&analyze("a.ts", local)),
            [(
                CallSiteKind::OpenaiChatCompletion,
                2,
                "openai.chat.completions.create"
            )]
        );
    }

    #[test]
    fn clients_in_class_fields_on_the_context_and_assistants_runs() {
        let src = r#"import OpenAI from "openai";
class Questions {
  private client: OpenAI;
  private spare = new OpenAI();
  constructor() { this.client = new OpenAI({ apiKey: "x" }); }
  ask() { return this.client.chat.completions.create({ model: "m", messages: [] }); }
  other() { return this.spare.chat.completions.create({ model: "m", messages: [] }); }
  notAClient() { return this.cache.chat.completions.create({ model: "m" }); }
}
"#;
        assert_eq!(
            kinds(&analyze("q.ts", src)),
            [
                (
                    CallSiteKind::OpenaiChatCompletion,
                    6,
                    "this.client.chat.completions.create"
                ),
                (
                    CallSiteKind::OpenaiChatCompletion,
                    7,
                    "this.spare.chat.completions.create"
                ),
            ]
        );
        // Nuxt: the client handed over on `event.context`, no import of the SDK in this file.
        let ctx = "export default defineEventHandler(async (event) => {\n  await event.context.openai.beta.threads.messages.create(t, m)\n  return event.context.openai.beta.threads.runs.create(t, { assistant_id: a })\n})\n";
        assert!(worth_parsing(ctx));
        assert_eq!(
            kinds(&analyze("run.get.ts", ctx)),
            [(
                CallSiteKind::OpenaiAssistantRun,
                3,
                "event.context.openai.beta.threads.runs.create"
            )]
        );
        // openai v3 DALL-E: image generation (an image meter counts it).
        let v3 = "const { Configuration, OpenAIApi } = require('openai')\nconst openai = new OpenAIApi(new Configuration({}))\nrouter.post('/', async (req, res) => res.send(await openai.createImage({ prompt: 'x' })))\n";
        assert!(kinds(&analyze("w.js", v3)).contains(&(
            CallSiteKind::OpenaiImage,
            3,
            "openai.createImage"
        )));
    }

    #[test]
    fn fetch_urls_resolve_the_files_constants() {
        // openai-realtime-console `client/components/App.jsx`: the URL is a const, the fetch
        // a template naming it.
        let realtime = "const baseUrl = \"https://api.openai.com/v1/realtime\";\nconst model = \"gpt-4o\";\nconst r = await fetch(`${baseUrl}?model=${model}`, { method: \"POST\" });\nconst other = await fetch(`${model}/v2/thing`);\n";
        assert!(worth_parsing(realtime));
        assert_eq!(
            kinds(&analyze("App.jsx", realtime)),
            [(CallSiteKind::LlmHttpFetch, 3, "fetch")]
        );
        // anse-app/chatgpt-demo: the base is a literal inside `(env || '...').trim()` and
        // `fetch` comes from undici; a bare identifier URL resolves the same way.
        let astro = "import { fetch } from 'undici'\nconst baseUrl = ((import.meta.env.BASE) || 'https://api.openai.com').trim()\nconst url = `${baseUrl}/v1/embeddings`\nexport const a = () => fetch(url, {})\nexport const b = () => fetch(elsewhere, {})\n";
        assert_eq!(
            kinds(&analyze("generate.ts", astro)),
            [(CallSiteKind::LlmHttpFetch, 4, "fetch")]
        );
    }

    #[test]
    fn browser_code_is_told_from_server_code() {
        let hooks = "import { useState } from \"react\";\nexport default function App() { const [a] = useState(0); }\n";
        assert!(runs_in_browser("src/App.jsx", hooks));
        assert!(runs_in_browser("client/main.js", "fetch('x')"));
        assert!(runs_in_browser(
            "lib/chat.ts",
            "'use client'\nexport const x = 1\n"
        ));
        assert!(!runs_in_browser("server.js", "fetch('x')"));
        assert!(!runs_in_browser("src/pages/api/generate.ts", "fetch('x')"));
        assert!(!runs_in_browser("app/routes/chat.tsx", hooks));
        assert!(!runs_in_browser("src/App.ts", hooks));
        let app = "import { useState } from \"react\";\nconst baseUrl = \"https://api.openai.com/v1/realtime\";\nexport default function App() {\n  useState(0);\n  fetch(`${baseUrl}?m=1`);\n}\n";
        assert_eq!(
            raw_fetch_notes("client/App.jsx", app, 5),
            [BROWSER_FETCH, REALTIME_FETCH]
        );
        // A line moved by a planned edit still finds its call.
        assert_eq!(
            raw_fetch_notes("client/App.jsx", app, 3),
            [BROWSER_FETCH, REALTIME_FETCH]
        );
        assert!(raw_fetch_notes("client/App.jsx", app, 40).is_empty());
        let server = "export const t = () => fetch('https://api.openai.com/v1/chat/completions')\n";
        assert!(raw_fetch_notes("server.js", server, 1).is_empty());
    }

    #[test]
    fn garbage_does_not_panic() {
        let f = analyze("x.tsx", "import { from 'ai' ;;; generateText(((<div>");
        assert!(f.calls.is_empty());
    }
}
