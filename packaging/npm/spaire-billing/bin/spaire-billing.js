#!/usr/bin/env node
"use strict";
// The `spaire-billing` command of the npm package. The binary itself comes in one of the
// platform packages listed under optionalDependencies; npm installs only the one whose
// os/cpu/libc match this machine (the esbuild / Biome layout). This launcher finds it and runs
// it with the same arguments, terminal and exit status, so `npx spaire-billing setup` behaves
// exactly like the binary.

const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");

const SCOPE = "@spaire-billing";
const EXE = process.platform === "win32" ? "spaire-billing.exe" : "spaire-billing";

function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    // A glibc Node reports the glibc it runs on; a musl build has no such field.
    if (process.report && "excludeNetwork" in process.report) process.report.excludeNetwork = true;
    const report = process.report.getReport();
    const header = typeof report === "string" ? JSON.parse(report).header : report.header;
    return !header.glibcVersionRuntime;
  } catch (_) {
    return fs.existsSync("/etc/alpine-release");
  }
}

// Platform packages to try, best first. The musl binaries are static, so they also run on a
// glibc system whose package manager skipped the -gnu package; the reverse does not hold.
function candidates() {
  const key = `${process.platform}-${process.arch}`;
  if (process.platform === "linux") {
    return isMusl() ? [`${key}-musl`] : [`${key}-gnu`, `${key}-musl`];
  }
  return [key];
}

function findBinary() {
  const override = process.env.SPAIRE_BILLING_BINARY;
  if (override) return { path: override, tried: [] };
  const tried = candidates().map((suffix) => `${SCOPE}/${suffix}`);
  for (const name of tried) {
    let manifest;
    try {
      manifest = require.resolve(`${name}/package.json`);
    } catch (_) {
      continue;
    }
    const binary = path.join(path.dirname(manifest), EXE);
    if (fs.existsSync(binary)) return { path: binary, tried };
  }
  return { path: null, tried };
}

function fail(lines) {
  process.stderr.write(lines.join("\n") + "\n");
  process.exit(1);
}

const found = findBinary();
if (!found.path) {
  fail([
    `error: this npm install of spaire-billing has no binary for ${process.platform}-${process.arch}`,
    `Caused by: none of ${found.tried.join(", ")} is installed next to it`,
    "hint: npm installs the binary as an optional dependency; reinstall without `--omit=optional` / `--no-optional`.",
    "hint: on another platform, install from PyPI (`pipx install spaire-billing`) or build it with" +
      " `cargo install --locked --path crates/spaire-billing`, then set SPAIRE_BILLING_BINARY to its path.",
  ]);
}

const child = spawn(found.path, process.argv.slice(2), { stdio: "inherit" });

// Ctrl-C reaches the binary directly (same terminal process group) and the binary decides what
// it means, so the launcher must not die first. Signals sent to the launcher alone (an MCP
// client or a process manager stopping `npx spaire-billing mcp`) are passed on.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}

child.on("error", (err) => {
  fail([
    `error: could not start ${found.path}`,
    `Caused by: ${err.message}`,
    "hint: reinstall the package; if SPAIRE_BILLING_BINARY is set, point it at an executable spaire-billing binary.",
  ]);
});

child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal so the caller sees what the binary saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code === null ? 1 : code);
});
