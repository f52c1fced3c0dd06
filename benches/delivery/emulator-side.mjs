// The emulator side of the delivery benches (bench.mjs, recorder-bench.mjs): a free port, the
// counting proxy the recorders send through, and the bench's own reads of the emulator.
import http from "node:http";
import { createServer } from "node:net";

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Counts what the recorders send and what they get back, forwarding everything unchanged to
// `upstream` (a URL). Resolves to { proxy, port, seen } once it listens.
export async function startCountingProxy(upstream) {
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
  const port = await freePort();
  await new Promise((resolve) => proxy.listen(port, "127.0.0.1", resolve));
  return { proxy, port, seen };
}

// Straight to the emulator, honouring its 429s: the bench's own reads share the limit.
export function emulatorApi(upstream, token) {
  return async function api(method, path, body) {
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
  };
}
