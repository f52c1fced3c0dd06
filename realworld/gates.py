"""The project's own gates (type-check, linter, formatter check) for `run.py --checks`.

Independent of the tool's own gate detection (crates/billing-detect/src/gates.rs): this is the
yardstick. For one project copy it

  * installs the dependencies the way the project declares them (npm / pnpm / yarn through the
    `packageManager` it pins, via `npx -y pnpm@X` or corepack; Python tools into a venv under
    the cache), or records why it could not;
  * lists the gates the project configures (tsc, ESLint, Prettier, Biome; ruff, black, isort,
    flake8, mypy; gofmt, go vet; php -l; ruby -c) and runs each once before setup and once
    after, parsing every problem into (file, line, message);
  * reports per gate the counts before/after and the NEW problems (after minus before, keyed
    by file and message so shifted lines in an edited file do not count), each marked as
    pointing at a file the tool wrote or edited or not.

Dependencies live in the copy (node_modules, .venv: where the tool looks for the project's own
formatters, as on a developer's machine) and survive re-extraction, so a
re-run after a tool fix costs only the gates.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

import subprocess

# Installs and type-checks on a loaded 2-core machine: 15 minutes was not enough for pnpm
# monorepos or a Next.js tsc. Overridable for a faster machine.
TIMEOUT_INSTALL = int(os.environ.get("RW_INSTALL_TIMEOUT", "2400"))
TIMEOUT_GATE = int(os.environ.get("RW_GATE_TIMEOUT", "1800"))
REPO = Path(__file__).resolve().parent.parent
SDK_JS = REPO / "tests" / "toolchains" / "node" / "node_modules" / "@spaire" / "sdk"
ENV = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", "CI": "1", "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
       "COREPACK_ENABLE_STRICT": "0", "NEXT_TELEMETRY_DISABLED": "1", "SKIP_ENV_VALIDATION": "1",
       "npm_config_yes": "true", "GOFLAGS": "-mod=mod"}


def sh(cmd: str, cwd, timeout=TIMEOUT_GATE, env=None):
    """Run a shell command niced; (rc, stdout, stderr); a timeout is rc 124."""
    try:
        # `VAR=value cmd` needs env(1) after nice
        p = subprocess.run(f"nice -n 10 {'env ' if re.match(r'[A-Z_]+=', cmd) else ''}{cmd}", cwd=cwd, env=env or ENV, capture_output=True, text=True,
                           timeout=timeout, shell=True, errors="replace")
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return 124, "", "timeout"


def read(p: Path) -> str:
    try:
        return p.read_text(errors="replace")
    except OSError:
        return ""


def package_dir(work: Path, project: dict) -> Path:
    pkg = project.get("package", "")
    return work / pkg if pkg and pkg != "." else work


def bin_of(start: Path, work: Path, name: str) -> Path | None:
    """node_modules/.bin/NAME from the package dir up to the copy's root."""
    d = start
    while True:
        cand = d / "node_modules" / ".bin" / name
        if cand.exists():
            return cand
        if d == work or d == d.parent:
            return None
        d = d.parent


def pkg_json(d: Path) -> dict:
    try:
        return json.loads(read(d / "package.json") or "{}")
    except json.JSONDecodeError:
        return {}


# ---------------------------------------------------------------------------- languages

def language(work: Path, project: dict) -> str:
    d = package_dir(work, project)
    fw = project["framework"]
    if any(k in fw for k in ("fastapi", "flask", "django", "pydantic")):
        return "python"
    if fw in ("gin", "echo"):
        return "go"
    if fw == "laravel":
        return "php"
    if fw == "rails":
        return "ruby"
    return "js" if (d / "package.json").exists() or (work / "package.json").exists() else "unknown"


# ---------------------------------------------------------------------------- install

def pnpm_for_lockfile(work: Path) -> str:
    """The pnpm major that writes the committed lockfile's version."""
    lv = re.search(r"lockfileVersion:\s*'?([\d.]+)", read(work / "pnpm-lock.yaml"))
    major = float(lv.group(1)) if lv else 9
    return "9" if major >= 9 else "8" if major >= 6 else "7"


def js_manager(work: Path) -> tuple[str, str]:
    """(manager, command prefix) from `packageManager`, else the lockfile."""
    pm = pkg_json(work).get("packageManager", "")
    m = re.match(r"(pnpm|yarn|npm|bun)@([\w.\-]+)", pm)
    if m:
        name, ver = m.group(1), m.group(2)
    elif (work / "pnpm-lock.yaml").exists():
        name, ver = "pnpm", pnpm_for_lockfile(work)
    elif (work / "yarn.lock").exists():
        name, ver = "yarn", "1"
    elif (work / "bun.lockb").exists() or (work / "bun.lock").exists():
        name, ver = "bun", ""
    else:
        name, ver = "npm", ""
    if name == "pnpm":
        if re.match(r"(\d+)", ver) and int(re.match(r"(\d+)", ver).group(1)) >= 11:
            # pnpm 11 needs Node 22 (`node:sqlite`); Node 20 is what is installed here
            return name, f"npx -y -p node@22 -p pnpm@{ver} pnpm"
        return name, f"npx -y pnpm@{ver}"
    if name == "yarn":
        return name, "npx -y yarn@1" if ver.startswith("1") else f"corepack yarn@{ver}"
    return name, "npm"


GONE_FROM_REGISTRY = re.compile(r"ERR_PNPM_FETCH_404|ERR_PNPM_NO_MATCHING_VERSION|E404")


def install_root(work: Path, project: dict) -> Path:
    """Where the install runs: the package's own directory when it has a lockfile of its own
    (better-auth's demo/nextjs: its own pnpm-lock.yaml and pnpm-workspace.yaml, outside the
    monorepo's workspace), else the snapshot's root."""
    d = package_dir(work, project)
    if d != work and any((d / f).exists() for f in ("pnpm-lock.yaml", "package-lock.json", "yarn.lock")):
        return d
    return work


def js_install(work: Path, project: dict, log) -> dict:
    where = install_root(work, project)
    out = js_install_in(where, log)
    if where != work:
        out["install_dir"] = str(where.relative_to(work))
    return out


def js_install_in(work: Path, log) -> dict:
    name, prefix = js_manager(work)
    if name == "pnpm":
        # The lockfile as committed first (no resolution: fastest, and what the project's CI
        # installs); a lockfile this pnpm refuses (outdated specifiers, another lockfile
        # version) falls back to resolving, and the result says so.
        base = f"{prefix} install --ignore-scripts --config.confirmModulesPurge=false"
        out = install_once(work, work / "node_modules", f"{base} --frozen-lockfile", log, manager=name)
        if out.get("cached") and "lockfile=false" in out["command"]:
            out["lockfile"] = "a locked version is not in the registry here, installed without the lockfile (pnpm lockfile=false)"
            return out
        if out["state"] == "failed" and GONE_FROM_REGISTRY.search(out.get("reason", "") + out.get("output", "")):
            # A version the lockfile pins is not served by the registry here (nuxt-ui-chat:
            # @ai-sdk/vue 4.0.48; better-auth: typesense-fumadocs-adapter 0.4.1): resolve
            # package.json's ranges with versions the registry has, without reading or writing
            # the lockfile (`lockfile=false`: the copy's pnpm-lock.yaml stays as committed, so
            # the tool sees the project as it is), and say so.
            why = out.get("reason", "")
            out = install_once(work, work / "node_modules", f"{base} --config.lockfile=false", log, manager=name)
            out["lockfile"] = f"a locked version is not in the registry here, installed without the lockfile (pnpm lockfile=false): {why}"[:300]
            return out
        if out["state"] == "failed" and re.search(r"LOCKFILE|lockfile", out.get("reason", "") + out.get("output", "")):
            why = out.get("reason", "")
            out = install_once(work, work / "node_modules", f"{base} --no-frozen-lockfile", log, manager=name)
            out["lockfile"] = f"refused with --frozen-lockfile, installed with --no-frozen-lockfile: {why}"[:300]
        pinned = re.search(r"pnpm@(\d+)", prefix).group(1)
        if out["state"] == "failed" and pinned != pnpm_for_lockfile(work):
            # the lockfile was written by another pnpm than `packageManager` pins
            # (astro-chatgpt-demo: pnpm 7 pinned, a v6 lockfile from pnpm 8): the one that wrote it
            why = out.get("reason", "")
            out = install_once(work, work / "node_modules", f"npx -y pnpm@{pnpm_for_lockfile(work)} install --ignore-scripts "
                               "--config.confirmModulesPurge=false --frozen-lockfile", log, manager=name)
            out["lockfile"] = f"pnpm@{pinned} (packageManager) failed on this lockfile, installed with the pnpm that writes its version: {why}"[:300]
        return out
    if name == "yarn":
        cmd = f"{prefix} install --ignore-scripts" + (" --non-interactive" if "yarn@1" in prefix else "")
        if "corepack" in prefix:
            cmd = f"YARN_ENABLE_SCRIPTS=0 YARN_ENABLE_IMMUTABLE_INSTALLS=0 {prefix} install"
    else:
        # npm, and bun projects (bun is not on PATH here): npm reads the same package.json
        cmd = "npm install --ignore-scripts --no-audit --no-fund --legacy-peer-deps"
        out = install_once(work, work / "node_modules", cmd, log, manager=name)
        if out["state"] == "failed" and "E404" in out.get("reason", "") and (work / "package-lock.json").exists():
            # a version the lockfile pins was unpublished since (nuxt-assistant: @logto/nuxt
            # 1.2.0): resolve package.json's ranges instead, and say so
            why = out.get("reason", "")
            out = install_once(work, work / "node_modules", f"{cmd} --no-package-lock", log, manager=name)
            out["lockfile"] = f"a locked version is gone from the registry, installed without package-lock.json: {why}"[:300]
        return out
    return install_once(work, work / "node_modules", cmd, log, manager=name)


def fingerprint(work: Path) -> str:
    h = hashlib.sha256()
    for f in ("package.json", "package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lockb",
              "requirements.txt", "pyproject.toml", "go.sum"):
        h.update(read(work / f).encode())
    return h.hexdigest()[:16]


def install_once(work: Path, marker_dir: Path, cmd: str, log, **extra) -> dict:
    # inside the deps dir: not a file of the project (setup's changed-file list stays clean)
    marker = marker_dir / ".rw-deps-installed"
    fp = fingerprint(work)
    stored = read(marker).splitlines() if marker.exists() else []
    if stored and stored[0].strip() == fp and marker_dir.exists():
        # the command that made the install (a fallback's, when the first one failed)
        return {"state": "ok", "cached": True, "command": stored[1] if len(stored) > 1 else cmd, **extra}
    t = time.time()
    rc, out, err = sh(cmd, cwd=work, timeout=TIMEOUT_INSTALL)
    log.write(f"$ {cmd}\n{(out + err)[-8000:]}\n")
    retried = False
    if rc == 124:
        # What the timed-out run fetched is in the package manager's store: a second run
        # resumes from there instead of starting over.
        retried = True
        rc, out, err = sh(cmd, cwd=work, timeout=TIMEOUT_INSTALL)
        log.write(f"$ (again, after a timeout) {cmd}\n{(out + err)[-8000:]}\n")
    state = "ok" if rc == 0 else "timeout" if rc == 124 else "failed"
    if rc == 0 and marker_dir.is_dir():
        marker.write_text(fp + "\n" + cmd + "\n")
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in (out + err).strip().splitlines() if l.strip()]
    tail = lines[-3:]
    if rc != 0:  # the error pnpm/npm names is usually near the top, the hint at the bottom
        tail = [l for l in lines if re.search(r"ERR_|ERR!|error", l)][:2] + tail
    return {"state": state, "rc": rc, "command": cmd, "seconds": round(time.time() - t),
            **({"retried_after_timeout": True} if retried else {}),
            **({} if rc == 0 else {"reason": " | ".join(tail)[:400]}), **extra}


PY_TOOLS = ("ruff", "black", "isort", "flake8", "mypy")


def py_config_text(d: Path) -> str:
    return "\n".join(read(d / f) for f in ("pyproject.toml", "setup.cfg", "tox.ini", ".flake8", "mypy.ini",
                                           ".isort.cfg", "ruff.toml", ".ruff.toml", ".pre-commit-config.yaml",
                                           "requirements.txt", "requirements-dev.txt", "requirements_dev.txt",
                                           "dev-requirements.txt", "requirements/dev.txt", "requirements/local.txt",
                                           "requirements/base.txt", "Makefile", "scripts/lint.sh", "scripts/format.sh"))


def py_tools(d: Path) -> dict:
    """Configured Python gates -> pinned version ('' = latest)."""
    text = py_config_text(d)
    found = {}
    marks = {
        "ruff": [r"\[tool\.ruff", r"(?m)^\s*ruff\b", r"ruff-pre-commit", r"\bruff\s+(check|format)"],
        "black": [r"\[tool\.black\]", r"(?m)^\s*black\b", r"psf/black", r"\bblack\s+[.\w]"],
        "isort": [r"\[tool\.isort\]", r"\[isort\]", r"(?m)^\s*isort\b", r"pycqa/isort", r"\bisort\s+[.\w]"],
        "flake8": [r"\[flake8\]", r"(?m)^\s*flake8\b", r"pycqa/flake8", r"\bflake8\s+[.\w]"],
        # `mypy-extensions` / `mypy_extensions` is a runtime dependency, not the checker
        "mypy": [r"\[tool\.mypy\]", r"\[mypy\]", r"(?m)^\s*mypy\b(?![-_])", r"mirrors-mypy", r"\bmypy\s+[.\w]"],
    }
    for tool, pats in marks.items():
        if (d / f"{tool}.toml").exists() or (d / f".{tool}.toml").exists() or any(re.search(p, text) for p in pats):
            m = re.search(rf"(?m)^\s*[\"']?{tool}\s*[=~]=\s*[\"']?v?([\d.]+)", text)
            found[tool] = m.group(1) if m else ""
    return found


PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def python_for(d: Path) -> tuple[str | None, str]:
    """An installed Python that satisfies the project's `requires-python` lower bound."""
    m = re.search(r"requires-python\s*=\s*[\"'][^\"']*>=\s*3\.(\d+)", read(d / "pyproject.toml"))
    need = int(m.group(1)) if m else 0
    have = sorted((int(v.name.split(".")[1]), v) for v in PYENV.glob("3.*") if v.name.count(".") == 2
                  and v.name.split(".")[1].isdigit())
    for minor, v in have:
        if minor >= max(need, 11):
            return str(v / "bin" / "python"), ""
    if need <= 11:
        return sys.executable, ""
    return None, f"the project requires Python >=3.{need}, not installed here (newest: 3.{have[-1][0] if have else '?'})"


def py_install(work: Path, project: dict, cache: Path, log) -> dict:
    d = package_dir(work, project)
    tools = py_tools(d)
    if not tools:
        return {"state": "none", "reason": "no Python formatter/linter/type-checker configured"}
    venv = work / ".venv"
    python, why = python_for(d)
    if python is None:
        tools.pop("mypy", None)  # its import resolution needs the project's own deps
        if not tools:
            return {"state": "skipped", "reason": why}
    specs = " ".join(f"'{t}=={v}'" if v else t for t, v in tools.items())
    # a venv without pip (an interrupted or ensurepip-less creation) is made anew
    cmds = [] if (venv / "bin" / "pip").exists() else [f"{python or sys.executable} -m venv --clear .venv"]
    cmds.append(f".venv/bin/pip install -q {specs}")
    out = install_once(work, venv, " && ".join(cmds), log, tools=tools)
    if python is None:
        out["mypy"] = f"not run: {why}"
    elif "mypy" in tools and out["state"] == "ok":
        # mypy needs the project's own packages (and, after setup, the SDK) to resolve imports.
        # Their install failing (a package that no longer builds on this Python, a C library
        # not installed) leaves mypy out, not the linters and formatters, which need none.
        req = next((r for r in ("requirements.txt", "requirements/local.txt", "requirements/base.txt") if (d / r).exists()), None)
        own = (f".venv/bin/pip install -q -r {d.relative_to(work) / req}" if req
               else f".venv/bin/pip install -q -e {d.relative_to(work)}" if (d / "pyproject.toml").exists() else "true")
        marker_dir = venv / "rw-mypy-deps"
        marker_dir.mkdir(parents=True, exist_ok=True)
        deps = install_once(work, marker_dir, f"{own} && .venv/bin/pip install -q spaire-sdk", log)
        if deps["state"] != "ok":
            out["mypy"] = f"not run: the project's own packages did not install ({deps.get('reason', deps['state'])})"[:300]
    return out


BASE_PATH = ENV.get("PATH", "")


def node22_bin() -> str | None:
    """The bin directory of a Node 22 from the registry (`npx -p node@22`), or None."""
    rc, out, _ = sh("npx -y -p node@22 -c 'command -v node'", cwd="/tmp", timeout=600)
    path = out.strip().splitlines()[-1] if rc == 0 and out.strip() else ""
    return str(Path(path).parent) if path.startswith("/") else None


def install(work: Path, project: dict, cache: Path, log) -> dict:
    lang = language(work, project)
    ENV["PATH"] = BASE_PATH
    if project.get("install"):  # projects.toml wins
        return install_once(work, work / "node_modules", project["install"], log, manager="projects.toml")
    if lang == "js":
        out = js_install(work, project, log)
        if "node@22" in js_manager(install_root(work, project))[1] and (bin_dir := node22_bin()):
            # pnpm 11 needs Node 22, so the project runs on it: its tools (ESLint 10's config
            # helpers call `Object.groupBy`, Node 21+) run on it too, in the gates and in setup
            # (run.py puts `deps["node_bin"]` first on setup's PATH).
            ENV["PATH"] = f"{bin_dir}:{BASE_PATH}"
            out["node_bin"] = bin_dir
        return out
    if lang == "python":
        return py_install(work, project, cache, log)
    if lang == "go":
        # offline: the Go module proxy is not reachable here, only what is in the module cache
        out = install_once(work, work / ".git", "GOPROXY=off go mod download", log)
        if out["state"] != "ok":
            # gofmt needs no modules; go vet does (it type-checks), so it is not run
            return {"state": "none", "go_vet": "not run: it type-checks against the modules in go.sum, which are not in the local "
                                       f"module cache and the Go module proxy is not reachable here ({out.get('reason', '')})"[:300]}
        return out
    return {"state": "none", "reason": f"{lang}: the gates run need no install"}


def after_setup(work: Path, project: dict, deps: dict, log) -> None:
    """What the user runs next (setup ran with --no-install): the SDK the generated code imports."""
    if deps.get("state") != "ok":
        return
    if project.get("install_after"):
        rc, out, err = sh(project["install_after"], cwd=work, timeout=TIMEOUT_INSTALL)
        log.write(f"$ {project['install_after']}\n{(out + err)[-3000:]}\n")
        deps["install_after_rc"] = rc
        return
    if language(work, project) == "js":
        # The SDK the tool pins, from the test toolchain (already from the registry): a symlink
        # resolves its own dependencies (zod) from there, as an install would.
        target = package_dir(work, project) / "node_modules" / "@spaire" / "sdk"
        if not SDK_JS.exists():
            # Measured without it, every generated import would count as a new error: say so
            # instead (a test toolchain being reinstalled, or never installed here).
            deps["state"] = "error"
            deps["error"] = f"{SDK_JS} is missing: run scripts/install-test-deps.sh, then again"
            log.write(f"! {deps['error']}\n")
            return
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)  # a link left dangling by an earlier toolchain
            target.symlink_to(SDK_JS)
        deps["install_after"] = "node_modules/@spaire/sdk -> test toolchain's @spaire/sdk 0.45.1"
    prepare_types(work, project, deps, log)


def prepare_types(work: Path, project: dict, deps: dict, log) -> None:
    """Nuxt's `.nuxt/` (the tsconfig every Nuxt tsconfig extends, the auto-import and alias
    types) comes from `nuxi prepare`, which the project's postinstall runs and an
    `--ignore-scripts` install does not: without it tsc reports every auto-import and `~~/`
    alias (nuxt-assistant: 101 errors before setup, 7 more after it, all from the missing
    `.nuxt/tsconfig.json`). Run before the gates and again after setup (its new server files
    change the generated types); the copy is re-extracted each run, so `.nuxt/` is too."""
    if deps.get("state") != "ok" or language(work, project) != "js":
        return
    d = package_dir(work, project)
    nuxi = bin_of(d, work, "nuxi")
    if not nuxi or not any(d.glob("nuxt.config.*")):
        return
    rc, out, err = sh(f"{nuxi} prepare", cwd=d, timeout=TIMEOUT_INSTALL)
    log.write(f"$ (cd {d.relative_to(work)}) {nuxi} prepare\n{(out + err)[-3000:]}\n")
    deps["prepare"] = f"nuxi prepare: exit {rc}"


# ---------------------------------------------------------------------------- gates

PY_COMPILE = (
    "import pathlib,sys\n"
    "skip={'.venv','node_modules','.venv','venv','.git'}\n"
    "for f in sorted(pathlib.Path('.').rglob('*.py')):\n"
    "    if skip & set(f.parts): continue\n"
    "    try: compile(f.read_bytes(), str(f), 'exec')\n"
    "    except SyntaxError as e: print(f'{f}:{e.lineno}: SyntaxError: {e.msg}')\n"
)


# Node 20's `--check` passes a file with ESM syntax without parsing it (module detection):
# such a file is checked again from stdin as a module, where it is parsed (`[stdin]:LINE`).
NODE_CHECK = (
    "import pathlib,re,subprocess\n"
    "skip={'node_modules','.git','dist','build','.next','.svelte-kit','.output','.nuxt'}\n"
    "esm=re.compile(r'^\\s*(import|export)\\b',re.M)\n"
    "for f in sorted(pathlib.Path('.').rglob('*')):\n"
    "    if f.suffix not in ('.js','.mjs','.cjs') or skip & set(f.parts): continue\n"
    "    p=subprocess.run(['node','--check',str(f)],capture_output=True,text=True)\n"
    "    if not p.returncode and f.suffix!='.cjs' and esm.search(f.read_text(errors='replace')):\n"
    "        p=subprocess.run(['node','--input-type=module','--check'],stdin=open(f),capture_output=True,text=True)\n"
    "    if p.returncode:\n"
    "        err=p.stderr.strip().splitlines()\n"
    "        line=err[0].rsplit(':',1)[-1] if err else ''\n"
    "        print(f'{f}:{line}: ' + next((l for l in err if 'Error' in l), 'does not parse'))\n"
)


def gate_list(work: Path, project: dict, deps: dict) -> tuple[list[dict], list[dict]]:
    """(gates to run, configured gates that cannot run with why)."""
    d = package_dir(work, project)
    rel = "." if d == work else str(d.relative_to(work))
    lang = language(work, project)
    gates, skipped = [], []

    def add(tool, cmd, parser, cwd=d):
        gates.append({"tool": tool, "cmd": cmd, "parser": parser, "cwd": str(cwd.relative_to(work)) or "."})

    if project.get("checks"):
        for c in project["checks"]:
            add("tsc" if "tsc" in c else c.split()[0], c, "tsc" if "tsc" in c else "generic", work)
    if lang == "js":
        pj = pkg_json(d)
        rootpj = pkg_json(work)
        alldeps = {**rootpj.get("devDependencies", {}), **rootpj.get("dependencies", {}),
                   **pj.get("devDependencies", {}), **pj.get("dependencies", {})}
        tsc = bin_of(d, work, "tsc")
        if (d / "tsconfig.json").exists() and not project.get("checks"):
            if tsc:
                add("tsc", f"{tsc} --noEmit -p . --pretty false", "tsc")
            else:
                skipped.append({"tool": "tsc", "reason": "tsconfig.json but no typescript installed"})
        eslint_cfgs = [f for base in {d, work} for f in base.glob(".eslintrc*")] + \
                      [f for base in {d, work} for f in base.glob("eslint.config.*")]
        if eslint_cfgs or "eslintConfig" in pj or "eslint" in alldeps:
            es = bin_of(d, work, "eslint")
            if not es:
                skipped.append({"tool": "eslint", "reason": "configured but eslint is not installed"})
            elif eslint_cfgs or "eslintConfig" in pj:
                flat = any(f.name.startswith("eslint.config") for f in eslint_cfgs)
                ext = "" if flat else " --ext .js,.jsx,.ts,.tsx,.mjs,.cjs"
                add("eslint", f"{es} . -f json --no-error-on-unmatched-pattern{ext}", "eslint")
            else:
                skipped.append({"tool": "eslint", "reason": "eslint installed but no config"})
        prettier_cfg = [f for base in {d, work} for f in base.glob(".prettierrc*")] + \
                       [f for base in {d, work} for f in base.glob("prettier.config.*")]
        scripts = " ".join(str(v) for v in {**rootpj.get("scripts", {}), **pj.get("scripts", {})}.values())
        biome_cfg = any((base / f).exists() for base in {d, work} for f in ("biome.json", "biome.jsonc"))
        leftover_prettier = (biome_cfg and ("@biomejs/biome" in alldeps or "biome" in scripts)
                             and "prettier" not in alldeps and "prettier" not in pj and "prettier" not in rootpj
                             and "prettier" not in scripts)
        if leftover_prettier and prettier_cfg:
            # novel: prettier.config.js at the root, Biome in the dependencies and scripts,
            # Prettier in neither (its binary only came with another package): not a gate the
            # project runs, and the tool formats with Biome alone there (billing-detect gates.rs)
            skipped.append({"tool": "prettier", "reason": "a Prettier config, but the project depends on and runs "
                                                          "Biome, not Prettier (a leftover config)"})
        elif prettier_cfg or "prettier" in pj or "prettier" in rootpj or "prettier" in alldeps:
            pr = bin_of(d, work, "prettier")
            if pr:
                # Prettier 2 spells it --loglevel (unknown option: exit 2); exit 1 is a result
                # (unformatted files), which a `||` fallback would count a second time
                add("prettier", f"{pr} --check . --log-level warn 2>&1; rc=$?; [ $rc -ne 2 ] && exit $rc; "
                    f"{pr} --check . --loglevel warn", "prettier")
            else:
                skipped.append({"tool": "prettier", "reason": "configured but prettier is not installed"})
        if any((base / f).exists() for base in {d, work} for f in ("biome.json", "biome.jsonc")):
            bi = bin_of(d, work, "biome")
            if bi:
                add("biome", f"{bi} check . --max-diagnostics=1000 --colors=off", "biome")
            else:
                skipped.append({"tool": "biome", "reason": "biome.json but biome is not installed"})
        # An ESLint installed (a dependency's dependency) without a config lints nothing: it
        # does not stand for a linter the project configured (mern-wallpapers).
        configured = [s for s in skipped if s["reason"] != "eslint installed but no config"]
        if not any(g["tool"] in ("tsc", "eslint", "biome") for g in gates + configured):
            # No type-check or linter configured: at least every script must parse.
            add("node-check", f"{sys.executable} -c {shlex.quote(NODE_CHECK)}", "generic")
    elif lang == "python":
        # Every Python project has at least this gate: the files must compile (the Python
        # that runs the harness, 3.11; setup's generated code targets 3.8+).
        python, why = python_for(d)
        if python:
            add("py-compile", f"{python} -c {shlex.quote(PY_COMPILE)}", "generic")
        else:  # a newer Python's syntax (PEP 758 `except A, B:`) is not an error there
            skipped.append({"tool": "py-compile", "reason": why})
        tools = deps.get("tools") or py_tools(d)
        if deps.get("mypy"):
            skipped.append({"tool": "mypy", "reason": deps["mypy"]})
        venv = work / ".venv" / "bin"
        for t in tools:
            if t == "mypy" and deps.get("mypy"):
                continue  # listed unavailable above
            if t == "mypy" and deps.get("state") != "ok":
                skipped.append({"tool": t, "reason": "its imports need the project's dependencies, which did not install: "
                                + (deps.get("mypy") or deps.get("reason") or deps.get("state", ""))[:200]})
                continue
            if not (venv / t).exists():
                skipped.append({"tool": t, "reason": f"configured but not installed ({deps.get('reason', deps.get('state'))})"})
                continue
            # The venv sits in the copy: extend (not replace) the project's own excludes
            cmd = {"ruff": f"{venv}/ruff check --output-format concise --extend-exclude .venv .",
                   "black": f"{venv}/black --check --extend-exclude '/\\.venv/' .",
                   "isort": f"{venv}/isort --check-only --extend-skip .venv .",
                   "flake8": f"{venv}/flake8 --extend-exclude .venv .",
                   "mypy": f"{venv}/mypy --exclude '\\.venv/' ."}[t]
            outside = t == "ruff" and re.search(r'(?m)^extend\s*=\s*["\'](\.\./[^"\']+)', read(d / "pyproject.toml") + read(d / "ruff.toml"))
            if outside and not (d / outside.group(1)).resolve().is_relative_to(work.resolve()):
                # the snapshot is a subdirectory of a larger repo: the config it extends is not in the copy
                skipped.append({"tool": t, "reason": f"its config extends {outside.group(1)}, outside the snapshot's root"})
                continue
            add(t, cmd, t)
            if t == "ruff" and ("ruff format" in py_config_text(d) or "[tool.ruff.format]" in py_config_text(d)):
                # older ruff's `format` has no --extend-exclude (usage error, exit 2): then the
                # project's Python files, tracked or new, by name
                add("ruff-format", f"{venv}/ruff format --check --extend-exclude .venv . 2>&1; rc=$?; "
                    f"[ $rc -ne 2 ] && exit $rc; {venv}/ruff format --check "
                    "$(git ls-files -co --exclude-standard -- '*.py' ':!.venv/**')", "ruff-format")
    elif lang == "go":
        add("gofmt", "gofmt -l $(go list -f '{{.Dir}}' ./... 2>/dev/null | sed \"s#^$PWD/##\" || echo .)", "list")
        if deps.get("go_vet"):
            skipped.append({"tool": "go-vet", "reason": deps["go_vet"]})
        else:
            add("go-vet", "go vet ./...", "go")
    elif lang == "php":
        add("php-l", "find . -name '*.php' -not -path './vendor/*' -not -path './node_modules/*' -print0 "
                     "| xargs -0 -n1 php -l 2>&1 | grep -v '^No syntax errors'", "php")
        for f, tool in (("pint.json", "pint"), (".php-cs-fixer.php", "php-cs-fixer"), (".php-cs-fixer.dist.php", "php-cs-fixer")):
            if (d / f).exists() or (tool == "pint" and "laravel/pint" in read(d / "composer.json")):
                skipped.append({"tool": tool, "reason": f"{tool} comes from Packagist via `composer install` (not reachable "
                                                          "here) and Debian does not package it"})
    elif lang == "ruby":
        add("ruby-c", "find . -name '*.rb' -not -path './vendor/*' -print0 | xargs -0 -n1 ruby -c 2>&1 | grep -v '^Syntax OK'", "ruby")
        if (d / ".rubocop.yml").exists() or "rubocop" in read(d / "Gemfile"):
            # Debian's rubocop runs only a config that needs no other gem (`inherit_gem`,
            # `require:` plugins such as rubocop-rails-omakase come from rubygems.org)
            skipped.append({"tool": "rubocop", "reason": "its config inherits gems (" + ", ".join(sorted(set(re.findall(r"rubocop-[\w-]+", read(d / ".rubocop.yml") + read(d / "Gemfile"))))) + ") that need `bundle install` from rubygems.org (not reachable here) and are not packaged by Debian"})
        if '"standard"' in read(d / "Gemfile") or "'standard'" in read(d / "Gemfile"):
            skipped.append({"tool": "standard", "reason": "needs `bundle install` (rubygems.org is not reachable here)"})
    return gates, skipped


LOC = re.compile(r"^(?P<file>[^\s:()]+\.\w+)[:(](?P<line>\d+)[:,](?:\d+[:)]?)?\s*-?\s*(?P<msg>.*)$")


def parse(parser: str, text: str, cwd_rel: str, work: Path) -> list[dict] | None:
    """Problems as {file (relative to the copy), line, msg}; None when the output is not a result."""
    out = []

    def norm(f: str) -> str:
        p = Path(f)
        if p.is_absolute():
            try:
                return str(p.resolve().relative_to(work.resolve()))
            except ValueError:
                return f
        return os.path.normpath(os.path.join(cwd_rel, f))

    if parser == "eslint":
        start = text.find("[{")
        if start < 0:
            return None if "error" in text.lower() and "[]" not in text else []
        try:
            data, _ = json.JSONDecoder().raw_decode(text[start:])
        except json.JSONDecodeError:
            return None
        for f in data:
            for m in f.get("messages", []):
                if m.get("severity", 0) >= 1:
                    sev = "error" if m.get("severity") == 2 else "warning"
                    out.append({"file": norm(f["filePath"]), "line": m.get("line"),
                                "msg": f"{sev} {m.get('ruleId') or ''}: {m.get('message', '')}"})
        return out
    if parser in ("prettier",):
        for l in text.splitlines():
            # not a file: Prettier's summary, and a plugin option it does not know (printed
            # once per file it checks, so more files after setup would count as new problems)
            m = re.match(r"^\[warn\] (?!Code style issues|Ignored unknown option)(\S.*)$", l)
            if m:
                out.append({"file": norm(m.group(1).strip()), "line": None, "msg": "not formatted"})
            elif "SyntaxError" in l or l.startswith("[error]"):
                m = re.match(r"^\[error\] ([^:]+): (.*)$", l)
                if m:
                    out.append({"file": norm(m.group(1)), "line": None, "msg": "error " + m.group(2)[:160]})
        return out
    if parser in ("ruff-format", "black", "list"):
        for l in text.splitlines():
            m = re.match(r"^(?:Would reformat: |would reformat )?(\S+\.(?:py|go))$", l.strip())
            if m:
                out.append({"file": norm(m.group(1)), "line": None, "msg": "not formatted"})
        return out
    if parser == "isort":
        for l in text.splitlines():
            m = re.match(r"^ERROR: (\S+) Imports are incorrectly sorted", l)
            if m:
                out.append({"file": norm(m.group(1)), "line": None, "msg": "imports not sorted"})
        return out
    if parser == "php":
        for l in text.splitlines():
            m = re.search(r"(?:Parse|Fatal) error:\s*(.*) in (\S+) on line (\d+)", l)
            if m:
                out.append({"file": norm(m.group(2)), "line": int(m.group(3)), "msg": m.group(1)})
        return out
    if parser == "ruby":
        for l in text.splitlines():
            m = re.match(r"^(\S+\.rb):(\d+): (.*)$", l)
            if m:
                out.append({"file": norm(m.group(1)), "line": int(m.group(2)), "msg": m.group(3)})
        return out
    if parser == "tsc":
        for l in text.splitlines():
            m = re.match(r"^(\S+?)\((\d+),\d+\): error (TS\d+: .*)$", l)
            if m:
                out.append({"file": norm(m.group(1)), "line": int(m.group(2)), "msg": m.group(3)})
            elif re.match(r"^error TS\d+", l):
                out.append({"file": "", "line": None, "msg": l})
        return out
    if parser == "biome":
        for l in text.splitlines():
            m = re.match(r"^(\S+?):(\d+):\d+ (\S+)", l)
            if m:
                out.append({"file": norm(m.group(1)), "line": int(m.group(2)), "msg": m.group(3)})
            else:
                m = re.match(r"^(\S+\.\w+) (format|organizeImports|lint\S*|assist\S*) ━", l)
                if m:
                    out.append({"file": norm(m.group(1)), "line": None, "msg": m.group(2)})
        return out
    # ruff, flake8, mypy, go vet, generic: path:line[:col]: message
    for l in text.splitlines():
        if parser == "mypy" and ": note:" in l:
            continue
        m = LOC.match(l.strip())
        if m:
            out.append({"file": norm(m.group("file")), "line": int(m.group("line")), "msg": m.group("msg")[:200]})
    return out


def run_gates(work: Path, gates: list[dict], log) -> dict:
    res = {}
    for g in gates:
        t = time.time()
        rc, out, err = sh(g["cmd"], cwd=work / g["cwd"])
        text = re.sub(r"\x1b\[[0-9;]*m", "", out + "\n" + err)  # some tools colour despite NO_COLOR
        log.write(f"$ (cd {g['cwd']}) {g['cmd']}\n{text[-15000:]}\n")
        probs = parse(g["parser"], text, g["cwd"], work)
        if rc == 124:
            probs = None
        if probs is not None and rc != 0 and not probs and g["parser"] not in ("php", "ruby", "list"):
            probs = None  # it crashed (config error, missing plugin): no result, not a pass
        if probs and g["parser"] == "tsc" and all("TS6053" in p["msg"] and re.search(r"\.(nuxt|svelte-kit)/", p["msg"])
                                                   for p in probs):
            # the tsconfig extends what `nuxt prepare` / `svelte-kit sync` generate (not run by an
            # install with --ignore-scripts): tsc checked no file, which is no result, not a pass
            probs = None
        tail = [l for l in text.strip().splitlines() if l.strip()][-2:]
        res[g["tool"]] = {"rc": rc, "seconds": round(time.time() - t), "problems": probs,
                          **({} if probs is not None else {"error": " | ".join(tail)[:300]})}
    return res


def key(p: dict) -> tuple:
    # line numbers shift in an edited file; a problem is the same if its file and message are
    return (p["file"], re.sub(r"\d+", "#", p["msg"]))


def compare(before: dict, after: dict, touched: set[str]) -> dict:
    out = {}
    for tool in before.keys() | after.keys():
        b, a = before.get(tool, {}), after.get(tool, {})
        bp, ap = b.get("problems"), a.get("problems")
        if bp is None or ap is None:
            out[tool] = {"state": "no result", "before": None if bp is None else len(bp),
                         "after": None if ap is None else len(ap),
                         "error": a.get("error") or b.get("error")}
            continue
        left = collections.Counter(key(p) for p in bp)
        new = []
        for p in ap:
            k = key(p)
            if left[k] > 0:
                left[k] -= 1
            else:
                new.append({**p, "touched": p["file"] in touched})
        out[tool] = {"state": "measured", "before": len(bp), "after": len(ap), "new": len(new),
                     "new_in_touched": sum(p["touched"] for p in new),
                     "new_problems": [f"{p['file']}:{p['line'] or ''} {p['msg']}"[:240] + ("" if p["touched"] else " (not a touched file)")
                                      for p in new][:40]}
    return out


def summary(own: dict | None) -> str:
    """One report cell."""
    if not own:
        return "not run"
    if own.get("skipped"):
        return f"skipped: {own['skipped']}"
    parts = []
    for tool, v in sorted(own.get("gates", {}).items()):
        if v["state"] != "measured":
            parts.append(f"{tool} no result")
        else:
            parts.append(f"{tool} {v['before']}→{v['after']}" + (f" **+{v['new']}**" if v["new"] else ""))
    for s in own.get("unavailable", []):
        parts.append(f"{s['tool']} n/a")
    return ", ".join(parts) or "no gate configured"


def new_total(own: dict | None) -> int | None:
    """New problems over the gates that ran; None when the project does not count as measured:
    no gate gave a result, or the install failed (then its real gates could not run, and
    what did run proves little)."""
    if not own or own.get("skipped") or not any(v["state"] == "measured" for v in own.get("gates", {}).values()):
        return None
    if own.get("deps", {}).get("state") not in ("ok", "none"):
        return None
    return sum(v.get("new", 0) for v in own["gates"].values())


def report_section(rows: list[dict]) -> list[str]:
    """The "own gates: new problems" section of --report: the headline count, then every
    project whose own gates found problems the setup introduced, each problem at file:line."""
    # a setup that failed wrote nothing: its gates' "0 new" proves nothing
    measured = [(r, new_total(r.get("own_gates")) if r.get("setup_rc") == 0 else None) for r in rows]
    counted = [(r, n) for r, n in measured if n is not None]
    clean = sum(n == 0 for _, n in counted)
    lines = ["", "Own gates: new problems (`run.py --checks`: the project's own type-check, linter and "
             "formatter check, before and after setup):", "",
             f"{len(counted)} of {len(rows)} projects measured; {clean} with 0 new problems."
             + ("" if not counted else f" ({100 * clean // len(counted)}%)"), ""]
    not_measured = [(r["name"], why_not_measured(r.get("own_gates")) if r.get("setup_rc") == 0
                     else f"setup exited {r.get('setup_rc')}") for r, n in measured if n is None]
    for r, n in counted:
        if not n:
            continue
        for tool, v in sorted(r["own_gates"]["gates"].items()):
            if v.get("new"):
                lines.append(f"- {r['name']} — {tool} +{v['new']} ({v['new_in_touched']} in files setup wrote or edited): "
                             + "; ".join(f"`{p}`" for p in v["new_problems"][:6])
                             + (" …" if len(v["new_problems"]) > 6 else ""))
    if not_measured:
        lines += ["", "Not measured: " + "; ".join(f"{n} ({why})" for n, why in not_measured)]
    return lines


def why_not_measured(own: dict | None) -> str:
    if not own:
        return "not run with --checks"
    deps = own.get("deps", {})
    if deps.get("state") not in ("ok", "none"):
        return f"{deps.get('manager', 'install')} {deps.get('state')}: {deps.get('reason', '')}"[:200]
    ran = "; ".join(f"{t}: {v.get('error', '')}"[:120] for t, v in own.get("gates", {}).items())
    return f"no gate produced a result ({ran})" if ran else "no gate configured"
