// p99 latency the generated API-call middleware adds per request (Express), against the same
// app without metering (baseline) and the same app awaiting `events.ingest` per request, with
// the Spaire API (emulator) answering in `--latency-ms` ms. Then: events lost after a graceful
// shutdown (SIGTERM right after the last request).
//
//   node bench.mjs <app-dir>    env: SPAIRE_SERVER_URL, SPAIRE_ACCESS_TOKEN, NODE_TOOLCHAIN,
//                                    BENCH_REQUESTS (default 2000), BENCH_ROUNDS (default 3)
//
// Baseline and generated run in alternating rounds (a fresh process each) and the median p99
// is reported, so a noisy machine moves both the same way. The await-per-request variant is
// slow by construction (one API round trip per request) and runs once with fewer requests.
import { spawn } from "node:child_process";
import http from "node:http";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";

const appDir = process.argv[2];
const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const warmup = 200;
const require = createRequire(path.join(process.env.NODE_TOOLCHAIN, "package.json"));
const { Spaire } = require("@spaire/sdk");
const spaire = new Spaire({ accessToken: process.env.SPAIRE_ACCESS_TOKEN, serverURL: process.env.SPAIRE_SERVER_URL });

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function start(entry) {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: appDir,
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  for (let i = 0; i < 300; i += 1) {
    try {
      await fetch(`http://127.0.0.1:${port}/api/ping`);
      return { child, port, exited, stderr: () => stderr };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${entry} did not start: ${stderr}`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(port, customer) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      { host: "127.0.0.1", port, path: "/api/ping", agent, headers: { "x-customer-id": customer } },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          else resolve(Number(process.hrtime.bigint() - started) / 1e6);
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function measure(name, entry, customer, count = requests) {
  const app = await start(entry);
  for (let i = 0; i < warmup; i += 1) await get(app.port, customer);
  const latencies = [];
  for (let i = 0; i < count; i += 1) latencies.push(await get(app.port, customer));
  latencies.sort((a, b) => a - b);
  agent.destroy();
  app.child.kill("SIGTERM");
  const exit = await app.exited;
  return {
    name,
    sent: warmup + count,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    exit,
    stderr: app.stderr(),
  };
}

async function counted(meterId, customer) {
  const result = await spaire.meters.quantities({
    id: meterId,
    startTimestamp: new Date(Date.now() - 3_600_000),
    endTimestamp: new Date(Date.now() + 3_600_000),
    interval: "hour",
    externalCustomerId: customer,
  });
  return result.total;
}

const run = Date.now().toString(36);
const meter = await spaire.meters.create({
  name: `bench-api-calls-${run}`,
  filter: { conjunction: "and", clauses: [{ property: "name", operator: "eq", value: "api-call" }] },
  aggregation: { func: "count" },
});

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
function combine(name, results) {
  return {
    name,
    sent: results.reduce((sum, r) => sum + r.sent, 0),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    p99s: results.map((r) => r.p99),
    exit: results.map((r) => r.exit),
    stderr: results.map((r) => r.stderr).join(""),
  };
}
const baselineRuns = [];
const generatedRuns = [];
for (let round = 0; round < rounds; round += 1) {
  baselineRuns.push(await measure("baseline", "src/baseline-server.ts", `bench-base-${run}`));
  generatedRuns.push(await measure("generated", "src/server.ts", `bench-gen-${run}`));
}
const baseline = combine("baseline (no metering)", baselineRuns);
const generated = combine("generated middleware", generatedRuns);
const awaiting = combine("await events.ingest", [
  await measure("await", "src/awaiting-server.ts", `bench-await-${run}`, Math.min(requests, 500)),
]);

const lost = generated.sent - (await counted(meter.id, `bench-gen-${run}`));
const awaitingLost = awaiting.sent - (await counted(meter.id, `bench-await-${run}`));
const fmt = (x) => x.toFixed(3).padStart(9);
console.log(`${requests} requests x ${rounds} rounds (baseline, generated), ${Math.min(requests, 500)} (await); ${warmup} warm-up each; sequential, keep-alive`);
console.log("variant                      p50 ms    p99 ms   (p99 per round)");
for (const r of [baseline, generated, awaiting]) {
  console.log(`${r.name.padEnd(26)} ${fmt(r.p50)} ${fmt(r.p99)}   ${r.p99s.map((x) => x.toFixed(2)).join(" / ")}`);
}
const added = generated.p99 - baseline.p99;
console.log(`p99 added by the generated middleware: ${added.toFixed(3)} ms (target <= 1 ms)`);
console.log(`p99 ratio await-per-request / generated: ${(awaiting.p99 / generated.p99).toFixed(1)}x`);
console.log(`events lost after graceful shutdown: ${lost} of ${generated.sent} (await per request: ${awaitingLost})`);
console.log(`generated app exits: ${JSON.stringify(generated.exit)}${generated.stderr ? `, stderr: ${generated.stderr.trim()}` : ""}`);
process.exit(lost === 0 ? 0 : 1);
