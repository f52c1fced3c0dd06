#!/usr/bin/env bash
# Benchmark (not CI): N instances of a generated app, each serving R requests/s, against ONE
# emulator with the sandbox rate limit (100 requests/minute for the whole organization), next
# to the same app without billing in the same processes (instrumented-server.ts). Reports
# events lost and duplicated, 429s the recorders saw, and the latency billing adds, measured
# in-process and by the load generator. The
# app is produced the way users get it: `spaire-billing apply --yes` on a copy of
# tests/fixtures/codegen/ts/express-esm.
#
#   benches/delivery/run.sh    INSTANCES=10 RATE=20 DURATION=120 BIN=path/to/spaire-billing
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
[[ -d "$toolchain/node_modules/tsx" ]] || { echo "missing $toolchain (run scripts/install-test-deps.sh)" >&2; exit 2; }

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
cp "$here/instrumented-server.ts" "$app/src/bench-server.ts"

NODE_TOOLCHAIN="$toolchain" node "$here/bench.mjs" "$app"
