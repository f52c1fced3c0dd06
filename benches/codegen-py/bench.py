#!/usr/bin/env python3
"""p99 latency the generated FastAPI API-call middleware adds, and events lost at shutdown.

Not a CI test (timings are noisy on shared runners). Run from the repository root:

    cargo build -p spaire-billing            # the emulator binary
    tests/toolchains/python/.venv/bin/python benches/codegen-py/bench.py

Three apps from the same fixture (tests/fixtures/codegen/py/fastapi) are measured in the same
run, against the emulator answering every API call after 50 ms (`--latency-ms 50`):

* plain     - the fixture without billing (the baseline);
* generated - the fixture after code generation (`install_billing(app)`: middleware queues
              one `api-call` event per request, the SDK's background thread sends batches);
* awaiting  - the fixture plus a middleware that awaits `events.ingest_async` per request
              (what naive integrations do).

Reported: p50/p99 per app, "added" = p99(app) - p99(plain), and events the emulator holds
after a graceful shutdown (SIGTERM) of the generated app, compared with requests sent.
Target: generated adds <= 1 ms at p99 and loses 0 events.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/fixtures/codegen/py/fastapi"
TOKEN = "spaire_oat_local-emulator-token"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
WARMUP = 200

AWAITING_APP = '''
import os
from fastapi import Request
from spaire_sdk import Spaire
from .main import app

client = Spaire(access_token=os.environ["SPAIRE_ACCESS_TOKEN"], server_url=os.environ["SPAIRE_SERVER_URL"])


@app.middleware("http")
async def ingest_each_request(request: Request, call_next):  # type: ignore[no-untyped-def]
    response = await call_next(request)
    customer = request.headers.get("x-customer-id")
    if customer:
        await client.events.ingest_async(request={"events": [
            {"name": "api-call", "external_customer_id": customer, "metadata": {"endpoint": request.url.path}}
        ]})
    return response
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"{url}: process exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def binary() -> Path:
    for profile in ("release", "debug"):
        path = ROOT / "target" / profile / "spaire-billing"
        if path.exists():
            return path
    raise SystemExit("build the binary first: cargo build -p spaire-billing")


def generated_copy(workdir: Path) -> Path:
    """The fixture after code generation (api-calls meter + webhooks), via billing-generate."""
    dump = workdir / "dump"
    subprocess.run(
        ["cargo", "test", "-q", "-p", "billing-generate", "python::tests::fastapi_app_is_wired_with_a_relative_import"],
        cwd=ROOT, env={**os.environ, "SPAIRE_DUMP_GENERATED": str(dump)}, check=True,
        stdout=subprocess.DEVNULL,
    )
    target = workdir / "generated"
    shutil.copytree(FIXTURE, target)
    shutil.copytree(dump / "fastapi", target, dirs_exist_ok=True)
    return target


def start_app(directory: Path, module: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", module, "--port", str(port), "--log-level", "warning"],
        cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    wait_up(f"{base}/health", proc)
    return proc, base


def measure(bases: dict[str, str]) -> dict[str, list[float]]:
    """Requests alternate between the apps, so machine noise hits all of them alike."""
    latencies: dict[str, list[float]] = {name: [] for name in bases}
    clients = {
        name: httpx.Client(base_url=base, headers={"x-customer-id": f"bench-{name}"})
        for name, base in bases.items()
    }
    try:
        for i in range(WARMUP + REQUESTS):
            for name, client in clients.items():
                started = time.perf_counter()
                response = client.get("/health")
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if i >= WARMUP:
                    latencies[name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return latencies


def p(latencies: list[float], q: float) -> float:
    return statistics.quantiles(latencies, n=1000)[int(q * 1000) - 1]


def events_stored(emulator: str, customer: str) -> int:
    request = urllib.request.Request(
        f"{emulator}/v1/events/?external_customer_id={customer}&name=api-call&limit=1",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request) as response:
        return int(json.load(response)["pagination"]["total_count"])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        generated = generated_copy(workdir)
        plain = workdir / "plain"
        shutil.copytree(FIXTURE, plain)
        (plain / "app/awaiting.py").write_text(AWAITING_APP)

        emulator_port = free_port()
        emulator = subprocess.Popen(
            [str(binary()), "emulator", "--port", str(emulator_port), "--latency-ms", "50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        try:
            wait_up(f"{emulator_url}/_emulator/health", emulator)
            env = {**os.environ, "SPAIRE_ACCESS_TOKEN": TOKEN, "SPAIRE_SERVER_URL": emulator_url}
            apps = {
                "plain": start_app(plain, "app.main:app", env),
                "generated": start_app(generated, "app.main:app", env),
                "awaiting": start_app(plain, "app.awaiting:app", env),
            }
            try:
                results = measure({name: base for name, (_, base) in apps.items()})
            finally:
                for proc, _ in apps.values():
                    proc.send_signal(signal.SIGTERM)
                    proc.communicate(timeout=60)
            # The generated app's queue is flushed at shutdown; nothing may be missing.
            lost = WARMUP + REQUESTS - events_stored(emulator_url, "bench-generated")
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)

    baseline = p(results["plain"], 0.99)
    print(f"requests per app: {REQUESTS} (+{WARMUP} warm-up), emulator latency 50 ms")
    print(f"{'app':<10} {'p50 ms':>8} {'p99 ms':>8} {'added p99 ms':>13}")
    for name, latencies in results.items():
        p99 = p(latencies, 0.99)
        print(f"{name:<10} {statistics.median(latencies):>8.2f} {p99:>8.2f} {p99 - baseline:>13.2f}")
    added = p(results["generated"], 0.99) - baseline
    awaited = p(results["awaiting"], 0.99) - baseline
    print(f"generated middleware adds {added:.2f} ms at p99 (target <= 1 ms); awaiting ingest adds {awaited:.2f} ms")
    print(f"events lost after graceful shutdown: {lost} of {WARMUP + REQUESTS} (target 0)")


if __name__ == "__main__":
    main()
