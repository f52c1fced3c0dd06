//! Python: imports, app constructions (`FastAPI()`, `Flask(__name__)`, `Agent(...)`),
//! PydanticAI runs, boto3 uploads and route decorators.

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
    "put_object",
    "upload_file",
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
    pub call: CallSite,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    pub calls: Vec<CallSite>,
    /// Agent runs to keep if `receiver` is a known agent (see [`Findings::agents`]).
    pub agent_calls: Vec<AgentCall>,
    /// Names bound to `Agent(...)` in this file.
    pub agents: Vec<String>,
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
    let imports_boto3 = out
        .imports
        .iter()
        .any(|m| matches!(root_module(m).as_str(), "boto3" | "aioboto3" | "botocore"));

    let mut calls = Vec::new();
    let mut agent_calls = Vec::new();
    let mut agents = Vec::new();
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
        match attr {
            "run" | "run_sync" | "run_stream" => {
                let kind = match attr {
                    "run" => CallSiteKind::AgentRun,
                    "run_sync" => CallSiteKind::AgentRunSync,
                    _ => CallSiteKind::AgentRunStream,
                };
                agent_calls.push(AgentCall {
                    receiver: receiver.to_owned(),
                    call: site(kind),
                });
            }
            "put_object" | "upload_file" | "upload_fileobj"
                if imports_boto3 || receiver.to_ascii_lowercase().contains("s3") =>
            {
                let kind = if attr == "put_object" {
                    CallSiteKind::Boto3PutObject
                } else {
                    CallSiteKind::Boto3UploadFile
                };
                calls.push(site(kind));
            }
            _ => {}
        }
    });
    // Runs on agents defined in this file are certain; others are resolved package-wide.
    let (local, foreign): (Vec<_>, Vec<_>) = agent_calls
        .into_iter()
        .partition(|c| agents.contains(&c.receiver));
    calls.extend(local.into_iter().map(|c| c.call));
    calls.sort_by_key(|c| (c.line, c.column));
    out.calls = calls;
    out.agent_calls = foreign;
    out.agents = agents;
    out.constructions = constructions;
    out.routes = routes;
    out
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
                (CallSiteKind::AgentRunStream, 14, "agent.run_stream"),
                (CallSiteKind::Boto3PutObject, 16, "s3.put_object"),
                (CallSiteKind::Boto3UploadFile, 17, "s3.upload_file"),
            ]
        );
        assert_eq!(f.agent_calls.len(), 1);
        assert_eq!(f.agent_calls[0].receiver, "support_agent");
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
}
