#!/usr/bin/env node
// Lays out the npm packages for `npm pack`: the main `spaire-billing` package (the launcher)
// and the platform package of one release target around a built binary.
//
//   node packaging/npm/build.mjs check    <version>
//   node packaging/npm/build.mjs main     <version> <out-dir>
//   node packaging/npm/build.mjs platform <version> <rust-target> <binary> <out-dir>
//
// <version> is the workspace version from Cargo.toml, the only place a version is written by
// hand; `check` fails when the committed package.json disagrees with it or with
// packaging/targets.json, so a release can never ship a launcher that asks for platform
// packages of another version.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const mainDir = path.join(here, "spaire-billing");
const targetsFile = path.join(here, "..", "targets.json");
const SCOPE = "@spaire-billing";

function die(message, hint) {
  process.stderr.write(`error: ${message}\n`);
  if (hint) process.stderr.write(`hint: ${hint}\n`);
  process.exit(1);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    die(`cannot read ${file}`, `Caused by: ${err.message}`);
  }
}

const targets = readJson(targetsFile).targets;

function check(version) {
  const manifestPath = path.join(mainDir, "package.json");
  const manifest = readJson(manifestPath);
  const problems = [];
  if (manifest.version !== version) {
    problems.push(`"version" is ${JSON.stringify(manifest.version)}, the workspace is ${version}`);
  }
  const wanted = Object.fromEntries(targets.map((t) => [`${SCOPE}/${t.npm}`, version]));
  const have = manifest.optionalDependencies || {};
  for (const [name, v] of Object.entries(wanted)) {
    if (have[name] !== v) problems.push(`optionalDependencies["${name}"] should be "${v}", is ${JSON.stringify(have[name])}`);
  }
  for (const name of Object.keys(have)) {
    if (!(name in wanted)) problems.push(`optionalDependencies["${name}"] is not a target in packaging/targets.json`);
  }
  if (problems.length) {
    die(
      `${manifestPath} does not match the workspace:\n  ${problems.join("\n  ")}`,
      "the version lives in the root Cargo.toml ([workspace.package] version); set the same version in package.json and its optionalDependencies",
    );
  }
}

function mainPackage(version, outDir) {
  check(version);
  const dest = path.join(outDir, "spaire-billing");
  fs.rmSync(dest, { recursive: true, force: true });
  fs.cpSync(mainDir, dest, { recursive: true });
  fs.chmodSync(path.join(dest, "bin", "spaire-billing.js"), 0o755);
  process.stdout.write(`${dest}\n`);
}

function platformPackage(version, rustTarget, binary, outDir) {
  const target = targets.find((t) => t.rust === rustTarget);
  if (!target) {
    die(`${rustTarget} is not a release target`, `the targets are listed in ${targetsFile}`);
  }
  if (!fs.existsSync(binary)) die(`no binary at ${binary}`, "build it first (cargo build --profile dist)");
  const exe = target.os === "win32" ? "spaire-billing.exe" : "spaire-billing";
  const dest = path.join(outDir, target.npm);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  const manifest = {
    name: `${SCOPE}/${target.npm}`,
    version,
    description: `The spaire-billing binary for ${target.rust}; installed by the spaire-billing package`,
    license: "MIT",
    os: [target.os],
    cpu: [target.cpu],
    ...(target.libc ? { libc: [target.libc] } : {}),
    files: [exe],
    preferUnplugged: true,
  };
  fs.writeFileSync(path.join(dest, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  fs.copyFileSync(binary, path.join(dest, exe));
  fs.chmodSync(path.join(dest, exe), 0o755);
  process.stdout.write(`${dest}\n`);
}

const [command, ...args] = process.argv.slice(2);
const usage = "usage: build.mjs check <version> | main <version> <out-dir> | platform <version> <rust-target> <binary> <out-dir>";
if (command === "check" && args.length === 1) check(args[0]);
else if (command === "main" && args.length === 2) mainPackage(...args);
else if (command === "platform" && args.length === 4) platformPackage(...args);
else die(usage);
