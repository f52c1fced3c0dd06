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
needs=.bin/esbuild
source "$(dirname "$0")/setup-app.sh"
modules="$(dirname "$(cd "$app" && git ls-files --others --exclude-standard -- '*usage.ts' | head -1)")"
[[ -f "$app/$modules/usage.ts" ]] || { echo "apply generated no usage module:"; cat "$work/apply.log"; exit 1; }
cat >"$app/bench-entry.ts" <<TS
export { isBilledApiCall, recordApiCall, usageRecorderStats } from "./$modules/usage.js";
export { resolveCustomerId } from "./$modules/customer.js";
TS
(cd "$app" && "$toolchain/node_modules/.bin/esbuild" bench-entry.ts --bundle --platform=node --format=esm \
  --packages=external --log-level=warning --outfile=bench-bundle.mjs)

node "$here/recorder-bench.mjs" "$app/bench-bundle.mjs"
