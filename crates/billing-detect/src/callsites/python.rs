//! Python: imports, app constructions (`FastAPI()`, `Flask(__name__)`, `Agent(...)`),
//! PydanticAI runs, `openai` / `anthropic` SDK calls, boto3 uploads and route decorators.

use std::collections::HashMap;

use tree_sitter::{Node, Parser};

use super::{Construction, text, visit};
use crate::profile::{CallSite, CallSiteKind};
use crate::text::LineIndex;

const NEEDLES: &[&str] = &[
    "pydantic_ai",
    "boto3",
    "fastapi",
    "flask",
    "Agent(",
    ".run(",
    ".run_sync(",
    ".run_stream(",
    ".iter(",
    "openai",
    "anthropic",
    ".create(",
    ".stream(",
    "put_object",
    "upload_file",
    "multipart",
    "presigned",
    "@app.",
    "@router.",
    ".route(",
];

pub fn worth_parsing(src: &str) -> bool {
    NEEDLES.iter().any(|n| src.contains(n))
}

/// `receiver.run*(...)` calls whose receiver may be an agent defined in another module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCall {
    pub receiver: String,
    /// The function the receiver was assigned from in this file (`agent = get_agent()`,
    /// `agent = Service.get_agent()`: "get_agent"), an agent if that function is a factory.
    pub assigned_from: Option<String>,
    pub call: CallSite,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    pub calls: Vec<CallSite>,
    /// Agent runs to keep if `receiver` is a known agent (see [`Findings::agents`]).
    pub agent_calls: Vec<AgentCall>,
    /// Names bound to `Agent(...)` in this file.
    pub agents: Vec<String>,
    /// Functions of this file that return an agent (`def get_agent() -> Agent[...]`, or whose
    /// body returns `Agent(...)`): agent factories, for calls in other modules.
    pub factories: Vec<String>,
    pub constructions: Vec<Construction>,
    /// Route decorators (`@app.get("/x")`): line and decorator callee.
    pub routes: Vec<(u32, String)>,
    pub imports: Vec<String>,
}

pub fn analyze(src: &str) -> Findings {
    let mut parser = Parser::new();
    if parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .is_err()
    {
        return Findings::default();
    }
    let Some(tree) = parser.parse(src, None) else {
        return Findings::default();
    };
    let index = LineIndex::new(src);
    let root = tree.root_node();
    let mut out = Findings::default();

    // local name → (module, imported name or "*" for a module binding)
    let mut bindings: HashMap<String, (String, String)> = HashMap::new();
    visit(root, |node| match node.kind() {
        "import_statement" => {
            for i in 0..node.named_child_count() {
                let Some(n) = node.named_child(i as u32) else {
                    continue;
                };
                let (module, local) = match n.kind() {
                    "dotted_name" => (text(n, src), text(n, src)),
                    "aliased_import" => {
                        let (Some(name), Some(alias)) = (
                            n.child_by_field_name("name"),
                            n.child_by_field_name("alias"),
                        ) else {
                            continue;
                        };
                        (text(name, src), text(alias, src))
                    }
                    _ => continue,
                };
                out.imports.push(module.to_owned());
                bindings.insert(local.to_owned(), (module.to_owned(), "*".to_owned()));
            }
        }
        "import_from_statement" => {
            let Some(module) = node.child_by_field_name("module_name") else {
                return;
            };
            let module = text(module, src).to_owned();
            out.imports.push(module.clone());
            let mut cursor = node.walk();
            for n in node.children_by_field_name("name", &mut cursor) {
                match n.kind() {
                    "dotted_name" => {
                        let name = text(n, src).to_owned();
                        bindings.insert(name.clone(), (module.clone(), name));
                    }
                    "aliased_import" => {
                        if let (Some(name), Some(alias)) = (
                            n.child_by_field_name("name"),
                            n.child_by_field_name("alias"),
                        ) {
                            bindings.insert(
                                text(alias, src).to_owned(),
                                (module.clone(), text(name, src).to_owned()),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    });

    let resolve = |callee: Node<'_>| -> Option<(String, String)> {
        match callee.kind() {
            "identifier" => bindings.get(text(callee, src)).cloned(),
            "attribute" => {
                let object = callee.child_by_field_name("object")?;
                let attr = callee.child_by_field_name("attribute")?;
                let (module, imported) = bindings.get(text(object, src))?;
                (imported == "*").then(|| (module.clone(), text(attr, src).to_owned()))
            }
            _ => None,
        }
    };
    let root_module = |m: &str| m.split('.').next().unwrap_or(m).to_owned();
    let imports_root = |roots: &[&str]| {
        out.imports
            .iter()
            .any(|m| roots.contains(&root_module(m).as_str()))
    };
    let imports_boto3 = imports_root(&["boto3", "aioboto3", "botocore"]);
    let imports_pydantic_ai = imports_root(&["pydantic_ai"]);
    let imports_openai = imports_root(&["openai"]);
    let imports_anthropic = imports_root(&["anthropic"]);
    // Local names of PydanticAI's `Agent` class (`Agent`, `PAgent`, `pydantic_ai.Agent`).
    let mut agent_types: Vec<String> = bindings
        .iter()
        .filter(|(_, (m, imported))| root_module(m) == "pydantic_ai" && imported == "Agent")
        .map(|(local, _)| local.clone())
        .collect();
    agent_types.extend(
        bindings
            .iter()
            .filter(|(_, (m, imported))| m == "pydantic_ai" && imported == "*")
            .map(|(local, _)| format!("{local}.Agent")),
    );
    let is_agent_type = |annotation: &str| {
        annotation
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .any(|word| agent_types.iter().any(|t| t == word))
    };
    let constructs_agent = |call: Node<'_>| {
        call.kind() == "call"
            && call
                .child_by_field_name("function")
                .and_then(&resolve)
                .is_some_and(|(m, imported)| {
                    root_module(&m) == "pydantic_ai" && imported == "Agent"
                })
    };

    // Names known to hold an agent in this file, and the functions that return one.
    let mut agents = Vec::new();
    let mut typed_agents: Vec<String> = Vec::new();
    let mut factories: Vec<String> = Vec::new();
    // `x = f(...)` / `x = await obj.f(...)`: x → "f".
    let mut assigned_from: HashMap<String, String> = HashMap::new();
    visit(root, |node| match node.kind() {
        "typed_parameter" | "typed_default_parameter" => {
            let name = node.child_by_field_name("name").or_else(|| {
                (0..node.named_child_count())
                    .filter_map(|i| node.named_child(i as u32))
                    .find(|c| c.kind() == "identifier")
            });
            if let (Some(name), Some(ty)) = (name, node.child_by_field_name("type"))
                && is_agent_type(text(ty, src))
            {
                typed_agents.push(text(name, src).to_owned());
            }
        }
        "assignment" => {
            let Some(left) = node.child_by_field_name("left") else {
                return;
            };
            let left_text = text(left, src).to_owned();
            if node
                .child_by_field_name("type")
                .is_some_and(|ty| is_agent_type(text(ty, src)))
            {
                typed_agents.push(left_text.clone());
            }
            let Some(right) = node.child_by_field_name("right") else {
                return;
            };
            let call = unwrap_await(right);
            if constructs_agent(call) {
                typed_agents.push(left_text.clone());
            } else if let Some(name) = call_name(call, src) {
                assigned_from.insert(left_text, name);
            }
        }
        "function_definition" => {
            let Some(name) = node.child_by_field_name("name") else {
                return;
            };
            let returns_type = node
                .child_by_field_name("return_type")
                .is_some_and(|ty| is_agent_type(text(ty, src)));
            let returns_new = node.child_by_field_name("body").is_some_and(|body| {
                let mut found = false;
                visit(body, |n| {
                    if n.kind() == "return_statement"
                        && n.named_child(0)
                            .is_some_and(|v| constructs_agent(unwrap_await(v)))
                    {
                        found = true;
                    }
                });
                found
            });
            if returns_type || returns_new {
                factories.push(text(name, src).to_owned());
            }
        }
        _ => {}
    });

    let mut calls = Vec::new();
    let mut agent_calls = Vec::new();
    let mut constructions = Vec::new();
    let mut routes = Vec::new();
    visit(root, |node| {
        if node.kind() == "decorator" {
            if let Some(route) = route_decorator(node, src) {
                routes.push((index.line(node.start_byte()), route));
            }
            return;
        }
        if node.kind() != "call" {
            return;
        }
        let Some(callee) = node.child_by_field_name("function") else {
            return;
        };
        let (line, column) = index.line_col(src, callee.start_byte());
        let callee_text = text(callee, src).to_owned();
        if let Some((module, imported)) = resolve(callee) {
            let base = root_module(&module);
            let constructs = matches!(
                (base.as_str(), imported.as_str()),
                ("fastapi", "FastAPI") | ("flask", "Flask") | ("pydantic_ai", "Agent")
            );
            if constructs {
                let variable = assigned_name(node, src);
                if base == "pydantic_ai"
                    && let Some(v) = &variable
                {
                    agents.push(v.clone());
                }
                constructions.push(Construction {
                    module: base,
                    imported,
                    line,
                    variable,
                    in_fallback: false,
                });
                return;
            }
        }
        if callee.kind() != "attribute" {
            return;
        }
        let (Some(object), Some(attr)) = (
            callee.child_by_field_name("object"),
            callee.child_by_field_name("attribute"),
        ) else {
            return;
        };
        let attr = text(attr, src);
        let receiver = text(object, src);
        let site = |kind| CallSite {
            kind,
            file: String::new(),
            line,
            column,
            callee: callee_text.clone(),
        };
        if let Some(kind) = vendor_kind(callee, src, imports_openai, imports_anthropic) {
            calls.push(site(kind));
            return;
        }
        match attr {
            "run" | "run_sync" | "run_stream" | "iter" => {
                let kind = match attr {
                    "run" => CallSiteKind::AgentRun,
                    "run_sync" => CallSiteKind::AgentRunSync,
                    "iter" => CallSiteKind::AgentIter,
                    _ => CallSiteKind::AgentRunStream,
                };
                // `get_agent().run(..)` / `(await Service.get_agent()).run(..)`.
                let inner = unwrap_await(unwrap_parens(object));
                let from = call_name(inner, src).or_else(|| assigned_from.get(receiver).cloned());
                // An agent-typed name, or (where PydanticAI is imported) a receiver named
                // like one: `self._agent`, `chat_agent` handed in by dependency injection.
                let named_like_agent = receiver
                    .rsplit('.')
                    .next()
                    .is_some_and(|last| last.to_ascii_lowercase().contains("agent"))
                    && inner.kind() != "call";
                let certain = imports_pydantic_ai
                    && (typed_agents.iter().any(|a| a == receiver)
                        || named_like_agent
                        || from.as_ref().is_some_and(|f| factories.contains(f)));
                let call = AgentCall {
                    receiver: receiver.to_owned(),
                    assigned_from: from,
                    call: site(kind),
                };
                if certain {
                    calls.push(call.call);
                } else {
                    agent_calls.push(call);
                }
            }
            "put_object"
            | "upload_file"
            | "upload_fileobj"
            | "complete_multipart_upload"
            | "generate_presigned_post"
            | "generate_presigned_url"
                if imports_boto3
                    || receiver.to_ascii_lowercase().contains("s3")
                    || has_keyword(node, "Bucket", src)
                    || attr.starts_with("generate_presigned_") =>
            {
                let kind = match attr {
                    "put_object" => CallSiteKind::Boto3PutObject,
                    "complete_multipart_upload" => CallSiteKind::Boto3Multipart,
                    "generate_presigned_post" => CallSiteKind::Boto3Presigned,
                    "generate_presigned_url" if presigns_upload(node, src) => {
                        CallSiteKind::Boto3Presigned
                    }
                    "generate_presigned_url" => return,
                    _ => CallSiteKind::Boto3UploadFile,
                };
                calls.push(site(kind));
            }
            _ => {}
        }
    });
    // Runs on agents defined in this file are certain; others are resolved package-wide.
    let (local, foreign): (Vec<_>, Vec<_>) = agent_calls.into_iter().partition(|c| {
        agents.contains(&c.receiver)
            || c.assigned_from
                .as_ref()
                .is_some_and(|f| factories.contains(f))
    });
    calls.extend(local.into_iter().map(|c| c.call));
    calls.sort_by_key(|c| (c.line, c.column));
    out.calls = calls;
    out.agent_calls = foreign;
    out.agents = agents;
    out.factories = factories;
    out.constructions = constructions;
    out.routes = routes;
    out
}

fn unwrap_await(node: Node<'_>) -> Node<'_> {
    if node.kind() == "await"
        && let Some(inner) = node.named_child(0)
    {
        return unwrap_parens(inner);
    }
    node
}

fn unwrap_parens(node: Node<'_>) -> Node<'_> {
    let mut node = node;
    while node.kind() == "parenthesized_expression" {
        match node.named_child(0) {
            Some(inner) => node = inner,
            None => break,
        }
    }
    node
}

/// `f(..)` / `obj.f(..)` → "f".
fn call_name(call: Node<'_>, src: &str) -> Option<String> {
    if call.kind() != "call" {
        return None;
    }
    let callee = call.child_by_field_name("function")?;
    let name = match callee.kind() {
        "identifier" => callee,
        "attribute" => callee.child_by_field_name("attribute")?,
        _ => return None,
    };
    Some(text(name, src).to_owned())
}

fn keyword_value<'t>(call: Node<'t>, name: &str, src: &str) -> Option<Node<'t>> {
    let args = call.child_by_field_name("arguments")?;
    (0..args.named_child_count())
        .filter_map(|i| args.named_child(i as u32))
        .find(|a| {
            a.kind() == "keyword_argument"
                && a.child_by_field_name("name")
                    .is_some_and(|n| text(n, src) == name)
        })
        .and_then(|a| a.child_by_field_name("value"))
}

fn has_keyword(call: Node<'_>, name: &str, src: &str) -> bool {
    keyword_value(call, name, src).is_some()
}

/// `generate_presigned_url("put_object", ..)` / `ClientMethod="upload_part"`: a URL the client
/// uploads to (a `get_object` URL is a download).
fn presigns_upload(call: Node<'_>, src: &str) -> bool {
    let method = keyword_value(call, "ClientMethod", src).or_else(|| {
        let args = call.child_by_field_name("arguments")?;
        args.named_child(0).filter(|a| a.kind() == "string")
    });
    method
        .and_then(|m| super::string_value(m, src))
        .is_some_and(|m| matches!(m.as_str(), "put_object" | "upload_part"))
}

/// The attribute names of a callee, outermost last: `self.client.chat.completions.create` →
/// ["client", "chat", "completions", "create"] (the base object's own text first).
fn attr_chain<'s>(callee: Node<'_>, src: &'s str) -> Vec<&'s str> {
    let mut chain = Vec::new();
    let mut node = callee;
    while node.kind() == "attribute" {
        if let Some(attr) = node.child_by_field_name("attribute") {
            chain.push(text(attr, src));
        }
        match node.child_by_field_name("object") {
            Some(object) => node = object,
            None => break,
        }
    }
    chain.push(text(node, src));
    chain.reverse();
    chain
}

/// `openai` / `anthropic` SDK calls by their resource path. The shapes shared with other
/// libraries count in files that import the SDK that has them (`x.responses.create`,
/// `x.embeddings.create`, `x.images.generate`: openai; `x.messages.create`: anthropic, since
/// openai v1 has no top-level `messages`, and a Django related manager has:
/// `chat.messages.create(content=...)` beside `from openai import OpenAI` in django-chatgpt is
/// a database row) or on a receiver named like a model client.
fn vendor_kind(
    callee: Node<'_>,
    src: &str,
    imports_openai: bool,
    imports_anthropic: bool,
) -> Option<CallSiteKind> {
    let imports_sdk = imports_openai || imports_anthropic;
    use CallSiteKind as K;
    // `client.messages.with_raw_response.create(..)`: the same call, its HTTP response around it.
    let chain: Vec<&str> = attr_chain(callee, src)
        .into_iter()
        .filter(|part| !matches!(*part, "with_raw_response" | "with_streaming_response"))
        .collect();
    let n = chain.len();
    if n < 3 {
        return None;
    }
    let (method, resource, parent) = (chain[n - 1], chain[n - 2], chain[n - 3]);
    let named_like_client = chain[..n - 2].iter().any(|part| {
        let p = part.to_ascii_lowercase();
        ["client", "openai", "anthropic", "claude", "llm", "gpt"]
            .iter()
            .any(|w| p.contains(w))
    });
    let client_like = imports_openai || named_like_client;
    let anthropic_like = imports_anthropic || named_like_client;
    match (parent, resource, method) {
        // Adding a message to an Assistants thread costs nothing; the run does.
        ("threads", "messages", _) => None,
        ("threads", "runs", "create" | "create_and_poll" | "stream" | "create_and_stream")
        | (_, "threads", "create_and_run" | "create_and_run_poll" | "create_and_run_stream") => {
            Some(K::OpenaiAssistantRun)
        }
        ("chat", "completions", "create" | "parse" | "stream") => Some(K::OpenaiChatCompletion),
        (_, "ChatCompletion" | "Completion" | "Embedding", "create" | "acreate")
            if imports_sdk || chain[0] == "openai" =>
        {
            Some(K::OpenaiLegacy)
        }
        (_, "responses", "create" | "parse" | "stream") if client_like => Some(K::OpenaiResponse),
        (_, "embeddings", "create") if client_like => Some(K::OpenaiEmbedding),
        (_, "messages", "create" | "stream") if anthropic_like => Some(K::AnthropicMessage),
        (_, "images", "generate") if client_like => Some(K::OpenaiImage),
        _ => None,
    }
}

/// `app = FastAPI()` / `app: Flask = Flask(__name__)` → "app".
fn assigned_name(call: Node<'_>, src: &str) -> Option<String> {
    let parent = call.parent()?;
    if parent.kind() != "assignment" {
        return None;
    }
    let left = parent.child_by_field_name("left")?;
    (left.kind() == "identifier").then(|| text(left, src).to_owned())
}

const ROUTE_DECORATORS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "route",
    "api_route",
    "websocket",
];

fn route_decorator(decorator: Node<'_>, src: &str) -> Option<String> {
    let call = decorator.named_child(0)?;
    if call.kind() != "call" {
        return None;
    }
    let callee = call.child_by_field_name("function")?;
    if callee.kind() != "attribute" {
        return None;
    }
    let attr = text(callee.child_by_field_name("attribute")?, src);
    ROUTE_DECORATORS
        .contains(&attr)
        .then(|| text(callee, src).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastapi_pydantic_ai_and_boto3() {
        let src = r#"import boto3
from fastapi import FastAPI
from pydantic_ai import Agent as PAgent
from .agents import support_agent

app = FastAPI(title="x")
agent = PAgent("openai:gpt-4o")
s3 = boto3.client("s3")

@app.post("/chat")
async def chat(q: str):
    r = await agent.run(q)
    s = support_agent.run_sync(q)
    async with agent.run_stream(q) as stream:
        pass
    s3.put_object(Bucket="b", Key="k", Body=b"")
    s3.upload_file("a", "b", "c")
    return r
"#;
        let f = analyze(src);
        let calls: Vec<_> = f
            .calls
            .iter()
            .map(|c| (c.kind, c.line, c.callee.as_str()))
            .collect();
        assert_eq!(
            calls,
            [
                (CallSiteKind::AgentRun, 12, "agent.run"),
                // Named like an agent in a file that imports PydanticAI.
                (CallSiteKind::AgentRunSync, 13, "support_agent.run_sync"),
                (CallSiteKind::AgentRunStream, 14, "agent.run_stream"),
                (CallSiteKind::Boto3PutObject, 16, "s3.put_object"),
                (CallSiteKind::Boto3UploadFile, 17, "s3.upload_file"),
            ]
        );
        assert!(f.agent_calls.is_empty(), "{:?}", f.agent_calls);
        assert_eq!(f.agents, ["agent"]);
        let c: Vec<_> = f
            .constructions
            .iter()
            .map(|c| (c.module.as_str(), c.line, c.variable.as_deref()))
            .collect();
        assert_eq!(
            c,
            [
                ("fastapi", 6, Some("app")),
                ("pydantic_ai", 7, Some("agent"))
            ]
        );
        assert_eq!(f.routes, [(10, "app.post".to_owned())]);
    }

    #[test]
    fn flask_module_import() {
        let f =
            analyze("import flask\napp = flask.Flask(__name__)\n@app.route('/')\ndef i(): pass\n");
        assert_eq!(f.constructions.len(), 1);
        assert_eq!(f.constructions[0].module, "flask");
        assert_eq!(f.routes.len(), 1);
    }

    fn kinds(src: &str) -> Vec<(CallSiteKind, u32, String)> {
        analyze(src)
            .calls
            .into_iter()
            .map(|c| (c.kind, c.line, c.callee))
            .collect()
    }

    #[test]
    fn openai_and_anthropic_sdk_calls() {
        let src = r#"import openai
from anthropic import AsyncAnthropic
client = openai.OpenAI()
claude = AsyncAnthropic()
a = client.chat.completions.create(model="m", messages=[])
b = await aclient.responses.create(model="m", input="x")
c = client.embeddings.create(model="m", input="x")
d = await claude.messages.create(model="m", max_tokens=5, messages=[])
async with claude.messages.stream(model="m", max_tokens=5, messages=[]) as s:
    pass
e = openai.ChatCompletion.create(model="m", messages=[])
raw = claude.beta.messages.with_raw_response.create(model="m", max_tokens=5, messages=[])
client.beta.threads.messages.create(t, role="user", content="x")
run = client.beta.threads.runs.create(thread_id=t, assistant_id=a)
"#;
        use CallSiteKind as K;
        let got: Vec<_> = kinds(src).into_iter().map(|(k, l, _)| (k, l)).collect();
        assert_eq!(
            got,
            [
                (K::OpenaiChatCompletion, 5),
                (K::OpenaiResponse, 6),
                (K::OpenaiEmbedding, 7),
                (K::AnthropicMessage, 8),
                (K::AnthropicMessage, 9),
                (K::OpenaiLegacy, 11),
                (K::AnthropicMessage, 12),
                (K::OpenaiAssistantRun, 14),
            ]
        );
        // A Django related manager beside the openai SDK (django-chatgpt's chat/services.py)
        // is not Anthropic's `messages.create`; a client-named receiver still is.
        let django = "from openai import OpenAI\n\ndef save(chat):\n    chat.messages.create(content=\"x\", role=\"system\")\n    return llm_client.messages.create(model=\"m\", max_tokens=5, messages=[])\n";
        let got: Vec<_> = kinds(django).into_iter().map(|(k, l, _)| (k, l)).collect();
        assert_eq!(got, [(K::AnthropicMessage, 5)]);
        // Without an SDK import, only the unmistakable shape or a client-like receiver counts.
        let plain = "x = self.chat.completions.create()\ny = inbox.messages.create()\nz = self.llm_client.messages.create()\n";
        let got: Vec<_> = kinds(plain).into_iter().map(|(k, l, _)| (k, l)).collect();
        assert_eq!(
            got,
            [(K::OpenaiChatCompletion, 1), (K::AnthropicMessage, 3)]
        );
    }

    #[test]
    fn agents_from_factories_attributes_and_injection() {
        let src = r#"from pydantic_ai import Agent

def build_agent() -> Agent[None, str]:
    return Agent("test")

def make():
    return Agent("test")

class Service:
    def __init__(self):
        self._agent = Agent("test")
        self.bot: Agent = make()

    async def a(self, q):
        return await self._agent.run(q)

    async def b(self, q):
        r = await self.bot.run(q)

async def stream(chat: Agent[Deps, str], q):
    async with chat.iter(q) as run:
        pass

async def f(q, workflow):
    bot = build_agent()
    r = await bot.run(q)
    other = make()
    other.run_sync(q)
    await workflow.run(q)
    x = await Service.get_agent().run(q)
"#;
        let f = analyze(src);
        use CallSiteKind as K;
        let got: Vec<_> = f.calls.iter().map(|c| (c.kind, c.line)).collect();
        assert_eq!(
            got,
            [
                (K::AgentRun, 15),
                (K::AgentRun, 18),
                (K::AgentIter, 21),
                (K::AgentRun, 26),
                (K::AgentRunSync, 28),
            ]
        );
        assert_eq!(f.factories, ["build_agent", "make"]);
        // `workflow.run` and a factory of another module wait for package-wide resolution.
        let pending: Vec<_> = f
            .agent_calls
            .iter()
            .map(|c| (c.receiver.as_str(), c.assigned_from.as_deref()))
            .collect();
        assert_eq!(
            pending,
            [
                ("workflow", None),
                ("Service.get_agent()", Some("get_agent"))
            ]
        );
    }

    #[test]
    fn boto3_multipart_presigned_and_factory_clients() {
        let src = r#"from app.storage import get_client
def up(data):
    client = get_client()
    client.put_object(Bucket="b", Key="k", Body=data)
    client.complete_multipart_upload(Bucket="b", Key="k", UploadId=u, MultipartUpload=p)
    client.generate_presigned_post(Bucket="b", Key="k")
    client.generate_presigned_url("put_object", Params={"Bucket": "b"})
    client.generate_presigned_url("get_object", Params={"Bucket": "b"})
    queue.put_object(x)
"#;
        use CallSiteKind as K;
        let got: Vec<_> = kinds(src).into_iter().map(|(k, l, _)| (k, l)).collect();
        assert_eq!(
            got,
            [
                (K::Boto3PutObject, 4),
                (K::Boto3Multipart, 5),
                (K::Boto3Presigned, 6),
                (K::Boto3Presigned, 7),
            ]
        );
    }
}
