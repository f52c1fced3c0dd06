#!/usr/bin/env python3
"""Differential check: the same request sequence against the real Spaire server and
against `spaire-billing emulator`, compared behaviour by behaviour.

Not run in CI: CI has no real server. Bring one up on 127.0.0.1 first
(`/work/shared/spaire/real-server.md`, or this directory's README.md), then:

    python3 scripts/differential/differential.py \
        --server-url http://127.0.0.1:8800 --server-token spaire_oat_... \
        --server-webhook-port 9871 --emulator-bin target/debug/spaire-billing \
        --report /tmp/differential.json

Every request goes to 127.0.0.1 only (checked). A behaviour is one named request (or a small
group) whose status and normalised body are compared. Normalisation: ids this script created
become their names (`meter:calls`), other UUIDs `<uuid>`, ISO timestamps `<ts>`, numbers are
compared as floats. Keys only one side has are listed as a separate kind of difference
(`server-only key` / `emulator-only key`), because the emulator deliberately returns the
fields clients read, not every field of every nested object.

Standard library only, so it runs with any Python 3.10+.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
# A token neither side knows: well-formed (so both reach the token lookup), obviously fake.
UNKNOWN_TOKEN = "spaire_oat_" + "0" * 32


# ---------------------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------------------


def local_only(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"error: {url} is not on this machine; the check only talks to 127.0.0.1")
    return url


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are compared, not followed (the trailing-slash 307s)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)


@dataclass
class Reply:
    status: int
    body: Any


class Webhooks:
    """A receiver on 127.0.0.1 that keeps every delivered payload, in arrival order."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []  # (path, payload)
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = {"type": "<unparseable>", "raw": raw.decode(errors="replace")}
                received.append((self.path, payload))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.path = "/hook"  # only deliveries to this path count (a server retries old ones)

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [p for path, p in self.received if path == self.path]

    def clear(self) -> None:
        self.received.clear()


@dataclass
class Target:
    """One side of the comparison: a base URL, a token, and the names of what it created."""

    label: str
    base_url: str
    token: str
    webhooks: Webhooks
    webhook_url: str
    settle: Callable[["Target"], None]
    names: dict[str, str] = field(default_factory=dict)  # id -> name
    ids: dict[str, str] = field(default_factory=dict)  # name -> id

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(local_only(self.base_url + path), data=data, method=method)
        req.add_header("authorization", f"Bearer {token or self.token}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with NO_REDIRECTS.open(req, timeout=300) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Reply(status, parsed)

    def remember(self, name: str, value: str) -> str:
        self.names[value] = name
        self.ids[name] = value
        return value

    def id(self, name: str) -> str:
        return self.ids.get(name, "00000000-0000-4000-8000-000000000000")


# ---------------------------------------------------------------------------------------
# Normalisation and comparison
# ---------------------------------------------------------------------------------------


def normalise(value: Any, target: Target) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v, target) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, target) for v in value]
    if isinstance(value, str):
        if value in target.names:
            return f"<{target.names[value]}>"
        if UUID_RE.match(value):
            return "<uuid>"
        if TS_RE.match(value):
            return "<ts>"
        if value.startswith("spaire_whs_"):
            return "<webhook-secret>"
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def differences(server: Any, emulator: Any, path: str = "$") -> list[str]:
    """Differences between two normalised values. Keys only one side has are reported with
    their own wording so the summary can tell missing fields from wrong values."""
    out: list[str] = []
    if isinstance(server, dict) and isinstance(emulator, dict):
        for key in server:
            if key not in emulator:
                out.append(f"server-only key {path}.{key}")
        for key in emulator:
            if key not in server:
                out.append(f"emulator-only key {path}.{key}")
        for key in server:
            if key in emulator:
                out.extend(differences(server[key], emulator[key], f"{path}.{key}"))
        return out
    if isinstance(server, list) and isinstance(emulator, list):
        if len(server) != len(emulator):
            out.append(f"length {path}: server {len(server)}, emulator {len(emulator)}")
        for i, (s, e) in enumerate(zip(server, emulator)):
            out.extend(differences(s, e, f"{path}[{i}]"))
        return out
    if isinstance(server, float) and isinstance(emulator, float):
        if abs(server - emulator) > 1e-9 * max(1.0, abs(server)):
            out.append(f"value {path}: server {server!r}, emulator {emulator!r}")
        return out
    if server != emulator:
        out.append(f"value {path}: server {short(server)}, emulator {short(emulator)}")
    return out


def short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


def project(value: Any, paths: list[str] | None) -> Any:
    """Keep only the given top-level dotted paths (`items[].customer_id` style)."""
    if paths is None:
        return value
    out: dict[str, Any] = {}
    for p in paths:
        out[p] = pick(value, p.split("."))
    return out


def pick(value: Any, parts: list[str]) -> Any:
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        items = value.get(head[:-2]) if isinstance(value, dict) else None
        if not isinstance(items, list):
            return "<absent>"
        return [pick(item, rest) for item in items]
    if isinstance(value, dict):
        return pick(value[head], rest) if head in value else "<absent>"
    return "<absent>"


@dataclass
class Outcome:
    name: str
    matched: bool
    status: tuple[int | None, int | None]
    diffs: list[str]
    server_only_keys: list[str]


class Run:
    def __init__(self, server: Target, emulator: Target) -> None:
        self.server = server
        self.emulator = emulator
        self.outcomes: list[Outcome] = []

    def both(self, method: str, path: Callable[[Target], str] | str, body: Any = None,
             token: Callable[[Target], str] | None = None) -> tuple[Reply, Reply]:
        replies = []
        for target in (self.server, self.emulator):
            p = path(target) if callable(path) else path
            b = body(target) if callable(body) else body
            replies.append(target.request(method, p, b, token(target) if token else None))
        return replies[0], replies[1]

    def compare(self, name: str, server: Reply, emulator: Reply, fields: list[str] | None = None,
                strict_keys: bool = False) -> Outcome:
        s = project(normalise(server.body, self.server), fields)
        e = project(normalise(emulator.body, self.emulator), fields)
        diffs = []
        if server.status != emulator.status:
            diffs.append(f"status: server {server.status}, emulator {emulator.status}")
        all_diffs = differences(s, e)
        server_only = [d for d in all_diffs if d.startswith("server-only key")]
        other = [d for d in all_diffs if not d.startswith("server-only key")]
        if strict_keys:
            other += server_only
        diffs += other
        outcome = Outcome(name, not diffs, (server.status, emulator.status), diffs, server_only)
        self.outcomes.append(outcome)
        mark = "match" if outcome.matched else "DIFF "
        print(f"{mark} {name} ({server.status}/{emulator.status})", flush=True)
        for d in diffs[:12]:
            print(f"        {d}", flush=True)
        if len(diffs) > 12:
            print(f"        ... {len(diffs) - 12} more", flush=True)
        return outcome

    def same(self, name: str, method: str, path: Callable[[Target], str] | str, body: Any = None,
             fields: list[str] | None = None, strict_keys: bool = False,
             token: Callable[[Target], str] | None = None) -> tuple[Reply, Reply]:
        s, e = self.both(method, path, body, token)
        self.compare(name, s, e, fields, strict_keys)
        return s, e

    def created(self, name: str, object_name: str, method: str, path: str, body: Any,
                fields: list[str] | None = None) -> None:
        s, e = self.both(method, path, body)
        for target, reply in ((self.server, s), (self.emulator, e)):
            if isinstance(reply.body, dict) and "id" in reply.body:
                target.remember(object_name, reply.body["id"])
        self.compare(name, s, e, fields)


# ---------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def q(params: dict[str, Any]) -> str:
    return urllib.parse.urlencode(params, doseq=True)


def scenario(run: Run, ceiling: bool) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    tag = uuid.uuid4().hex[:8]  # external ids and emails unique per run (the server keeps data)
    for t in (run.server, run.emulator):
        t.webhooks.path = f"/hook-{tag}"
    # Fixed event timestamps, shared by both sides so quantities line up.
    t0 = (now - dt.timedelta(hours=30)).replace(minute=10, second=0)
    stamp = lambda hours: iso(t0 + dt.timedelta(hours=hours))  # noqa: E731

    # --- meters over every aggregation and operator family -----------------------------
    name_is = lambda v: {"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": v}]}  # noqa: E731
    meters = {
        "calls": (name_is(f"call-{tag}"), {"func": "count"}),
        "tokens-sum": (name_is(f"llm-{tag}"), {"func": "sum", "property": "metadata.tokens"}),
        "tokens-max": (name_is(f"llm-{tag}"), {"func": "max", "property": "tokens"}),
        "tokens-min": (name_is(f"llm-{tag}"), {"func": "min", "property": "tokens"}),
        "tokens-avg": (name_is(f"llm-{tag}"), {"func": "avg", "property": "tokens"}),
        "models-unique": (name_is(f"llm-{tag}"), {"func": "unique", "property": "model"}),
        "nested-sum": (name_is(f"llm-{tag}"), {"func": "sum", "property": "_llm.total_tokens"}),
        "ops": ({"conjunction": "or", "clauses": [
            {"conjunction": "and", "clauses": [
                {"property": "name", "operator": "eq", "value": f"llm-{tag}"},
                {"property": "tokens", "operator": "gt", "value": 10},
                {"property": "model", "operator": "like", "value": "gpt%4"},
            ]},
            {"conjunction": "and", "clauses": [
                {"property": "name", "operator": "eq", "value": f"llm-{tag}"},
                {"property": "tier", "operator": "ne", "value": "free"},
                {"property": "flag", "operator": "eq", "value": True},
            ]},
            {"conjunction": "and", "clauses": [
                {"property": "name", "operator": "like", "value": f"call-{tag[:4]}"},
                {"property": "code", "operator": "lte", "value": "5"},
                {"property": "model", "operator": "not_like", "value": "x"},
            ]},
        ]}, {"func": "count"}),
    }
    for key, (flt, agg) in meters.items():
        run.created(f"create meter {key}", f"meter:{key}", "POST", "/v1/meters/",
                    {"name": f"Meter {key}", "filter": flt, "aggregation": agg})

    # --- customers --------------------------------------------------------------------
    ext_a, ext_b = f"ext-a-{tag}", f"ext-b-{tag}"
    run.created("create customer a", "customer:a", "POST", "/v1/customers/",
                {"email": f"a-{tag}@acme.io", "external_id": ext_a, "name": "A"})
    run.created("create customer b (no external id)", "customer:b", "POST", "/v1/customers/",
                {"email": f"b-{tag}@acme.io"})
    for t in (run.server, run.emulator):
        t.remember(f"ext:{ext_a}", ext_a)  # external ids are not UUIDs; keep them literal
    run.same("customer duplicate email 422", "POST", "/v1/customers/",
             {"email": f"a-{tag}@acme.io"})

    # --- event ingest ------------------------------------------------------------------
    llm = [
        {"tokens": 12, "model": "gpt-4", "tier": "pro", "flag": True, "_llm": {"vendor": "o", "model": "m", "input_tokens": 1, "output_tokens": 2, "total_tokens": 3}},
        {"tokens": 5, "model": "gpt-3", "tier": "free"},
        {"tokens": 40.5, "model": "gpt-4o4", "tier": "pro"},
        {"tokens": "7", "model": "claude"},
        {"tokens": True, "model": "gpt-4", "flag": True, "tier": "team"},
        {"model": "gpt-4"},
        {"tokens": -3, "model": "mistral", "tier": "free"},
    ]
    batch = []
    for i, meta in enumerate(llm):
        who = {"external_customer_id": ext_a} if i % 2 == 0 else None
        batch.append({"name": f"llm-{tag}", "timestamp": stamp(i), "metadata": meta,
                      **(who or {"customer_id": "CUSTOMER_B"})})
    for i, code in enumerate(["1", "5", "10", 3, "9"]):
        # Half an hour after the llm events: ties in `sorting` have no specified order.
        batch.append({"name": f"call-{tag}", "timestamp": iso(t0 + dt.timedelta(hours=i + 1, minutes=30)),
                      "external_customer_id": ext_a, "metadata": {"code": code, "model": "m"},
                      "external_id": f"call-{tag}-{i}"})

    def with_customer(target: Target) -> dict[str, Any]:
        events = json.loads(json.dumps(batch).replace("CUSTOMER_B", target.id("customer:b")))
        return {"events": events}

    run.same("ingest mixed batch (ids, metadata types, _llm)", "POST", "/v1/events/ingest", with_customer)
    run.same("ingest duplicates by external_id", "POST", "/v1/events/ingest",
             {"events": [{"name": f"call-{tag}", "external_customer_id": ext_a, "external_id": f"call-{tag}-{i}", "timestamp": stamp(1)} for i in range(3)]
              + [{"name": f"call-{tag}", "external_customer_id": ext_a, "external_id": f"call-{tag}-new", "timestamp": iso(t0 + dt.timedelta(hours=2, minutes=45))}]})
    run.same("ingest both ids", "POST", "/v1/events/ingest",
             lambda t: {"events": [{"name": f"both-{tag}", "customer_id": t.id("customer:b"), "external_customer_id": ext_a, "timestamp": stamp(3)}]})
    run.same("event with both ids is stored under the external id", "GET",
             f"/v1/events/?{q({'name': f'both-{tag}'})}", fields=["items[].customer_id", "items[].external_customer_id", "pagination"])
    run.same("ingest both ids + member_id (customer member wins, member checked)", "POST", "/v1/events/ingest",
             lambda t: {"events": [{"name": f"both-{tag}", "customer_id": t.id("customer:b"), "member_id": str(uuid.uuid4()), "external_customer_id": ext_a}]})
    run.same("ingest name of 128 characters", "POST", "/v1/events/ingest",
             {"events": [{"name": "é" * 128, "external_customer_id": ext_a, "metadata": {"run": tag}}]})
    run.same("ingest name of 129 characters loses the batch", "POST", "/v1/events/ingest",
             {"events": [{"name": f"fine-{tag}", "external_customer_id": ext_a}, {"name": "é" * 129, "external_customer_id": ext_a}]})
    run.same("nothing of the failed batch is stored", "GET", f"/v1/events/?{q({'name': f'fine-{tag}'})}",
             fields=["pagination"])
    run.same("ingest unknown customer_id 422", "POST", "/v1/events/ingest",
             {"events": [{"name": "x", "customer_id": str(uuid.uuid4())}]})
    run.same("ingest missing name 422 (union errors)", "POST", "/v1/events/ingest",
             {"events": [{"external_customer_id": ext_a}]})
    run.same("ingest bad metadata 422", "POST", "/v1/events/ingest",
             {"events": [{"name": "x", "external_customer_id": ext_a, "metadata": {"a": None, "b": [1], "c": ""}}]})
    run.same("ingest future timestamp 422", "POST", "/v1/events/ingest",
             {"events": [{"name": "x", "external_customer_id": ext_a, "timestamp": iso(now + dt.timedelta(days=1))}]})
    run.same("ingest organization_id with an organization token 422", "POST", "/v1/events/ingest",
             {"events": [{"name": "x", "external_customer_id": ext_a, "organization_id": str(uuid.uuid4())}]})
    run.same("ingest unknown parent 422", "POST", "/v1/events/ingest",
             {"events": [{"name": "x", "external_customer_id": ext_a, "parent_id": "nope"}]})

    # --- event listing ------------------------------------------------------------------
    event_fields = ["items[].name", "items[].customer_id", "items[].external_customer_id",
                    "items[].source", "items[].metadata", "items[].timestamp", "pagination"]
    run.same("list events by name, sorted", "GET", f"/v1/events/?{q({'name': f'llm-{tag}', 'sorting': 'timestamp'})}", fields=event_fields)
    run.same("list events by meter_id", "GET", lambda t: f"/v1/events/?{q({'meter_id': t.id('meter:ops'), 'sorting': 'timestamp'})}", fields=event_fields)
    run.same("list events by customer_id (matches its external id)", "GET",
             lambda t: f"/v1/events/?{q({'customer_id': t.id('customer:a'), 'source': 'user', 'sorting': 'timestamp'})}", fields=event_fields)
    run.same("list events by filter", "GET",
             f"/v1/events/?{q({'filter': json.dumps({'conjunction': 'and', 'clauses': [{'property': 'name', 'operator': 'eq', 'value': f'llm-{tag}'}, {'property': 'tokens', 'operator': 'gte', 'value': 5}]}), 'sorting': 'timestamp'})}",
             fields=event_fields)
    run.same("list events by metadata", "GET", f"/v1/events/?{q({'name': f'call-{tag}', 'metadata[code]': '5', 'sorting': 'timestamp'})}", fields=event_fields)
    run.same("list events with a time window (exclusive)", "GET",
             f"/v1/events/?{q({'name': f'llm-{tag}', 'start_timestamp': stamp(1), 'end_timestamp': stamp(4), 'sorting': 'timestamp'})}", fields=event_fields)

    # --- quantities -------------------------------------------------------------------
    window = {"start_timestamp": iso(t0 - dt.timedelta(days=1)), "end_timestamp": iso(now)}
    for key in meters:
        for extra in ({"interval": "day"}, {"interval": "hour", "timezone": "Europe/Paris"},
                      {"interval": "day", "customer_id": "CUSTOMER_A"},
                      {"interval": "day", "external_customer_id": ext_a, "customer_aggregation_function": "max"}):
            def path(t: Target, key: str = key, extra: dict[str, Any] = extra) -> str:
                params = {**window, **extra}
                if params.get("customer_id") == "CUSTOMER_A":
                    params["customer_id"] = t.id("customer:a")
                return f"/v1/meters/{t.id('meter:' + key)}/quantities?{q(params)}"
            run.same(f"quantities {key} {json.dumps(extra)}", "GET", path)
    run.same("quantities range too big 422", "GET",
             lambda t: f"/v1/meters/{t.id('meter:calls')}/quantities?{q({'start_timestamp': '2024-01-01T00:00:00Z', 'end_timestamp': '2024-01-10T00:00:00Z', 'interval': 'hour'})}")

    # --- meters: reads, errors, locking ---------------------------------------------------
    run.same("get meter", "GET", lambda t: f"/v1/meters/{t.id('meter:tokens-sum')}")
    run.same("meter path id of another UUID version 422", "GET", f"/v1/meters/{uuid.uuid1()}")
    run.same("meter unknown v4 id 404", "GET", f"/v1/meters/{uuid.uuid4()}")
    run.same("meter bad filter value 422", "POST", "/v1/meters/",
             {"name": "Bad", "filter": {"conjunction": "and", "clauses": [{"property": "x", "operator": "eq", "value": 1.5}]}, "aggregation": {"func": "count"}})
    run.same("meter sum without property 422", "POST", "/v1/meters/",
             {"name": "Bad", "filter": name_is("x"), "aggregation": {"func": "sum"}})
    run.same("meters list (clamped, sorted by name)", "GET", "/v1/meters/?limit=500&sorting=name",
             fields=["pagination"])

    # --- product, credits benefit, free subscription, customer state, webhooks ------------
    run.created("create webhook endpoint", "webhook:main", "POST", "/v1/webhooks/endpoints",
                lambda t: {"url": t.webhook_url + t.webhooks.path, "format": "raw", "events": [
                    "subscription.created", "subscription.active", "subscription.updated",
                    "order.created", "order.paid", "benefit_grant.created", "benefit_grant.updated",
                    "benefit_grant.cycled", "benefit_grant.revoked", "customer.state_changed",
                    "customer.created", "benefit.created", "product.created"]},
                fields=["format", "events", "enabled", "secret"])
    run.created("create meter credit benefit", "benefit:credits", "POST", "/v1/benefits/",
                lambda t: {"type": "meter_credit", "description": "Monthly calls",
                           "properties": {"meter_id": t.id("meter:calls"), "units": 10, "rollover": True}})
    run.same("benefit PATCH without type 422", "PATCH", lambda t: f"/v1/benefits/{t.id('benefit:credits')}",
             {"description": "Renamed"})
    run.same("benefit PATCH with type", "PATCH", lambda t: f"/v1/benefits/{t.id('benefit:credits')}",
             {"type": "meter_credit", "description": "Monthly calls!"})
    run.same("benefit create units 0 422", "POST", "/v1/benefits/",
             lambda t: {"type": "meter_credit", "description": "Zero", "properties": {"meter_id": t.id("meter:calls"), "units": 0, "rollover": False}})
    run.created("create free recurring product with a metered price", "product:free", "POST", "/v1/products/",
                lambda t: {"name": f"Free {tag}", "recurring_interval": "month", "prices": [
                    {"amount_type": "free"},
                    {"amount_type": "metered_unit", "meter_id": t.id("meter:calls"), "unit_amount": "2.5", "cap_amount": 100000}]})
    run.same("attach benefit to product", "POST", lambda t: f"/v1/products/{t.id('product:free')}/benefits",
             lambda t: {"benefits": [t.id("benefit:credits")]}, fields=["benefits[].id", "benefits[].properties", "prices[].amount_type", "prices[].unit_amount"])
    run.created("create paid product", "product:paid", "POST", "/v1/products/",
                {"name": f"Paid {tag}", "recurring_interval": "month", "prices": [{"amount_type": "fixed", "price_amount": 1000}]},
                fields=["prices[].amount_type", "prices[].price_amount", "recurring_interval"])
    run.same("subscribe to a paid product 422", "POST", "/v1/subscriptions/",
             lambda t: {"product_id": t.id("product:paid"), "customer_id": t.id("customer:a")})
    for t in (run.server, run.emulator):
        t.settle(t)
        t.webhooks.clear()
    run.created("create free subscription", "subscription:a", "POST", "/v1/subscriptions/",
                lambda t: {"product_id": t.id("product:free"), "external_customer_id": ext_a})
    for t in (run.server, run.emulator):
        t.settle(t)

    run.same("get subscription", "GET", lambda t: f"/v1/subscriptions/{t.id('subscription:a')}")
    run.same("list subscriptions by customer", "GET", lambda t: f"/v1/subscriptions/?{q({'customer_id': t.id('customer:a')})}",
             fields=["items[].status", "items[].product_id", "items[].customer_id", "pagination"])
    run.same("list orders by customer", "GET", lambda t: f"/v1/orders/?{q({'customer_id': t.id('customer:a')})}",
             fields=["items[].status", "items[].billing_reason", "items[].total_amount", "items[].subscription_id", "items[].product_id", "pagination"])
    run.same("subscription unknown id 404", "GET", f"/v1/subscriptions/{uuid.uuid4()}")

    state_fields = ["active_subscriptions[].product_id", "active_subscriptions[].status",
                    "active_subscriptions[].meters", "active_subscriptions[].price_id",
                    "granted_benefits[].benefit_id", "granted_benefits[].benefit_type",
                    "granted_benefits[].properties", "active_meters[].meter_id",
                    "active_meters[].consumed_units", "active_meters[].credited_units",
                    "active_meters[].balance", "external_id", "email"]
    s, e = run.both("GET", lambda t: f"/v1/customers/{t.id('customer:a')}/state")
    # active_meters has no specified order: compare them sorted by (named) meter.
    s = Reply(s.status, sort_meters(normalise(s.body, run.server)))
    e = Reply(e.status, sort_meters(normalise(e.body, run.emulator)))
    run.compare("customer state after subscribing", s, e, state_fields)
    run.same("customer state by external id", "GET", f"/v1/customers/external/{ext_a}/state",
             fields=["granted_benefits[].properties", "active_subscriptions[].status"])
    run.same("customer meter for the credited meter", "GET",
             lambda t: f"/v1/customer-meters/?{q({'customer_id': t.id('customer:a'), 'meter_id': t.id('meter:calls')})}",
             fields=["items[].consumed_units", "items[].credited_units", "items[].balance", "items[].meter_id", "items[].customer_id", "pagination"])
    run.same("system events after subscribing", "GET",
             lambda t: f"/v1/events/?{q({'customer_id': t.id('customer:a'), 'source': 'system', 'sorting': 'timestamp'})}",
             fields=["items[].name", "items[].label", "items[].metadata"])

    # Usage after subscribing, then the balance.
    run.same("ingest usage after subscribing", "POST", "/v1/events/ingest",
             {"events": [{"name": f"call-{tag}", "external_customer_id": ext_a} for _ in range(14)]})
    for t in (run.server, run.emulator):
        t.settle(t)
    run.same("customer meter after usage (credited - consumed)", "GET",
             lambda t: f"/v1/customer-meters/?{q({'customer_id': t.id('customer:a'), 'meter_id': t.id('meter:calls')})}",
             fields=["items[].consumed_units", "items[].credited_units", "items[].balance"])

    # Webhook payloads: per type, the keys and the fields receivers read.
    compare_webhooks(run)

    # --- auth --------------------------------------------------------------------------
    run.same("unknown token 401", "GET", "/v1/meters/", token=lambda t: UNKNOWN_TOKEN)
    run.same("collection without trailing slash 307", "GET", "/v1/meters")

    if ceiling:
        ceiling_checks(run, tag)


def sort_meters(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("active_meters"), list):
        body["active_meters"].sort(key=lambda m: str(m.get("meter_id")))
    return body


def compare_webhooks(run: Run) -> None:
    by_type: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for target in (run.server, run.emulator):
        for payload in target.webhooks.payloads:
            normalised = normalise(payload, target)
            if isinstance(normalised.get("data"), dict):
                sort_meters(normalised["data"])
            by_type.setdefault(payload.get("type", "?"), {}).setdefault(target.label, []).append(
                normalised)
    counts_s = {k: len(v.get("server", [])) for k, v in by_type.items()}
    counts_e = {k: len(v.get("emulator", [])) for k, v in by_type.items()}
    run.compare("webhook event types and counts (subscription flow)",
                Reply(200, dict(sorted(counts_s.items()))), Reply(200, dict(sorted(counts_e.items()))))
    for kind, sides in sorted(by_type.items()):
        s, e = sides.get("server", []), sides.get("emulator", [])
        if not s or not e:
            continue
        # The first payload of each type, whole (keys strict: receivers parse these).
        run.compare(f"webhook payload {kind}", Reply(200, s[0]), Reply(200, e[0]), strict_keys=True)


def ceiling_checks(run: Run, tag: str) -> None:
    run.created("create ceiling meter", "meter:ceiling", "POST", "/v1/meters/",
                {"name": "Ceiling", "filter": {"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": f"ceil-{tag}"}]},
                 "aggregation": {"func": "count"}})
    over = [{"name": f"ceil-{tag}", "external_customer_id": f"ceil-{tag}"} for _ in range(4682)]
    run.same("batch of 4,682 events × 1 matching meter: 500", "POST", "/v1/events/ingest", {"events": over})
    run.same("nothing of the 4,682 batch is stored", "GET", f"/v1/events/?{q({'name': f'ceil-{tag}', 'limit': 1})}", fields=["pagination"])
    run.same("batch of 4,681 events × 1 matching meter: 200", "POST", "/v1/events/ingest", {"events": over[:4681]})


# ---------------------------------------------------------------------------------------
# Wiring
# ---------------------------------------------------------------------------------------


def start_emulator(binary: str, log: str | None) -> tuple[subprocess.Popen[str], str, str, str]:
    stderr = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (lives with the process)
    proc = subprocess.Popen([binary, "emulator", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=stderr, text=True)
    env: dict[str, str] = {}
    assert proc.stdout is not None
    while len(env) < 3:
        line = proc.stdout.readline()
        if not line:
            sys.exit("error: the emulator exited before printing its URL")
        if "=" in line:
            k, v = line.strip().split("=", 1)
            env[k] = v
    return proc, env["SPAIRE_SERVER_URL"], env["SPAIRE_ACCESS_TOKEN"], env["SPAIRE_EMULATOR_ADMIN_TOKEN"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server-url", required=True)
    ap.add_argument("--server-token", required=True,
                    help="token of an organization with no other objects (a fresh one per run: "
                         "meters of earlier runs appear in customer state)")
    ap.add_argument("--server-webhook-port", type=int, required=True,
                    help="port of the 127.0.0.1 receiver the patched server delivers to")
    ap.add_argument("--server-settle-seconds", type=float, default=25.0,
                    help="wait for the server's worker (debounced balance job: ~15 s)")
    ap.add_argument("--emulator-bin", default="target/debug/spaire-billing")
    ap.add_argument("--emulator-log", help="write the emulator's stderr (its warnings) here")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the 4,681/4,682 batches")
    ap.add_argument("--report", help="write every outcome as JSON here")
    args = ap.parse_args()
    local_only(args.server_url)

    proc, emu_url, emu_token, _admin = start_emulator(args.emulator_bin, args.emulator_log)
    try:
        server_hooks = Webhooks(args.server_webhook_port)
        emulator_hooks = Webhooks(0)

        def settle_server(t: Target) -> None:
            time.sleep(args.server_settle_seconds)

        def settle_emulator(t: Target) -> None:
            t.request("POST", "/_emulator/webhooks/wait", {"timeout_ms": 10000})

        server = Target("server", args.server_url.rstrip("/"), args.server_token, server_hooks,
                        "https://diff-receiver.acme.io", settle_server)
        emulator = Target("emulator", emu_url.rstrip("/"), emu_token, emulator_hooks,
                          f"http://127.0.0.1:{emulator_hooks.port}", settle_emulator)
        run = Run(server, emulator)
        scenario(run, ceiling=not args.no_ceiling)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    matched = sum(o.matched for o in run.outcomes)
    print(f"\n{len(run.outcomes)} behaviours compared, {matched} matched")
    if args.report:
        with open(args.report, "w") as fh:
            json.dump({"compared": len(run.outcomes), "matched": matched,
                       "outcomes": [o.__dict__ for o in run.outcomes]}, fh, indent=2)
    return 0 if matched == len(run.outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
