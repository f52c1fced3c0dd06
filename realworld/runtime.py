#!/usr/bin/env python3
"""Runtime checks for realworld/run.py: does the app's own code, after `setup`, send usage
that the emulator counts for the right customer and quantity, and does its webhook route
verify signatures through the app's own stack?

Per project with a `[project.runtime]` table in projects.toml: extract a clean copy, start
the emulator, create the product, run the same non-interactive setup as run.py, then drive
the real app code with mocked LLM providers and read the counts back from the emulator.

Kinds:
  node-route  import a route module (Next.js route handler, ...) with tsx, call its exported
              handler with a web `Request`; the LLM provider module is mapped (tsconfig
              `paths`) to an `ai/test` mock model with fixed usage.
  django      Django's test client against the project's settings and URLconf (its real
              middleware stack, auth and CSRF): a signed-in GET, then a signed webhook
              (the customer is the signed-in user's pk).
  node-fetch-app
              import the module that exports the app object (`export default app` of a Hono
              or Workers app) with tsx and drive it through `app.fetch(request, env)`: every
              request, and the signed and forged webhooks, pass the app's whole middleware
              stack; `bindings` are the Workers env (a `kv` value becomes an in-memory KV).
  node-server start the app's own server entry (`command`) on a free port with its installed
              dependencies (cache/rtdeps/<name>), send `requests`, post a signed and a forged
              webhook, stop it with SIGTERM (the recorder flushes on it). Optional: `build`
              (commands run first, e.g. a production build), `env` (over the defaults),
              `follow = false` on a request (see a redirect, do not follow it).
  Any kind: `add_files` / `edits` add the check's own app code before setup (an API route
              for a starter template that has none); `user_steps` (same form as `edits`) do a
              step setup listed for the user, after setup, as the user would (the result
              names them); `expect.statuses` checks each request's answer, so a request that
              failed does not pass as "not billed".
  php-server  a Laravel app under PHP's built-in server (`server.php`, its own public/index.php,
              HTTP kernel and middleware) on Debian's php-laravel-framework: vendor/autoload.php
              loads Debian's autoloaders plus the app's PSR-4 roots; `.env` from .env.example
              with a fake all-zero APP_KEY. Needs: apt-get install php-cli php-sqlite3
              php-laravel-framework.
  go-server   the Go registration `setup` made (or, when it lists one, do the step it printed:
              router line, FlushOnSignal, import),
              build the app in GOPATH mode against Debian's golang-* packages (no module
              proxy; two leaf packages Debian lacks get API stand-ins, GO_SHIMS), then serve
              it like node-server; `requests` may carry `{jwt}`, an HS256 token of the app's
              own secret. Needs: apt-get install golang-go golang-github-gin-gonic-gin-dev
              golang-github-jinzhu-gorm-dev golang-github-mattn-go-sqlite3-dev
              golang-github-dgrijalva-jwt-go-dev golang-golang-x-crypto-dev.
  rails-server
              a Rails 6.x app on Debian's ruby-rails in production mode (eager_load), gems from
              Debian through a harness Gemfile (BUNDLE_GEMFILE; leaf gems Debian lacks get
              stand-ins, RAILS_STAND_INS); schema loaded into SQLite, a user created and signed
              in through the app's own form and CSRF token (`login`; `user_fields` for the
              model's other required attributes) or its JSON login (`api_login`, as for
              python-server), then served like node-server. `gems` / `stand_ins`: more Debian
              gems / RAILS_STAND_INS in the harness Gemfile. Needs: apt-get install ruby-rails
              ruby-sqlite3 puma ruby-devise ruby-bcrypt ruby-rails-i18n (and the `gems`).
  fastapi     the app object under Starlette's TestClient; `prepare` builds the request
              headers the app's own auth reads (e.g. an OAuth2 bearer JWT) and the customer.
  flask       the app factory's test client; `prepare` (Python, in the app context) creates a
              user and signs it in as the app's login does; then a GET and a signed webhook.
  python-server
              the app served as in production by its own WSGI/ASGI server (`command`, e.g.
              gunicorn with workers and threads; `$PORT` is a free port) from a venv of its
              pinned dependencies: `before` commands first (e.g. `flask db upgrade`), then the
              user signs up and in through the app's own pages (`forms`: the page's CSRF field,
              the fields, the expected answer; one cookie jar) or its JSON API (`api_login`:
              the token it answers becomes the Authorization header, the customer is a claim
              of that JWT); then `requests`, the signed and forged webhooks, and SIGTERM.
              `llm_stub` answers the openai SDK from 127.0.0.1 (10 + 20 tokens); `postgres`
              starts a throwaway cluster (Debian's postgresql; role/db `rw`, `{pg_port}` in
              `env`); `mysql` (the app's fixed MySQL URL) starts a throwaway MariaDB server with
              that port, user, password and database (Debian's mariadb-server);
              `redis` starts a throwaway Redis (Debian's redis-server, `{redis_port}`);
              `requirements` entries: `-r FILE` (a requirements file of the copy),
              `-lock poetry.lock` (every package the lock pins), or a requirement;
              `stand_ins` name PYTHON_STAND_INS loaded through sitecustomize (a service
              that is not reachable here, e.g. MongoDB in memory); `headers` go on every
              request and webhook (e.g. the `host` its production ALLOWED_HOSTS admits).

Node dependencies come from the registry into --cache/rtdeps/<set> (`npm install
--ignore-scripts`), Python ones into --cache/rtdeps/<set>/.venv; the project's copy only
gets a `node_modules` symlink. Results go to realworld/results/<name>.runtime.json.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the static harness: extraction, emulator, setup answers)

WEBHOOK_SECRET = "rw-made-up-webhook-secret"
CUSTOMER = "rw-user-1"

NODE_DEPS = {
    # next: the generated recorder imports `after` from next/server (novel locks 15.1.4).
    "ai3": ["ai@3", "zod@3", "@spaire/sdk@0.45.1", "tsx@4", "ts-pattern@5", "@upstash/ratelimit@2", "@vercel/kv@3",
            "next@15.1.4"],
    "ai4": ["ai@4", "@ai-sdk/provider@1", "zod@3", "@spaire/sdk@0.45.1", "tsx@4"],
    "hono4": ["hono@4", "@spaire/sdk@0.45.1", "tsx@4", "standardwebhooks@1"],
}


def ensure_node_deps(cache: Path, name: str) -> Path:
    if name == "toolchain":  # this repository's test toolchain (ai 5, next, @spaire/sdk, tsx)
        return run.REPO / "tests" / "toolchains" / "node" / "node_modules"
    d = cache / "rtdeps" / name
    marker = d / ".installed"
    # The marker names the packages installed, so a changed set is installed again.
    wanted = " ".join(NODE_DEPS[name]) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return d / "node_modules"
    d.mkdir(parents=True, exist_ok=True)
    (d / "package.json").write_text('{"private": true, "type": "module"}\n')
    rc, _, err = run.sh(["nice", "-n", "10", "npm", "install", "--ignore-scripts", "--no-audit",
                           "--no-fund"] + NODE_DEPS[name], cwd=d, timeout=300)
    if rc != 0:
        raise RuntimeError(f"npm install for {name} failed (rc {rc}): {err[-500:]}")
    marker.write_text(wanted)
    return d / "node_modules"


# A mock provider module: every factory export returns an `ai/test` model whose stream and
# generate calls report 10 prompt + 20 completion tokens, so the expected total is 30.
MOCK_PROVIDER = """\
import { MockLanguageModelV1 } from "ai/test";

const usage = { promptTokens: 10, completionTokens: 20 };
const rawCall = { rawPrompt: null, rawSettings: {} };
const TEXT = process.env.RW_MOCK_TEXT ?? "ok";

function model(modelId = "mock") {
  return new MockLanguageModelV1({
    modelId,
    defaultObjectGenerationMode: "json",
    doGenerate: async () => ({ text: TEXT, finishReason: "stop", usage, rawCall }),
    doStream: async () => ({
      stream: new ReadableStream({
        start(controller) {
          controller.enqueue({ type: "text-delta", textDelta: TEXT });
          controller.enqueue({ type: "finish", finishReason: "stop", usage });
          controller.close();
        },
      }),
      rawCall,
    }),
  });
}
const factory = Object.assign((id: string) => model(id), { chat: model, languageModel: model });
export const openai = factory;
export const google = factory;
export const anthropic = factory;
export const createOpenAI = () => factory;
export default factory;
"""

# The same for AI SDK 5+ (LanguageModelV2: content parts, inputTokens/outputTokens), also
# standing in for a project's provider registry module (`myProvider.languageModel(id)`).
MOCK_PROVIDER_V2 = """\
import { MockLanguageModelV2 } from "ai/test";
import { simulateReadableStream } from "ai";

const usage = { inputTokens: 10, outputTokens: 20, totalTokens: 30 };

function model(modelId = "mock") {
  return new MockLanguageModelV2({
    modelId,
    doGenerate: async () => ({ content: [{ type: "text", text: "ok" }], finishReason: "stop", usage, warnings: [] }),
    doStream: async () => ({
      stream: simulateReadableStream({
        chunks: [
          { type: "text-start", id: "t1" },
          { type: "text-delta", id: "t1", delta: "ok" },
          { type: "text-end", id: "t1" },
          { type: "finish", finishReason: "stop", usage },
        ],
      }),
    }),
  });
}
const factory = Object.assign((id: string) => model(id), { chat: model, languageModel: model });
export const openai = factory;
export const google = factory;
export const anthropic = factory;
export const myProvider = factory;
export default factory;
"""

DRIVER = """\
import { Webhook } from "standardwebhooks";

const cfg = JSON.parse(process.env.RW_CONFIG!);
const out: Record<string, unknown> = {};
const mod = await import(cfg.entry);
const res: Response = await mod[cfg.export ?? "POST"](
  new Request("http://127.0.0.1/rw", { method: "POST", headers: cfg.headers, body: cfg.body }),
);
out.status = res.status;
out.body_length = (await res.text()).length;
await new Promise((r) => setTimeout(r, 200)); // onFinish callbacks run after the stream ends
const recorder = await import(cfg.recorder);
await recorder.flushUsage();
out.recorder = recorder.usageRecorderStats?.();

if (cfg.webhook) {
  const wh = await import(cfg.webhook);
  const payload = JSON.stringify({ type: "rw.unknown_event", timestamp: new Date().toISOString(), data: {} });
  const id = "msg_rw_1";
  const now = new Date();
  // Spaire's SDK verifies with the secret's UTF-8 bytes, base64-encoded, as the Standard Webhooks key.
  const sig = new Webhook(Buffer.from(cfg.secret, "utf-8").toString("base64")).sign(id, now, payload);
  const headers = { "content-type": "application/json", "webhook-id": id,
                    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)), "webhook-signature": sig };
  const good = await wh.POST(new Request("http://127.0.0.1/api/webhooks/spaire", { method: "POST", headers, body: payload }));
  const bad = await wh.POST(new Request("http://127.0.0.1/api/webhooks/spaire", {
    method: "POST", headers: { ...headers, "webhook-signature": "v1,AAAA" }, body: payload }));
  out.webhook_signed = good.status;
  out.webhook_bad_signature = bad.status;
}
console.log("RW_RESULT " + JSON.stringify(out));
"""


def run_driver(argv: list[str], cwd: Path, env: dict, timeout: int) -> dict:
    """Run a driver (niced) and read the `RW_RESULT {json}` line it prints last."""
    rc, out, err = run.sh(["nice", "-n", "10"] + argv, cwd=cwd, env=env, timeout=timeout)
    m = re.search(r"^RW_RESULT (.*)$", out, re.M)
    if not m:
        return {"error": f"driver exit {rc}: {(err or out)[-1500:]}"}
    return {"driver": json.loads(m.group(1)), "driver_stderr": err[-1500:]}


FETCH_APP_DRIVER = """\
import { Webhook } from "standardwebhooks";

const cfg = JSON.parse(process.env.RW_CONFIG!);
// A Workers KV namespace in memory: enough of get/put/list/delete for an app's model code.
function memoryKv() {
  const data = new Map<string, string>();
  return {
    get: async (key: string, type?: string) => {
      const v = data.get(key);
      return v === undefined ? null : type === "json" ? JSON.parse(v) : v;
    },
    put: async (key: string, value: string) => void data.set(key, value),
    delete: async (key: string) => void data.delete(key),
    list: async ({ prefix = "" } = {}) => ({
      keys: [...data.keys()].filter((k) => k.startsWith(prefix)).map((name) => ({ name })),
      list_complete: true,
    }),
  };
}
const env: Record<string, unknown> = {};
for (const [name, value] of Object.entries(cfg.bindings ?? {})) env[name] = value === "kv" ? memoryKv() : value;
const ctx = { waitUntil: (p: Promise<unknown>) => void p.catch(() => {}), passThroughOnException() {} };
const mod = await import(cfg.entry);
const app = mod[cfg.export ?? "default"];
const out: Record<string, unknown> = { requests: [] };
for (const r of cfg.requests) {
  const res: Response = await app.fetch(
    new Request("http://127.0.0.1" + r.path, { method: r.method ?? "GET", headers: r.headers ?? {}, body: r.body }),
    env, ctx);
  (out.requests as number[]).push(res.status);
  await res.text();
}
await new Promise((r) => setTimeout(r, 200));
const recorder = await import(cfg.recorder);
await recorder.flushUsage();
out.recorder = recorder.usageRecorderStats?.();

const payload = JSON.stringify({ type: "rw.unknown_event", timestamp: new Date().toISOString(), data: {} });
const id = "msg_rw_1";
const now = new Date();
const sig = new Webhook(Buffer.from(cfg.secret, "utf-8").toString("base64")).sign(id, now, payload);
const headers = { "content-type": "application/json", "webhook-id": id,
                  "webhook-timestamp": String(Math.floor(now.getTime() / 1000)), "webhook-signature": sig };
const post = async (signature: string) => (await app.fetch(new Request("http://127.0.0.1" + cfg.webhook_path, {
  method: "POST", headers: { ...headers, "webhook-signature": signature }, body: payload }), env, ctx)).status;
out.webhook_signed = await post(sig);
out.webhook_bad_signature = await post("v1,AAAA");
console.log("RW_RESULT " + JSON.stringify(out));
"""


def node_fetch_app(project, rt, work: Path, cache: Path, emu, env) -> dict:
    node_modules = ensure_node_deps(cache, rt["deps"])
    nm = work / "node_modules"
    if nm.exists() or nm.is_symlink():
        nm.unlink() if nm.is_symlink() else shutil.rmtree(nm)
    nm.symlink_to(node_modules)
    (work / ".rw-mock").mkdir(exist_ok=True)
    (work / ".rw-mock" / "fetch-driver.mts").write_text(FETCH_APP_DRIVER)
    created = run.changed_files(work)[1]
    recorder = next(p for p in created if p.endswith("/recorder.ts"))
    cfg = {"entry": str(work / rt["entry"]), "export": rt.get("export", "default"),
           "bindings": rt.get("bindings", {}), "requests": rt["requests"],
           "recorder": str(work / recorder), "webhook_path": rt["webhook_path"], "secret": WEBHOOK_SECRET}
    renv = {**env, "RW_CONFIG": json.dumps(cfg), "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    result = run_driver([str(node_modules / ".bin" / "tsx"), ".rw-mock/fetch-driver.mts"], work, renv, 180)
    if "driver" in result:
        result["driver"]["customer"] = rt["customer"]
    return result


def strip_jsonc(text: str) -> str:
    """tsconfig is JSONC: drop comments (outside strings) and trailing commas."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2) + 2 if "*/" in text[i + 2:] else n
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def node_route(project, rt, root: Path, cache: Path, emu, env) -> dict:
    node_modules = ensure_node_deps(cache, rt["deps"])
    work = root / rt.get("dir", ".")  # the package (monorepo: apps/web)
    nm = work / "node_modules"
    if nm.exists() or nm.is_symlink():
        nm.unlink() if nm.is_symlink() else shutil.rmtree(nm)
    nm.symlink_to(node_modules)
    mock_dir = work / ".rw-mock"
    mock_dir.mkdir(exist_ok=True)
    (mock_dir / "provider.ts").write_text(MOCK_PROVIDER_V2 if rt.get("mock_v2") else MOCK_PROVIDER)
    (mock_dir / "driver.mts").write_text(DRIVER)
    base = json.loads(strip_jsonc((work / "tsconfig.json").read_text()))
    paths = dict(base.get("compilerOptions", {}).get("paths", {}))
    for module in rt["mock_modules"]:
        paths[module] = ["./.rw-mock/provider.ts"]
    # Standalone (no `extends`): a monorepo's shared base lives in a workspace package that
    # is not installed here; tsx only needs the module settings and the path aliases.
    (work / "tsconfig.rw.json").write_text(json.dumps(
        {"compilerOptions": {"target": "esnext", "module": "esnext", "moduleResolution": "bundler",
                             "jsx": "react-jsx", "baseUrl": ".", "paths": paths}}))
    created = run.changed_files(root)[1]
    recorder = next(p for p in created if p.endswith("/recorder.ts"))
    webhook = next((p for p in created if "webhook" in p and run.FILE_ROUTED.search(p)), None)
    cfg = {"entry": str(work / rt["entry"]), "export": rt.get("export", "POST"),
           "headers": {"content-type": "application/json", **rt.get("headers", {})},
           "body": rt.get("body", "{}"), "recorder": str(root / recorder),
           "webhook": str(root / webhook) if webhook else None, "secret": WEBHOOK_SECRET}
    renv = {**env, "RW_CONFIG": json.dumps(cfg), "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "OPENAI_API_KEY": "sk-rw-made-up", "GOOGLE_GENERATIVE_AI_API_KEY": "rw-made-up",
            "RW_MOCK_TEXT": rt.get("mock_text", "ok")}
    renv.pop("KV_REST_API_URL", None)
    return run_driver([str(node_modules / ".bin" / "tsx"), "--tsconfig", "tsconfig.rw.json", ".rw-mock/driver.mts"],
                      work, renv, 180)


DJANGO_DRIVER = """\
import base64, hashlib, hmac, json, os, sys, time
sys.path.insert(0, os.getcwd())
cfg = json.loads(os.environ["RW_CONFIG"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", cfg["settings"])
if cfg.get("llm_stub"):
    # An OpenAI-compatible stub on 127.0.0.1 (usage 10 + 20 = 30 tokens) for the real SDK,
    # pre-v1 (OPENAI_API_BASE) and v1 (OPENAI_BASE_URL) alike.
    import http.server, threading, uuid
    class Stub(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            # Its own id per answer, as OpenAI's: wired call sites key events on it.
            body = json.dumps({"id": "chatcmpl-rw-" + uuid.uuid4().hex, "object": "chat.completion", "created": 0, "model": "gpt-rw",
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": "rw stub reply"}}],
                               "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    stub = http.server.HTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    os.environ["OPENAI_API_BASE"] = os.environ["OPENAI_BASE_URL"] = f"http://127.0.0.1:{stub.server_port}/v1"
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.contrib.auth import get_user_model
from django.test import Client
import importlib

user = get_user_model().objects.create_user(username="rwuser", email="rw@example.com", password="rw-pass-123456",
                                           **cfg.get("user_fields", {}))
if not user.is_active:  # an app whose sign-up activates by e-mail: a signed-in user is active
    user.is_active = True
    user.save()
client = Client()
client.force_login(user)
out = {"customer": str(user.pk)}
if cfg.get("method", "GET") == "POST":
    resp = client.post(cfg["path"], data=cfg.get("data", {}))
else:
    resp = client.get(cfg["path"])
out["status"] = resp.status_code
importlib.import_module(cfg["usage_module"]).flush_usage()

payload = json.dumps({"type": "rw.unknown_event", "timestamp": "2026-01-01T00:00:00Z", "data": {}})
msg_id, ts = "msg_rw_1", str(int(time.time()))
# Standard Webhooks: the key is the secret's UTF-8 bytes (Spaire's SDK base64-encodes them first).
mac = hmac.new(cfg["secret"].encode(), f"{msg_id}.{ts}.{payload}".encode(), hashlib.sha256).digest()
sig = "v1," + base64.b64encode(mac).decode()
hook = Client(enforce_csrf_checks=True)  # the app's real CSRF middleware stays on
def post(signature):
    return hook.post(cfg["webhook_path"], data=payload, content_type="application/json",
                     HTTP_WEBHOOK_ID=msg_id, HTTP_WEBHOOK_TIMESTAMP=ts, HTTP_WEBHOOK_SIGNATURE=signature).status_code
out["webhook_signed"] = post(sig)
out["webhook_bad_signature"] = post("v1,AAAA")
print("RW_RESULT " + json.dumps(out))
"""


FLASK_DRIVER = """\
import base64, hashlib, hmac, importlib, json, os, sys, time
sys.path.insert(0, os.getcwd())
cfg = json.loads(os.environ["RW_CONFIG"])
module, factory = cfg["factory"].split(":")
app = getattr(importlib.import_module(module), factory)()
app.config.update(cfg.get("config", {}))
client = app.test_client()
out = {}
with app.app_context():
    scope = {"app": app, "client": client}
    exec(cfg["prepare"], scope)  # creates the user and signs it in the way the app's login does
    out["customer"] = scope["customer"]
    resp = client.get(cfg["path"])
    out["status"] = resp.status_code
importlib.import_module(cfg["usage_module"]).flush_usage()

payload = json.dumps({"type": "rw.unknown_event", "timestamp": "2026-01-01T00:00:00Z", "data": {}})
msg_id, ts = "msg_rw_1", str(int(time.time()))
mac = hmac.new(cfg["secret"].encode(), f"{msg_id}.{ts}.{payload}".encode(), hashlib.sha256).digest()
def post(signature):
    return app.test_client().post(cfg["webhook_path"], data=payload, content_type="application/json",
        headers={"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature}).status_code
out["webhook_signed"] = post("v1," + base64.b64encode(mac).decode())
out["webhook_bad_signature"] = post("v1,AAAA")
print("RW_RESULT " + json.dumps(out))
"""


FASTAPI_DRIVER = """\
import importlib, json, os, sys, time
sys.path.insert(0, os.getcwd())
cfg = json.loads(os.environ["RW_CONFIG"])
module, attr = cfg["app"].split(":")
app = getattr(importlib.import_module(module), attr)
from fastapi.testclient import TestClient
client = TestClient(app)
scope = {"app": app, "client": client}
exec(cfg["prepare"], scope)  # sets `headers` (how the app's own auth identifies the user) and `customer`
out = {"customer": scope["customer"]}
out["status"] = client.get(cfg["path"], headers=scope["headers"]).status_code
importlib.import_module(cfg["usage_module"]).flush_usage()
sign = importlib.import_module("_rw_sign").sign
payload = json.dumps({"type": "rw.unknown_event", "timestamp": "2026-01-01T00:00:00Z", "data": {}})
ts = str(int(time.time()))
hdr = {"content-type": "application/json", "webhook-id": "msg_rw_1", "webhook-timestamp": ts}
out["webhook_signed"] = client.post(cfg["webhook_path"], content=payload,
    headers={**hdr, "webhook-signature": sign(cfg["secret"], payload, "msg_rw_1", ts)}).status_code
out["webhook_bad_signature"] = client.post(cfg["webhook_path"], content=payload,
    headers={**hdr, "webhook-signature": "v1,AAAA"}).status_code
print("RW_RESULT " + json.dumps(out))
"""

SIGN_PY = """\
import base64, hashlib, hmac
def sign(secret, payload, msg_id, ts):
    mac = hmac.new(secret.encode(), f"{msg_id}.{ts}.{payload}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()
"""


def fastapi_check(project, rt, work: Path, cache: Path, emu, env) -> dict:
    py = ensure_python_deps(cache, rt["deps"], rt["requirements"])
    (work / ".rw-driver.py").write_text(FASTAPI_DRIVER)
    (work / "_rw_sign.py").write_text(SIGN_PY)
    cfg = {"app": rt["app"], "prepare": rt["prepare"], "path": rt["path"], "usage_module": rt["usage_module"],
           "webhook_path": rt["webhook_path"], "secret": WEBHOOK_SECRET}
    renv = {**env, **rt.get("env", {}), "RW_CONFIG": json.dumps(cfg), "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    return run_driver([str(py), ".rw-driver.py"], work, renv, 300)


def flask_check(project, rt, work: Path, cache: Path, emu, env) -> dict:
    py = ensure_python_deps(cache, rt["deps"], rt["requirements"])
    (work / ".rw-driver.py").write_text(FLASK_DRIVER)
    cfg = {"factory": rt["factory"], "config": rt.get("config", {}), "prepare": rt["prepare"],
           "path": rt.get("path", "/"), "usage_module": rt["usage_module"],
           "webhook_path": rt["webhook_path"], "secret": WEBHOOK_SECRET}
    renv = {**env, "RW_CONFIG": json.dumps(cfg), "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": "sqlite://"}
    return run_driver([str(py), ".rw-driver.py"], work, renv, 300)


def sign_webhook(payload: str, msg_id: str, ts: str) -> str:
    """A Standard Webhooks signature as Spaire's SDK verifies it (key = the secret's bytes)."""
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{msg_id}.{ts}.{payload}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands a 3xx back as the answer (a redirect must be seen, not followed, to check that
    it is not billed)."""
    def redirect_request(self, *args, **kwargs):
        return None


def http(method: str, url: str, headers: dict, body: bytes | None = None, follow: bool = True) -> int:
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, method=method, data=body, headers=headers)
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=30) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_server(project, rt, work: Path, cache: Path, emu, env) -> dict:
    """Start the app's real server (its own entry file and middleware stack), send requests,
    post signed and forged webhooks, then stop it with SIGTERM (the recorder flushes on it)."""
    deps = cache / "rtdeps" / project["name"] / "node_modules"
    if not (deps.parent / ".installed").exists():
        # The project's own manifest and lockfile (after setup), without its install scripts.
        deps.parent.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            if (work / name).exists():
                shutil.copy(work / name, deps.parent / name)
        for args in (["install"], ["install", "@spaire/sdk@0.45.1"]):
            rc, _, err = run.sh(["nice", "-n", "10", "npm"] + args + ["--ignore-scripts", "--no-audit", "--no-fund"],
                                cwd=deps.parent, timeout=600)
            if rc != 0:
                raise RuntimeError(f"npm {' '.join(args)} for {project['name']} failed (rc {rc}): {err[-500:]}")
        (deps.parent / ".installed").write_text("ok\n")
    nm = work / "node_modules"
    if nm.exists() or nm.is_symlink():  # setup's own install, or an earlier run's link
        nm.unlink() if nm.is_symlink() else shutil.rmtree(nm)
    nm.symlink_to(deps)
    command = list(rt["command"])
    if rt.get("mock_fetch"):
        # The provider is reached with a hard-coded URL: answer it in-process with a canned
        # body (the network has no route to it here, and the check is about metering).
        (work / ".rw-mock").mkdir(exist_ok=True)
        (work / ".rw-mock" / "fetch-mock.mjs").write_text(
            "const canned = " + json.dumps(rt["mock_fetch"]) + ";\n"
            "const real = globalThis.fetch;\n"
            "globalThis.fetch = async (input, init) => {\n"
            "  const url = typeof input === 'string' ? input : input.url ?? String(input);\n"
            "  for (const [prefix, body] of Object.entries(canned))\n"
            "    if (url.startsWith(prefix)) return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });\n"
            "  return real(input, init);\n"
            "};\n")
        if command[0] == "node":
            command = ["node", "--import", "./.rw-mock/fetch-mock.mjs"] + command[1:]
    renv = {**env, "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET, "OPENAI_API_KEY": "sk-rw-made-up",
            "HOST": "127.0.0.1", "NODE_ENV": "development", **rt.get("env", {})}
    for step in rt.get("build", []):
        # Built as for production (`npm run build`), with the generated files in place.
        rc, _, err = run.sh(["nice", "-n", "10"] + step, cwd=work, env=renv, timeout=600)
        if rc != 0:
            raise RuntimeError(f"build {' '.join(step)} failed (rc {rc}): {err[-800:]}")
    out = drive_server(command, work, renv, rt["requests"], rt["webhook_path"],
                       cache / "logs" / project["name"] / "runtime-server.log")
    out["customer"] = rt["customer"]
    return {"driver": out}


def drive_server(command: list[str], cwd: Path, env: dict, requests: list[dict], webhook_path: str,
                 log_path: Path, port: int | None = None, sign_in=None, headers: dict | None = None) -> dict:
    """Start a server (`PORT` set to a free port, or the app's own fixed `port`), send
    `requests`, post a signed and a forged webhook, then stop it with SIGTERM (the recorder
    flushes on it) and return the statuses. `sign_in(base)`, when given, signs a user in
    through the app and returns the headers (the session cookie) every request then carries.
    `headers` go on every request, webhooks included (e.g. the `host` a production app's
    ALLOWED_HOSTS admits, as its proxy forwards it)."""
    headers = headers or {}
    import signal
    port = port or free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen(["nice", "-n", "10"] + command, cwd=cwd, env={**env, "PORT": str(port)}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    out = {}
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                # any answer means it serves (no redirect followed: an HTTPS redirect would hang)
                http("GET", base + "/__rw_ready", headers, follow=False)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited {proc.returncode}; see runtime-server.log")
                time.sleep(0.5)
        signed_in = sign_in(base) if sign_in else {}
        out["requests"] = [http(r.get("method", "GET"), base + r["path"], {**headers, **signed_in, **r.get("headers", {})},
                                r.get("body", "").encode() or None, follow=r.get("follow", True))
                           for r in requests]
        payload = json.dumps({"type": "rw.unknown_event", "timestamp": "2026-01-01T00:00:00Z", "data": {}})
        ts = str(int(time.time()))
        hdr = {**headers, "content-type": "application/json", "webhook-id": "msg_rw_1", "webhook-timestamp": ts}
        out["webhook_signed"] = http("POST", base + webhook_path,
                                     {**hdr, "webhook-signature": sign_webhook(payload, "msg_rw_1", ts)}, payload.encode())
        out["webhook_bad_signature"] = http("POST", base + webhook_path,
                                            {**hdr, "webhook-signature": "v1,AAAA"}, payload.encode())
    finally:
        if proc.poll() is None:
            # SIGTERM to the app's own process, as Docker and Kubernetes stop a container
            # (PID 1 only), so its shutdown handlers run while its children are alive; then the
            # rest of the group. (Signalling the whole group first, as systemd's default does,
            # kills Vite's esbuild child under openai-realtime-console, whose server then dies
            # of EPIPE before any handler runs: see docs/realworld.md.)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        log.close()
    out["server_exit"] = proc.returncode
    return out


# Module paths with a major-version suffix, served in GOPATH mode by Debian's unsuffixed copy.
GO_VERSION_LINKS = {
    "github.com/labstack/echo/v4": "/usr/share/gocode/src/github.com/labstack/echo",
}

# Leaf packages a Go app imports that Debian does not package: the smallest stand-ins with
# the same API the app uses (neither is on the billed request's path).
GO_SHIMS = {
    "github.com/gosimple/slug/slug.go": """\
// Package slug: stand-in for github.com/gosimple/slug (Make only).
package slug

import "strings"

func Make(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "-")) }
""",
    "github.com/swaggo/swag/swag.go": """\
// Package swag: stand-in for github.com/swaggo/swag (the doc registry a generated docs.go calls).
package swag

const Name = "swagger"

type Swagger interface{ ReadDoc() string }

func Register(name string, swagger Swagger) {}
""",
    "github.com/swaggo/echo-swagger/echo_swagger.go": """\
// Package echoSwagger: stand-in for github.com/swaggo/echo-swagger (the docs UI route answers 404).
package echoSwagger

import "github.com/labstack/echo/v4"

func WrapHandler(c echo.Context) error { return echo.ErrNotFound }
""",
    "github.com/alecthomas/template/template.go": """\
// Package template: stand-in for github.com/alecthomas/template, a fork of text/template.
package template

import "text/template"

type Template = template.Template
type FuncMap = template.FuncMap

func New(name string) *Template { return template.New(name) }
""",
    "gopkg.in/go-playground/validator.v9/validator.go": """\
// Package validator: stand-in for gopkg.in/go-playground/validator.v9, served by Debian's v10.
package validator

import v10 "github.com/go-playground/validator/v10"

type Validate = v10.Validate
type ValidationErrors = v10.ValidationErrors

func New() *Validate { return v10.New() }
""",
    "gopkg.in/go-playground/validator.v8/validator.go": """\
// Package validator: stand-in for gopkg.in/go-playground/validator.v8 (the error types only).
package validator

type FieldError struct{ Field, Tag, Param string }

type ValidationErrors map[string]*FieldError

func (ValidationErrors) Error() string { return "validation failed" }
""",
}


def apply_go_registration(work: Path, step: dict) -> None:
    """Do the Go registration step as `setup` printed it: its registration lines after the
    router's line, its FlushOnSignal line at the start of main, its import (and "time")."""
    lines = step["snippet"].splitlines()
    imports = [l[len("import "):] for l in lines if l.startswith("import ")]
    flush = [l for l in lines if "FlushOnSignal" in l]
    register = [l for l in lines if l.strip() and not l.startswith(("//", "import ")) and l not in flush]
    def add_imports(src: list[str], extra: list[str]) -> None:
        block = next(i for i, l in enumerate(src) if l.strip() == "import (")
        src[block + 1:block + 1] = ["\t" + l for l in extra if l not in "\n".join(src)]

    path = work / step["file"]
    src = path.read_text().splitlines()
    src[step["line"]:step["line"]] = ["\t" + l for l in register]
    add_imports(src, imports)
    path.write_text("\n".join(src) + "\n")
    # main may live in another file than the router (echo-realworld: router/router.go)
    main_file = next(p for p in sorted(work.glob("*.go")) if "\nfunc main()" in p.read_text())
    src = main_file.read_text().splitlines()
    main = next(i for i, l in enumerate(src) if l.startswith("func main()"))
    src[main + 1:main + 1] = ["\t" + l for l in flush]
    add_imports(src, imports + ['"time"'] if flush else [])
    main_file.write_text("\n".join(src) + "\n")


def hs256_jwt(secret: str, claims: dict) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())


def go_server(project, rt, work: Path, cache: Path, emu, env, setup_out: str) -> dict:
    """Build the real Go app in GOPATH mode against Debian's packages (no module proxy here),
    after doing the registration step `setup` printed; then serve it like node-server. The
    app's own auth reads a JWT signed with the app's own (public, in-source) secret."""
    # The tool registers on gin / echo itself; a step it still lists is done as printed.
    step = next((m for m in json.loads(setup_out)["manual_steps"] if m["kind"] == "register-middleware"), None)
    if step is not None:
        apply_go_registration(work, step)
    gopath = cache / "runtime-gopath" / project["name"]
    if gopath.exists():
        shutil.rmtree(gopath)
    for rel, text in GO_SHIMS.items():
        (gopath / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (gopath / "src" / rel).write_text(text)
    for link, target in GO_VERSION_LINKS.items():
        (gopath / "src" / link).parent.mkdir(parents=True, exist_ok=True)
        (gopath / "src" / link).symlink_to(target)
    app = gopath / "src" / rt["import_path"]
    shutil.copytree(work, app, symlinks=True)
    genv = {**env, "GO111MODULE": "off", "GOFLAGS": "", "GOPROXY": "off",
            "GOPATH": f"{gopath}:/usr/share/gocode", "GOCACHE": str(cache / "go-build-cache")}
    rc, _, err = run.sh(["nice", "-n", "10", "go", "build", "-o", "rw-app", "."], cwd=app, env=genv, timeout=1200)
    if rc != 0:
        return {"error": f"go build failed (rc {rc}): {err[-1500:]}"}
    token = hs256_jwt(rt["jwt_secret"], {**rt["jwt_claims"], "exp": int(time.time()) + 3600})
    requests = [{**r, "headers": {k: v.replace("{jwt}", token) for k, v in r.get("headers", {}).items()}}
                for r in rt["requests"]]
    renv = {**env, "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET, "GIN_MODE": "release"}
    out = drive_server(["./rw-app"], app, renv, requests, rt["webhook_path"],
                       cache / "logs" / project["name"] / "runtime-server.log", rt.get("port"))
    out["customer"] = rt["customer"]
    return {"driver": out}


# A Laravel app's vendor/autoload.php when the framework is Debian's php-laravel-framework
# (no composer here): Debian's autoloaders, then the app's own PSR-4 roots from composer.json.
LARAVEL_AUTOLOAD = """<?php
require_once '/usr/share/php/Illuminate/autoload.php';
require_once __DIR__ . '/rw-stand-ins.php';
$rwRoots = json_decode(file_get_contents(dirname(__DIR__) . '/composer.json'), true)['autoload']['psr-4'] ?? [];
spl_autoload_register(function (string $class) use ($rwRoots): void {
    foreach ($rwRoots as $prefix => $dir) {
        if (strncmp($class, $prefix, strlen($prefix)) === 0) {
            $file = dirname(__DIR__) . '/' . $dir . str_replace('\\\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
"""

# Classes a Laravel 8 skeleton names that Debian does not package: fruitcake/laravel-cors'
# middleware (CORS headers only; the checks send no cross-origin request) passes through.
LARAVEL_STAND_INS = """<?php
namespace Fruitcake\\Cors;

class HandleCors
{
    public function handle($request, \\Closure $next)
    {
        return $next($request);
    }
}
"""


def php_server(project, rt, work: Path, cache: Path, emu, env) -> dict:
    """Serve a Laravel app with PHP's built-in server through its own public/index.php
    (`server.php`), on Debian's php-laravel-framework: the app's whole HTTP kernel, global
    middleware (the generated SpaireUsage among them), CSRF and routes. Needs: apt-get
    install php-cli php-sqlite3 php-laravel-framework."""
    vendor = work / "vendor"
    vendor.mkdir(exist_ok=True)
    (vendor / "autoload.php").write_text(LARAVEL_AUTOLOAD)
    (vendor / "rw-stand-ins.php").write_text(LARAVEL_STAND_INS)
    dotenv = (work / ".env.example").read_text() if (work / ".env.example").exists() else ""
    # An obviously fake app key (32 zero bytes): sessions and cookies need one.
    fake_key = "base64:" + base64.b64encode(bytes(32)).decode()
    (work / ".env").write_text(re.sub(r"(?m)^APP_KEY=.*$", "APP_KEY=" + fake_key, dotenv)
                               + "\nLOG_CHANNEL=stderr\n")
    renv = {**env, "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET, "APP_ENV": "local", "APP_DEBUG": "true"}
    out = drive_server(["sh", "-c", 'exec php -S "127.0.0.1:$PORT" server.php'], work, renv, rt["requests"],
                       rt["webhook_path"], cache / "logs" / project["name"] / "runtime-server.log")
    out["customer"] = rt["customer"]
    return {"driver": out}


# The Gemfile a Rails 6.1 app runs with on Debian's ruby-rails (BUNDLE_GEMFILE; the app's own
# Gemfile and lock stay untouched): Debian's gems, plus stand-ins for leaf gems Debian lacks or
# cannot install, none of them on the billed request's path:
#   webpacker       (ruby-webpacker pulls a broken node chain) - `*_pack_tag` render nothing;
#   devise-i18n     translations of Devise's views only - missing ones render as their keys;
#   image_processing  Active Storage variants only (avatars, photos).
RAILS_GEMFILE = """source "https://rubygems.org"
gem "rails"
gem "sqlite3"
gem "puma"
gem "devise"
gem "bcrypt"
gem "rails-i18n"
gem "webpacker", path: "stand-ins/webpacker"
gem "devise-i18n", path: "stand-ins/devise-i18n"
gem "image_processing", path: "stand-ins/image_processing"
"""

RAILS_STAND_INS = {
    "webpacker": """module Webpacker
  module Helper
    def javascript_pack_tag(*) = "".html_safe
    def stylesheet_pack_tag(*) = "".html_safe
    def asset_pack_path(name, **) = "/packs/#{name}"
  end
  class Engine < ::Rails::Engine
    initializer("rw.webpacker") { ActiveSupport.on_load(:action_view) { include Webpacker::Helper } }
  end
end
""",
    "devise-i18n": "module DeviseI18n; end\n",
    "image_processing": "module ImageProcessing; end\n",
    # acts_as_follower (not in Debian): its macros, and the two modules an app's own `Follow`
    # model (generated by the gem) extends, so the app boots; following / followers are not
    # there (none of it is on the billed request's path). Named in a project's `stand_ins`.
    "acts_as_follower": """module ActsAsFollower
  module FollowerLib; end
  module FollowScopes; end
  module Macros
    def acts_as_follower; end
    def acts_as_followable; end
  end
end
ActiveSupport.on_load(:active_record) { extend ActsAsFollower::Macros }
""",
}

RAILS_PROBE = """u = User.find_by(email: ENV["RW_EMAIL"]) || User.new(email: ENV["RW_EMAIL"])
u.assign_attributes(JSON.parse(ENV.fetch("RW_USER_FIELDS", "{}")))
u.password = ENV["RW_PASSWORD"]
u.password_confirmation = ENV["RW_PASSWORD"] if u.respond_to?(:password_confirmation=)
u.save!
puts "RW_USER_ID=#{u.id}"
"""


def form_token(page: str, name: str) -> str | None:
    """The value of the page's `<input name="NAME" ...>` (a CSRF field: Rails'
    authenticity_token, Flask-WTF's csrf_token), attributes in any order."""
    tag = re.search(r'<input[^>]*\bname="' + re.escape(name) + r'"[^>]*>', page)
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0)) if tag else None
    return value.group(1) if value else None


def form_sign_in(forms: list[dict], state: dict | None = None, headers: dict | None = None):
    """Sign up / in through the app's own HTML forms, in order, with one cookie jar: GET the
    page (session cookie + the CSRF field `token`), POST `fields` with it, expect `expect`
    (default 302); returns the signed-in session's Cookie header. Each form's answer is kept
    in `state["forms"]`. A form with `token = ""` is a CSRF-exempt form endpoint (no page to
    GET first: `path` is POSTed); `answer_headers` ({header: JSON field}) turn fields of its
    JSON answer into headers every later request carries (a CSRF token a JSON login hands
    out, e.g. Flask-WTF's for the `X-CSRFToken` header). `headers` go on every request
    (python-server's `headers`)."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def go(base: str) -> dict:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        opener.addheaders += list((headers or {}).items())
        answers, extra = [], {}
        for form in forms:
            name = form.get("token", "authenticity_token")
            fields = dict(form["fields"])
            if name:
                page = opener.open(base + form["page"], timeout=60).read().decode("utf-8", "replace")
                value = form_token(page, name)
                if value is None:
                    raise RuntimeError(f"no {name} field on {form['page']}")
                fields = {name: value, **fields}
            target = form.get("path", form.get("page"))
            data = urllib.parse.urlencode(fields).encode()
            try:
                with opener.open(base + target, data=data, timeout=60) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            answers.append(status)
            if status != form.get("expect", 302):
                raise RuntimeError(f"{target} answered {status}, not {form.get('expect', 302)}")
            if form.get("answer_headers"):
                answer = json.loads(body)
                extra.update({h: str(answer[f]) for h, f in form["answer_headers"].items()})
        if state is not None:
            state["forms"] = answers
        return {"cookie": "; ".join(f"{c.name}={c.value}" for c in jar), **extra}

    return go


def rails_sign_in(login: dict):
    """Sign in through the app's own Devise form (CSRF token from the page)."""
    return form_sign_in([{"page": login["page"], "path": login["path"], "token": "authenticity_token",
                          "fields": {"user[email]": login["email"], "user[password]": login["password"]}}])


def api_sign_in(login: dict, state: dict, headers: dict | None = None):
    """Sign up / in through the app's JSON API (or, with `form`, its OAuth2 password form):
    POST `body` to `path`, read the token at
    `token_field` of the answer; the customer is `customer_claim` of that JWT (unverified
    read: the app signed it). Returns the Authorization header."""
    def go(base: str) -> dict:
        if login.get("form"):  # an OAuth2 password form (FastAPI's OAuth2PasswordRequestForm)
            data, ctype = urllib.parse.urlencode(login["body"]).encode(), "application/x-www-form-urlencoded"
        else:
            data, ctype = json.dumps(login["body"]).encode(), "application/json"
        req = urllib.request.Request(base + login["path"], method="POST", data=data,
                                     headers={**(headers or {}), "content-type": ctype})
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        token = answer
        for key in login.get("token_field", "token").split("."):  # `user.token`: nested
            token = token[key]
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        state["customer"] = str(claims[login.get("customer_claim", "sub")])
        return {"authorization": login.get("prefix", "Bearer ") + token}

    return go


def rails_server(project, rt, work: Path, cache: Path, emu, env) -> dict:
    """Boot a Rails 6.x app on Debian's ruby-rails in production mode (eager_load: every
    autoloaded constant, the generated ones included, must be where zeitwerk expects it), with
    Debian's gems (RAILS_GEMFILE); load the schema into SQLite, create a user, sign in through
    the app's own form and CSRF, then drive it like node-server. The customer is the user's id.
    Needs: apt-get install ruby-rails ruby-sqlite3 puma ruby-devise ruby-bcrypt ruby-rails-i18n."""
    rw = work / ".rw"
    for gem, code in RAILS_STAND_INS.items():
        d = rw / "stand-ins" / gem
        (d / "lib").mkdir(parents=True, exist_ok=True)
        (d / "lib" / f"{gem}.rb").write_text(code)
        (d / f"{gem}.gemspec").write_text(
            f'Gem::Specification.new {{ |s| s.name = "{gem}"; s.version = "0.0.0.rw"; '
            f's.summary = "runtime.py stand-in"; s.authors = ["realworld harness"]; s.files = ["lib/{gem}.rb"] }}\n')
    # `gems`: more of Debian's gems the app requires; `stand_ins`: more RAILS_STAND_INS.
    (rw / "Gemfile").write_text(RAILS_GEMFILE + "".join(f'gem "{g}"\n' for g in rt.get("gems", []))
                                + "".join(f'gem "{s}", path: "stand-ins/{s}"\n' for s in rt.get("stand_ins", [])))
    (rw / "Gemfile.lock").unlink(missing_ok=True)
    # Not all digits: an app whose config/secrets.yml reads it through ERB gets it back from
    # YAML as an Integer, and JWT signing with it fails.
    renv = {**env, "BUNDLE_GEMFILE": str(rw / "Gemfile"), "RAILS_ENV": "production",
            "SECRET_KEY_BASE": "rw" + "0" * 126, "RAILS_LOG_TO_STDOUT": "1",
            "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET, "DISABLE_DATABASE_ENVIRONMENT_CHECK": "1",
            "RW_EMAIL": rt["login"]["email"], "RW_PASSWORD": rt["login"]["password"],
            "RW_USER_FIELDS": json.dumps(rt["login"].get("user_fields", {}))}
    logs = cache / "logs" / project["name"]
    rc, _, err = run.sh(["bundle", "install", "--local", "--quiet"], cwd=work, env=renv, timeout=300)
    if rc != 0:
        return {"error": f"bundle install --local failed: {err[-1500:]}"}
    rc, _, err = run.sh(["ruby", "bin/rails", "db:schema:load"], cwd=work, env=renv, timeout=300)
    if rc != 0:
        return {"error": f"db:schema:load failed: {err[-1500:]}"}
    (rw / "probe.rb").write_text(RAILS_PROBE)
    rc, sout, err = run.sh(["ruby", "bin/rails", "runner", str(rw / "probe.rb")], cwd=work, env=renv, timeout=300)
    user_id = re.search(r"RW_USER_ID=(\d+)", sout or "")
    if rc != 0 or not user_id:
        return {"error": f"creating the user failed (rc {rc}): {(err or '')[-1500:]}"}
    # Devise's HTML form, or (`api_login`) the app's JSON login that answers a token.
    sign_in = api_sign_in(rt["api_login"], {}) if "api_login" in rt else rails_sign_in(rt["login"])
    out = drive_server(["sh", "-c", 'exec ruby bin/rails server -b 127.0.0.1 -p "$PORT"'], work, renv,
                       rt["requests"], rt["webhook_path"], logs / "runtime-server.log", sign_in=sign_in)
    out["customer"] = user_id.group(1)
    return {"driver": out}


def requirement_args(work: Path, requirements: list[str]) -> list[str]:
    """pip arguments for a check's `requirements`: `-r FILE` names a requirements file of the
    project copy (as setup left it); `-lock poetry.lock` every package that lock pins, at its
    version (as `poetry install` puts them; a later entry naming the same package wins, e.g.
    the package setup's listed install adds or moves); anything else is a requirement."""
    import tomllib
    args: list[str] = []
    for r in requirements:
        if r.startswith("-r "):
            args += ["-r", str(work / r[3:])]
        elif r.startswith("-lock "):
            later = {re.split(r"[\[<>=!~ ]", x, maxsplit=1)[0].lower() for x in requirements if not x.startswith("-")}
            lock = tomllib.loads((work / r[6:]).read_text())
            # A package every dependent asks for only on Windows or macOS (its `markers`) is
            # not installed on Linux, as poetry would not (twisted-iocpsupport).
            markers: dict[str, list[str]] = {}
            for p in lock["package"]:
                for dep, spec in p.get("dependencies", {}).items():
                    marker = spec.get("markers", "") if isinstance(spec, dict) else ""
                    markers.setdefault(dep.lower(), []).append(marker)
            def elsewhere(name: str) -> bool:
                found = markers.get(name.lower(), [])
                return bool(found) and all(re.search(r'(platform_system|sys_platform) == "(Windows|win32|Darwin|darwin)"', m)
                                           and " or " not in m for m in found)
            args += [f"{p['name']}=={p['version']}" for p in lock["package"]
                     if p["name"].lower() not in later and not elsewhere(p["name"])]
        else:
            args.append(r)
    return args


def ensure_python_deps(cache: Path, name: str, requirements: list[str], python: str | None = None) -> Path:
    """A venv for `requirements` in cache/rtdeps/<name>, made with this interpreter or, when
    `python` names a version (e.g. "3.12"), pyenv's newest of it."""
    d = cache / "rtdeps" / name
    py = d / ".venv" / "bin" / "python"
    if (d / ".installed").exists():
        return py
    d.mkdir(parents=True, exist_ok=True)
    if not py.exists():
        base = sys.executable
        if python:
            found = sorted(Path.home().glob(f".pyenv/versions/{python}.*/bin/python"),
                           key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
            if not found:
                raise RuntimeError(f"no Python {python} under ~/.pyenv/versions")
            base = str(found[-1])
        rc, _, err = run.sh([base, "-m", "venv", str(d / ".venv")], timeout=300)
        if rc != 0:
            raise RuntimeError(f"venv for {name} failed: {err[-500:]}")
    rc, _, err = run.sh(["nice", "-n", "10", str(py), "-m", "pip", "install", "-q"] + requirements, timeout=1200)
    if rc != 0:
        raise RuntimeError(f"pip install for {name} failed (rc {rc}): {err[-500:]}")
    (d / ".installed").write_text("ok\n")
    return py


def django_check(project, rt, work: Path, cache: Path, emu, env) -> dict:
    py = ensure_python_deps(cache, rt["deps"], requirement_args(work, rt["requirements"]))
    (work / ".rw-driver.py").write_text(DJANGO_DRIVER)
    cfg = {"settings": rt["settings"], "path": rt.get("path", "/"), "usage_module": rt["usage_module"],
           "webhook_path": rt["webhook_path"], "secret": WEBHOOK_SECRET, "method": rt.get("method", "GET"),
           "data": rt.get("data", {}), "llm_stub": rt.get("llm_stub", False),
           "user_fields": rt.get("user_fields", {})}
    renv = {**env, "RW_CONFIG": json.dumps(cfg), "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    return run_driver([str(py), ".rw-driver.py"], work, renv, 300)


# Services a Python app needs that are not reachable here, loaded before the app through a
# sitecustomize.py on PYTHONPATH (the app's own code stays untouched).
PYTHON_STAND_INS = {
    # Amazon S3 in memory, behind botocore's own request path: boto3 builds, signs and sends
    # each request as usual (`Body=` read as it would be for AWS), and a `before-send` handler
    # (the hook botocore's stubbers use) answers it from a dict (PUT stores, GET/HEAD read,
    # DELETE removes). Needs made-up AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    # AWS_DEFAULT_REGION in `env`. One store per process.
    "s3-in-memory": """\
import botocore.handlers
from botocore.awsrequest import AWSResponse
from urllib.parse import urlsplit

_RW_S3 = {}


class _RwRaw:
    def __init__(self, data):
        self._data = data

    def stream(self, **kwargs):
        yield self._data

    def read(self, *args, **kwargs):
        data, self._data = self._data, b""
        return data


def _rw_s3(request, **kwargs):
    url = urlsplit(request.url)
    key = url.netloc + url.path
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    if request.method == "PUT":
        _RW_S3[key] = body or b""
        return AWSResponse(request.url, 200, {"ETag": '"rw"'}, _RwRaw(b""))
    if request.method in ("GET", "HEAD"):
        if key not in _RW_S3:
            return AWSResponse(request.url, 404, {}, _RwRaw(b"<Error><Code>NoSuchKey</Code></Error>"))
        data = _RW_S3[key]
        return AWSResponse(request.url, 200, {"Content-Length": str(len(data))},
                           _RwRaw(b"" if request.method == "HEAD" else data))
    if request.method == "DELETE":
        _RW_S3.pop(key, None)
        return AWSResponse(request.url, 204, {}, _RwRaw(b""))
    return AWSResponse(request.url, 200, {}, _RwRaw(b""))


botocore.handlers.BUILTIN_HANDLERS.append(("before-send.s3", _rw_s3))
""",
    # MongoDB in memory (mongomock) behind pymongo's MongoClient: one store per process, so
    # the app runs one worker process (threads or greenlets inside it).
    "pymongo-in-memory": """\
import mongomock
import pymongo

pymongo.MongoClient = mongomock.MongoClient
""",
    # Off EC2: the instance metadata address (169.254.169.254) refuses connections, so an app
    # that asks it at start (its public IP for ALLOWED_HOSTS) takes its own fallback instead of
    # reaching whatever answers there on this machine.
    "no-instance-metadata": """\
import socket

_connect = socket.socket.connect


def _no_metadata(self, address):
    if isinstance(address, tuple) and address and address[0] == "169.254.169.254":
        raise ConnectionRefusedError(111, "instance metadata is not reachable (runtime.py stand-in)")
    return _connect(self, address)


socket.socket.connect = _no_metadata
""",
}


def start_llm_stub():
    """An OpenAI-compatible server on 127.0.0.1 answering chat completions (usage 10 + 20 =
    30 tokens; with `stream`, chunks then a usage chunk when asked for), the Responses API
    (plain or streamed: created ... completed, the usage on the completed response) and image
    generations. Every response has its own id, as OpenAI's do: wired call sites key events on
    it (the same id twice is one billable fact, counted once).
    Returns the server (shut down by the caller) and its /v1 URL."""
    import http.server
    import threading
    import uuid

    class Stub(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            usage = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
            answer_id = f"chatcmpl-rw-{uuid.uuid4().hex}"
            if self.path.endswith("/responses"):  # the Responses API (pydantic-ai's `openai:` models)
                self._responses(req, usage)
                return
            if self.path.endswith("/images/generations"):
                # as many images as asked (`n`, default 1), as OpenAI answers
                body = {"created": 0, "data": [{"url": f"http://127.0.0.1/rw-{i}.png"} for i in range(int(req.get("n") or 1))]}
            elif req.get("stream"):
                chunk = {"id": answer_id, "object": "chat.completion.chunk", "created": 0, "model": "gpt-rw"}
                events = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "rw stub"},
                                                 "finish_reason": None}]},
                          {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
                if (req.get("stream_options") or {}).get("include_usage"):
                    events.append({**chunk, "choices": [], "usage": usage})
                data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self._send(data.encode(), "text/event-stream")
                return
            else:
                body = {"id": answer_id, "object": "chat.completion", "created": 0, "model": "gpt-rw",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "rw stub reply"}}],
                        "usage": usage}
            self._send(json.dumps(body).encode(), "application/json")

        def _responses(self, req: dict, usage: dict):
            text = "rw stub reply"
            part = {"type": "output_text", "text": text, "annotations": []}
            item = {"id": "msg_rw", "type": "message", "role": "assistant", "status": "completed", "content": [part]}
            done = {"id": f"resp_rw_{uuid.uuid4().hex}", "object": "response", "created_at": 0, "status": "completed", "model": "gpt-rw",
                    "output": [item], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                    "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                              "total_tokens": usage["total_tokens"], "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens_details": {"reasoning_tokens": 0}}}
            if not req.get("stream"):
                self._send(json.dumps(done).encode(), "application/json")
                return
            at = {"item_id": "msg_rw", "output_index": 0, "content_index": 0}
            events = [
                {"type": "response.created", "response": {**done, "status": "in_progress", "output": [], "usage": None}},
                {"type": "response.output_item.added", "output_index": 0,
                 "item": {**item, "status": "in_progress", "content": []}},
                {"type": "response.content_part.added", **at, "part": {**part, "text": ""}},
                {"type": "response.output_text.delta", **at, "delta": text, "logprobs": []},
                {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
                {"type": "response.content_part.done", **at, "part": part},
                {"type": "response.output_item.done", "output_index": 0, "item": item},
                {"type": "response.completed", "response": done},
            ]
            data = "".join(f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': i})}\n\n"
                           for i, e in enumerate(events))
            self._send(data.encode(), "text/event-stream")

        def _send(self, data: bytes, content_type: str):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/v1"


def start_postgres(name: str) -> tuple[int, object]:
    """A throwaway PostgreSQL cluster (Debian's postgresql package) on 127.0.0.1 and a free
    port, with role/database `rw` (password `rw-made-up`); returns the port and a stop()."""
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bindir:
        raise RuntimeError("no PostgreSQL here: apt-get install postgresql")
    bindir = bindir[-1]
    data = Path(f"/tmp/rw-pg-{name}")
    if data.exists():
        run.sh(["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(data)
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    rc, _, err = run.sh(["runuser", "-u", "postgres", "--", str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                         "-U", "postgres"], timeout=120)
    if rc != 0:
        raise RuntimeError(f"initdb failed: {err[-500:]}")
    port = free_port()
    rc, _, err = run.sh(["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                         str(data / "server.log"), "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                         "start"], timeout=120)
    if rc != 0:
        raise RuntimeError(f"pg_ctl start failed: {err[-500:]}")
    for sql in ("CREATE ROLE rw LOGIN PASSWORD 'rw-made-up'", "CREATE DATABASE rw OWNER rw"):
        rc, _, err = run.sh(["runuser", "-u", "postgres", "--", str(bindir / "psql"), "-h", "127.0.0.1", "-p",
                             str(port), "-U", "postgres", "-c", sql], timeout=60)
        if rc != 0:
            raise RuntimeError(f"psql {sql!r} failed: {err[-500:]}")

    def stop():
        run.sh(["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
               timeout=120)
    return port, stop


def start_mysql(name: str, url: str) -> object:
    """A throwaway MariaDB server (Debian's mariadb-server) for an app whose MySQL URL is
    fixed in its code (`mysql://USER:PASSWORD@127.0.0.1:PORT/DB`): that host and port (default
    3306), that user, password and database; returns a stop()."""
    import signal
    u = urllib.parse.urlparse(url)
    port = u.port or 3306
    if not Path("/usr/sbin/mariadbd").exists():
        raise RuntimeError("no MariaDB here: apt-get install mariadb-server")
    data = Path(f"/tmp/rw-mysql-{name}")
    if data.exists():
        shutil.rmtree(data)
    data.mkdir()
    shutil.chown(data, "mysql", "mysql")
    rc, _, err = run.sh(["mariadb-install-db", "--user=mysql", f"--datadir={data}", "--auth-root-authentication-method=normal",
                         "--skip-test-db"], timeout=300)
    if rc != 0:
        raise RuntimeError(f"mariadb-install-db failed: {err[-500:]}")
    sock = data / "mysqld.sock"
    proc = subprocess.Popen(["/usr/sbin/mariadbd", "--user=mysql", f"--datadir={data}", f"--socket={sock}",
                             "--bind-address=127.0.0.1", f"--port={port}", f"--pid-file={data}/mysqld.pid",
                             "--skip-log-bin"], stdout=open(data / "server.log", "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 60
    while not sock.exists():
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"mariadbd did not start: {(data / 'server.log').read_text()[-500:]}")
        time.sleep(0.5)
    db = u.path.lstrip("/")
    sql = (f"CREATE DATABASE `{db}`; CREATE USER '{u.username}'@'127.0.0.1' IDENTIFIED BY '{u.password}'; "
           f"CREATE USER '{u.username}'@'localhost' IDENTIFIED BY '{u.password}'; "
           f"GRANT ALL ON `{db}`.* TO '{u.username}'@'127.0.0.1'; GRANT ALL ON `{db}`.* TO '{u.username}'@'localhost';")
    rc, _, err = run.sh(["mariadb", f"--socket={sock}", "-uroot", "-e", sql], timeout=60)
    if rc != 0:
        raise RuntimeError(f"mariadb {sql!r} failed: {err[-500:]}")

    def stop():
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return stop


def start_redis() -> tuple[int, object]:
    """A throwaway Redis (Debian's redis-server) on 127.0.0.1 and a free port, no persistence;
    returns the port and a stop()."""
    import signal
    import socket
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError("no redis-server here: apt-get install redis-server")
    port = free_port()
    proc = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"redis-server did not start (rc {proc.poll()})")
            time.sleep(0.2)

    def stop():
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return port, stop


def python_server(project, rt, work: Path, cache: Path, emu, env) -> dict:
    """Serve a Python app as in production (its own WSGI/ASGI server, workers, threads) from
    a venv of its pinned dependencies; sign up and in through its own forms or API; then
    drive it like node-server (SIGTERM at the end: the recorder flushes on it)."""
    py = ensure_python_deps(cache, rt["deps"], requirement_args(work, rt["requirements"]), rt.get("python"))
    pg_port, stop_pg = start_postgres(project["name"]) if rt.get("postgres") else (None, None)
    stop_mysql = start_mysql(project["name"], rt["mysql"]) if rt.get("mysql") else None
    redis_port, stop_redis = start_redis() if rt.get("redis") else (None, None)
    def value(v: str) -> str:  # `{work}`: the project copy; `{pg_port}`, `{redis_port}`: the services' ports
        return v.replace("{work}", str(work)).replace("{pg_port}", str(pg_port)).replace("{redis_port}", str(redis_port))
    renv = {**env, "PATH": f"{py.parent}:{env.get('PATH', '')}", "SPAIRE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PYTHONUNBUFFERED": "1", **{k: value(v) for k, v in rt.get("env", {}).items()}}
    if rt.get("stand_ins"):
        d = work / ".rw-stand-ins"
        d.mkdir(exist_ok=True)
        (d / "sitecustomize.py").write_text("\n".join(PYTHON_STAND_INS[n] for n in rt["stand_ins"]))
        renv["PYTHONPATH"] = str(d)
    stub = None
    if rt.get("llm_stub"):
        stub, url = start_llm_stub()
        renv.update(OPENAI_BASE_URL=url, OPENAI_API_BASE=url, OPENAI_API_KEY="sk-rw-made-up")
    logs = cache / "logs" / project["name"]
    try:
        for step in rt.get("before", []):
            rc, sout, err = run.sh(["nice", "-n", "10"] + step, cwd=work, env=renv, timeout=300)
            if rc != 0:
                return {"error": f"{' '.join(step)} failed (rc {rc}): {(err or sout)[-1500:]}"}
        state: dict = {}
        if "forms" in rt:
            sign_in = form_sign_in(rt["forms"], state, rt.get("headers"))
        elif "api_login" in rt:
            sign_in = api_sign_in(rt["api_login"], state, rt.get("headers"))
        else:
            sign_in = None
        out = drive_server(["sh", "-c", "exec " + " ".join(rt["command"])], work, renv, rt["requests"],
                           rt["webhook_path"], logs / "runtime-server.log", sign_in=sign_in,
                           headers=rt.get("headers"))
    finally:
        if stub is not None:
            stub.shutdown()
        if stop_pg is not None:
            stop_pg()
        if stop_mysql is not None:
            stop_mysql()
        if stop_redis is not None:
            stop_redis()
    if "forms" in state:
        out["forms"] = state["forms"]
    out["customer"] = state.get("customer", rt.get("customer", CUSTOMER))
    return {"driver": out}


def counted(emu, customer: str) -> dict:
    """Per meter: the events the emulator holds for the customer and the aggregated sum."""
    meters = emu.api("GET", "/v1/meters/?limit=100")["items"]
    events = emu.api("GET", f"/v1/events/?external_customer_id={customer}&limit=100")["items"]
    out = {}
    for m in meters:
        clauses = m["filter"]["clauses"]
        names = [c["value"] for c in clauses if c.get("property") == "name"]
        prop = m["aggregation"].get("property")
        mine = [e for e in events if e.get("name") in names]
        total = sum(e.get("metadata", {}).get(prop, 0) for e in mine) if prop else len(mine)
        out[m["name"]] = {"events": len(mine), "quantity": total}
    out["_all_events"] = [{"name": e.get("name"), "customer": e.get("external_customer_id"),
                           "metadata": e.get("metadata")} for e in events]
    return out


def add_app_code(work: Path, rt: dict, key: str = "edits") -> None:
    """The check's own app code, added before setup as if the app had it: `add_files`
    (path -> text) and `edits` (`file`, `find`, `replace`: the first occurrence), for an app
    that has no API route to bill (a starter template). Spelled out in projects.toml. With
    key="user_steps", after setup: a step setup listed for the user, done as a user would
    (recorded in the result)."""
    for rel, text in (rt.get("add_files", {}) if key == "edits" else {}).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    for edit in rt.get(key, []):
        path = work / edit["file"]
        text = path.read_text()
        if edit["find"] not in text:
            raise RuntimeError(f"edit: {edit['find']!r} not in {edit['file']}")
        path.write_text(text.replace(edit["find"], edit["replace"], 1))


def run_check(project, tool: Path, cache: Path, out_dir: Path) -> dict:
    rt = project["runtime"]
    name = project["name"]
    if rt.get("skip"):
        result = {"name": name, "kind": rt["kind"], "expect": rt["expect"], "ok": None, "skipped": rt["skip"]}
        (out_dir / f"{name}.runtime.json").write_text(json.dumps(result, indent=2) + "\n")
        return result
    work = cache / "runtime" / name
    run.extract(project, work)
    add_app_code(work, rt)
    logs = cache / "logs" / name
    logs.mkdir(parents=True, exist_ok=True)
    emu = run.Emulator(tool, logs / "runtime-emulator.log")
    result = {"name": name, "kind": rt["kind"], "expect": rt["expect"]}
    try:
        emu.api("POST", "/v1/products/", {"name": "Pro", "recurring_interval": "month",
                                           "prices": [{"amount_type": "fixed", "price_amount": 2000,
                                                       "price_currency": "usd"}]})
        # The project's own usage spool: every project runs with the same made-up token, so in
        # the shared default directory one app's leftovers would be sent into the next one's
        # emulator. What is left there after the check is reported (events the app's shutdown
        # could not deliver).
        spool = logs / "spool"
        shutil.rmtree(spool, ignore_errors=True)
        env = {**os.environ, "SPAIRE_ACCESS_TOKEN": run.TOKEN, "SPAIRE_SERVER_URL": emu.url, "NO_COLOR": "1",
               "SPAIRE_USAGE_SPOOL_DIR": str(spool)}
        rc, sout, serr = run.sh([str(tool)] + run.setup_args(project, emu.url), cwd=work, env=env, timeout=300)
        result["setup_rc"] = rc
        if rc != 0:
            # Written like every other outcome: the report must not keep an earlier pass.
            result.update(ok=False, error=serr[-800:])
            (out_dir / f"{name}.runtime.json").write_text(json.dumps(result, indent=2) + "\n")
            return result
        if rt.get("user_steps"):
            add_app_code(work, rt, "user_steps")
            result["user_steps"] = [e["file"] for e in rt["user_steps"]]
        if rt["kind"] == "node-route":
            result.update(node_route(project, rt, work, cache, emu, env))
        elif rt["kind"] == "django":
            result.update(django_check(project, rt, work, cache, emu, env))
        elif rt["kind"] == "node-fetch-app":
            result.update(node_fetch_app(project, rt, work, cache, emu, env))
        elif rt["kind"] == "node-server":
            result.update(node_server(project, rt, work, cache, emu, env))
        elif rt["kind"] == "php-server":
            result.update(php_server(project, rt, work, cache, emu, env))
        elif rt["kind"] == "rails-server":
            result.update(rails_server(project, rt, work, cache, emu, env))
        elif rt["kind"] == "go-server":
            result.update(go_server(project, rt, work, cache, emu, env, sout))
        elif rt["kind"] == "fastapi":
            result.update(fastapi_check(project, rt, work, cache, emu, env))
        elif rt["kind"] == "flask":
            result.update(flask_check(project, rt, work, cache, emu, env))
        elif rt["kind"] == "python-server":
            result.update(python_server(project, rt, work, cache, emu, env))
        else:
            raise ValueError(f"unknown runtime kind {rt['kind']!r}")
        time.sleep(0.5)
        customer = result.get("driver", {}).get("customer", CUSTOMER)
        result["customer"] = customer
        result["counted"] = counted(emu, customer)
        result["spooled_events"] = sum(
            len(json.loads(f.read_text()).get("events", [])) for f in spool.glob("*/*.json")
        )
    finally:
        emu.stop()
    exp = rt["expect"]
    got = result.get("counted", {}).get(exp["meter"], {})
    checks = {"usage_counted": got.get("quantity") == exp["quantity"]}
    if "statuses" in exp:
        # The requests answered as the check meant (a page 200, a redirect 302, ...): a
        # request that failed is not evidence that it is not billed.
        checks["requests_answered_as_expected"] = result.get("driver", {}).get("requests") == exp["statuses"]
    d = result.get("driver", {})
    if "webhook_signed" in d:
        checks["webhook_signed_accepted"] = 200 <= d["webhook_signed"] < 300
        checks["webhook_bad_signature_rejected"] = d["webhook_bad_signature"] == 403
    result["checks"] = checks
    result["ok"] = all(checks.values()) and "error" not in result
    (out_dir / f"{name}.runtime.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", type=Path, default=run.REPO / "target/debug/spaire-billing")
    ap.add_argument("--cache", type=Path, default=Path("/work/realworld-cache"))
    ap.add_argument("--out", type=Path, default=run.HERE / "results")
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    args.tool = args.tool.resolve()  # the tool runs in each project's copy, not here
    failed = 0
    for p in run.load_projects():
        if "runtime" not in p or (args.only and p["name"] not in args.only):
            continue
        try:
            r = run_check(p, args.tool, args.cache, args.out)
        except Exception as e:  # report and go on: one project's failure is its own row
            r = {"name": p["name"], "ok": False, "error": repr(e)}
            (args.out / f"{p['name']}.runtime.json").write_text(json.dumps(r, indent=2) + "\n")
        failed += r.get("ok") is False
        print(f"{p['name']:36} runtime ok={r.get('ok')} checks={r.get('checks')} "
              f"counted={ {k: v for k, v in r.get('counted', {}).items() if not k.startswith('_')} } "
              f"{r.get('error', '')[:300]}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
