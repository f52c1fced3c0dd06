// Runtime proof for the wiring of `openai` v4 streams read by AI SDK 2's `OpenAIStream`
// (chathn's app/api/chat/route.ts), run by hand; not part of CI (it needs openai@4.0.0 and
// ai@2.2.2, which conflict with the test toolchain's ai@5):
//
//   mkdir /tmp/rt && cd /tmp/rt && echo '{"type":"module"}' > package.json
//   npm install openai@4.0.0 ai@2.2.2 && ln -s <toolchain>/node_modules/@spaire node_modules/
//   cp -r <wired chathn>/lib . && cp <this file> proof.ts && <toolchain>/node_modules/.bin/tsx proof.ts
//
// A stub OpenAI-compatible server on 127.0.0.1 sends, like OpenAI, a last `choices: []` chunk
// with `usage` only when the request asks with `stream_options.include_usage`; the generated
// usage module sends its events to a stub Spaire ingest route on the same server. The route's
// original and wired statements (copied from the tool's edit) run on the same request: the
// streamed response must be identical and both streams' exact usage recorded for the header's
// user. Exit code 1 otherwise.
import http from "node:http";
import { OpenAI } from "openai";
import { OpenAIStream, StreamingTextResponse } from "ai";
import { meterChatCompletionStream, flushUsage } from "./lib/spaire/usage";

const requests: any[] = [];
const ingested: any[] = [];
const USAGE = [
  { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
  { prompt_tokens: 13, completion_tokens: 5, total_tokens: 18 },
];
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const json = body ? JSON.parse(body) : {};
    if (req.url?.includes("/events/ingest")) {
      ingested.push(...json.events);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ inserted: json.events.length, duplicates: 0 }));
      return;
    }
    const n = requests.push(json) - 1;
    const id = `chatcmpl-${n}`;
    const chunk = (choices: any[], extra = {}) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model: "gpt-3.5-turbo-0613", choices, ...extra })}\n\n`;
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (json.functions) {
      res.write(chunk([{ index: 0, delta: { role: "assistant", content: null, function_call: { name: "get_top_stories", arguments: "" } }, finish_reason: null }]));
      res.write(chunk([{ index: 0, delta: { function_call: { arguments: "{\"limit\": 2}" } }, finish_reason: null }]));
      res.write(chunk([{ index: 0, delta: {}, finish_reason: "function_call" }]));
    } else {
      res.write(chunk([{ index: 0, delta: { role: "assistant", content: "Top" }, finish_reason: null }]));
      res.write(chunk([{ index: 0, delta: { content: " stories: a, b" }, finish_reason: null }]));
      res.write(chunk([{ index: 0, delta: {}, finish_reason: "stop" }]));
    }
    if (json.stream_options?.include_usage) res.write(chunk([], { usage: USAGE[n % 2] }));
    res.end("data: [DONE]\n\n");
  });
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as any).port;
process.env.SPAIRE_SERVER_URL = `http://127.0.0.1:${port}`;
process.env.SPAIRE_ACCESS_TOKEN = "0".repeat(8);
const openai = new OpenAI({ apiKey: "0".repeat(8), baseURL: `http://127.0.0.1:${port}/v1` });
const functions = [{ name: "get_top_stories", parameters: { type: "object", properties: { limit: { type: "number" } } } }];
const runFunction = async (name: string, args: any) => ({ name, stories: ["a", "b"].slice(0, args.limit) });

// chathn's POST as it was, and as spaire-billing wired it (the two changed statements).
async function original(req: Request) {
  const { messages } = await req.json();
  const initialResponse = await openai.chat.completions.create({ model: "gpt-3.5-turbo-0613", messages, stream: true, functions, function_call: "auto" } as any);
  const stream = OpenAIStream(initialResponse as any, {
    experimental_onFunctionCall: async ({ name, arguments: args }, createFunctionCallMessages) => {
      const result = await runFunction(name, args);
      const newMessages = createFunctionCallMessages(result);
      return openai.chat.completions.create({ model: "gpt-3.5-turbo-0613", stream: true, messages: [...messages, ...newMessages] }) as any;
    },
  });
  return new StreamingTextResponse(stream);
}
async function wired(req: Request) {
  const { messages } = await req.json();
  const initialResponse = await meterChatCompletionStream(req.headers.get("x-user-id") ?? "", openai.chat.completions.create({
    model: "gpt-3.5-turbo-0613",
    messages,
    stream: true, ...{ stream_options: { include_usage: true } },
    functions,
    function_call: "auto",
  } as any));
  const stream = OpenAIStream(initialResponse as any, {
    experimental_onFunctionCall: async ({ name, arguments: args }, createFunctionCallMessages) => {
      const result = await runFunction(name, args);
      const newMessages = createFunctionCallMessages(result);
      return meterChatCompletionStream(req.headers.get("x-user-id") ?? "", openai.chat.completions.create({
        model: "gpt-3.5-turbo-0613",
        stream: true, ...{ stream_options: { include_usage: true } },
        messages: [...messages, ...newMessages],
      })) as any;
    },
  });
  return new StreamingTextResponse(stream);
}
const request = () => new Request("http://localhost/api/chat", { method: "POST", headers: { "x-user-id": "user-42" }, body: JSON.stringify({ messages: [{ role: "user", content: "top stories?" }] }) });

const before = await (await original(request())).text();
const sentBefore = requests.splice(0).map((r) => r.stream_options);
const after = await (await wired(request())).text();
const sentAfter = requests.splice(0).map((r) => r.stream_options);
await flushUsage();
server.close();
const events = ingested.map((e) => ({ name: e.name, customer: e.external_customer_id ?? e.externalCustomerId, meta: e.metadata }));
console.log(JSON.stringify({ before, after, same: before === after, sentBefore, sentAfter, events }, null, 1));
const exact = events.length === 2 && events.every((e, i) => e.customer === "user-42"
  && e.meta.inputTokens === USAGE[i].prompt_tokens && e.meta.outputTokens === USAGE[i].completion_tokens
  && e.meta.totalTokens === USAGE[i].total_tokens);
if (before !== after || !exact || sentBefore.some(Boolean)) process.exit(1);
console.log("PASS: same response, exact usage of both streams recorded for user-42");
