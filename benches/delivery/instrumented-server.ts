// One bench instance: the fixture's Express app twice in ONE process, on two ports, with the
// same handler: `billed` runs the generated `spaireApiCalls()` middleware, `plain` does not.
// Both see the same CPU, event loop and flush traffic, so their difference is what billing
// adds to a request, measured in-process with process.hrtime.bigint():
//
// - `handlerNs`: end to end inside the app, from the first middleware to the response's
//   `finish` (the last byte handed to the socket), for both apps;
// - `middlewareNs`: the billing middleware's own synchronous part on the request path (the
//   time inside it, minus the rest of the chain it calls through `next()`);
// - `finishNs`: the billing `finish` listener (decides whether the request is billed and
//   starts recording), which runs after the response is sent, on the same thread.
//
// `GET /__bench/stats` on the plain port returns the samples, `POST /__bench/reset` drops
// the warm-up's. Copied into the generated app
// by run.sh as src/bench-server.ts.
import express from "express";
import type { RequestHandler } from "express";
import { spaireApiCalls } from "./lib/spaire/express.js";

const now = () => process.hrtime.bigint();
const samples = {
  billed: [] as number[],
  plain: [] as number[],
  middlewareNs: [] as number[],
  finishNs: [] as number[],
};

/** Times a request from its first middleware to `finish`, into `into`. */
function timed(into: number[]): RequestHandler {
  return (req, res, next) => {
    const started = now();
    res.on("finish", () => {
      if (req.path === "/api/ping") into.push(Number(now() - started));
    });
    next();
  };
}

/** The billing middleware, timed: its own synchronous part and its `finish` listener. */
function timedBilling(): RequestHandler {
  const billing = spaireApiCalls();
  return (req, res, next) => {
    const on = res.on;
    // The listener the middleware registers is wrapped so its run is timed too.
    res.on = function (this: typeof res, event: string, listener: (...args: unknown[]) => void) {
      if (event !== "finish") return on.call(this, event, listener);
      return on.call(this, event, (...args: unknown[]) => {
        const started = now();
        listener(...args);
        samples.finishNs.push(Number(now() - started));
      });
    } as typeof res.on;
    let downstream = 0n;
    const started = now();
    billing(req, res, (error?: unknown) => {
      res.on = on;
      const nextStarted = now();
      next(error);
      downstream += now() - nextStarted;
    });
    res.on = on;
    samples.middlewareNs.push(Number(now() - started - downstream));
  };
}

function app(billed: boolean) {
  const app = express();
  app.use(timed(billed ? samples.billed : samples.plain));
  if (billed) app.use(timedBilling());
  app.use(express.json());
  app.get("/api/ping", (_req, res) => {
    res.json({ ok: true });
  });
  return app;
}

const plain = app(false);
plain.get("/__bench/stats", (_req, res) => {
  res.json(samples);
});
// After the warm-up (JIT, first connections): only steady-state samples count.
plain.post("/__bench/reset", (_req, res) => {
  for (const list of Object.values(samples)) list.length = 0;
  res.json({ ok: true });
});
const billed = app(true);
billed.listen(Number(process.env.PORT), "127.0.0.1");
plain.listen(Number(process.env.PLAIN_PORT), "127.0.0.1");
