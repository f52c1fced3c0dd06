#!/usr/bin/env bash
# Kill harness for `spaire-billing apply` (issue 17): kills apply with SIGKILL or SIGINT at
# seeded random moments against a fresh emulator per trial (two organizations, 15 ms latency so
# the remote phase is hit), runs ONE `undo`, and asserts: no torn file, no leftover
# `.spaire-billing-*.tmp`, the project restored byte for byte, and no live remote object left
# (every object created was recorded and reverted). Prints the figures.
#
#   benches/crashsafe/run.sh [TRIALS] [SEED]     (default 300 trials, seed 17)
#
# The same test runs in CI with 20 trials (`cargo test -p spaire-billing --test it crashsafe`).
set -euo pipefail
cd "$(dirname "$0")/../.."
TRIALS="${1:-300}"
SEED="${2:-17}"
export RUST_BACKTRACE=0
CRASHSAFE_TRIALS="$TRIALS" CRASHSAFE_SEED="$SEED" \
  cargo test -p spaire-billing --test it \
  crashsafe::killed_applies_are_undone_by_one_undo_without_debris_or_orphans \
  -- --exact --nocapture 2>&1 | grep -v '^kill: .*No such process'
