// N instances under open-loop load for D seconds against one emulator with the sandbox rate
// limit. Each instance is one process serving the same app twice (instrumented-server.ts):
// with billing on one port, without on another; each port gets R requests/s. The billing
// side reaches Spaire through a counting proxy (429s, ingest requests, events sent). Then
// every instance gets SIGTERM, and the emulator's count is compared with the billed requests
// answered. Latency is reported twice: as the load generator saw it, and in-process (what
// billing adds inside the app, without the load generator's own scheduling in it).
//
//   node bench.mjs <app-dir>   env: SPAIRE_SERVER_URL, SPAIRE_ACCESS_TOKEN, NODE_TOOLCHAIN,
//                                   INSTANCES (10), RATE (20), DURATION (120 s)
import { spawn } from "node:child_process";
import http from "node:http";

import { emulatorApi, freePort, startCountingProxy } from "./emulator-side.mjs";

const appDir = process.argv[2];
const instances = Number(process.env.INSTANCES ?? 10);
const rate = Number(process.env.RATE ?? 20);
const duration = Number(process.env.DURATION ?? 120);
const upstream = new URL(process.env.SPAIRE_SERVER_URL);
const token = process.env.SPAIRE_ACCESS_TOKEN;
const run = Date.now().toString(36);

const { proxy, port: proxyPort, seen } = await startCountingProxy(upstream);
const api = emulatorApi(upstream, token);

// Every instance started, so none outlives the bench when it fails.
const started = [];
process.on("exit", () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

async function start(entry, serverUrl) {
  const [port, plainPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: appDir,
    env: { ...process.env, PORT: String(port), PLAIN_PORT: String(plainPort), SPAIRE_SERVER_URL: serverUrl },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  started.push(child);
  const side = (p) => ({ port: p, latencies: [], ok: 0, failed: 0 });
  for (let i = 0; i < 3000; i += 1) {
    try {
      await fetch(`http://127.0.0.1:${port}/api/ping`); // not counted: no customer id
      await fetch(`http://127.0.0.1:${plainPort}/api/ping`);
      return { child, exited, stderr: () => stderr, billed: side(port), plain: side(plainPort) };
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

const meter = await api("POST", "/v1/meters/", {
  name: `bench-api-calls-${run}`,
  filter: { conjunction: "and", clauses: [{ property: "name", operator: "eq", value: "api-call" }] },
  aggregation: { func: "count" },
});
const customer = `bench-${run}`;
// Started all at once: each compiles the app with tsx, which takes long on a busy machine.
const apps = await Promise.all(
  Array.from({ length: instances }, () => start("src/bench-server.ts", `http://127.0.0.1:${proxyPort}`)),
);
const billing = apps.map((a) => a.billed);
const baseline = apps.map((a) => a.plain);
console.log(`${instances} instances (billed + plain port each), ${rate} requests/s per port, ${duration} s`);

// Open loop: every 1/R s each instance gets a request, whether or not the last one answered,
// interleaved billed/plain so both see the same machine (and the same process).
const interval = 1000 / rate;
let flip = false;
const end = Date.now() + duration * 1000;
// In-process samples of the first seconds (JIT, first connections) are dropped.
const warmup = Math.min(10, duration / 10);
setTimeout(() => {
  for (const side of baseline) fetch(`http://127.0.0.1:${side.port}/__bench/reset`, { method: "POST" }).catch(() => undefined);
}, warmup * 1000);
await new Promise((resolve) => {
  const tick = setInterval(() => {
    if (Date.now() >= end) {
      clearInterval(tick);
      resolve();
      return;
    }
    // Which side goes first alternates: the second request of a pair waits for the first
    // one's handling in the same process, which would otherwise always count against one side.
    flip = !flip;
    for (let i = 0; i < instances; i += 1) {
      const [first, second] = flip ? [billing[i], baseline[i]] : [baseline[i], billing[i]];
      get(first, customer);
      get(second, customer);
    }
  }, interval);
});
await new Promise((r) => setTimeout(r, 2000)); // answers in flight

// In-process samples, read before the instances stop.
const inProcess = { billed: [], plain: [], middlewareNs: [], finishNs: [] };
for (const side of baseline) {
  const stats = await (await fetch(`http://127.0.0.1:${side.port}/__bench/stats`)).json();
  for (const key of Object.keys(inProcess)) for (const x of stats[key]) inProcess[key].push(x);
}

const stopped = Date.now();
for (const app of apps) app.child.kill("SIGTERM");
const exits = await Promise.all(apps.map((a) => a.exited));
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
console.log(`client-side p50 ms: billing ${fmt(percentile(billed, 0.5))}, baseline ${fmt(percentile(plain, 0.5))}`);
console.log(`client-side p99 ms: billing ${fmt(percentile(billed, 0.99))}, baseline ${fmt(percentile(plain, 0.99))}; added ${fmt(percentile(billed, 0.99) - percentile(plain, 0.99))} ms; ratio ${(percentile(billed, 0.99) / percentile(plain, 0.99)).toFixed(2)}x`);
const ms = (ns) => ns / 1e6;
const sorted = (xs) => xs.slice().sort((a, b) => a - b);
const [hb, hp, mw, fin] = [inProcess.billed, inProcess.plain, inProcess.middlewareNs, inProcess.finishNs].map(sorted);
const us = (ns) => (ns / 1e3).toFixed(1);
console.log(`in-process samples (after ${warmup} s warm-up): billed ${hb.length}, plain ${hp.length}`);
console.log(`in-process handler ms p50: billed ${fmt(ms(percentile(hb, 0.5)))}, plain ${fmt(ms(percentile(hp, 0.5)))}; added ${fmt(ms(percentile(hb, 0.5) - percentile(hp, 0.5)))} ms; ratio ${(percentile(hb, 0.5) / percentile(hp, 0.5)).toFixed(2)}x`);
console.log(`in-process handler ms p99: billed ${fmt(ms(percentile(hb, 0.99)))}, plain ${fmt(ms(percentile(hp, 0.99)))}; added ${fmt(ms(percentile(hb, 0.99) - percentile(hp, 0.99)))} ms; ratio ${(percentile(hb, 0.99) / percentile(hp, 0.99)).toFixed(2)}x`);
console.log(`billing middleware, synchronous part on the request path (us): p50 ${us(percentile(mw, 0.5))}, p99 ${us(percentile(mw, 0.99))}, max ${us(mw[mw.length - 1])}`);
console.log(`billing finish listener, after the response (us): p50 ${us(percentile(fin, 0.5))}, p99 ${us(percentile(fin, 0.99))}, max ${us(fin[fin.length - 1])}`);
console.log(`ingest requests ${seen.ingests}, events sent ${seen.eventsSent} (incl. resends), 429s seen ${seen.tooMany}, other errors ${seen.otherErrors}`);
console.log(`events counted ${counted} of ${answered}: lost ${Math.max(0, answered - counted)}, duplicated ${Math.max(0, counted - answered)}`);
console.log(`shutdown took ${shutdownSeconds.toFixed(1)} s; exits ${JSON.stringify([...new Set(exits.map((e) => JSON.stringify(e)))])}`);
const complaints = apps.map((a) => a.stderr()).join("").trim();
if (complaints) console.log(`billing stderr:\n${complaints.split("\n").slice(0, 10).join("\n")}`);
proxy.close();
agent.destroy();
process.exit(answered === counted ? 0 : 1);
