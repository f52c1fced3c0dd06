#!/usr/bin/env bash
# Benchmark (not CI): the issue's delivery target, 20 instances × 50 requests/s for 2 minutes
# against ONE emulator with the sandbox rate limit (100 requests/minute for the organization),
# with lightweight instances: each is one Node process running the generated recorder and the
# API-call middleware's work (recorder-instance.mjs), not a full app, next to as many
# processes doing the same requests without billing (the baseline, in the same run). Full
# Express apps are run.sh; 40 of them do not fit on a 2-core machine.
#
# The recorder is produced the way users get it (`spaire-billing apply --yes` on a copy of
# tests/fixtures/codegen/ts/express-esm) and bundled with esbuild, so an instance starts in
# well under a second instead of compiling TypeScript with tsx.
#
#   benches/delivery/run-recorder.sh    INSTANCES=20 RATE=50 DURATION=120 BIN=path/to/spaire-billing
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/benches/delivery"
toolchain="$repo/tests/toolchains/node"
bin="${BIN:-$repo/target/release/spaire-billing}"
if [[ ! -x "$bin" && -x "$repo/target/debug/spaire-billing" && -z "${BIN:-}" ]]; then
  bin="$repo/target/debug/spaire-billing" # the emulator is not what is measured
fi
if [[ ! -x "$bin" ]]; then
  cargo build --release -p spaire-billing --manifest-path "$repo/Cargo.toml"
fi
[[ -x "$toolchain/node_modules/.bin/esbuild" ]] || { echo "missing $toolchain (run scripts/install-test-deps.sh)" >&2; exit 2; }

work="$(mktemp -d)"
emulator_out="$work/emulator.env"
cleanup() { [[ -n "${emulator_pid:-}" ]] && kill "$emulator_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" emulator --port 0 --rate-limit >"$emulator_out" 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 1 100); do grep -q SPAIRE_ACCESS_TOKEN "$emulator_out" 2>/dev/null && break; sleep 0.1; done
set -a; source "$emulator_out"; set +a

app="$work/app"
cp -r "$repo/tests/fixtures/codegen/ts/express-esm" "$app"
ln -s "$toolchain/node_modules" "$app/node_modules"
node -e 'const f=process.argv[1];const p=require(f);p.dependencies["@spaire/sdk"]="0.45.1";require("fs").writeFileSync(f,JSON.stringify(p,null,2))' "$app/package.json"
cat >"$app/spaire-billing.toml" <<TOML
environment = "local"
server_url = "$SPAIRE_SERVER_URL"

[project]
path = "."

[customer]
from = "header"
header = "x-customer-id"

[[meters]]
preset = "api-calls"
TOML
(cd "$app" && git init -q && git add -A && git -c user.email=b@b -c user.name=bench commit -qm fixture)
"$bin" apply --yes "$app" >"$work/apply.log" 2>&1 || { cat "$work/apply.log"; exit 1; }
modules="$(dirname "$(cd "$app" && git ls-files --others --exclude-standard -- '*usage.ts' | head -1)")"
[[ -f "$app/$modules/usage.ts" ]] || { echo "apply generated no usage module:"; cat "$work/apply.log"; exit 1; }
cat >"$app/bench-entry.ts" <<TS
export { isBilledApiCall, recordApiCall, usageRecorderStats } from "./$modules/usage.js";
export { resolveCustomerId } from "./$modules/customer.js";
TS
(cd "$app" && "$toolchain/node_modules/.bin/esbuild" bench-entry.ts --bundle --platform=node --format=esm \
  --packages=external --log-level=warning --outfile=bench-bundle.mjs)

node "$here/recorder-bench.mjs" "$app/bench-bundle.mjs"
