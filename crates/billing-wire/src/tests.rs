//! Edge cases of one file at a time (the fixture projects and the toolchain checks live in the
//! `spaire-billing` integration tests, `tests/it/wire.rs`).

use std::path::Path;

use billing_detect::profile::{CallSite, CallSiteKind, Package};
use billing_plan::model::{BillingPlan, CustomerSource};
use serde_json::json;

use crate::outcome::SiteResult;
use crate::{TsUsageModule, UsageImports, wire_source};

use CallSiteKind as K;

fn package(language: &str, frameworks: &[&str]) -> Package {
    let frameworks: Vec<_> = frameworks
        .iter()
        .map(|id| json!({"id": id, "confidence": "high", "evidence": []}))
        .collect();
    serde_json::from_value(json!({
        "path": ".", "language": language, "frameworks": frameworks, "aliases": [],
        "integrations": [], "call_sites": [], "env_vars": [],
    }))
    .expect("package")
}

fn plan(customer: &CustomerSource) -> BillingPlan {
    serde_json::from_value(json!({
        "environment": "local",
        "project": {"path": "."},
        "customer": customer,
        "meters": [{"name": "t", "event": "llm-usage", "kind": "llm-tokens",
                    "aggregation": {"func": "sum", "property": "totalTokens"}}],
        "prices": [], "credits": [],
    }))
    .expect("plan")
}

fn header() -> CustomerSource {
    CustomerSource::Header {
        header: "x-customer-id".to_owned(),
    }
}

/// Every occurrence of `callee(` in `source`, as detect would report it.
fn sites(file: &str, source: &str, wanted: &[(CallSiteKind, &str)]) -> Vec<CallSite> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate() {
        for (kind, callee) in wanted {
            if let Some(col) = line.find(&format!("{callee}(")) {
                out.push(CallSite {
                    kind: *kind,
                    file: file.to_owned(),
                    line: u32::try_from(n + 1).expect("small"),
                    column: u32::try_from(col + 1).expect("small"),
                    callee: (*callee).to_owned(),
                });
            }
        }
    }
    out
}

struct Outcome {
    after: Option<String>,
    manual: Vec<String>,
    /// The manual steps' snippets, in the same order (empty string for none).
    snippets: Vec<String>,
    results: Vec<SiteResult>,
}

fn wire(
    file: &str,
    source: &str,
    wanted: &[(CallSiteKind, &str)],
    customer: CustomerSource,
    language: &str,
    frameworks: &[&str],
) -> Outcome {
    let found = sites(file, source, wanted);
    assert!(!found.is_empty(), "no sites in test source");
    let refs: Vec<&CallSite> = found.iter().collect();
    let imports = UsageImports {
        typescript: Some(TsUsageModule::Specifier("@/lib/usage".to_owned())),
        python: Some("app.usage".to_owned()),
        python_request_customer: frameworks
            .iter()
            .any(|f| matches!(*f, "fastapi" | "flask" | "django")),
        python_app_files: Vec::new(),
        ts_session_customer: false,
    };
    let result = wire_source(
        Path::new("/nonexistent"),
        file,
        source,
        &refs,
        &package(language, frameworks),
        &plan(&customer),
        &imports,
    )
    .expect("wiring");
    Outcome {
        after: result.after,
        snippets: result
            .manual
            .iter()
            .map(|m| m.snippet.clone().unwrap_or_default())
            .collect(),
        manual: result.manual.into_iter().map(|m| m.instructions).collect(),
        results: result.reports.into_iter().map(|r| r.result).collect(),
    }
}

fn ts(source: &str, wanted: &[(CallSiteKind, &str)], customer: CustomerSource) -> Outcome {
    wire("src/server.ts", source, wanted, customer, "typescript", &[])
}

fn py(source: &str, wanted: &[(CallSiteKind, &str)], customer: CustomerSource) -> Outcome {
    wire(
        "app/main.py",
        source,
        wanted,
        customer,
        "python",
        &["fastapi"],
    )
}

#[test]
fn merges_into_an_existing_import_of_the_usage_module() {
    let out = ts(
        r#"import { generateText } from "ai";
import { recordStorageUpload } from "@/lib/usage";

export async function POST(request: Request) {
  const r = await generateText({ model, prompt: "x" });
  return r.text;
}
"#,
        &[(K::GenerateText, "generateText")],
        header(),
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(r#"import { recordStorageUpload, recordLlmUsage } from "@/lib/usage";"#)
    );
    assert_eq!(after.matches("@/lib/usage").count(), 1);
}

#[test]
fn hono_context_gives_the_header() {
    let out = ts(
        r#"import { Hono } from "hono";
import { generateText } from "ai";

const app = new Hono();
app.post("/chat", async (c) => {
  const { text } = await generateText({ model, prompt: "x" });
  return c.text(text);
});
"#,
        &[(K::GenerateText, "generateText")],
        header(),
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(r#"recordLlmUsage(c.req.header("x-customer-id") ?? "", totalUsage);"#),
        "{after}"
    );
}

#[test]
fn untyped_request_without_a_known_framework_is_a_manual_step() {
    let out = ts(
        r#"import { generateText } from "ai";

export async function handle(req) {
  const r = await generateText({ model, prompt: "x" });
  return r.text;
}
"#,
        &[(K::GenerateText, "generateText")],
        header(),
    );
    assert!(out.after.is_none());
    assert!(
        out.manual[0].contains("cannot tell whether `req` is a Fetch `Request` or a Node request")
    );
}

#[test]
fn fastify_request_reads_node_headers_with_the_files_quotes() {
    let out = wire(
        "src/server.ts",
        r#"import Fastify from 'fastify'
import { streamText } from 'ai'

const app = Fastify()
app.post('/s', async (request, reply) => {
  const result = streamText({ model, prompt: 'x' })
  return result.toTextStreamResponse()
})
"#,
        &[(K::StreamText, "streamText")],
        header(),
        "typescript",
        &["fastify"],
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains("import { recordLlmUsage } from '@/lib/usage'\n"),
        "{after}"
    );
    assert!(
        after.contains(
            "onFinish: (event) => { try { recordLlmUsage(String(request.headers['x-customer-id'] ?? ''), event.totalUsage) } catch"
        ),
        "{after}"
    );
}

#[test]
fn session_customer_reuses_the_user_id_expression_of_the_function() {
    let source = r#"import { generateText } from "ai";

export async function POST(request: Request) {
  const session = await auth();
  if (!session?.user?.id) return new Response(null, { status: 401 });
  const r = await generateText({ model, prompt: "x" });
  return new Response(r.text);
}
"#;
    let out = ts(
        source,
        &[(K::GenerateText, "generateText")],
        CustomerSource::Session,
    );
    let after = out.after.expect("edited");
    assert!(after.contains(r#"recordLlmUsage(String(session?.user?.id ?? ""), r.totalUsage);"#));

    let without = source.replace(
        "  if (!session?.user?.id) return new Response(null, { status: 401 });\n",
        "",
    );
    let out = ts(
        &without,
        &[(K::GenerateText, "generateText")],
        CustomerSource::Session,
    );
    assert!(out.after.is_none());
    assert!(out.manual[0].contains("no signed-in user id"));
}

#[test]
fn a_local_function_named_like_the_ai_sdk_is_not_edited() {
    let out = ts(
        r#"async function generateText(input: { prompt: string }) { return { text: input.prompt }; }

export async function POST(request: Request) {
  const r = await generateText({ prompt: "x" });
  return new Response(r.text);
}
"#,
        &[(K::GenerateText, "generateText")],
        header(),
    );
    assert!(out.after.is_none());
    assert!(out.manual[0].contains("is not imported from the `ai` package"));
}

#[test]
fn taken_usage_names_get_a_numbered_local_not_a_shadowing_edit() {
    let out = ts(
        r#"import { generateText } from "ai";

export async function POST(request: Request) {
  const totalUsage = 1;
  const billedTotalUsage = 2;
  const { text } = await generateText({ model, prompt: "x" });
  return new Response(text + totalUsage + billedTotalUsage);
}
"#,
        &[(K::GenerateText, "generateText")],
        header(),
    );
    let after = out.after.expect("wired");
    assert!(
        after.contains("const { text, totalUsage: billedTotalUsage2 } = await generateText(")
            && after.contains("\"\", billedTotalUsage2);"),
        "{after}"
    );
}

#[test]
fn sites_in_one_function_each_destructure_their_own_usage() {
    let out = ts(
        r#"import { embed, generateText } from "ai";

export async function POST(request: Request) {
  const { text } = await generateText({ model, prompt: "x" });
  const { embedding } = await embed({ model, value: text });
  const { embedding: again } = await embed({ model, value: text + "!" });
  return Response.json({ embedding, again });
}
"#,
        &[(K::GenerateText, "generateText"), (K::Embed, "embed")],
        header(),
    );
    let after = out.after.expect("wired");
    assert!(
        after.contains("const { embedding, usage } = await embed("),
        "{after}"
    );
    assert!(
        after.contains("const { embedding: again, usage: billedUsage } = await embed("),
        "{after}"
    );
    assert!(after.contains("billedUsage.tokens"), "{after}");
}

#[test]
fn function_customer_in_a_sync_handler_is_a_manual_step_for_generate() {
    let out = ts(
        r#"import { generateText } from "ai";
import { getUserId } from "./auth";

export function POST(request: Request) {
  return generateText({ model, prompt: "x" }).then((r) => r.text);
}
"#,
        &[(K::GenerateText, "generateText")],
        CustomerSource::Function {
            function: "getUserId".to_owned(),
            module: "./auth".to_owned(),
        },
    );
    assert!(out.after.is_none());
    assert_eq!(out.results.len(), 1);
}

#[test]
fn missing_usage_module_and_unknown_files_are_manual_steps() {
    let src = "import { generateText } from \"ai\";\nconst r = await generateText({});\n";
    let found = sites("page.vue", src, &[(K::GenerateText, "generateText")]);
    let refs: Vec<&CallSite> = found.iter().collect();
    let result = wire_source(
        Path::new("/x"),
        "page.vue",
        src,
        &refs,
        &package("typescript", &[]),
        &plan(&header()),
        &UsageImports::default(),
    )
    .expect("wiring");
    assert!(result.after.is_none());
    assert!(
        result.manual[0]
            .instructions
            .contains("does not edit this kind of file")
    );

    let found = sites("a.ts", src, &[(K::GenerateText, "generateText")]);
    let refs: Vec<&CallSite> = found.iter().collect();
    let result = wire_source(
        Path::new("/x"),
        "a.ts",
        src,
        &refs,
        &package("typescript", &[]),
        &plan(&header()),
        &UsageImports::default(),
    )
    .expect("wiring");
    assert!(
        result.manual[0]
            .instructions
            .contains("no TypeScript usage module")
    );
}

#[test]
fn python_merges_into_an_existing_from_import_and_keeps_crlf() {
    let out = py(
        "from fastapi import Request\r\nfrom pydantic_ai import Agent\r\nfrom app.usage import record_llm_usage\r\n\r\nagent = Agent(\"test\")\r\n\r\n\r\nasync def chat(request: Request) -> str:\r\n    result = await agent.run(\"x\")\r\n    return result.output\r\n",
        &[(K::AgentRun, "agent.run")],
        header(),
    );
    let after = out.after.expect("edited");
    assert!(after.contains("from app.usage import record_llm_usage, record_agent_run\r\n"));
    assert!(after.contains(
        "    result = await agent.run(\"x\")\r\n    record_agent_run(request.headers.get(\"x-customer-id\", \"\"), result)\r\n"
    ));
}

#[test]
fn python_runs_inside_expressions_are_assigned_first_or_become_manual_steps() {
    let out = py(
        r#"from fastapi import Request
from pydantic_ai import Agent

agent = Agent("test")


async def chat(request: Request) -> str:
    return (await agent.run("x")).output


async def direct(request: Request) -> object:
    return await asyncio.wait_for(agent.run("y"), timeout=5)


async def fire(request: Request) -> None:
    await agent.run("z")


async def stream(request: Request) -> str:
    async with agent.run_stream("x") as response:
        return await response.get_output()


async def ordered(request: Request) -> str:
    return log(prepare()) + (await agent.run("w")).output
"#,
        &[
            (K::AgentRun, "agent.run"),
            (K::AgentRunStream, "agent.run_stream"),
        ],
        header(),
    );
    let after = out.after.expect("edited");
    let h = r#"request.headers.get("x-customer-id", "")"#;
    assert!(
        after.contains(&format!(
            "    result = await agent.run(\"x\")\n    record_agent_run({h}, result)\n    return result.output\n"
        )),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "    result = await asyncio.wait_for(agent.run(\"y\"), timeout=5)\n    record_agent_run({h}, result)\n    return result\n"
        )),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "    result = await agent.run(\"z\")\n    record_agent_run({h}, result)\n"
        )),
        "{after}"
    );
    assert_eq!(out.manual.len(), 2, "{:?}", out.manual);
    assert!(
        out.manual[0].contains("returns before the stream finished"),
        "{:?}",
        out.manual
    );
    assert!(
        out.manual[1].contains("`log(prepare())` runs before it"),
        "{:?}",
        out.manual
    );
}

#[test]
fn python_session_customer_reuses_the_session_read_or_is_a_manual_step() {
    let source = r#"from flask import request, session
from pydantic_ai import Agent

agent = Agent("test")


def chat() -> str:
    if "user_id" not in session:
        return "login first"
    result = agent.run_sync("x")
    return result.output
"#;
    let out = py(
        source,
        &[(K::AgentRunSync, "agent.run_sync")],
        CustomerSource::Session,
    );
    // No session read here: the request's customer, which the generated middleware names.
    let after = out.after.expect("edited");
    assert!(
        after.contains("    result = agent.run_sync(\"x\")\n    record_agent_run(current_customer_id(), result)\n"),
        "{after}"
    );
    assert!(
        after.contains("from app.usage import current_customer_id, record_agent_run\n"),
        "{after}"
    );

    let reads = source.replace(
        "    if \"user_id\" not in session:\n        return \"login first\"\n",
        "    user = session.get(\"user_id\")\n",
    );
    let out = py(
        &reads,
        &[(K::AgentRunSync, "agent.run_sync")],
        CustomerSource::Session,
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(r#"record_agent_run(str(session.get("user_id") or ""), result)"#),
        "{after}"
    );
}

#[test]
fn python_import_goes_after_the_last_top_level_import() {
    let out = py(
        "\"\"\"Doc.\"\"\"\nimport pydantic_ai\n\n\nasync def chat(request) -> None:\n    r = await pydantic_ai.Agent(\"test\").run(\"x\")\n",
        &[(K::AgentRun, "pydantic_ai.Agent(\"test\").run")],
        header(),
    );
    let after = out.after.expect("edited");
    assert_eq!(
        after,
        "\"\"\"Doc.\"\"\"\nimport pydantic_ai\nfrom app.usage import record_agent_run\n\n\nasync def chat(request) -> None:\n    r = await pydantic_ai.Agent(\"test\").run(\"x\")\n    record_agent_run(request.headers.get(\"x-customer-id\", \"\"), r)\n"
    );
}

#[test]
fn assignment_to_an_existing_variable_is_recorded_after_it() {
    let out = ts(
        r#"import { generateText } from "ai";

export async function POST(request: Request) {
  let reply;
  try {
    reply = await generateText({ model, prompt: "x" }); // first attempt
  } catch {
    return new Response(null, { status: 502 });
  }
  return new Response(reply.text);
}
"#,
        &[(K::GenerateText, "generateText")],
        header(),
    );
    let after = out.after.expect("edited");
    assert!(after.contains(
        "    reply = await generateText({ model, prompt: \"x\" }); // first attempt\n    recordLlmUsage(request.headers.get(\"x-customer-id\") ?? \"\", reply.totalUsage);\n"
    ), "{after}");
}

#[test]
fn function_customer_reuses_an_id_the_handler_already_fetched() {
    let out = ts(
        r#"import { streamText } from "ai";
import { getUserId as currentUser } from "@/lib/auth";

export async function POST(request: Request) {
  const userId = await currentUser(request);
  const result = streamText({ model, prompt: "x" });
  return result.toTextStreamResponse();
}
"#,
        &[(K::StreamText, "streamText")],
        CustomerSource::Function {
            function: "getUserId".to_owned(),
            module: "@/lib/auth".to_owned(),
        },
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(r#"recordLlmUsage(String(userId ?? ""), event.totalUsage)"#),
        "{after}"
    );
    assert!(!after.contains("async (event)"), "no await needed: {after}");
}

#[test]
fn python_function_customer_uses_a_fastapi_dependency_or_an_earlier_call() {
    let customer = CustomerSource::Function {
        function: "get_user_id".to_owned(),
        module: "app.auth".to_owned(),
    };
    let out = py(
        r#"from fastapi import Depends
from pydantic_ai import Agent
from app.auth import get_user_id

agent = Agent("test")


async def chat(prompt: str, user_id: str = Depends(get_user_id)) -> str:
    result = await agent.run(prompt)
    return result.output


def report(request) -> str:
    uid = get_user_id(request)
    result = agent.run_sync("x")
    return result.output
"#,
        &[
            (K::AgentRun, "agent.run"),
            (K::AgentRunSync, "agent.run_sync"),
        ],
        customer,
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(r#"record_agent_run(str(user_id or ""), result)"#),
        "{after}"
    );
    assert!(
        after.contains(r#"record_agent_run(str(uid or ""), result)"#),
        "{after}"
    );
}

#[test]
fn unreadable_and_escaping_paths_are_errors_with_hints() {
    let mut package = package("typescript", &[]);
    package.call_sites = vec![CallSite {
        kind: K::GenerateText,
        file: "../outside.ts".to_owned(),
        line: 1,
        column: 1,
        callee: "generateText".to_owned(),
    }];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let err = crate::wire_with_report(root, &package, &plan(&header()), &UsageImports::default())
        .expect_err("path outside the root");
    assert!(
        err.to_string()
            .contains("not a relative path inside the project")
    );

    package.call_sites[0].file = "src/missing.ts".to_owned();
    let err = crate::wire_with_report(root, &package, &plan(&header()), &UsageImports::default())
        .expect_err("missing file");
    let hinted = err.hinted();
    assert_eq!(
        hinted.to_string(),
        "cannot read `src/missing.ts`, where `detect` found a call site"
    );
    assert!(hinted.hint().contains("run `spaire-billing detect` again"));
    let cause = std::error::Error::source(&hinted)
        .expect("io cause")
        .to_string();
    assert!(cause.contains("missing.ts"), "{cause}");
}

#[test]
fn call_sites_without_a_meter_of_their_kind_are_left_alone() {
    let mut package = package("typescript", &[]);
    package.call_sites = vec![CallSite {
        kind: K::S3PutObject,
        file: "src/missing.ts".to_owned(),
        line: 1,
        column: 1,
        callee: "PutObjectCommand".to_owned(),
    }];
    // The plan only meters LLM tokens: the upload is not wired and its file is not even read.
    let (changes, reports) = crate::wire_with_report(
        Path::new("/nonexistent"),
        &package,
        &plan(&header()),
        &UsageImports::default(),
    )
    .expect("nothing to read");
    assert!(changes.files.is_empty() && changes.manual_steps.is_empty() && reports.is_empty());
}

#[test]
fn stream_options_with_a_spread_are_not_given_an_onfinish() {
    let out = ts(
        r#"import { streamText } from "ai";

export async function POST(request: Request) {
  const result = streamText({ ...defaults, prompt: "x" });
  return result.toTextStreamResponse();
}
"#,
        &[(K::StreamText, "streamText")],
        header(),
    );
    assert!(out.after.is_none());
    assert!(
        out.manual[0].contains("may already have an `onFinish`"),
        "{:?}",
        out.manual
    );
}

#[test]
fn s3_command_sent_later_is_recorded_after_the_send_with_its_content_length() {
    let mut package = package("typescript", &["nextjs"]);
    let source = r#"import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

const s3 = new S3Client({});

export async function POST(request: Request) {
  const size = Number(request.headers.get("content-length"));
  const command = new PutObjectCommand({ Bucket: "b", Key: "k", Body: request.body!, ContentLength: size });
  console.log("uploading");
  const response = await s3.send(command);
  return Response.json(response.ETag);
}
"#;
    package.call_sites = sites(
        "app/api/up/route.ts",
        source,
        &[(K::S3PutObject, "PutObjectCommand")],
    );
    let refs: Vec<&CallSite> = package.call_sites.iter().collect();
    let mut storage_plan = plan(&header());
    storage_plan.meters[0].kind = billing_plan::model::MeterKind::Storage;
    let result = wire_source(
        Path::new("/x"),
        "app/api/up/route.ts",
        source,
        &refs,
        &package,
        &storage_plan,
        &UsageImports {
            typescript: Some(TsUsageModule::Specifier("@/lib/spaire/usage".to_owned())),
            python: None,
            python_request_customer: false,
            python_app_files: Vec::new(),
            ts_session_customer: false,
        },
    )
    .expect("wiring");
    let after = result.after.expect("edited");
    assert!(after.contains(
        "  const response = await s3.send(command);\n  recordStorageUpload(request.headers.get(\"x-customer-id\") ?? \"\", size);\n"
    ), "{after}");
}

#[test]
fn body_customer_is_added_once_to_the_destructured_body() {
    let out = wire(
        "app/api/chat/route.ts",
        r#"import { generateText, streamText } from "ai";

export async function POST(request: Request) {
  const { prompt } = await request.json();
  const { text } = await generateText({ model, prompt });
  const result = streamText({ model, prompt: text });
  return result.toTextStreamResponse();
}
"#,
        &[
            (K::GenerateText, "generateText"),
            (K::StreamText, "streamText"),
        ],
        CustomerSource::Body {
            field: "customerId".to_owned(),
        },
        "typescript",
        &["nextjs"],
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains("  const { prompt, customerId } = await request.json();\n"),
        "{after}"
    );
    assert_eq!(
        after
            .matches(r#"recordLlmUsage(String(customerId ?? ""), "#)
            .count(),
        2,
        "{after}"
    );
}

#[test]
fn nextjs_server_actions_read_the_header_from_next_headers() {
    let out = ts(
        r#""use server";

import { generateText } from "ai";

export async function summarize(input: string) {
  const { text } = await generateText({ model, prompt: input });
  return text;
}
"#,
        &[(K::GenerateText, "generateText")],
        header(),
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(r#"import { headers } from "next/headers";"#),
        "{after}"
    );
    assert!(
        after.contains(
            r#"recordLlmUsage((await headers()).get("x-customer-id") ?? "", totalUsage);"#
        ),
        "{after}"
    );

    // An inline server action (AI SDK RSC): the directive is the function's first statement.
    let out = ts(
        r#"import { streamUI } from "ai/rsc";

const send = async (message: string) => {
  "use server";
  const { value } = await streamUI({ model, prompt: message });
  return value;
};
"#,
        &[(K::StreamUi, "streamUI")],
        header(),
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(r#"onFinish: async (event) => { try { recordLlmUsage((await headers()).get("x-customer-id") ?? "", event.usage); }"#),
        "{after}"
    );
}

#[test]
fn session_customer_is_found_through_closures_parameters_aliases_and_casts() {
    let session = || CustomerSource::Session;
    // The session of the handler, the model call in a nested `execute` callback.
    let closure = r#"import { streamText } from "ai";

export async function POST(request: Request) {
  try {
    const session = await auth();
    if (!session?.user) return new Response(null, { status: 401 });
    await save({ userId: session.user.id });
    const stream = createUIMessageStream({
      execute: async ({ writer }) => {
        const result = streamText({ model, prompt: "x" });
        writer.merge(result.toUIMessageStream());
      },
    });
    return new Response(stream);
  } catch {}
}
"#;
    let after = ts(closure, &[(K::StreamText, "streamText")], session())
        .after
        .expect("edited");
    assert!(
        after.contains(r#"recordLlmUsage(String(session?.user?.id ?? ""), event.totalUsage)"#),
        "{after}"
    );

    // A destructured `session` parameter read with `?.`; a later alias in an inner block
    // is not in scope at the call, the parameter is.
    let param = r#"import { generateText } from "ai";

export const suggest = ({ session, stream }: Props) => async () => {
  const r = await generateText({ model, prompt: "x" });
  if (session.user?.id) {
    const userId = session.user.id;
    await save(userId, r.text);
  }
};
"#;
    let after = ts(param, &[(K::GenerateText, "generateText")], session())
        .after
        .expect("edited");
    assert!(after.contains(r#"recordLlmUsage(String(session?.user?.id ?? ""), r.totalUsage);"#));

    // An alias computed earlier, a cast, tRPC's `ctx`, SvelteKit's `locals`, Hono's context.
    for (code, expected) in [
        (
            "const userId = (session.user as AppUser).id;\n  const r = await generateText({});",
            "String(userId ?? \"\")",
        ),
        (
            "const r = await generateText({});\n  log((session.user as AppUser).id);",
            "String((session.user as AppUser).id ?? \"\")",
        ),
        (
            "const r = await generateText({});\n  log(ctx.session.user.id);",
            "String(ctx?.session?.user?.id ?? \"\")",
        ),
        (
            "const r = await generateText({});\n  if (!locals.user) throw new Error();\n  log(locals.user.id);",
            "String(locals?.user?.id ?? \"\")",
        ),
        (
            "const r = await generateText({});\n  log(c.get(\"user\").id);",
            "String(c.get(\"user\").id ?? \"\")",
        ),
        (
            "const { userId } = await auth();\n  const r = await generateText({});",
            "String(userId ?? \"\")",
        ),
        (
            "const user = await currentUser();\n  const r = await generateText({});",
            "String(user?.id ?? \"\")",
        ),
        (
            "const data = await auth.api.getSession({ headers: request.headers });\n  const r = await generateText({});",
            "String(data?.user?.id ?? \"\")",
        ),
        (
            "const { data: { user } } = await supabase.auth.getUser();\n  const r = await generateText({});",
            "String(user?.id ?? \"\")",
        ),
    ] {
        let source = format!(
            "import {{ generateText }} from \"ai\";\nexport async function handler({{ ctx, locals, request, c, session }}: Args) {{\n  const session2 = 1;\n  {code}\n}}\n"
        );
        let after = ts(&source, &[(K::GenerateText, "generateText")], session())
            .after
            .unwrap_or_else(|| panic!("not wired:\n{source}"));
        assert!(
            after.contains(&format!("recordLlmUsage({expected}, r.totalUsage);")),
            "{after}"
        );
    }

    // The request body is the client's word, not a session: never billed by it. A session
    // keyed by email is explained, not guessed.
    let untrusted = r#"import { generateText } from "ai";
export async function POST(req: Request) {
  const body = await req.json();
  const session = await auth();
  log(body.user.id, session?.user?.email);
  const r = await generateText({ model, prompt: "x" });
}
"#;
    let out = ts(untrusted, &[(K::GenerateText, "generateText")], session());
    assert!(out.after.is_none());
    assert!(
        out.manual[0].contains("keys its data by `session?.user?.email`"),
        "{:?}",
        out.manual
    );
}

#[test]
fn ai_sdk_before_5_records_usage_not_total_usage() {
    // AI SDK 3 and 4 have no `totalUsage`: reading it records nothing at all.
    let source = r#"import { generateText, streamText } from "ai";
export async function POST(req: Request) {
  const r = await generateText({ model, prompt: "x" });
  return streamText({ model, prompt: r.text }).toDataStreamResponse();
}
"#;
    let found = sites(
        "app/route.ts",
        source,
        &[
            (K::GenerateText, "generateText"),
            (K::StreamText, "streamText"),
        ],
    );
    let refs: Vec<&CallSite> = found.iter().collect();
    for (major, field) in [(3, "usage"), (4, "usage"), (5, "totalUsage")] {
        let mut pkg = package("typescript", &["nextjs"]);
        pkg.integrations = vec![
            serde_json::from_value(json!({
                "package": "ai", "kind": "ai-sdk", "version": format!("^{major}.0.0"),
                "major": major, "evidence": {"file": "package.json", "text": "\"ai\""},
            }))
            .expect("integration"),
        ];
        let result = wire_source(
            Path::new("/nonexistent"),
            "app/route.ts",
            source,
            &refs,
            &pkg,
            &plan(&header()),
            &UsageImports {
                typescript: Some(TsUsageModule::Specifier("@/lib/usage".to_owned())),
                python: None,
                python_request_customer: false,
                python_app_files: Vec::new(),
                ts_session_customer: false,
            },
        )
        .expect("wiring");
        let after = result.after.expect("edited");
        assert!(
            after.contains(&format!(", r.{field});")),
            "ai@{major}:\n{after}"
        );
        assert!(
            after.contains(&format!(", event.{field})")),
            "ai@{major}:\n{after}"
        );
    }
}

#[test]
fn vendor_sdk_results_and_embeddings_record_their_usage_streams_are_listed() {
    let source = r#"import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { embed } from "ai";
const openai = new OpenAI();
const claude = new Anthropic();
export async function POST(req: Request) {
  const completion = await openai.chat.completions.create({ model: "gpt-4o", messages: [] });
  const reply = await claude.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [] });
  const { embedding } = await embed({ model, value: "x" });
  const live = await openai.chat.completions.create({ model: "gpt-4o", messages: [], stream: true });
  return Response.json({ completion, reply, embedding, live });
}
"#;
    let out = ts(
        source,
        &[
            (K::OpenaiChatCompletion, "openai.chat.completions.create"),
            (K::AnthropicMessage, "claude.messages.create"),
            (K::Embed, "embed"),
        ],
        header(),
    );
    let after = out.after.expect("edited");
    let id = r#"req.headers.get("x-customer-id") ?? """#;
    for expected in [
        format!(
            "recordLlmUsage({id}, {{ inputTokens: completion.usage?.prompt_tokens, outputTokens: completion.usage?.completion_tokens, totalTokens: completion.usage?.total_tokens }}, \"gpt-4o\");"
        ),
        format!(
            "recordLlmUsage({id}, {{ inputTokens: reply.usage.input_tokens, outputTokens: reply.usage.output_tokens }}, \"claude-sonnet-4-5\");"
        ),
        "const { embedding, usage } = await embed(".to_owned(),
        format!(
            "recordLlmUsage({id}, {{ inputTokens: usage.tokens, outputTokens: 0, totalTokens: usage.tokens }});"
        ),
    ] {
        assert!(after.contains(&expected), "missing {expected}\n{after}");
    }
    // The streamed completion (line 10) is listed with the `include_usage` change.
    assert_eq!(out.manual.len(), 1, "{:?}", out.manual);
    assert!(out.manual[0].contains("stream_options: { include_usage: true }"));
}

#[test]
fn a_raw_fetch_to_the_model_api_is_always_a_listed_step() {
    let out = ts(
        r#"export async function POST(req: Request) {
  return fetch("https://api.openai.com/v1/chat/completions", { method: "POST", body: await req.text() });
}
"#,
        &[(K::LlmHttpFetch, "fetch")],
        header(),
    );
    assert!(out.after.is_none());
    assert!(
        out.manual[0].contains("calls the model API directly"),
        "{:?}",
        out.manual
    );
    assert!(out.manual[0].contains("include_usage"));
}

#[test]
fn a_realtime_session_fetch_says_where_its_usage_arrives() {
    // openai-realtime-console `server.js`: the server mints the browser's session.
    let out = ts(
        r#"export async function token(req: Request) {
  const response = await fetch("https://api.openai.com/v1/realtime/sessions", { method: "POST" });
  return response.json();
}
"#,
        &[(K::LlmHttpFetch, "fetch")],
        header(),
    );
    assert!(out.after.is_none());
    let step = &out.manual[0];
    assert!(step.contains("opens a Realtime session"), "{step}");
    assert!(
        step.contains("`response.done` events over the data channel"),
        "{step}"
    );
    assert!(
        out.snippets[0].contains("event.response.usage?.input_tokens"),
        "{}",
        out.snippets[0]
    );
    assert!(!step.contains("runs in the browser"), "{step}");
}

#[test]
fn a_model_api_fetch_in_browser_code_is_listed_for_the_server() {
    // openai-realtime-console `client/components/App.jsx`: the WebRTC offer goes straight to
    // the model API from the browser.
    let realtime = r#"import { useState } from "react";
export default function App() {
  const [s] = useState(null);
  async function start(offer) {
    const baseUrl = "https://api.openai.com/v1/realtime";
    const r = await fetch(`${baseUrl}?model=m`, { method: "POST", body: offer.sdp });
  }
}
"#;
    let out = wire(
        "client/components/App.jsx",
        realtime,
        &[(K::LlmHttpFetch, "fetch")],
        header(),
        "typescript",
        &[],
    );
    assert!(out.after.is_none());
    let step = &out.manual[0];
    assert!(
        step.contains("runs in the browser: the usage must be recorded on your server"),
        "{step}"
    );
    assert!(
        step.contains("`response.done` events over the data channel"),
        "{step}"
    );
    // A plain chat call from a "use client" module: the same reason, no Realtime words.
    let chat = "'use client'\nexport const ask = () => fetch('https://api.anthropic.com/v1/messages', { method: 'POST' })\n";
    let out = wire(
        "src/lib/ask.ts",
        chat,
        &[(K::LlmHttpFetch, "fetch")],
        header(),
        "typescript",
        &[],
    );
    let step = &out.manual[0];
    assert!(step.contains("runs in the browser"), "{step}");
    assert!(!step.contains("response.done"), "{step}");
    assert!(
        out.snippets[0].contains("body.usage?.input_tokens"),
        "{}",
        out.snippets[0]
    );
}

#[test]
fn python_vendor_sdk_legacy_calls_are_wired_inline_calls_and_flask_generators_are_listed() {
    let out = py(
        r#"import openai
from flask import Response, request


def legacy() -> str:
    reply = openai.ChatCompletion.create(model="gpt-3.5-turbo", messages=[])
    return reply["choices"][0]["message"]["content"]


def inline() -> str:
    return openai.ChatCompletion.create(model="gpt-3.5-turbo", messages=[]).choices[0]


def streamed() -> Response:
    def generate():
        stream = openai.ChatCompletion.create(model="m", messages=[], stream=True, stream_options={"include_usage": True})
        for chunk in stream:
            yield "x"

    return Response(generate())
"#,
        &[(K::OpenaiLegacy, "openai.ChatCompletion.create")],
        header(),
    );
    let after = out.after.expect("the assigned legacy response is wired");
    assert!(
        after.contains(
            "    reply = openai.ChatCompletion.create(model=\"gpt-3.5-turbo\", messages=[])\n    record_llm_response(request.headers.get(\"x-customer-id\", \"\"), reply)\n"
        ),
        "{after}"
    );
    assert!(
        after.contains("from app.usage import record_llm_response\n"),
        "{after}"
    );
    assert_eq!(out.manual.len(), 2, "{:?}", out.manual);
    assert!(out.manual[0].contains("not assigned"), "{:?}", out.manual);
    assert!(
        out.manual[1].contains("generator that Flask iterates after the request ended"),
        "{:?}",
        out.manual
    );
}

/// Real-world idioms (Vicba/flask-saas-boiler, thenewboston `LLMClient.generate_image`,
/// sruusk/assistant): a Python image generation records its images (`response.data`) with
/// the call's model, assigned first when it is returned directly; an Assistants run in
/// TypeScript is listed with what to record.
#[test]
fn python_images_are_recorded_and_ts_assistants_runs_are_listed() {
    let out = py(
        r#"from fastapi import Request
from openai import OpenAI

client = OpenAI()


def draw(request: Request, prompt: str) -> str:
    response = client.images.generate(model="dall-e-3", prompt=prompt)
    return response.data[0].url


class LLMClient:
    def generate_image(self, request: Request, prompt: str, model=None):
        model = model or "dall-e-3"
        return self.openai.images.generate(model=model, prompt=prompt, n=1)
"#,
        &[
            (K::OpenaiImage, "client.images.generate"),
            (K::OpenaiImage, "self.openai.images.generate"),
        ],
        header(),
    );
    let after = out.after.expect("both are wired");
    assert!(out.manual.is_empty(), "{:?}", out.manual);
    let customer = "request.headers.get(\"x-customer-id\", \"\")";
    assert!(
        after.contains(&format!(
            "prompt=prompt)\n    record_image_generation({customer}, response.data, model=\"dall-e-3\")\n    return response.data[0].url"
        )),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "        response = self.openai.images.generate(model=model, prompt=prompt, n=1)\n        record_image_generation({customer}, response.data, model=model)\n        return response\n"
        )),
        "{after}"
    );
    let run = ts(
        r#"export default defineEventHandler(async (event) => {
  return event.context.openai.beta.threads.runs.create(thread, { assistant_id: a, stream: true });
});
"#,
        &[(
            K::OpenaiAssistantRun,
            "event.context.openai.beta.threads.runs.create",
        )],
        header(),
    );
    assert!(run.after.is_none());
    assert_eq!(run.manual.len(), 1, "{:?}", run.manual);
    assert!(run.manual[0].contains("finished run"), "{:?}", run.manual);
    assert!(
        run.snippets[0].contains("run.usage?.prompt_tokens"),
        "{:?}",
        run.snippets
    );
}

#[test]
fn python_boto3_multipart_and_presigned_uploads_are_listed_not_billed() {
    let source = r#"import boto3
from fastapi import Request

s3 = boto3.client("s3")


async def finish(request: Request, upload_id: str, parts: list) -> None:
    s3.complete_multipart_upload(Bucket="b", Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts})


async def presign(request: Request) -> dict:
    return s3.generate_presigned_post(Bucket="b", Key="k")
"#;
    let found = sites(
        "app/main.py",
        source,
        &[
            (K::Boto3Multipart, "s3.complete_multipart_upload"),
            (K::Boto3Presigned, "s3.generate_presigned_post"),
        ],
    );
    let refs: Vec<&CallSite> = found.iter().collect();
    let mut storage_plan = plan(&header());
    storage_plan.meters[0].kind = billing_plan::model::MeterKind::Storage;
    let result = wire_source(
        Path::new("/nonexistent"),
        "app/main.py",
        source,
        &refs,
        &package("python", &["fastapi"]),
        &storage_plan,
        &UsageImports {
            typescript: None,
            python: Some("app.usage".to_owned()),
            python_request_customer: false,
            python_app_files: Vec::new(),
            ts_session_customer: false,
        },
    )
    .expect("wiring");
    assert!(result.after.is_none());
    let steps: Vec<_> = result
        .manual
        .iter()
        .map(|m| m.instructions.as_str())
        .collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].contains("sum of its parts"), "{steps:?}");
    assert!(steps[1].contains("not billed here"), "{steps:?}");
    let snippet = result.manual[0].snippet.as_deref().unwrap_or("");
    assert!(
        snippet.contains("s3.head_object(Bucket=\"b\", Key=\"k\")[\"ContentLength\"]"),
        "{snippet}"
    );
}

#[test]
fn python_raw_response_is_recorded_through_its_parsed_message() {
    // anthropic-quickstarts computer-use-demo: `client.beta.messages.with_raw_response.create`.
    let out = py(
        r#"from anthropic import Anthropic
from fastapi import Request

client = Anthropic()


async def turn(request: Request) -> str:
    raw_response = client.beta.messages.with_raw_response.create(model="m", max_tokens=5, messages=[])
    response = raw_response.parse()
    return str(response)
"#,
        &[(
            K::AnthropicMessage,
            "client.beta.messages.with_raw_response.create",
        )],
        header(),
    );
    let after = out.after.expect("wired");
    assert!(
        after.contains("    record_llm_response(request.headers.get(\"x-customer-id\", \"\"), raw_response.parse())\n    response = raw_response.parse()\n"),
        "{after}"
    );
}

#[test]
fn python_files_importing_one_name_per_line_get_one_name_per_line() {
    let out = py(
        r#"from pydantic_ai import Agent
from pydantic_ai import RunContext

agent = Agent("test")


async def helper(ctx: RunContext[None]) -> str:
    result = await agent.run("x")
    return result.output
"#,
        &[(K::AgentRun, "agent.run")],
        header(),
    );
    let after = out.after.expect("edited");
    assert!(
        after.contains(
            "from app.usage import current_customer_id\nfrom app.usage import record_agent_run\n"
        ),
        "{after}"
    );
}

/// `ts` with `ai` and `openai` at the given majors (as detect reads them from package.json).
fn ts_with_majors(source: &str, wanted: &[(CallSiteKind, &str)], ai: u64, openai: u64) -> Outcome {
    let found = sites("app/api/chat/route.ts", source, wanted);
    let refs: Vec<&CallSite> = found.iter().collect();
    let mut pkg = package("typescript", &["nextjs"]);
    pkg.integrations = [("ai", "ai-sdk", ai), ("openai", "llm-client", openai)]
        .iter()
        .map(|(name, kind, major)| {
            serde_json::from_value(json!({
                "package": name, "kind": kind, "version": format!("^{major}.0.0"),
                "major": major, "evidence": {"file": "package.json", "text": name},
            }))
            .expect("integration")
        })
        .collect();
    let result = wire_source(
        Path::new("/nonexistent"),
        "app/api/chat/route.ts",
        source,
        &refs,
        &pkg,
        &plan(&CustomerSource::Header {
            header: "x-user-id".to_owned(),
        }),
        &UsageImports {
            typescript: Some(TsUsageModule::Specifier("@/lib/usage".to_owned())),
            python: None,
            python_request_customer: false,
            python_app_files: Vec::new(),
            ts_session_customer: false,
        },
    )
    .expect("wiring");
    Outcome {
        after: result.after,
        snippets: Vec::new(),
        manual: result.manual.into_iter().map(|m| m.instructions).collect(),
        results: result.reports.into_iter().map(|r| r.result).collect(),
    }
}

/// chathn: `openai` v4 streams read by the AI SDK 2 `OpenAIStream`, the second one returned
/// from `experimental_onFunctionCall`. Both ask for usage and are metered as they stream.
const OPENAI_STREAM_APP: &str = r#"import { OpenAI } from "openai";
import { OpenAIStream, StreamingTextResponse } from "ai";

const openai = new OpenAI({ apiKey: process.env.OPENAI_API_KEY });

export async function POST(req: Request) {
  const { messages } = await req.json();
  const initialResponse = await openai.chat.completions.create({
    model: "gpt-3.5-turbo-0613",
    messages,
    stream: true,
    functions,
  });
  const stream = OpenAIStream(initialResponse, {
    experimental_onFunctionCall: async ({ name }, createFunctionCallMessages) => {
      const newMessages = createFunctionCallMessages(await run(name));
      return openai.chat.completions.create({
        model: "gpt-3.5-turbo-0613",
        stream: true,
        messages: [...messages, ...newMessages],
      });
    },
  });
  return new StreamingTextResponse(stream);
}
"#;

#[test]
fn openai_streams_read_by_openai_stream_ask_for_usage_and_are_metered() {
    let out = ts_with_majors(
        OPENAI_STREAM_APP,
        &[(K::OpenaiChatCompletion, "openai.chat.completions.create")],
        2,
        4,
    );
    assert!(out.manual.is_empty(), "{:?}", out.manual);
    let after = out.after.expect("wired");
    assert!(
        after.contains("import { meterChatCompletionStream } from \"@/lib/usage\";"),
        "{after}"
    );
    assert!(
        after.contains("const initialResponse = await meterChatCompletionStream(req.headers.get(\"x-user-id\") ?? \"\", openai.chat.completions.create({"),
        "{after}"
    );
    assert!(
        after.contains("return meterChatCompletionStream(req.headers.get(\"x-user-id\") ?? \"\", openai.chat.completions.create({"),
        "{after}"
    );
    // openai 4: spread, so 4.x types that predate `stream_options` accept it.
    assert_eq!(
        after
            .matches("stream: true, ...{ stream_options: { include_usage: true } },")
            .count(),
        2,
        "{after}"
    );
    assert!(
        after.contains("messages: [...messages, ...newMessages],\n      }));"),
        "{after}"
    );
    // openai 5+: the typed option, written as such.
    let v5 = ts_with_majors(
        OPENAI_STREAM_APP,
        &[(K::OpenaiChatCompletion, "openai.chat.completions.create")],
        3,
        5,
    );
    assert!(
        v5.after
            .expect("wired")
            .contains("stream: true, stream_options: { include_usage: true },"),
    );
}

#[test]
fn openai_streams_with_readers_that_break_on_the_usage_chunk_are_listed() {
    let loop_app = |read: &str| {
        format!(
            r#"import OpenAI from "openai";
const openai = new OpenAI();
export async function POST(req: Request) {{
  const stream = await openai.chat.completions.create({{ model: "gpt-4o-mini", messages: [], stream: true }});
  let text = "";
  for await (const chunk of stream) {{
    text += {read} ?? "";
  }}
  return new Response(text);
}}
"#
        )
    };
    let wanted = &[(K::OpenaiChatCompletion, "openai.chat.completions.create")];
    // `?.` after `choices[0]`: the empty `choices` of the usage chunk is skipped.
    let safe = ts_with_majors(&loop_app("chunk.choices[0]?.delta?.content"), wanted, 5, 5);
    assert!(safe.manual.is_empty(), "{:?}", safe.manual);
    assert!(safe.after.expect("wired").contains("include_usage"));
    // `choices[0].delta` would throw on the usage chunk.
    let unsafe_read = ts_with_majors(&loop_app("chunk.choices[0].delta.content"), wanted, 5, 5);
    assert!(unsafe_read.after.is_none());
    assert!(
        unsafe_read.manual[0].contains("without `[0]?.`"),
        "{:?}",
        unsafe_read.manual
    );

    // Returned as is: the caller may forward the usage chunk.
    let returned = ts_with_majors(
        "import OpenAI from \"openai\";\nconst openai = new OpenAI();\nexport async function POST(req: Request) {\n  return openai.chat.completions.create({ model: \"m\", messages: [], stream: true });\n}\n",
        wanted,
        5,
        5,
    );
    assert!(
        returned.manual[0].contains("returned to the caller"),
        "{:?}",
        returned.manual
    );

    // An OpenAI-compatible server may reject the option.
    let compatible = ts_with_majors(
        &OPENAI_STREAM_APP.replace(
            "apiKey: process.env.OPENAI_API_KEY",
            "baseURL: \"https://api.groq.com/openai/v1\"",
        ),
        wanted,
        2,
        4,
    );
    assert!(compatible.after.is_none());
    assert!(
        compatible
            .manual
            .iter()
            .all(|m| m.contains("its own `baseURL`")),
        "{:?}",
        compatible.manual
    );

    // AI SDK 4 has no `OpenAIStream` whose reading of the chunk is known.
    let ai4 = ts_with_majors(OPENAI_STREAM_APP, wanted, 4, 4);
    assert!(
        ai4.manual
            .iter()
            .all(|m| m.contains("`OpenAIStream` of `ai` 4")),
        "{:?}",
        ai4.manual
    );
}

/// testrial-ai: the request already asks for the usage chunk, so the stream is metered
/// wherever it goes (here returned to the caller, whose readers are not known).
#[test]
fn an_openai_stream_that_already_asks_for_usage_is_metered_whoever_reads_it() {
    let source = "import OpenAI from \"openai\";\nconst openai = new OpenAI();\nexport async function POST(req: Request) {\n  return openai.chat.completions.create({ model: \"m\", messages: [], stream_options: { include_usage: true }, stream: true });\n}\n";
    let out = ts_with_majors(
        source,
        &[(K::OpenaiChatCompletion, "openai.chat.completions.create")],
        5,
        4,
    );
    assert!(out.manual.is_empty(), "{:?}", out.manual);
    let after = out.after.expect("wired");
    assert!(
        after.contains("return meterChatCompletionStream(req.headers.get(\"x-user-id\") ?? \"\", openai.chat.completions.create({"),
        "{after}"
    );
    // Not added a second time.
    assert_eq!(after.matches("include_usage").count(), 1, "{after}");
}

#[test]
fn assistants_runs_streamed_into_one_loop_or_polled_record_the_runs_usage() {
    let wanted = &[
        (K::OpenaiAssistantRun, "openai.beta.threads.runs.create"),
        (
            K::OpenaiAssistantRun,
            "openai.beta.threads.runs.createAndPoll",
        ),
    ];
    let out = ts(
        r#"export async function POST(req: Request) {
  const events = await openai.beta.threads.runs.create("t", { assistant_id: "a", stream: true });
  let text = "";
  for await (const part of events) {
    if (part.event === "thread.message.delta") text += "x";
  }
  const run = await openai.beta.threads.runs.createAndPoll("t", { assistant_id: "a" });
  return new Response(text + run.status);
}
"#,
        wanted,
        header(),
    );
    assert!(out.manual.is_empty(), "{:?}", out.manual);
    let after = out.after.expect("wired");
    assert!(
        after.contains("  for await (const part of events) {\n    if (part.event === \"thread.run.completed\") recordLlmUsage(req.headers.get(\"x-customer-id\") ?? \"\", { inputTokens: part.data.usage?.prompt_tokens, outputTokens: part.data.usage?.completion_tokens, totalTokens: part.data.usage?.total_tokens })\n"),
        "{after}"
    );
    assert!(
        after.contains("  if (run.usage) recordLlmUsage(req.headers.get(\"x-customer-id\") ?? \"\", { inputTokens: run.usage?.prompt_tokens,"),
        "{after}"
    );

    // The loop's variable shadows the request the customer is read from: bound before.
    let shadowed = ts(
        "export async function POST(req: Request) {\n  const s = await openai.beta.threads.runs.create(\"t\", { assistant_id: \"a\", stream: true });\n  for await (const req of s) {\n    console.log(req);\n  }\n}\n",
        &wanted[..1],
        header(),
    );
    let after = shadowed.after.expect("wired");
    assert!(
        after.contains("  const billedCustomerId = req.headers.get(\"x-customer-id\") ?? \"\"\n  const s = await"),
        "{after}"
    );
    assert!(
        after.contains("recordLlmUsage(billedCustomerId, "),
        "{after}"
    );

    // A loop that can stop early, a second reader, a queued run: listed with why.
    for (body, why) in [
        (
            "for await (const e of s) { if (e.event === \"done\") break; }",
            "can stop at line",
        ),
        ("for await (const e of s) {}\n  return s;", "read 2 times"),
    ] {
        let listed = ts(
            &format!(
                "export async function POST(req: Request) {{\n  const s = await openai.beta.threads.runs.create(\"t\", {{ assistant_id: \"a\", stream: true }});\n  {body}\n}}\n"
            ),
            &wanted[..1],
            header(),
        );
        assert!(listed.after.is_none());
        assert!(listed.manual[0].contains(why), "{:?}", listed.manual);
    }
    let queued = ts(
        "export async function POST(req: Request) {\n  const run = await openai.beta.threads.runs.create(\"t\", { assistant_id: \"a\" });\n  return Response.json(run);\n}\n",
        &wanted[..1],
        header(),
    );
    assert!(
        queued.manual[0].contains("returns the queued run"),
        "{:?}",
        queued.manual
    );
}

/// astro-chatgpt-demo: a raw streamed `fetch` whose parser breaks on the usage chunk; the step
/// names the request's `stream: true`, the reader and the read to fix, by line.
#[test]
fn a_raw_streamed_fetch_names_its_stream_flag_and_its_reader_by_line() {
    let out = ts(
        r#"const payload = () => ({
  method: "POST",
  body: JSON.stringify({ model: "m", messages: [], stream: true }),
});

const parse = (raw: Response) => {
  return raw.body?.pipeThrough(new TransformStream({
    transform(data, controller) {
      const json = JSON.parse(String(data));
      controller.enqueue(json.choices[0].delta?.content || "");
    },
  }));
};

export async function POST(req: Request) {
  const options = payload();
  const response = await fetch("https://api.openai.com/v1/chat/completions", options);
  return new Response(parse(response));
}
"#,
        &[(K::LlmHttpFetch, "fetch")],
        header(),
    );
    assert!(out.after.is_none());
    let step = &out.manual[0];
    assert!(step.contains("`stream: true` at src/server.ts:3"), "{step}");
    assert!(step.contains("`parse` (src/server.ts:6)"), "{step}");
    assert!(
        step.contains("first make src/server.ts:10 (`controller.enqueue(json.choices[0].delta?.content || \"\");`) read `choices[0]?.`"),
        "{step}"
    );
    assert!(
        out.snippets[0].contains(
            "if (json.usage) recordLlmUsage(customerId, { inputTokens: json.usage?.prompt_tokens"
        ),
        "{}",
        out.snippets[0]
    );
}

/// mern-wallpapers in TypeScript: passport's `req.user` with the field the app's
/// `serializeUser` keeps, cast so it type-checks with or without `@types/passport`.
#[test]
fn passport_session_user_is_read_with_the_serialized_field() {
    let root = std::env::temp_dir().join(format!("sb-wire-passport-{}", std::process::id()));
    std::fs::create_dir_all(root.join("src")).expect("temp dir");
    std::fs::write(
        root.join("src/auth.ts"),
        "import passport from 'passport';\npassport.serializeUser((user: any, done) => done(null, user._id.toString()));\n",
    )
    .expect("auth file");
    let source = "import express from 'express';\nimport OpenAI from 'openai';\nconst openai = new OpenAI();\nexport const router = express.Router();\nrouter.post('/', async (req, res) => {\n  const completion = await openai.chat.completions.create({ model: 'm', messages: [] });\n  res.json(completion);\n});\n";
    let found = sites(
        "src/routes.ts",
        source,
        &[(K::OpenaiChatCompletion, "openai.chat.completions.create")],
    );
    let refs: Vec<&CallSite> = found.iter().collect();
    let result = wire_source(
        &root,
        "src/routes.ts",
        source,
        &refs,
        &package("typescript", &["express"]),
        &plan(&CustomerSource::Session),
        &UsageImports {
            typescript: Some(TsUsageModule::Specifier("@/lib/usage".to_owned())),
            ..UsageImports::default()
        },
    )
    .expect("wiring");
    std::fs::remove_dir_all(&root).ok();
    let after = result.after.expect("wired");
    assert!(
        after.contains("recordLlmUsage(String((req as unknown as { user?: { _id?: unknown } | null }).user?._id ?? ''), "),
        "{after}"
    );
}

fn session() -> CustomerSource {
    CustomerSource::Session
}

fn flask_py(source: &str, wanted: &[(CallSiteKind, &str)], customer: CustomerSource) -> Outcome {
    wire(
        "routes/ai.py",
        source,
        wanted,
        customer,
        "python",
        &["flask"],
    )
}

/// Real-world idiom (openai/openai-quickstart-python `examples/assistant-flask`): an
/// Assistants run is recorded where it is known to have finished, with `record_llm_response`
/// (a finished run has `usage`, `model` and `id`): after `create_and_poll`, after the loop
/// that re-reads a created run, or at the end of a `runs.stream` block. A streamed
/// `create(stream=True)` and a run nobody waits for are listed.
#[test]
fn python_assistants_runs_are_recorded_once_finished() {
    let out = py(
        r#"import time

from fastapi import Request
from openai import OpenAI

client = OpenAI()


def polled(request: Request, thread_id: str, assistant_id: str):
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    return run.status


def looped(request: Request, thread_id: str, assistant_id: str):
    run = client.beta.threads.runs.create(
        thread_id=thread_id, assistant_id=assistant_id
    )
    # Wait for the run to complete
    while run.status != "completed":
        time.sleep(0.5)
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run.id)

    return client.beta.threads.messages.list(thread_id).data[0]


def streamed(request: Request, thread_id: str, assistant_id: str):
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id) as stream:
        for event in stream:
            print(event.event)


def raw_stream(request: Request, thread_id: str, assistant_id: str):
    events = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id, stream=True)
    return events


def fire_and_forget(request: Request, thread_id: str, assistant_id: str):
    run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    return run.id
"#,
        &[
            (
                K::OpenaiAssistantRun,
                "client.beta.threads.runs.create_and_poll",
            ),
            (K::OpenaiAssistantRun, "client.beta.threads.runs.create"),
            (K::OpenaiAssistantRun, "client.beta.threads.runs.stream"),
        ],
        header(),
    );
    let after = out.after.expect("the finished runs are recorded");
    let customer = "request.headers.get(\"x-customer-id\", \"\")";
    assert!(
        after.contains(&format!(
            "assistant_id=assistant_id)\n    record_llm_response({customer}, run)\n    return run.status"
        )),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "run_id=run.id)\n    record_llm_response({customer}, run)\n\n    return client"
        )),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "            print(event.event)\n        record_llm_response({customer}, stream.get_final_run())\n"
        )),
        "{after}"
    );
    assert_eq!(out.manual.len(), 2, "{:?}", out.manual);
    assert!(out.manual[0].contains("`stream=True`"), "{:?}", out.manual);
    assert!(
        out.manual[1].contains("`run` is not re-read until it finished"),
        "{:?}",
        out.manual
    );
    assert!(out.manual.iter().all(|m| m.contains("finished run")));
}

/// Real-world idiom (ayataka0nk/gpt-tools `app/llms/chat_completion.py`): an openai 0.x
/// stream created without `include_usage`, read to its end in a generator behind FastAPI's
/// `StreamingResponse`, with `chunk['choices'][0]`. It gets `stream_options`, and the loop
/// records the usage chunk then skips it (it has no `choices`), so the app's code sees the
/// same chunks as before. A loop that can `break` before the usage chunk, a `**kwargs`
/// spread and a `stream=flag` (the API rejects `stream_options` when not streaming) stay listed.
#[test]
fn python_streams_without_include_usage_get_it_when_read_to_the_end() {
    let out = py(
        r#"import openai


class Chat:
    def stream(self, messages):
        response = openai.ChatCompletion.create(
            model=self.model, messages=messages, stream=True)
        for chunk in response:
            delta = chunk['choices'][0]['delta']
            word = delta.get('content')
            if (word is None):
                continue
            yield word

    def stops_early(self, messages):
        response = openai.ChatCompletion.create(model="m", messages=messages, stream=True)
        for chunk in response:
            if chunk.choices[0].finish_reason == "stop":
                break
            yield chunk.choices[0].delta.content

    def spread(self, **kwargs):
        response = openai.ChatCompletion.create(stream=True, **kwargs)
        for chunk in response:
            yield chunk

    def maybe(self, messages, streamed):
        response = openai.ChatCompletion.create(model="m", messages=messages, stream=streamed)
        for chunk in response:
            yield chunk
"#,
        &[(K::OpenaiLegacy, "openai.ChatCompletion.create")],
        session(),
    );
    let after = out.after.expect("the stream read to its end is wired");
    assert!(
        after.contains(
            "model=self.model, messages=messages, stream=True, stream_options={'include_usage': True})\n        for chunk in response:\n            record_llm_response(current_customer_id(), chunk)\n            if not chunk['choices']:  # the usage chunk (`include_usage`)\n                continue\n            delta = chunk['choices'][0]['delta']\n"
        ),
        "{after}"
    );
    assert!(
        after.contains("from app.usage import current_customer_id, record_llm_response\n")
            || after.contains("from app.usage import record_llm_response, current_customer_id\n"),
        "{after}"
    );
    // `stops_early` breaks on the finish chunk: the rest of the stream (the usage chunk) is
    // read after its loop (see the test below).
    assert!(
        after.contains("                break\n            yield chunk.choices[0].delta.content\n        for usage_chunk in response:  # the usage chunk comes after the one that ended the loop\n            record_llm_response(current_customer_id(), usage_chunk)\n"),
        "{after}"
    );
    assert_eq!(out.manual.len(), 2, "{:?}", out.manual);
    assert!(
        out.manual.iter().all(|m| m.contains("include_usage")),
        "{:?}",
        out.manual
    );
}

/// Real-world idiom (openai/openai-quickstart-python `examples/chat-basic/app.py`): a Flask
/// generator reads `with client.chat.completions.create(stream=True) as stream:` and `break`s
/// on `finish_reason == "stop"`, one chunk before the usage chunk `include_usage` adds. The
/// loop records and skips the usage chunk (when the finish reason is not "stop" the loop
/// reaches it), and right after the loop, inside the `with` block where the stream is still
/// open, the rest of the stream (exactly that usage chunk) is read and recorded. A loop that
/// `break`s on anything else, or can `return`, is still listed: reading on after a cancel
/// would read the whole rest of the answer.
#[test]
fn python_stream_loop_that_breaks_on_the_finish_chunk_reads_the_usage_chunk_after_it() {
    let out = flask_py(
        r#"from flask import Flask, Response, request, stream_with_context
import openai

client = openai.OpenAI()
app = Flask(__name__)


@app.route("/stream", methods=["GET"])
def stream():
    def generate():
        content = ""
        with client.chat.completions.create(
            model="gpt-3.5-turbo",
            messages=[],
            stream=True,
        ) as stream:
            for chunk in stream:
                if chunk.choices[0].delta and chunk.choices[0].delta.content:
                    content += chunk.choices[0].delta.content
                    yield f"data: {chunk.choices[0].delta.content}\n\n"
                if chunk.choices[0].finish_reason == "stop":
                    break  # Stop if the finish reason is 'stop'

        print(content)

    return Response(stream_with_context(generate()), mimetype="text/event-stream")


@app.route("/cancel", methods=["GET"])
def cancel():
    def generate():
        stream = client.chat.completions.create(model="m", messages=[], stream=True)
        for chunk in stream:
            if chunk.choices[0].finish_reason == "stop" or request.args.get("stop"):
                break
            yield chunk.choices[0].delta.content

    return Response(stream_with_context(generate()))


@app.route("/returns", methods=["GET"])
def returns():
    def generate():
        stream = client.chat.completions.create(model="m", messages=[], stream=True)
        for chunk in stream:
            if chunk.choices[0].finish_reason == "stop":
                return
            yield chunk.choices[0].delta.content

    return Response(stream_with_context(generate()))
"#,
        &[(K::OpenaiChatCompletion, "client.chat.completions.create")],
        header(),
    );
    let after = out
        .after
        .expect("the stream that breaks on its finish chunk is wired");
    assert!(
        after.contains(
            r#"            stream=True, stream_options={"include_usage": True},
        ) as stream:
            for chunk in stream:
                record_llm_response(request.headers.get("x-customer-id", ""), chunk)
                if not chunk.choices:  # the usage chunk (`include_usage`)
                    continue
                if chunk.choices[0].delta and chunk.choices[0].delta.content:
"#
        ),
        "{after}"
    );
    assert!(
        after.contains(
            r#"                if chunk.choices[0].finish_reason == "stop":
                    break  # Stop if the finish reason is 'stop'
            for usage_chunk in stream:  # the usage chunk comes after the one that ended the loop
                record_llm_response(request.headers.get("x-customer-id", ""), usage_chunk)

        print(content)
"#
        ),
        "{after}"
    );
    // The cancel and the `return` loops are listed, and their calls are not changed.
    assert_eq!(out.manual.len(), 2, "{:?}", out.manual);
    assert!(
        out.manual
            .iter()
            .all(|m| m.contains("can `break` or `return`")),
        "{:?}",
        out.manual
    );
    assert_eq!(
        after.matches("include_usage\": True}").count(),
        1,
        "{after}"
    );
}

/// Real-world idiom (Vicba/flask-saas-boiler `routes/ai/routes.py`): the app's own JWT
/// decorator passes the signed-in user's id as the view's first argument
/// (`@token_required` → `def generate(user_id):`); the call bills that id. A `user_id` that
/// is a URL value (`/users/<user_id>`) is someone else's and is not used.
#[test]
fn python_user_id_injected_by_an_auth_decorator_is_the_customer() {
    let out = flask_py(
        r#"from flask import Blueprint, jsonify, request
from openai import OpenAI

from auth import token_required

ai_bp = Blueprint("ai", __name__)
client = OpenAI()


@ai_bp.route("/generate", methods=["POST"])
@token_required
def generate(user_id):
    response = client.chat.completions.create(model="m", messages=[])
    return jsonify({"text": response.choices[0].message.content})


@ai_bp.route("/users/<user_id>/summary", methods=["POST"])
@token_required
def summary(user_id):
    response = client.chat.completions.create(model="m", messages=[])
    return jsonify({"text": response.choices[0].message.content})
"#,
        &[(K::OpenaiChatCompletion, "client.chat.completions.create")],
        session(),
    );
    let after = out.after.expect("the injected id is used");
    assert!(
        after.contains("messages=[])\n    record_llm_response(str(user_id or \"\"), response)\n    return jsonify({\"text\": response.choices[0].message.content})\n\n\n@ai_bp.route(\"/users"),
        "{after}"
    );
    assert_eq!(
        after.matches("record_llm_response(str(user_id").count(),
        1,
        "the URL's user_id is not the customer: {after}"
    );
}

/// openai-quickstart-python pins `openai==1.11.1`, whose `create()` has no `stream_options`
/// (added in openai 1.26.0; checked in both wheels): adding it would make every call raise
/// `TypeError`, so with such a pin the stream stays a listed step that says to upgrade. A
/// `>=` requirement or a 1.26+ pin is wired.
#[test]
fn python_streams_are_not_given_stream_options_under_an_openai_pin_without_it() {
    let source = r#"from flask import Flask, Response, request, stream_with_context
import openai

client = openai.OpenAI()
app = Flask(__name__)


@app.route("/stream")
def stream():
    def generate():
        with client.chat.completions.create(model="m", messages=[], stream=True) as stream:
            for chunk in stream:
                if chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
                if chunk.choices[0].finish_reason == "stop":
                    break

    return Response(stream_with_context(generate()))
"#;
    let run = |version: &str| {
        let found = sites(
            "app/chat.py",
            source,
            &[(K::OpenaiChatCompletion, "client.chat.completions.create")],
        );
        let refs: Vec<&CallSite> = found.iter().collect();
        let mut pkg = package("python", &["flask"]);
        pkg.integrations = vec![
            serde_json::from_value(json!({
                "package": "openai", "kind": "llm-client", "version": version, "major": 1,
                "evidence": {"file": "requirements.txt", "text": "openai"},
            }))
            .expect("integration"),
        ];
        wire_source(
            Path::new("/nonexistent"),
            "app/chat.py",
            source,
            &refs,
            &pkg,
            &plan(&header()),
            &UsageImports {
                typescript: None,
                python: Some("app.usage".to_owned()),
                python_request_customer: true,
                python_app_files: Vec::new(),
                ts_session_customer: false,
            },
        )
        .expect("wiring")
    };
    let old = run("==1.11.1");
    assert!(old.after.is_none(), "{:?}", old.after);
    assert_eq!(old.manual.len(), 1);
    assert!(
        old.manual[0].instructions.contains(
            "the pinned `openai==1.11.1` has no `stream_options` (added in openai 1.26.0)"
        ) && old.manual[0]
            .instructions
            .contains("Upgrade `openai` to 1.26.0 or later"),
        "{}",
        old.manual[0].instructions
    );
    for version in [">=1.11.1", "==1.26.0", "==2.8.1"] {
        let new = run(version);
        assert!(
            new.after
                .as_deref()
                .is_some_and(|a| a.contains("stream_options={\"include_usage\": True}")),
            "{version}: {:?}",
            new.manual
        );
    }
}

/// Real-world idiom (HackSoftware/Django-Styleguide-Example): the presigned POST is made in a
/// helper (`integrations/aws/client.py`), which a service's `start` calls; the same service's
/// `finish` is where the client says the file arrived. The presigned call stays a listed step
/// (the customer there is not surely known: nothing checks the finishing user against the
/// file's owner), and the step names that `finish` by file:line instead of "where the app
/// learns the upload finished".
#[test]
fn a_presigned_post_step_names_the_services_finish_method() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/wire/py-presigned");
    let source = std::fs::read_to_string(root.join("uploads/storage.py")).expect("fixture");
    let found = sites(
        "uploads/storage.py",
        &source,
        &[(K::Boto3Presigned, "client.generate_presigned_post")],
    );
    let refs: Vec<&CallSite> = found.iter().collect();
    let result = wire_source(
        &root,
        "uploads/storage.py",
        &source,
        &refs,
        &package("python", &["django"]),
        &plan(&CustomerSource::Session),
        &UsageImports {
            typescript: None,
            python: Some("uploads.usage".to_owned()),
            python_request_customer: true,
            python_app_files: Vec::new(),
            ts_session_customer: false,
        },
    )
    .expect("wiring");
    assert!(result.after.is_none());
    assert_eq!(result.manual.len(), 1);
    let step = &result.manual[0].instructions;
    assert!(
        step.contains(
            "here that is `DirectUploadService.finish` at uploads/services.py:20 (in the class whose `DirectUploadService.start` asks for this presigned upload)"
        ),
        "{step}"
    );
}

/// django-styleguide's direct upload, in our own fixture (`runtime-py-presigned`): with
/// Django and `--customer session`, the presigned POST is wired in the service's `finish`
/// for the row's owner (`upload.owner_id`), not the request's user; the helper file is not
/// edited. With a header customer the owner's pk is not known to be the customer id, so the
/// site stays a listed step that says why.
#[test]
fn a_presigned_post_is_billed_in_finish_for_the_rows_owner_only_when_the_owner_is_the_customer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/wire/runtime-py-presigned");
    let source = std::fs::read_to_string(root.join("presignrt/storage.py")).expect("fixture");
    let found = sites(
        "presignrt/storage.py",
        &source,
        &[(K::Boto3Presigned, "client.generate_presigned_post")],
    );
    let refs: Vec<&CallSite> = found.iter().collect();
    let run = |customer: &CustomerSource| {
        wire_source(
            &root,
            "presignrt/storage.py",
            &source,
            &refs,
            &package("python", &["django"]),
            &plan(customer),
            &UsageImports {
                typescript: None,
                python: Some("spaire_billing.usage".to_owned()),
                python_request_customer: true,
                python_app_files: Vec::new(),
                ts_session_customer: false,
            },
        )
        .expect("wiring")
    };
    let wired = run(&CustomerSource::Session);
    assert!(wired.after.is_none(), "the helper file is not edited");
    assert!(wired.manual.is_empty(), "{:?}", wired.manual);
    let (path, _, after, _) = &wired.elsewhere[0];
    assert_eq!(path, "presignrt/services.py");
    assert!(
        after.contains("from spaire_billing.usage import record_stored_file\n")
            && after.contains(
                "        upload.save()\n        record_stored_file(upload.owner_id, upload.file, idempotency_key=f\"upload-upload:{upload.pk}\")\n"
            ),
        "{after}"
    );
    let listed = run(&header());
    assert!(listed.elsewhere.is_empty());
    let step = &listed.manual[0].instructions;
    assert!(
        step.contains("`DirectUploadService.finish` at presignrt/services.py:")
            && step.contains("It is not recorded there automatically: the file's owner is known to be the billed customer only on Django with `--customer session`"),
        "{step}"
    );
}
