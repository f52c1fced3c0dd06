#!/usr/bin/env bash
# Builds what a release ships, for this machine's target, and installs each the way a user
# would, offline:
#   - versions: npm package.json, the wheel and the binary all carry the workspace version,
#     and .github/workflows/release.yml builds exactly the targets of packaging/targets.json;
#   - PyPI: the maturin `bin` wheel into a fresh venv, then `spaire-billing --version`/`detect`;
#   - npm: the launcher + this target's platform package into a fresh project, then
#     `npx spaire-billing --version`/`detect`, exit-status pass-through, and the error when the
#     platform package is missing;
#   - archives: archive + .sha256 served on 127.0.0.1, the rendered install.sh installs and
#     verifies; a tampered checksum, a tampered archive and a missing checksum install nothing.
# The binary is built once, by maturin, with the `dist` profile; the archive and the npm package
# reuse it, as the release workflow does. Needs cargo, python3 (with venv), node/npm, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

work="$root/target/package-test"
out="$work/out"
rm -rf "$out"
mkdir -p "$out"

passed=0
failed=0
pass() {
  echo "  ok: $1"
  passed=$((passed + 1))
}
fail() {
  echo "  FAILED: $1" >&2
  failed=$((failed + 1))
}
# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$3', got '$2'"; fi
}
# expect_contains WHAT TEXT NEEDLE
expect_contains() {
  if grep -qF -- "$3" <<<"$2"; then pass "$1"; else fail "$1: output lacks '$3':"$'\n'"$2"; fi
}

echo "==> versions"
version=$(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="spaire-billing"))')
host=$(rustc -vV | sed -n 's/^host: //p')
echo "  workspace version $version, host $host"
if node packaging/npm/build.mjs check "$version"; then pass "npm package.json agrees with the workspace version"; else fail "npm package.json version"; fi
if grep -q '^dynamic = \["version"\]' packaging/pypi/pyproject.toml && ! grep -q '^version' packaging/pypi/pyproject.toml; then
  pass "pyproject.toml takes its version from Cargo.toml"
else
  fail "packaging/pypi/pyproject.toml must not set a version (dynamic = [\"version\"])"
fi
targets=$(python3 -c 'import json; print(" ".join(sorted(t["rust"] for t in json.load(open("packaging/targets.json"))["targets"])))')
workflow_targets=$(sed -n 's/^ *- target: *//p' .github/workflows/release.yml | sort | tr '\n' ' ' | sed 's/ $//')
expect_eq "release.yml builds the targets of packaging/targets.json" "$workflow_targets" "$targets"
if ! grep -qw -- "$host" <<<"$targets"; then
  echo "error: $host is not a release target; the package test builds for the host" >&2
  exit 1
fi

echo "==> maturin (pip, in $work/maturin-venv)"
if [ ! -x "$work/maturin-venv/bin/maturin" ]; then
  python3 -m venv "$work/maturin-venv"
  "$work/maturin-venv/bin/pip" install -q --disable-pip-version-check 'maturin>=1.9,<2'
fi
"$work/maturin-venv/bin/maturin" --version

# The shipped profile is `dist`. PACKAGE_TEST_PROFILE=dev checks the packaging itself in a
# minute on a machine whose debug build is warm; only the binary's speed and size differ.
profile=${PACKAGE_TEST_PROFILE:-dist}
profile_dir=$profile
[ "$profile" = dev ] && profile_dir=debug
echo "==> wheel + binary (cargo profile $profile)"
start=$SECONDS
# maturin reads packaging/pypi/pyproject.toml from the directory it runs in.
(cd packaging/pypi && nice -n 10 "$work/maturin-venv/bin/maturin" build --locked --profile "$profile" --out "$out/wheels")
echo "  built in $((SECONDS - start)) s"
binary="$root/target/$profile_dir/spaire-billing"
wheel=$(ls "$out"/wheels/spaire_billing-"$version"-*.whl)
echo "  binary $(stat -c %s "$binary") bytes, wheel $(stat -c %s "$wheel") bytes: $(basename "$wheel")"
expect_eq "binary --version" "$("$binary" --version)" "spaire-billing $version"

echo "==> PyPI: pip install the wheel into a fresh venv"
python3 -m venv "$out/py"
"$out/py/bin/pip" install -q --disable-pip-version-check --no-index "$wheel"
expect_eq "venv: spaire-billing --version" "$("$out/py/bin/spaire-billing" --version)" "spaire-billing $version"
expect_contains "venv: spaire-billing detect (fastapi fixture)" \
  "$("$out/py/bin/spaire-billing" detect tests/fixtures/detect/fastapi)" "FastAPI"

echo "==> npm: pack the launcher and the $host package, install into a fresh project"
main_dir=$(node packaging/npm/build.mjs main "$version" "$out/npm-src")
platform_dir=$(node packaging/npm/build.mjs platform "$version" "$host" "$binary" "$out/npm-src")
mkdir -p "$out/npm"
(cd "$out/npm" && npm pack --silent "$main_dir" "$platform_dir" >/dev/null)
main_tgz="$out/npm/spaire-billing-$version.tgz"
platform_tgz=$(ls "$out"/npm/spaire-billing-*-"$version".tgz)
# No registry: the packages the test did not build (other platforms) must be skipped as
# optional, never fetched.
npm_offline=(--offline --registry=http://127.0.0.1:9 --no-audit --no-fund --loglevel=error)
project="$out/node-project"
mkdir -p "$project"
(cd "$project" && npm init -y >/dev/null && npm install "${npm_offline[@]}" "$main_tgz" "$platform_tgz" >/dev/null)
cd "$project"
expect_eq "npx spaire-billing --version" "$(npx --no-install spaire-billing --version)" "spaire-billing $version"
expect_contains "npx spaire-billing detect (nextjs-app fixture)" \
  "$(npx --no-install spaire-billing detect "$root/tests/fixtures/detect/nextjs-app")" "Next.js 15"
set +e
npx --no-install spaire-billing detect "$out/does-not-exist" >/dev/null 2>&1
launcher_status=$?
"$binary" detect "$out/does-not-exist" >/dev/null 2>&1
binary_status=$?
set -e
if [ "$binary_status" -ne 0 ] && [ "$launcher_status" -eq "$binary_status" ]; then
  pass "the launcher passes the binary's exit status through ($binary_status)"
else
  fail "exit status: binary $binary_status, launcher $launcher_status"
fi
cd "$root"
bare="$out/node-bare"
mkdir -p "$bare"
(cd "$bare" && npm init -y >/dev/null && npm install "${npm_offline[@]}" "$main_tgz" >/dev/null)
set +e
missing=$(cd "$bare" && npx --no-install spaire-billing --version 2>&1)
missing_status=$?
set -e
expect_eq "without a platform package the launcher exits 1" "$missing_status" "1"
expect_contains "and says which package is missing" "$missing" "@spaire-billing/linux-x64-gnu"

echo "==> archives + install.sh from a server on 127.0.0.1"
serve="$out/serve"
python3 packaging/archive.py archive "$host" "$binary" "$serve/good" >/dev/null
python3 packaging/archive.py checksums "$serve/good" >/dev/null
archive="spaire-billing-$host.tar.gz"
expect_eq "sha256.sum lists the archive" "$(cut -d ' ' -f 3 "$serve/good/sha256.sum")" "$archive"
# Three broken releases: a checksum that does not match, an archive changed after its checksum
# was published, and no checksum at all.
mkdir -p "$serve/bad-checksum" "$serve/bad-archive" "$serve/no-checksum"
cp "$serve/good/$archive" "$serve/bad-checksum/"
echo "0000000000000000000000000000000000000000000000000000000000000000  $archive" >"$serve/bad-checksum/$archive.sha256"
cp "$serve/good/$archive" "$serve/good/$archive.sha256" "$serve/bad-archive/"
printf 'x' >>"$serve/bad-archive/$archive"
cp "$serve/good/$archive" "$serve/no-checksum/"

python3 - "$serve" "$out/port" <<'PY' &
import functools, http.server, sys
serve, port_file = sys.argv[1], sys.argv[2]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=serve))
open(port_file, "w").write(str(server.server_address[1]))
server.serve_forever()
PY
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$out/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$out/port")"
python3 packaging/archive.py installer "$version" "$base/good" "$out/install.sh" >/dev/null

# install_with NAME [ENV...]: runs the rendered installer into $out/bin-NAME with a clean HOME.
install_with() {
  local name=$1
  shift
  env -i PATH="$PATH" HOME="$out/home-$name" SPAIRE_BILLING_INSTALL_DIR="$out/bin-$name" "$@" sh "$out/install.sh" 2>&1
}
set +e
good=$(install_with good)
good_status=$?
set -e
expect_eq "install.sh exits 0" "$good_status" "0"
expect_contains "install.sh verifies the checksum" "$good" "checksum verified"
expect_eq "installed binary --version" "$("$out/bin-good/spaire-billing" --version 2>&1)" "spaire-billing $version"
# broken release, then what install.sh must say about it
for case in "bad-checksum:checksum mismatch" "bad-archive:checksum mismatch" "no-checksum:could not download"; do
  broken=${case%%:*}
  set +e
  output=$(install_with "$broken" SPAIRE_BILLING_DOWNLOAD_URL="$base/$broken")
  status=$?
  set -e
  if [ "$status" -ne 0 ] && [ -z "$(ls -A "$out/bin-$broken" 2>/dev/null)" ]; then
    pass "$broken: install.sh fails ($status) and installs nothing"
  else
    fail "$broken: install.sh exited $status; installed: $(ls -A "$out/bin-$broken" 2>&1)"$'\n'"$output"
  fi
  expect_contains "$broken: says why" "$output" "${case#*:}"
done
set +e
template=$(env -i PATH="$PATH" HOME="$out/home-template" sh packaging/install.sh 2>&1)
template_status=$?
set -e
if [ "$template_status" -ne 0 ]; then pass "the unrendered template refuses to run"; else fail "the unrendered template ran"; fi
expect_contains "and says why" "$template" "no download URL"

echo "package-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
