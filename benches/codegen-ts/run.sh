#!/usr/bin/env bash
# Benchmark (not CI): the latency the generated Express API-call middleware adds per request
# when the Spaire API answers in 50 ms, against the same app awaiting `events.ingest` per
# request, and events lost after a graceful shutdown. The app is produced the way users get
# it: `spaire-billing apply --yes` on a copy of tests/fixtures/codegen/ts/express-esm.
#
#   benches/codegen-ts/run.sh            BENCH_REQUESTS=5000 LATENCY_MS=50 BIN=path/to/spaire-billing
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/benches/codegen-ts"
toolchain="$repo/tests/toolchains/node"
latency="${LATENCY_MS:-50}"
bin="${BIN:-$repo/target/release/spaire-billing}"
if [[ ! -x "$bin" ]]; then
  cargo build --release -p spaire-billing --manifest-path "$repo/Cargo.toml"
fi
[[ -d "$toolchain/node_modules/tsx" ]] || { echo "missing $toolchain (run scripts/install-test-deps.sh)" >&2; exit 2; }

work="$(mktemp -d)"
emulator_out="$work/emulator.env"
cleanup() { [[ -n "${emulator_pid:-}" ]] && kill "$emulator_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" emulator --port 0 --latency-ms "$latency" >"$emulator_out" 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 1 100); do grep -q SPAIRE_ACCESS_TOKEN "$emulator_out" 2>/dev/null && break; sleep 0.1; done
set -a; source "$emulator_out"; set +a

app="$work/app"
cp -r "$repo/tests/fixtures/codegen/ts/express-esm" "$app"
cp "$app/src/server.ts" "$work/baseline-server.ts"
ln -s "$toolchain/node_modules" "$app/node_modules"
# @spaire/sdk is already in the shared node_modules: declare it so apply installs nothing.
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
grep -q spaireApiCalls "$app/src/server.ts" || { echo "apply did not register the middleware:"; cat "$work/apply.log"; exit 1; }
# The comparison apps, added after apply so detection only ever saw the user's server.
cp "$work/baseline-server.ts" "$app/src/baseline-server.ts"
cp "$here/awaiting-server.ts" "$app/src/awaiting-server.ts"

echo "emulator latency: ${latency} ms per API call"
NODE_TOOLCHAIN="$toolchain" node "$here/bench.mjs" "$app"
