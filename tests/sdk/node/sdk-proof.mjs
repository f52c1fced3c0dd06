// Drives the official @spaire/sdk against a running emulator and checks that every response
// parses (the SDK validates each one with zod and throws SDKValidationError otherwise) and
// that balances, quantities and webhooks behave as documented.
//
// Env: SPAIRE_SERVER_URL (no /v1), SPAIRE_ACCESS_TOKEN. Exit 0 = all checks passed.
// Run from tests/toolchains/node so `@spaire/sdk` resolves:
//   node --experimental-default-type=module ../../sdk/node/sdk-proof.mjs
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";

// Resolve the SDK from the shared toolchain (this file lives outside it).
const toolchain = process.env.SPAIRE_NODE_TOOLCHAIN ?? path.resolve(process.cwd());
const require = createRequire(path.join(toolchain, "package.json"));
const { Spaire } = await import(require.resolve("@spaire/sdk"));
const { validateEvent, WebhookVerificationError } = await import(require.resolve("@spaire/sdk/webhooks"));

const serverURL = process.env.SPAIRE_SERVER_URL;
const accessToken = process.env.SPAIRE_ACCESS_TOKEN;
if (!serverURL || !accessToken) {
  console.error("SPAIRE_SERVER_URL and SPAIRE_ACCESS_TOKEN must be set");
  process.exit(2);
}

const failures = [];
const passed = [];
function check(name, condition, detail = "") {
  if (condition) passed.push(name);
  else failures.push(`${name}${detail ? `: ${detail}` : ""}`);
}
async function step(name, fn) {
  try {
    return await fn();
  } catch (err) {
    failures.push(`${name} threw ${err?.name}: ${err?.message}`);
    return undefined;
  }
}

// A local receiver for webhooks the emulator delivers.
const received = [];
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: { ...req.headers } });
    res.writeHead(202).end();
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const receiverURL = `http://127.0.0.1:${receiver.address().port}/webhooks`;

const spaire = new Spaire({ accessToken, serverURL });
const run = Date.now().toString(36);
const externalId = `node-user-${run}`;

const endpoint = await step("webhooks.createWebhookEndpoint", () =>
  spaire.webhooks.createWebhookEndpoint({
    url: receiverURL,
    format: "raw",
    events: [
      "customer.created",
      "customer.state_changed",
      "benefit.created",
      "product.created",
      "product.updated",
      "subscription.created",
      "subscription.active",
      "subscription.updated",
      "order.created",
      "order.paid",
      "benefit_grant.created",
      "benefit_grant.cycled",
    ],
  }),
);
check("webhook secret has the server prefix", endpoint?.secret?.startsWith("spaire_whs_"));

const meter = await step("meters.create", () =>
  spaire.meters.create({
    name: `SDK tokens ${run}`,
    filter: { conjunction: "and", clauses: [{ property: "name", operator: "eq", value: `sdk-llm-${run}` }] },
    aggregation: { func: "sum", property: "metadata.totalTokens" },
  }),
);
check("meter property is normalised", meter?.aggregation?.property === "totalTokens", JSON.stringify(meter?.aggregation));

const customer = await step("customers.create", () =>
  spaire.customers.create({ email: `node-${run}@acme.io`, externalId, name: "Node SDK" }),
);
check("customer external id", customer?.externalId === externalId);

const benefit = await step("benefits.create", () =>
  spaire.benefits.create({
    type: "meter_credit",
    description: "100 included tokens",
    properties: { meterId: meter.id, units: 100, rollover: true },
  }),
);
check("benefit is a meter credit", benefit?.type === "meter_credit" && benefit?.properties?.units === 100);

const product = await step("products.create", () =>
  spaire.products.create({
    name: `Pro ${run}`,
    recurringInterval: "month",
    prices: [{ amountType: "fixed", priceAmount: 1000 }],
  }),
);
const fixedId = product?.prices?.[0]?.id;
const updated = await step("products.update (add metered price, keep fixed)", () =>
  spaire.products.update({
    id: product.id,
    productUpdate: {
      prices: [{ id: fixedId }, { amountType: "metered_unit", meterId: meter.id, unitAmount: 0.5, capAmount: 100000 }],
    },
  }),
);
const metered = updated?.prices?.find((p) => p.amountType === "metered_unit");
check("update keeps the fixed price", updated?.prices?.some((p) => p.id === fixedId));
check("metered unit_amount is a decimal string", metered?.unitAmount === "0.500000000000", metered?.unitAmount);
check("metered price names its meter", metered?.meter?.name === meter?.name);
await step("products.updateBenefits", () =>
  spaire.products.updateBenefits({ id: product.id, productBenefitsUpdate: { benefits: [benefit.id] } }),
);

// Checkout cannot happen offline: the emulator-only endpoint subscribes the customer.
const subscribe = await fetch(`${serverURL}/_emulator/subscriptions`, {
  method: "POST",
  headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
  body: JSON.stringify({ external_customer_id: externalId, product_id: product.id }),
});
check("emulator subscription created", subscribe.status === 201, `${subscribe.status}`);

const eventName = `sdk-llm-${run}`;
const ingest = await step("events.ingest", () =>
  spaire.events.ingest({
    events: [
      { name: eventName, externalCustomerId: externalId, externalId: `e1-${run}`, metadata: { totalTokens: 30 } },
      { name: eventName, externalCustomerId: externalId, externalId: `e1-${run}`, metadata: { totalTokens: 30 } },
      { name: eventName, externalCustomerId: externalId, metadata: { totalTokens: "12" } },
      { name: eventName, customerId: customer.id, metadata: { totalTokens: 5 } },
    ],
  }),
);
check("ingest dedupes by external id", ingest?.inserted === 3 && ingest?.duplicates === 1, JSON.stringify(ingest));

const state = await step("customers.getStateExternal", () => spaire.customers.getStateExternal({ externalId }));
const active = state?.activeMeters?.find((m) => m.meterId === meter.id);
// 100 credited; 30 + 5 consumed (the string "12" is excluded by the sum guard).
check("balance = credited − consumed", active?.balance === 65 && active?.creditedUnits === 100 && active?.consumedUnits === 35, JSON.stringify(active));
check("state lists the subscription with its meter", state?.activeSubscriptions?.[0]?.meters?.[0]?.meterId === meter.id);

const now = new Date();
const quantities = await step("meters.quantities", () =>
  spaire.meters.quantities({
    id: meter.id,
    startTimestamp: new Date(now.getTime() - 86400000),
    endTimestamp: now,
    interval: "day",
    externalCustomerId: externalId,
  }),
);
check("quantities total", quantities?.total === 35, JSON.stringify(quantities));

const pages = await step("customerMeters.list", () => spaire.customerMeters.list({ externalCustomerId: externalId }));
let listed;
if (pages) {
  for await (const page of pages) {
    for (const item of page.result.items) if (item.meter.id === meter.id) listed = item;
  }
}
check("customer meter carries the meter name", listed?.meter?.name === meter.name && listed?.balance === 65, JSON.stringify(listed?.balance));

// Errors the SDK surfaces: a bad token is a 401.
const bad = new Spaire({ accessToken: "spaire_oat_not-a-real-token", serverURL });
try {
  await bad.meters.get({ id: meter.id });
  check("bad token is rejected", false);
} catch (err) {
  check("bad token is rejected with 401", err?.statusCode === 401, `${err?.statusCode}`);
}

// Webhooks: wait until the emulator has delivered everything, then verify each one.
await fetch(`${serverURL}/_emulator/webhooks/wait`, {
  method: "POST",
  headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
  body: JSON.stringify({ timeout_ms: 20000 }),
});
const types = new Map();
for (const delivery of received) {
  try {
    const event = validateEvent(delivery.body, delivery.headers, endpoint.secret);
    types.set(event.type, (types.get(event.type) ?? 0) + 1);
  } catch (err) {
    failures.push(`validateEvent rejected ${JSON.parse(delivery.body).type}: ${err?.name}: ${err?.message?.slice(0, 400)}`);
  }
}
for (const expected of ["customer.created", "customer.state_changed", "benefit.created", "product.created", "product.updated", "subscription.created", "subscription.active", "order.paid", "benefit_grant.created"]) {
  check(`webhook ${expected} delivered and valid`, types.has(expected), [...types.keys()].join(","));
}
if (received.length > 0) {
  try {
    validateEvent(received[0].body, received[0].headers, "spaire_whs_wrong-secret-for-this-check");
    check("wrong secret is rejected", false);
  } catch (err) {
    check("wrong secret is rejected", err instanceof WebhookVerificationError, err?.name);
  }
}

receiver.close();
console.log(JSON.stringify({ passed: passed.length, failures, webhook_types: Object.fromEntries(types) }, null, 2));
process.exit(failures.length === 0 ? 0 : 1);
