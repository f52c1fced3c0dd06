#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine (Debian + rustup toolchain):
# Debian toolchains for generated Go/PHP/Ruby code, the real npm packages generated
# TypeScript is type-checked against, and a Python venv with the real SDK and checkers.
# Safe to re-run; it never downloads anything but packages from the registries.
set -euo pipefail
cd "$(dirname "$0")/.."

# Free disk before anything is installed: npm reports a full disk as ENOSPC mid-install.
echo "==> disk at the start of the installs"
df -h . "${HOME:-/}" "${TMPDIR:-/tmp}" || true

apt_packages=(golang-go php-cli php-curl ruby ruby-zeitwerk ripgrep golang-github-gin-gonic-gin-dev golang-github-labstack-echo-dev golang-github-go-chi-chi-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The committed lockfiles pin the versions the generated code was proven against (the
# `ai@latest` toolchain too). `npm install` rather than `npm ci`: npm 11 rejects its own
# lockfiles under `ci` when they omit other platforms' optional packages (rollup, esbuild).
# node-ts4: TypeScript 4.9 alone, for what the plan says about TypeScript 4 projects.
for dir in tests/toolchains/node tests/toolchains/node-ai-latest tests/toolchains/node-ts4; do
  echo "==> npm install in $dir (locked)"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error) || {
    status=$?
    echo "npm install in $dir failed (exit $status); disk:" >&2
    df -h . "${HOME:-/}" "${TMPDIR:-/tmp}" >&2 || true
    exit "$status"
  }
done

echo "==> python venv in tests/toolchains/python/.venv"
python3 -m venv tests/toolchains/python/.venv
tests/toolchains/python/.venv/bin/pip install -q --disable-pip-version-check \
  -r tests/toolchains/python/requirements.txt -c tests/toolchains/python/constraints.txt
