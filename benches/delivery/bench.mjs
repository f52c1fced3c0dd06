// N billing instances and N baseline instances (same app, no billing) under the same open-loop
// load (R requests/s each) for D seconds, all at once, against one emulator with the sandbox
// rate limit. The billing instances reach Spaire through a counting proxy (429s, ingest
// requests, events sent). Then every billing instance gets SIGTERM, and the emulator's count
// is compared with the requests they answered.
//
//   node bench.mjs <app-dir>   env: SPAIRE_SERVER_URL, SPAIRE_ACCESS_TOKEN, NODE_TOOLCHAIN,
//                                   INSTANCES (10), RATE (20), DURATION (120 s)
import { spawn } from "node:child_process";
import http from "node:http";
import { createServer } from "node:net";

const appDir = process.argv[2];
const instances = Number(process.env.INSTANCES ?? 10);
const rate = Number(process.env.RATE ?? 20);
const duration = Number(process.env.DURATION ?? 120);
const upstream = new URL(process.env.SPAIRE_SERVER_URL);
const token = process.env.SPAIRE_ACCESS_TOKEN;
const run = Date.now().toString(36);

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Counts what the recorders send and what they get back, forwarding everything unchanged.
const seen = { ingests: 0, tooMany: 0, otherErrors: 0, eventsSent: 0 };
const proxy = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (req.url.startsWith("/v1/events/ingest")) {
      seen.ingests += 1;
      try {
        seen.eventsSent += JSON.parse(body.toString()).events.length;
      } catch {}
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        if (answer.statusCode === 429) seen.tooMany += 1;
        else if (answer.statusCode >= 400) seen.otherErrors += 1;
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    forward.end(body);
  });
});
const proxyPort = await freePort();
await new Promise((resolve) => proxy.listen(proxyPort, "127.0.0.1", resolve));

// Every instance started, so none outlives the bench when it fails.
const started = [];
process.on("exit", () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

async function start(entry, serverUrl) {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: appDir,
    env: { ...process.env, PORT: String(port), SPAIRE_SERVER_URL: serverUrl },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  started.push(child);
  for (let i = 0; i < 3000; i += 1) {
    try {
      await fetch(`http://127.0.0.1:${port}/api/ping`); // not counted: no customer id
      return { child, port, exited, stderr: () => stderr, latencies: [], ok: 0, failed: 0 };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${entry} did not start:\n${stderr}`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function get(app, customer) {
  const started = process.hrtime.bigint();
  const req = http.request(
    { host: "127.0.0.1", port: app.port, path: "/api/ping", agent, headers: { "x-customer-id": customer } },
    (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode === 200) {
          app.ok += 1;
          app.latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        } else app.failed += 1;
      });
    },
  );
  req.on("error", () => (app.failed += 1));
  req.end();
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

// Straight to the emulator, honouring its 429s: the bench's own reads share the limit.
async function api(method, path, body) {
  for (;;) {
    const response = await fetch(`${upstream.origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
    if (response.status === 429) {
      const wait = Number(response.headers.get("retry-after") ?? 60);
      console.error(`(bench read rate-limited; waiting ${wait} s)`);
      await new Promise((r) => setTimeout(r, wait * 1000));
      continue;
    }
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }
}

const meter = await api("POST", "/v1/meters/", {
  name: `bench-api-calls-${run}`,
  filter: { conjunction: "and", clauses: [{ property: "name", operator: "eq", value: "api-call" }] },
  aggregation: { func: "count" },
});
const customer = `bench-${run}`;
// Started all at once: each compiles the app with tsx, which takes long on a busy machine.
const [billing, baseline] = await Promise.all([
  Promise.all(Array.from({ length: instances }, () => start("src/server.ts", `http://127.0.0.1:${proxyPort}`))),
  Promise.all(Array.from({ length: instances }, () => start("src/baseline-server.ts", `http://127.0.0.1:${proxyPort}`))),
]);
console.log(`${instances} billing + ${instances} baseline instances, ${rate} requests/s each, ${duration} s`);

// Open loop: every 1/R s each instance gets a request, whether or not the last one answered,
// interleaved billing/baseline so both see the same machine.
const interval = 1000 / rate;
const end = Date.now() + duration * 1000;
await new Promise((resolve) => {
  const tick = setInterval(() => {
    if (Date.now() >= end) {
      clearInterval(tick);
      resolve();
      return;
    }
    for (let i = 0; i < instances; i += 1) {
      get(billing[i], customer);
      get(baseline[i], customer);
    }
  }, interval);
});
await new Promise((r) => setTimeout(r, 2000)); // answers in flight

const stopped = Date.now();
for (const app of [...billing, ...baseline]) app.child.kill("SIGTERM");
const exits = await Promise.all(billing.map((a) => a.exited));
await Promise.all(baseline.map((a) => a.exited));
const shutdownSeconds = (Date.now() - stopped) / 1000;

const answered = billing.reduce((sum, a) => sum + a.ok, 0);
const now = Date.now();
const counted = (
  await api(
    "GET",
    `/v1/meters/${meter.id}/quantities?start_timestamp=${new Date(now - 86_400_000).toISOString()}&end_timestamp=${new Date(now + 86_400_000).toISOString()}&interval=day&external_customer_id=${customer}`,
  )
).total;
const lat = (apps) => apps.flatMap((a) => a.latencies).sort((a, b) => a - b);
const billed = lat(billing);
const plain = lat(baseline);
const fmt = (x) => x.toFixed(3);
console.log(`requests answered 200: billing ${answered}, baseline ${baseline.reduce((s, a) => s + a.ok, 0)}; failed: ${billing.reduce((s, a) => s + a.failed, 0)} / ${baseline.reduce((s, a) => s + a.failed, 0)}`);
console.log(`p50 ms: billing ${fmt(percentile(billed, 0.5))}, baseline ${fmt(percentile(plain, 0.5))}`);
console.log(`p99 ms: billing ${fmt(percentile(billed, 0.99))}, baseline ${fmt(percentile(plain, 0.99))}; added ${fmt(percentile(billed, 0.99) - percentile(plain, 0.99))} ms; ratio ${(percentile(billed, 0.99) / percentile(plain, 0.99)).toFixed(2)}x`);
console.log(`ingest requests ${seen.ingests}, events sent ${seen.eventsSent} (incl. resends), 429s seen ${seen.tooMany}, other errors ${seen.otherErrors}`);
console.log(`events counted ${counted} of ${answered}: lost ${Math.max(0, answered - counted)}, duplicated ${Math.max(0, counted - answered)}`);
console.log(`shutdown took ${shutdownSeconds.toFixed(1)} s; exits ${JSON.stringify([...new Set(exits.map((e) => JSON.stringify(e)))])}`);
const complaints = billing.map((a) => a.stderr()).join("").trim();
if (complaints) console.log(`billing stderr:\n${complaints.split("\n").slice(0, 10).join("\n")}`);
proxy.close();
agent.destroy();
process.exit(answered === counted ? 0 : 1);
