#!/usr/bin/env python3
"""Benchmark for `detect` on a hostile project (issue 17, item 5). Not run in CI.

The project holds a 50k-line `requirements.txt`, a `pyproject.toml` symlinked to `/dev/zero`
and a FIFO named `Pipfile`. Before the fix `detect` read /dev/zero without end, hung on the
FIFO, and took ~11 s on the requirements file (quadratic evidence lookup). Target: < 1 s.

In the same run it times `detect` on a baseline project (the same FastAPI app with a 1-line
requirements file and no hostile files) and prints the ratio, so the figure means the same
on a loaded machine. A run that exceeds --timeout counts as a hang and fails.

Usage:
    python3 benches/detect-hostile/bench.py            # builds the release binary first
    python3 benches/detect-hostile/bench.py --bin PATH # use an existing binary
Options: --lines N (default 50000), --runs N (default 7), --timeout S (default 30).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def project(root, lines, hostile):
    os.makedirs(root)
    with open(os.path.join(root, "main.py"), "w") as f:
        f.write("from fastapi import FastAPI\n\napp = FastAPI()\n")
    with open(os.path.join(root, "requirements.txt"), "w") as f:
        f.write("fastapi==0.115.0\n")
        if hostile:
            f.writelines(f"p{i}>=1 # x\n" for i in range(lines))
    if hostile:
        os.symlink("/dev/zero", os.path.join(root, "pyproject.toml"))
        os.mkfifo(os.path.join(root, "Pipfile"))


def timed(binary, root, timeout):
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [binary, "detect", root, "--json"], capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        sys.exit(f"FAIL: detect on {root} did not finish within {timeout} s (hang)")
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"FAIL: detect on {root} exited {result.returncode}:\n{result.stderr.decode()}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin")
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()

    binary = args.bin
    if not binary:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "spaire-billing"], cwd=REPO, check=True
        )
        binary = os.path.join(REPO, "target", "release", "spaire-billing")

    with tempfile.TemporaryDirectory() as tmp:
        baseline = os.path.join(tmp, "baseline")
        hostile = os.path.join(tmp, "hostile")
        project(baseline, args.lines, hostile=False)
        project(hostile, args.lines, hostile=True)
        base_times, hostile_times = [], []
        for _ in range(args.runs):  # alternate, so load affects both alike
            base_times.append(timed(binary, baseline, args.timeout))
            hostile_times.append(timed(binary, hostile, args.timeout))

    base = statistics.median(base_times)
    bad = statistics.median(hostile_times)
    print(f"binary: {binary}")
    print(f"baseline project (1-line requirements)           median {base * 1000:8.1f} ms")
    print(
        f"hostile project ({args.lines}-line requirements,\n"
        f"  /dev/zero symlink, FIFO)                        median {bad * 1000:8.1f} ms"
        f"  ({bad / base:.1f}x baseline)"
    )
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(f"note: load average {load:.1f} exceeds {os.cpu_count()} CPUs; figures are noisy")
    if bad >= 1.0:
        sys.exit(f"FAIL: {bad:.2f} s is not under the 1 s target")
    print("OK: under 1 s")


if __name__ == "__main__":
    main()
