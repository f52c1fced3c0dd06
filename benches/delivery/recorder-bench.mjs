// The delivery target with lightweight instances (recorder-instance.mjs): N processes
// running the generated recorder under R requests/s each for D seconds, next to N processes
// doing the same requests without billing, against ONE emulator with the sandbox rate limit.
// Reports events lost and duplicated, 429s the recorders saw, and the latency billing adds
// (billing vs plain instances of the same run: p50, p99, ratio).
//
//   node recorder-bench.mjs <bundle.mjs>   env: SPAIRE_SERVER_URL, SPAIRE_ACCESS_TOKEN,
//                                               INSTANCES (20), RATE (50), DURATION (120 s),
//                                               SPEND_WINDOW (1: spend the window before the stop)
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { emulatorApi, startCountingProxy } from "./emulator-side.mjs";

const bundle = process.argv[2];
const instances = Number(process.env.INSTANCES ?? 20);
const rate = Number(process.env.RATE ?? 50);
const duration = Number(process.env.DURATION ?? 120);
const warmup = Math.min(10, duration / 10);
const upstream = new URL(process.env.SPAIRE_SERVER_URL);
const token = process.env.SPAIRE_ACCESS_TOKEN;
const run = Date.now().toString(36);
const here = dirname(fileURLToPath(import.meta.url));

// The instances' spool (what a shutdown could not deliver is saved there at exit), this run's
// own: the bench then starts one more instance on it, as the app's next start would.
const spoolDir = mkdtempSync(join(tmpdir(), "bench-spool-"));
const spoolFiles = () => readdirSync(spoolDir, { recursive: true }).filter((f) => String(f).endsWith(".json"));

const { proxy, port: proxyPort, seen } = await startCountingProxy(upstream);
const api = emulatorApi(upstream, token);

const started = [];
process.on("exit", () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(spoolDir, { recursive: true, force: true });
});

function start(mode, customer) {
  const child = spawn(process.execPath, [join(here, "recorder-instance.mjs"), mode, bundle, customer], {
    env: {
      ...process.env,
      RATE: String(rate),
      DURATION: String(duration),
      WARMUP: String(warmup),
      SPAIRE_SERVER_URL: `http://127.0.0.1:${proxyPort}`,
      SPAIRE_USAGE_SPOOL_DIR: spoolDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const report = new Promise((resolve, reject) => {
    child.stdout.on("data", () => {
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (line && stdout.includes("\n")) resolve(JSON.parse(line));
    });
    child.on("exit", (code, signal) => {
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line));
      else reject(new Error(`${mode} instance exited (${code ?? signal}) without a report:\n${stderr}`));
    });
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, report, exited, stderr: () => stderr };
}

const meter = await api("POST", "/v1/meters/", {
  name: `bench-recorder-api-calls-${run}`,
  filter: { conjunction: "and", clauses: [{ property: "name", operator: "eq", value: "api-call" }] },
  aggregation: { func: "count" },
});
const customer = `bench-${run}`;
const loadBefore = loadavg();
console.log(
  `${instances} billing + ${instances} plain recorder instances, ${rate} requests/s each, ${duration} s (${cpus().length} cores, load average before ${loadBefore.map((x) => x.toFixed(1)).join(" ")})`,
);
const billing = [];
const plain = [];
for (let i = 0; i < instances; i += 1) {
  billing.push(start("billing", customer));
  plain.push(start("plain", customer));
}
const billingReports = await Promise.all(billing.map((b) => b.report));
const plainReports = await Promise.all(plain.map((p) => p.report));
const loadDuring = loadavg();

// SPEND_WINDOW=1: another API client of the organization spends the rate-limit window just
// before the stop, so every instance's shutdown flush meets 429s until its deadline: what the
// stop cannot deliver must then go through the spool.
if (process.env.SPEND_WINDOW === "1") {
  let requests = 0;
  for (; requests < 500; requests += 1) {
    const response = await fetch(`${upstream.origin}/v1/meters/?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    await response.arrayBuffer();
    if (response.status === 429) break;
  }
  console.log(`the window was spent by ${requests + 1} requests of another client just before the stop`);
}
const stopped = Date.now();
for (const instance of billing) instance.child.kill("SIGTERM");
const exits = await Promise.all(billing.map((b) => b.exited));
await Promise.all(plain.map((p) => p.exited));
const shutdownSeconds = (Date.now() - stopped) / 1000;

const answered = billingReports.reduce((sum, r) => sum + r.answered, 0);
const offered = Math.floor(rate * duration) * instances;
const countedNow = async () => {
  const now = Date.now();
  return (
    await api(
      "GET",
      `/v1/meters/${meter.id}/quantities?start_timestamp=${new Date(now - 86_400_000).toISOString()}&end_timestamp=${new Date(now + 86_400_000).toISOString()}&interval=day&external_customer_id=${customer}`,
    )
  ).total;
};
const countedAtStop = await countedNow();
const spooledFiles = spoolFiles().length;

// What the stop saved to the spool, sent by the app's next start: one more billing instance
// with no load of its own ("replay" mode), stopped once its recorder has nothing queued.
let counted = countedAtStop;
let replaySeconds = 0;
if (spooledFiles > 0) {
  const replayStarted = Date.now();
  const next = start("replay", customer);
  await next.report;
  next.child.kill("SIGTERM");
  await next.exited;
  replaySeconds = (Date.now() - replayStarted) / 1000;
  counted = await countedNow();
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const sorted = (reports, key) =>
  reports
    .flatMap((r) => r[key])
    .sort((a, b) => a - b);
const b = sorted(billingReports, "latenciesUs");
const p = sorted(plainReports, "latenciesUs");
const bw = sorted(billingReports, "workUs");
const pw = sorted(plainReports, "workUs");
const ms = (us) => (us / 1000).toFixed(3);
const line = (q, [billed, plain] = [b, p]) => {
  const [bq, pq] = [percentile(billed, q), percentile(plain, q)];
  return `billing ${ms(bq)}, plain ${ms(pq)}; added ${ms(bq - pq)} ms; ratio ${(bq / pq).toFixed(2)}x`;
};
console.log(`requests done: billing ${answered}, plain ${plainReports.reduce((s, r) => s + r.answered, 0)} (offered ${offered} each)`);
console.log(`latency samples (after ${warmup} s warm-up): billing ${b.length}, plain ${p.length}`);
console.log(`latency from due to done, p50 ms: ${line(0.5)}`);
console.log(`latency from due to done, p99 ms: ${line(0.99)}`);
console.log(`latency from due to done, max ms: billing ${ms(b[b.length - 1])}, plain ${ms(p[p.length - 1])}`);
console.log(`request's own work, p50 ms: ${line(0.5, [bw, pw])}`);
console.log(`request's own work, p99 ms: ${line(0.99, [bw, pw])}`);
console.log(`ingest requests ${seen.ingests}, events sent ${seen.eventsSent} (incl. resends), 429s seen ${seen.tooMany}, other errors ${seen.otherErrors}`);
console.log(`events counted at the stop ${countedAtStop} of ${answered}; spool files left by the stop: ${spooledFiles}`);
if (spooledFiles > 0) console.log(`the next start sent the spool in ${replaySeconds.toFixed(1)} s; spool files left: ${spoolFiles().length}`);
console.log(`events counted ${counted} of ${answered}: lost ${Math.max(0, answered - counted)}, duplicated ${Math.max(0, counted - answered)}`);
console.log(`shutdown took ${shutdownSeconds.toFixed(1)} s; exits ${JSON.stringify([...new Set(exits.map((e) => JSON.stringify(e)))])}`);
console.log(`load average at the end of the load: ${loadDuring.map((x) => x.toFixed(1)).join(" ")}`);
const complaints = billing.map((i) => i.stderr()).join("").trim();
if (complaints) console.log(`billing stderr:\n${complaints.split("\n").slice(0, 10).join("\n")}`);
proxy.close();
process.exit(answered === counted ? 0 : 1);
