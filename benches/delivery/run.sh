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
needs=tsx
source "$(dirname "$0")/setup-app.sh"
grep -q spaireApiCalls "$app/src/server.ts" || { echo "apply did not register the middleware:"; cat "$work/apply.log"; exit 1; }
cp "$here/instrumented-server.ts" "$app/src/bench-server.ts"

NODE_TOOLCHAIN="$toolchain" node "$here/bench.mjs" "$app"
