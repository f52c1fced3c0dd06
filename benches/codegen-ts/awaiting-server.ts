// The comparison app: the same Express routes, but every request awaits `events.ingest`
// before it is handled (what hand-written metering usually does).
import express from "express";
import { getSpaire } from "./lib/spaire/client.js";

const app = express();
app.use((req, res, next) => {
  const customerId = req.get("x-customer-id");
  if (!customerId) return next();
  getSpaire()
    .events.ingest({ events: [{ name: "api-call", externalCustomerId: customerId, metadata: { endpoint: req.path, method: req.method } }] })
    .then(() => next(), next);
});
app.use(express.json());
app.get("/api/ping", (_req, res) => {
  res.json({ ok: true });
});
app.listen(Number(process.env.PORT), "127.0.0.1");
