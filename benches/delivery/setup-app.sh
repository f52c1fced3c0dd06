# Sourced by run.sh and run-recorder.sh (not run on its own): starts ONE emulator with the
# sandbox rate limit and makes the app under test the way users get it, `spaire-billing apply
# --yes` on a copy of tests/fixtures/codegen/ts/express-esm with an api-calls meter keyed by
# the `x-customer-id` header. Set `needs` (a path under the node toolchain's node_modules)
# first. Leaves: $repo $here $toolchain $bin $work $app, the emulator's SPAIRE_* variables
# exported, and an EXIT trap that stops the emulator and removes $work.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/benches/delivery"
toolchain="$repo/tests/toolchains/node"
bin="${BIN:-$repo/target/release/spaire-billing}"
if [[ ! -x "$bin" && -x "$repo/target/debug/spaire-billing" && -z "${BIN:-}" ]]; then
  bin="$repo/target/debug/spaire-billing" # the emulator is not what is measured
fi
if [[ ! -x "$bin" ]]; then
  cargo build --release -p spaire-billing --manifest-path "$repo/Cargo.toml"
fi
[[ -e "$toolchain/node_modules/$needs" ]] || { echo "missing $toolchain/node_modules/$needs (run scripts/install-test-deps.sh)" >&2; exit 2; }

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
