// One lightweight bench instance (recorder-bench.mjs): the generated recorder and what the
// generated API-call middleware does for a request, without an HTTP server or framework.
//
//   node recorder-instance.mjs <billing|plain|replay> <bundle.mjs> <customer>   env: RATE, DURATION, WARMUP
//
// Open loop: request k is due at start + k / RATE, whether or not the ones before it are done.
// A request is a small handler (builds and serializes a JSON answer); on `billing` it is
// followed by the middleware's work: `isBilledApiCall`, `resolveCustomerId` (the header),
// `recordApiCall`. Its latency is from the moment it was due to the moment it finished, so it
// includes waiting for the event loop: the recorder's flushes (serializing a batch, the ingest
// request and its answer) and its timers run on the same thread and delay requests behind
// them, which is what billing adds to a request on a busy instance.
//
// `workUs` is the request's own part (from its start to done): the middleware's work alone.
// Prints one JSON line when the load ends ({ mode, answered, latenciesUs, workUs, stats }); a billing
// instance then stays up, its recorder holding what it could not send yet, until the bench
// stops it with SIGTERM (the recorder's own shutdown flush).
import { readdirSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [mode, bundle, customer] = process.argv.slice(2);
// `replay`: the app's next start after the stop. No requests: the recorder finds the spool the
// stopped instances left and sends it; one JSON line once nothing is queued and no spool file
// is left (what did not fit the queue waits there for a later tick), or after 5 min.
if (mode === "replay") {
  const spaire = await import(pathToFileURL(bundle).href);
  const spoolLeft = () =>
    readdirSync(process.env.SPAIRE_USAGE_SPOOL_DIR, { recursive: true }).some((f) => String(f).endsWith(".json"));
  const began = Date.now();
  await new Promise((resolve) => {
    const poll = setInterval(() => {
      const stats = spaire.usageRecorderStats();
      if ((stats.delivered > 0 && stats.queued === 0 && !spoolLeft()) || Date.now() - began > 300_000) {
        clearInterval(poll);
        resolve();
      }
    }, 500);
  });
  process.stdout.write(`${JSON.stringify({ mode, answered: 0, latenciesUs: [], workUs: [], stats: spaire.usageRecorderStats() })}\n`);
  setInterval(() => undefined, 60_000);
} else {
  const rate = Number(process.env.RATE ?? 50);
  const duration = Number(process.env.DURATION ?? 120);
  const warmup = Number(process.env.WARMUP ?? 10);
  const billing = mode === "billing";
  const spaire = billing ? await import(pathToFileURL(bundle).href) : undefined;

  const now = () => process.hrtime.bigint();
  const interval = 1e9 / rate; // ns
  const latenciesUs = [];
  // The request's own time, from its start to done (no waiting for the event loop before it).
  const workUs = [];
  let answered = 0;

  function handler(k) {
    return JSON.stringify({ ok: true, request: k, at: Date.now() });
  }

  async function request(k, due) {
    const began = now();
    const body = handler(k);
    if (billing) {
      const path = "/api/ping";
      if (spaire.isBilledApiCall(path, 200, "application/json")) {
        const customerId = await spaire.resolveCustomerId({
          header: (name) => (name.toLowerCase() === "x-customer-id" ? customer : undefined),
          body: () => undefined,
          request: {},
        });
        if (customerId) spaire.recordApiCall(customerId, path, "GET");
      }
    }
    answered += 1;
    const done = now();
    if (body.length > 0 && Number(due - start) / 1e9 >= warmup) {
      latenciesUs.push(Number(done - due) / 1e3);
      workUs.push(Number(done - began) / 1e3);
    }
  }

  const start = now();
  const total = Math.floor(rate * duration);
  let next = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const elapsed = Number(now() - start);
      while (next < total && next * interval <= elapsed) {
        const due = start + BigInt(Math.round(next * interval));
        request(next, due).catch(() => undefined);
        next += 1;
      }
      if (next >= total) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, (next * interval - Number(now() - start)) / 1e6));
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 50)); // the last requests' microtasks
  const stats = billing ? spaire.usageRecorderStats() : undefined;
  process.stdout.write(`${JSON.stringify({ mode, answered, latenciesUs, workUs, stats })}\n`);
  if (!billing) process.exit(0);
  // Billing: keep the recorder (and its timer) alive until SIGTERM; its listener flushes and
  // re-raises the signal, ending the process the way Node's default would.
  setInterval(() => undefined, 60_000);
}
