#!/usr/bin/env python3
"""End-to-end time of a scripted `spaire-billing setup` against the built-in emulator.

Target (issue 7): the non-interactive run, without package installs, takes <= 1 s. Baselines
measured in the same run: `spaire-billing detect` on the same project (the floor of any run)
and `spaire-billing plan` after setup (planning without writing). Each sample runs on a fresh
copy of the Express fixture with a fresh product in a fresh emulator, so nothing is reused.

    cargo build --release -p spaire-billing && python3 benches/setup/bench.py [--runs 10]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "spaire-billing")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "detect", "express")
TOKEN = "spaire_oat_local-emulator-token"


def start_emulator():
    proc = subprocess.Popen(
        [BIN, "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("SPAIRE_SERVER_URL="):
            return proc, line.strip().split("=", 1)[1]
    raise SystemExit("emulator did not print its URL")


def create_product(url):
    body = json.dumps(
        {
            "name": "Pro",
            "recurring_interval": "month",
            "prices": [{"amount_type": "fixed", "price_amount": 2000, "price_currency": "usd"}],
        }
    ).encode()
    request = urllib.request.Request(
        url + "/v1/products/",
        data=body,
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).read()


def timed(argv, cwd):
    env = dict(os.environ, NO_COLOR="1")
    env.pop("SPAIRE_ACCESS_TOKEN", None)
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{argv[1]} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if not os.path.exists(BIN):
        raise SystemExit("build first: cargo build --release -p spaire-billing")

    setup_times, detect_times, plan_times = [], [], []
    for _ in range(args.runs):
        proc, url = start_emulator()
        try:
            create_product(url)
            with tempfile.TemporaryDirectory() as tmp:
                project = os.path.join(tmp, "app")
                shutil.copytree(FIXTURE, project)
                detect_times.append(timed([BIN, "detect", "."], project))
                setup_times.append(
                    timed(
                        [
                            BIN, "setup", ".", "--environment", "local", "--server-url", url,
                            "--meter", "api-calls", "--pricing", "both", "--unit-price", "0.001",
                            "--credits", "1000", "--rollover", "false", "--product", "Pro",
                            "--customer", "header:x-customer-id", "--webhooks", "--no-install",
                            "--no-checks", "--yes", "--json",
                        ],
                        project,
                    )
                )
                plan_times.append(timed([BIN, "plan", ".", "--server-url", url], project))
        finally:
            proc.terminate()
            proc.wait()

    def ms(values):
        return statistics.median(values) * 1000

    setup_ms, detect_ms, plan_ms = ms(setup_times), ms(detect_times), ms(plan_times)
    print(f"runs: {args.runs}")
    print(f"setup  (scripted, local emulator): median {setup_ms:7.1f} ms, max {max(setup_times) * 1000:7.1f} ms")
    print(f"detect (baseline):                 median {detect_ms:7.1f} ms")
    print(f"plan   (baseline, after setup):    median {plan_ms:7.1f} ms")
    print(f"setup / target 1000 ms: {setup_ms / 1000:.3f}x  (<= 1.0 passes)")
    print(f"setup / detect:         {setup_ms / detect_ms:.1f}x")
    print(f"setup / plan:           {setup_ms / plan_ms:.1f}x")


if __name__ == "__main__":
    main()
