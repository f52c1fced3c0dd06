#!/usr/bin/env python3
"""Benchmarks for `spaire-billing detect` (issue 2, section 5). Not run in CI.

1. `spaire-billing detect` vs `rg --files` on the same synthetic monorepo of >= 100k files,
   measured in one run, printing the ratio (target: <= 1.0x: detect must not need to read
   every file).
2. Process start: `spaire-billing --version` vs `node -e 0` (target: >= 20x faster).

Usage:
    python3 benches/detect/bench.py            # builds the release binary first
    python3 benches/detect/bench.py --bin PATH # use an existing binary
Options: --files N (default 100000), --runs N (default 7), --keep (keep the generated tree).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def generate(root, total_files):
    """A pnpm + turbo monorepo: apps with frameworks, many library packages, assets, docs,
    and a git-ignored node_modules that both tools must skip. Returns the number of files
    that are not ignored."""
    write(f"{root}/package.json", '{"name":"bench","private":true,"devDependencies":{"turbo":"^2"}}\n')
    write(f"{root}/pnpm-workspace.yaml", "packages:\n  - apps/*\n  - packages/*\ncatalog:\n  ai: ^5.0.0\n")
    write(f"{root}/pnpm-lock.yaml", "lockfileVersion: '9.0'\n")
    write(f"{root}/turbo.json", '{"tasks":{}}\n')
    write(f"{root}/.gitignore", "node_modules\n.next\ndist\n")
    frameworks = [("next", "15.1.0"), ("hono", "4.6.0"), ("express", "4.19.0"), ("fastify", "5.0.0")]
    count = 5
    n_apps, n_pkgs = 12, 88
    # Manifests and configs add a few files per package; sources make up the rest.
    per_pkg = max(10, total_files // (n_apps + n_pkgs) + 1)
    for i in range(n_apps + n_pkgs):
        is_app = i < n_apps
        base = f"{root}/apps/app{i}" if is_app else f"{root}/packages/pkg{i}"
        deps = {}
        if is_app:
            fw, ver = frameworks[i % len(frameworks)]
            deps[fw] = f"^{ver}"
        if i % 7 == 0:
            deps["ai"] = "catalog:"
            deps["@ai-sdk/openai"] = "^2.0.0"
        deps_json = ",".join(f'"{k}":"{v}"' for k, v in deps.items())
        write(f"{base}/package.json", f'{{"name":"p{i}","type":"module","dependencies":{{{deps_json}}}}}\n')
        write(f"{base}/tsconfig.json", '{\n  // shared\n  "compilerOptions": {"paths": {"@/*": ["./src/*"]},},\n}\n')
        count += 2
        if is_app and "next" in deps:
            write(f"{base}/next.config.mjs", "export default {};\n")
            write(f"{base}/src/app/layout.tsx", "export default function L({children}){return children}\n")
            write(f"{base}/src/app/api/chat/route.ts",
                  'import { streamText } from "ai";\nexport async function POST() { return streamText({}); }\n')
            count += 3
        made = 0
        d = 0
        while made < per_pkg:
            sub = f"{base}/src/feature{d // 50}/part{d % 50}"
            for j in range(10):
                if made >= per_pkg:
                    break
                if j == 0 and "ai" in deps and d % 5 == 0:
                    body = ('import { generateText as gen } from "ai";\n'
                            f'export const f{j} = () => gen({{ prompt: "x" }});\n')
                elif j == 9:
                    write(f"{sub}/README.md", "# part\n")
                    made += 1
                    continue
                elif j == 8:
                    write(f"{sub}/icon{j}.svg", "<svg/>\n")
                    made += 1
                    continue
                else:
                    body = (f'import {{ helper }} from "../util{j}";\n'
                            f'export function c{d}_{j}(x: number) {{ return helper(x) * {j}; }}\n')
                write(f"{sub}/mod{j}.ts", body)
                made += 1
            d += 1
        count += made
        if i % 10 == 0:
            # Installed dependencies: ignored by both tools, but present on disk.
            for k in range(200):
                write(f"{base}/node_modules/dep{k}/index.js", "module.exports = 1;\n")
    return count


def median_time(cmd, runs, env=None):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    binary = args.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-p", "spaire-billing"], cwd=REPO, check=True)
        binary = os.path.join(REPO, "target", "release", "spaire-billing")
    for tool in ("rg", "node"):
        if shutil.which(tool) is None:
            sys.exit(f"`{tool}` is required for this benchmark")

    tmp = tempfile.mkdtemp(prefix="detect-bench-")
    root = os.path.join(tmp, "monorepo")
    try:
        n = generate(root, args.files)
        assert n >= args.files, n
        print(f"generated {n} files (plus ignored node_modules) in {root}")
        env = dict(os.environ)
        env.pop("NODE_ENV", None)
        # Warm the page cache once, then alternate the commands run by run so that load
        # from other processes hits both alike; report medians.
        rg_cmd = ["rg", "--files", root]
        det_cmd = [binary, "detect", root]
        json_cmd = [binary, "detect", "--json", root]
        for cmd in (rg_cmd, det_cmd):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples = {"rg": [], "det": [], "json": []}
        for _ in range(args.runs):
            samples["rg"].append(median_time(rg_cmd, 1))
            samples["det"].append(median_time(det_cmd, 1, env))
            samples["json"].append(median_time(json_cmd, 1, env))
        rg, det, det_json = (statistics.median(samples[k]) for k in ("rg", "det", "json"))
        print(f"rg --files              {rg * 1000:8.1f} ms")
        print(f"spaire-billing detect   {det * 1000:8.1f} ms   ratio {det / rg:.2f}x  (target <= 1.0x)")
        print(f"  ... --json            {det_json * 1000:8.1f} ms   ratio {det_json / rg:.2f}x")

        start_runs = max(args.runs * 5, 50)
        vers, nodes = [], []
        for _ in range(start_runs):
            vers.append(median_time([binary, "--version"], 1))
            nodes.append(median_time(["node", "-e", "0"], 1))
        ver, node = statistics.median(vers), statistics.median(nodes)
        print(f"spaire-billing --version {ver * 1000:7.2f} ms")
        print(f"node -e 0                {node * 1000:7.2f} ms   node/spaire-billing = {node / ver:.1f}x  (target >= 20x)")
        load = os.getloadavg()[0]
        if load > (os.cpu_count() or 1):
            print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs; numbers are noisy")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
