#!/usr/bin/env python3
"""Real-world harness for spaire-billing (a developer tool; not run in CI).

For each project of projects.toml: extract a clean copy of the pinned snapshot, start the
built-in emulator on 127.0.0.1 with a made-up token, create a product, run the tool's
non-interactive `setup` with the project's answers, and measure what really happened:

  * billable call sites in the project (an independent scan, not the tool's detector),
    which of them the tool found, wired (the file now records usage) or listed as a manual
    step, and which are *silent* (neither wired nor listed);
  * API-call metering: registered in the app's own code, listed as a manual step, or silent;
  * the webhook route: registered (a file-routed path, or an existing router/entry file now
    mounts it), listed as a manual step, or silent;
  * generated customer resolvers that are stubs (return nothing) and whether they are listed;
  * whether `status` tells the truth: it reports work left exactly when work is left;
  * optionally (--checks), the project's own type-check / lint before vs after.

One JSON file per project goes to realworld/results/, and `--report` renders the markdown
table for docs/realworld.md. Re-run it on a newer build with `--tool PATH`.

Snapshots come from the `fetch` tool's mirrors (/work/.mirror/<owner>+<name>); copies live
under --cache (default /work/realworld-cache), never inside this repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import gates

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOKEN = "spaire_oat_realworld-made-up-token"
MIRRORS = Path(os.environ.get("REALWORLD_MIRRORS", "/work/.mirror"))

SOURCE_EXT = {".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".vue", ".svelte", ".astro",
              ".py", ".go", ".php", ".rb"}
SKIP_DIRS = {"node_modules", ".git", "dist", "build", ".next", ".nuxt", ".svelte-kit",
             "vendor", "__pycache__", ".venv", "venv", "tests", "test", "__tests__", "e2e",
             "docs", "evals", "spec", "fixtures", "migrations", ".spaire-billing"}
SKIP_FILE = re.compile(r"\.(test|spec|d)\.[a-z]+$|(^|/)test_[^/]*\.py$|_test\.go$")

# Billable call sites, by what they bill. Kept deliberately independent of the tool's
# detector: this is the ground truth the tool is measured against.
LLM_JS = re.compile(
    r"\b(streamText|generateText|streamObject|generateObject|streamUI|embedMany|embed)\s*\(|"
    r"\.chat\.completions\.create\s*\(|\.responses\.create\s*\(|\.completions\.create\s*\(|"
    r"\.messages\.(create|stream)\s*\(|\.embeddings\.create\s*\(|"
    r"\.threads\.runs\.(create|createAndPoll|stream|createAndStream)\s*\(|"
    r"\.images\.generate\s*\(|\bcreateImage\s*\(|"
    r"\bcreate(Chat)?Completion\s*\(|createEmbedding\s*\(|"
    r"['\"`]https://api\.(openai|anthropic)\.com[^'\"`]*['\"`]")
AI_IMPORT = re.compile(r"""from\s+['"]ai(/rsc)?['"]|require\(['"]ai['"]\)""")
AI_FUNCS = re.compile(r"\b(streamText|generateText|streamObject|generateObject|streamUI|embedMany|embed)\s*\(")
LLM_PY = re.compile(
    r"\.chat\.completions\.create\s*\(|\.responses\.create\s*\(|\.messages\.(create|stream)\s*\(|"
    r"\.embeddings\.create\s*\(|\bChatCompletion\.create\s*\(|"
    r"\.threads\.runs\.(create|create_and_poll|stream|create_and_stream)\s*\(|\.images\.generate\s*\(|"
    r"\.(?P<agent>run|run_sync|run_stream|iter)\s*\(")
PYDANTIC_AI_IMPORT = re.compile(r"^\s*(from|import)\s+pydantic_ai\b", re.M)
STORAGE_JS = re.compile(r"new\s+(PutObjectCommand|Upload|CreateMultipartUploadCommand)\s*\(|\.putObject\s*\(")
STORAGE_PY = re.compile(r"\.(put_object|upload_file|upload_fileobj|generate_presigned_post)\s*\(")
STORAGE_OTHER = re.compile(r"PutObject(WithContext)?\(|->putObject\(|\.put_object\(|Storage::(put|disk)")


def sh(cmd, cwd=None, env=None, timeout=None, stdin=None):
    """Run a command; return (rc, stdout, stderr). A timeout is rc 124, like timeout(1)."""
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=timeout, input=stdin, shell=isinstance(cmd, str))
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), "timeout"


# ---------------------------------------------------------------------------- snapshots

def mirror_dir(repo: str) -> Path:
    base = MIRRORS / repo.replace("/", "+")
    for cand in (base / "repo" / ".git", base / "repo"):
        if (cand / "HEAD").exists() or (cand / "objects").exists():
            return cand
    raise SystemExit(f"error: no snapshot of {repo} under {MIRRORS}\n"
                     f"hint: bring it with the fetch tool (`github:{repo}`), then run again")


DEPS_DIRS = {"node_modules", ".venv"}


def clear_keeping_deps(dest: Path) -> None:
    """Empty a previous copy but keep installed dependencies (node_modules at any depth, the
    venv, with their install markers inside), so a re-run after a tool fix skips the install."""
    for e in list(dest.iterdir()):
        if e.name in DEPS_DIRS:
            continue
        if e.is_dir() and not e.is_symlink():
            clear_keeping_deps(e)
            if not any(e.iterdir()):
                e.rmdir()
        else:
            e.unlink()


def extract(project: dict, dest: Path) -> list[str]:
    """Write the pinned commit's files (only `root`, if set) into dest; return the paths a
    partial snapshot lacks (blobs over the store's size limit), so the result says so."""
    git = mirror_dir(project["repo"])
    gd = ["git", f"--git-dir={git}"]
    rc, out, err = sh(gd + ["ls-tree", "-r", "-z", project["commit"]])
    if rc != 0:
        raise SystemExit(f"error: {project['repo']}: commit {project['commit']} not in the snapshot: {err.strip()}")
    root = project.get("root", "").strip("/")
    entries = []
    for rec in out.split("\0"):
        if not rec:
            continue
        meta, path = rec.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind != "blob" or mode == "160000":
            continue
        if root:
            if not path.startswith(root + "/"):
                continue
            path = path[len(root) + 1:]
        entries.append((mode, sha, path))
    if dest.exists():
        clear_keeping_deps(dest)
    dest.mkdir(parents=True, exist_ok=True)
    missing = []
    proc = subprocess.Popen(gd + ["cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for mode, sha, path in entries:
        proc.stdin.write(f"{sha}\n".encode())
        proc.stdin.flush()
        header = proc.stdout.readline().decode().split()
        if len(header) < 3 or header[1] == "missing":
            missing.append(path)
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            try:
                target.symlink_to(data.decode())
            except OSError:
                missing.append(path)
            continue
        target.write_bytes(data)
        if mode == "100755":
            target.chmod(0o755)
    proc.stdin.close()
    proc.wait()
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "realworld", "GIT_AUTHOR_EMAIL": "rw@localhost",
               "GIT_COMMITTER_NAME": "realworld", "GIT_COMMITTER_EMAIL": "rw@localhost"}
    sh(["git", "init", "-q"], cwd=dest)
    sh(["git", "add", "-A"], cwd=dest)
    sh(["git", "commit", "-qm", "snapshot", "--no-verify"], cwd=dest, env=git_env)
    return missing


# ---------------------------------------------------------------------------- ground truth

def source_files(base: Path):
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        for f in filenames:
            p = Path(dirpath) / f
            rel = p.relative_to(base).as_posix()
            if p.suffix in SOURCE_EXT and not SKIP_FILE.search(rel) and not p.is_symlink():
                yield p, rel


def blank_python_noncode(text: str) -> str:
    """Comments and string literals replaced by spaces (lines kept), so a docstring's
    `agent.run()` is not counted as a call."""
    import io
    import tokenize
    lines = text.splitlines(keepends=True)
    out = [list(l) for l in lines]
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.COMMENT, tokenize.STRING):
                (sr, sc), (er, ec) = tok.start, tok.end
                for r in range(sr, er + 1):
                    row = out[r - 1]
                    a = sc if r == sr else 0
                    b = ec if r == er else len(row)
                    for i in range(a, min(b, len(row))):
                        if row[i] != "\n":
                            row[i] = " "
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    return "".join("".join(r) for r in out)


def blank_js_comments(text: str) -> str:
    def spaces(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"/\*.*?\*/|(?<![:'\"`])//[^\n]*", spaces, text, flags=re.S)


def scan_billable(base: Path) -> list[dict]:
    """Every billable call site (kind llm / storage) with file:line, from the original copy."""
    sites = []
    for p, rel in source_files(base):
        try:
            text = p.read_text(errors="replace")
        except OSError:
            continue
        if len(text) > 400_000:
            continue
        suffix = p.suffix
        pats = []
        text = blank_python_noncode(text) if suffix == ".py" else blank_js_comments(text) \
            if suffix not in {".go", ".php", ".rb"} else text
        if suffix == ".py":
            for m in LLM_PY.finditer(text):
                if m.group("agent") and not PYDANTIC_AI_IMPORT.search(text):
                    continue  # .run( without pydantic_ai is not an agent run
                receiver = re.search(r"([\w.\[\]()]+)\s*$", text[max(0, m.start() - 80):m.start()])
                if m.group("agent") and not (receiver and re.search(r"agent", receiver.group(1), re.I)):
                    continue  # `workflow.run()`: only a receiver named like an agent counts
                if receiver and receiver.group(1).endswith("threads") and ".messages." in m.group(0):
                    continue  # Assistants `threads.messages.create` adds a message; no tokens are billed
                pats.append(("llm", m))
            pats += [("storage", m) for m in STORAGE_PY.finditer(text)]
        elif suffix in {".go", ".php", ".rb"}:
            pats += [("storage", m) for m in STORAGE_OTHER.finditer(text)]
        else:
            has_ai = AI_IMPORT.search(text) is not None
            for m in LLM_JS.finditer(text):
                if AI_FUNCS.match(m.group(0)) and not has_ai:
                    continue
                if ".messages." in m.group(0) and text[max(0, m.start() - 8):m.start()].endswith("threads"):
                    continue  # Assistants `threads.messages.create` adds a message; no tokens are billed
                pats.append(("llm", m))
            pats += [("storage", m) for m in STORAGE_JS.finditer(text)]
        for kind, m in pats:
            line = text.count("\n", 0, m.start()) + 1
            sites.append({"kind": kind, "file": rel, "line": line, "text": m.group(0).strip()[:60]})
    # one site per file:line
    seen, out = set(), []
    for s in sorted(sites, key=lambda s: (s["file"], s["line"])):
        if (s["file"], s["line"]) not in seen:
            seen.add((s["file"], s["line"]))
            out.append(s)
    return out


# ---------------------------------------------------------------------------- emulator

class Emulator:
    def __init__(self, tool: Path, log: Path):
        self.log = open(log, "w")
        self.proc = subprocess.Popen([str(tool), "emulator", "--port", "0", "--token", TOKEN],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     start_new_session=True)
        self.url = None
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.log.write(line)
            m = re.search(r"SPAIRE_SERVER_URL=(http://127\.0\.0\.1:\d+)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError("the emulator did not print its URL")

    def api(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {TOKEN}",
                                              "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


# ---------------------------------------------------------------------------- analysis

def changed_files(work: Path) -> tuple[list[str], list[str]]:
    """(modified pre-existing files, created files) relative to the project copy."""
    _, out, _ = sh(["git", "status", "--porcelain", "-uall", "--no-renames"], cwd=work)
    modified, created = [], []
    for line in out.splitlines():
        code, path = line[:2], line[3:].strip('"')
        if path.startswith(".spaire-billing/") or "node_modules/" in path or path.startswith(".venv/"):
            continue
        (created if code == "??" else modified).append(path)
    return modified, created


def added_lines(work: Path, path: str) -> str:
    _, out, _ = sh(["git", "diff", "-U0", "HEAD", "--", path], cwd=work)
    return "\n".join(l[1:] for l in out.splitlines() if l.startswith("+") and not l.startswith("+++"))


def mentions(steps: list, path: str) -> bool:
    return any(path in json.dumps(s) for s in steps)


# A usage-recording call added by the wiring step (not a mere import or middleware line).
# `meterChatCompletionStream(id, stream)` records the usage chunk of the stream it wraps.
RECORD_CALL = re.compile(r"\b(record(Llm|Storage|Agent|Image|Embedding)\w*|record_(llm|storage|agent|image|embedding)\w*|recordEvent|record_event|recordUsage|meterChatCompletionStream)\s*\(")
# Files a framework picks up by their location alone: creating one registers it.
AUTO_REGISTERED = re.compile(
    r"(^|/)(server/middleware/[^/]+\.(ts|js)|src/hooks\.server\.(ts|js)|(src/)?middleware\.(ts|js)|"
    r"config/initializers/[^/]+\.rb)$")

# `fastify.register(AutoLoad, { dir: path.join(__dirname, 'plugins/external') })`: the folder
# (relative to the file) whose files @fastify/autoload registers as plugins.
AUTOLOAD_DIR = re.compile(r"register\(\s*(\w+)\s*,\s*\{[^}]*?dir:[^'\"]*['\"]\.?/?([\w/-]+)['\"]", re.S)


def autoloaded(work: Path, created_file: str) -> bool:
    """Whether a pre-existing file autoloads the folder `created_file` was created in."""
    folder = str(Path(created_file).parent)
    for src in work.rglob("*"):
        if "node_modules" in src.parts or src.suffix not in {".ts", ".js", ".mjs", ".cjs"} or not src.is_file():
            continue
        try:
            text = src.read_text(errors="replace")
        except OSError:
            continue
        if "@fastify/autoload" not in text:
            continue
        base = src.parent.relative_to(work)
        for m in AUTOLOAD_DIR.finditer(text):
            if str((base / m.group(2)).as_posix()).strip("./") == folder.strip("./"):
                return True
    return False


FILE_ROUTED = re.compile(
    r"(^|/)(app/.*route\.(ts|js|mjs)|pages/api/.*\.(ts|js)|src/routes/.*\+server\.(ts|js)|"
    r"server/(api|routes)/.*\.(ts|js)|src/pages/.*\.(ts|js)|app/routes/.*\.(ts|tsx|js))$")


def no_user_reason(project: dict, path: str):
    """Hand-labelled ground truth (projects.toml `no_user`, path prefix → reason): a site in
    code that runs outside any request (a CLI script, a build step, browser code) has no user
    id the tool could reach, so it counts against the #13/#14 wiring goal only if it is silent."""
    for prefix, reason in project.get("no_user", {}).items():
        if path == prefix or path.startswith(prefix.rstrip("/") + "/") or (
                prefix.endswith("*") and path.startswith(prefix[:-1])):
            return reason
    return None


def not_billable_reason(project: dict, site: dict):
    """Hand-labelled ground truth (projects.toml `not_billable`, "file:line" → reason): a call
    the independent scan matches that provably bills nothing (flask-s3-upload's
    `put_object(Key=username + '/')` without `Body=`: a 0-byte folder marker). Such a site is
    left out of the counts but kept in the result file (`not_billable`, with what the tool
    did), so the label stays checkable."""
    return project.get("not_billable", {}).get(f"{site['file']}:{site['line']}")


def site_language(path: str) -> str:
    ext = path.rsplit(".", 1)[-1]
    return "python" if ext == "py" else "js" if ext in {"ts", "tsx", "js", "jsx", "mjs", "cjs", "mts", "cts", "vue", "svelte", "astro"} else ext


def unchosen_silent_kinds(meters: list[str], per_site: list[dict]) -> list[str]:
    """Billable kinds the answers chose no meter for but whose call sites went unmentioned:
    that usage is billed by nothing and the tool said nothing, so the kind counts as a silent
    meter too (openai-realtime-console: an LLM call under an api-calls-only plan)."""
    chosen = {"llm" if m.startswith("llm") else m for m in meters}
    return [f"{kind} (no meter chosen)" for kind in ("llm", "storage")
            if kind not in chosen and any(s["kind"] == kind and s["state"] == "silent" for s in per_site)]


def analyze(project, work, pkg_prefix, sites, detect, setup_json, setup_text, status_json, status_rc):
    modified, created = changed_files(work)
    steps = (setup_json or {}).get("manual_steps", []) if isinstance(setup_json, dict) else []
    # A setup that stops on purpose (its dependency file cannot take the SDK: the plan refuses
    # to write code the app could not import) writes nothing, and its error is what the user
    # is told: each file:line it names counts as listed, as a manual step would. Any other
    # failure lists nothing.
    stopped = setup_json is None and "setup stopped before changing anything" in (setup_text or "")
    if stopped:
        steps = [{"instructions": setup_text, "stopped": True}]
    generated = set(created)

    # tool's detector: non-route call sites
    tool_sites = []
    for pkg in (detect or {}).get("packages", []):
        for cs in pkg.get("call_sites", []):
            if cs.get("kind") != "route-handler":
                tool_sites.append(cs)
    tool_keys = {(cs["file"], cs["line"]) for cs in tool_sites}

    # Calls no planned meter bills, listed with the meter that would: listed, not silent.
    unmetered = (setup_json or {}).get("unmetered_calls", []) if isinstance(setup_json, dict) else []
    # A model-API URL literal (`const baseUrl = 'https://api.openai.com'`) is found when the
    # tool reports a raw `fetch` of that file: the fetch may be lines away from the literal.
    fetch_files = {cs["file"] for cs in tool_sites if cs.get("kind") == "llm-http-fetch"}

    per_site = []
    for s in sites:
        diff = added_lines(work, s["file"]) if s["file"] in modified else ""
        wired = bool(RECORD_CALL.search(diff))
        wired_in = None
        if not wired and "generate_presigned_post" in s["text"]:
            # A presigned POST sends no bytes through the app: it is billed where the app
            # confirms the upload (django-styleguide's `finish`), in another file, with the
            # helper made for that (`record_stored_file`). Counted wired only when such a
            # call was added to a file of the same package.
            for p in sorted(modified):
                if p.endswith(".py") and p.startswith(pkg_prefix if pkg_prefix not in ("", ".") else "") \
                        and re.search(r"\brecord_stored_file\s*\(", added_lines(work, p)):
                    wired, wired_in = True, p
                    break
        found = any(k[0] == s["file"] and abs(k[1] - s["line"]) <= 2 for k in tool_keys) or (
            s["text"][:1] in "'\"`" and s["file"] in fetch_files)
        manual = mentions(steps + unmetered, s["file"]) and not wired
        state = "wired" if wired else "manual" if manual else "silent"
        # Listed only under "Not metered" (no chosen meter bills its kind): information, not
        # work left, for the tool's `status` and for `complete` below alike.
        only_unmetered = manual and not mentions(steps, s["file"])
        no_user = no_user_reason(project, s["file"])
        per_site.append({**s, "found_by_tool": found, "state": state, **({"wired_in": wired_in} if wired_in else {}),
                         **({"unmetered": True} if only_unmetered else {}),
                         "user_reachable": no_user is None, **({"no_user": no_user} if no_user else {})})

    not_billable = [{**s, "not_billable": not_billable_reason(project, s)} for s in per_site
                    if not_billable_reason(project, s)]
    per_site = [s for s in per_site if not not_billable_reason(project, s)]

    meters = project["answers"]["meter"]
    entry_edits = {p: added_lines(work, p) for p in modified
                   if p.rsplit(".", 1)[-1] in {"ts", "tsx", "js", "mjs", "cjs", "py", "go", "php", "rb"}}

    api_calls = None
    if "api-calls" in meters:
        registered = [p for p, d in entry_edits.items()
                      if re.search(r"api.?calls|ApiCall|api_call", d, re.I)]
        registered += [p for p in created if AUTO_REGISTERED.search(p)]
        registered += [p for p in created if "/plugins/" in f"/{p}" and p not in registered
                       and re.search(r"api.?calls|ApiCall", (work / p).read_text(errors="replace"))
                       and autoloaded(work, p)]
        listed = re.search(r"api.?call|withApiCalls|middleware|Handle\b", json.dumps(steps), re.I)
        api_calls = {"state": "registered" if registered else "manual" if listed else "silent",
                     "files": registered}

    # A pre-existing file that now calls into a generated module registers what that module
    # registers (e.g. Flask `install_billing(app)` mounts the middleware and the webhook route).
    gen_text = {}
    for p in created:
        try:
            gen_text[p] = (work / p).read_text(errors="replace")
        except OSError:
            gen_text[p] = ""

    def reaches(diff: str, what: str) -> bool:
        # a backticked name the text asks to call, defined in a generated file that does `what`
        for ident in re.findall(r"`(\w+)`", diff):
            for body in gen_text.values():
                if re.search(r"(def|function|const|func)\s+" + ident + r"\b", body) and re.search(what, body, re.I):
                    return True
        for p, body in gen_text.items():
            stem = Path(p).stem if Path(p).stem not in ("__init__", "index") else Path(p).parent.name
            if stem and re.search(r"\b" + re.escape(stem) + r"\b", diff) and re.search(what, body, re.I):
                return True
        return bool(re.search(what, diff, re.I))

    if api_calls is not None and api_calls["state"] != "registered":
        hit = [p for p, d in entry_edits.items() if reaches(d, r"api.?call|ApiCall|api_call")]
        if hit:
            api_calls = {"state": "registered", "files": hit}

    webhook = None
    if project["answers"].get("webhooks"):
        routed = [p for p in created if "webhook" in p.lower() and FILE_ROUTED.search(p)]
        mounted = [p for p, d in entry_edits.items() if reaches(d, r"webhook")]
        mounted += [p for p in created if "/plugins/" in f"/{p}" and "webhook" in gen_text.get(p, "").lower()
                    and autoloaded(work, p)]
        listed = reaches(json.dumps(steps), r"webhook")
        # A created route file is only registered if the tool does not itself ask the user to
        # register a webhook route (React Router 7's explicit app/routes.ts config).
        # The `webhook-endpoint` step (register the URL in Spaire) is about Spaire's side, not
        # the app's route, so it does not count as asking for the route.
        app_steps = [x for x in steps if not (isinstance(x, dict) and x.get("kind") == "webhook-endpoint")]
        asks = re.search(r"webhook[^\"]*route|route[^\"]*webhook", json.dumps(app_steps), re.I)
        state = ("registered" if mounted or (routed and not asks) else "manual" if listed else "silent")
        webhook = {"state": state, "files": routed + mounted}

    # Customer resolvers that cannot return an id: a placeholder, or a session key the app
    # never writes (e.g. `user_id` where Flask-Login stores `_user_id`).
    stubs = []
    original_text = None
    for p, body in gen_text.items():
        if not re.search(r"customer|middleware|SpaireUsage", p, re.I):
            continue
        reason = None
        if "returns no user id yet" in body or re.search(r"\bTODO\b|NotImplementedError", body):
            reason = "placeholder that returns no id"
        else:
            keys = set()
            for line in body.splitlines():
                if "session" in line.lower() and not line.lstrip().startswith(("#", "//", "*", '"""')):
                    keys |= set(re.findall(r"""[\[(]\s*["'](\w+)["']""", line))
            if keys:
                if original_text is None:
                    original_text = "\n".join(
                        t.read_text(errors="replace") for t, rel in source_files(work)
                        if rel not in gen_text and t.stat().st_size < 400_000)
                unknown = [k for k in keys if not re.search(
                    r"session[^\n]{0,40}[\[(]\s*[\"']" + k + r"[\"']", original_text)]
                if unknown:
                    reason = f"reads session key {', '.join(sorted(unknown))} that the app never writes"
        if reason:
            stubs.append({"file": p, "reason": reason, "listed": mentions(steps, p)})

    # metering truth: meters with nothing feeding them
    fed = {"llm-tokens": any(s["kind"] == "llm" and s["state"] == "wired" for s in per_site),
           "llm-tokens-split": any(s["kind"] == "llm" and s["state"] == "wired" for s in per_site),
           "storage": any(s["kind"] == "storage" and s["state"] == "wired" for s in per_site),
           "api-calls": bool(api_calls and api_calls["state"] == "registered")}
    unfed = [m for m in meters if m in fed and not fed[m]]
    # The tool's own account (issue #12): `status --json` flags an unfed meter with
    # `unfed_reason` and lists a step naming it. Preset ids map to meter names by their stem.
    stem = {"llm-tokens": "llm", "llm-tokens-split": "llm", "storage": "storage", "api-calls": "api"}
    st_meters = status_json.get("meters", []) if isinstance(status_json, dict) else []
    st_steps = status_json.get("manual_steps", []) if isinstance(status_json, dict) else []
    silent_meters = []
    for m in unfed:
        listed = (m == "api-calls" and api_calls and api_calls["state"] == "manual") or any(
            s["state"] == "manual" for s in per_site if m.startswith("llm") and s["kind"] == "llm"
            or m == "storage" and s["kind"] == "storage")
        flagged = any(isinstance(x, dict) and x.get("unfed_reason") and stem[m] in str(x.get("name", ""))
                      for x in st_meters) and any(
            isinstance(x, dict) and stem[m] in str(x.get("meter") or "") for x in st_steps)
        if not (listed or flagged):
            silent_meters.append(m)
    silent_meters += unchosen_silent_kinds(meters, per_site)

    complete = (not unfed and all(s["state"] == "wired" or s.get("unmetered") for s in per_site)
                and (webhook is None or webhook["state"] == "registered")
                and not stubs)
    # status truth: it must report work left exactly when work is left. Today's contract has
    # no manual steps in status; issue #12 adds `complete`, `manual_steps` and `meters[]`.
    st = status_json if isinstance(status_json, dict) else {}
    # Only metering work counts: the SDK install is pending in every project here (setup runs
    # with --no-install), so a step or a `complete: false` caused by it proves nothing.
    # Registering the endpoint in Spaire (no webhook URL in a local run) is account work,
    # not the app's metering: the harness's `complete` is about the app, so it is left out.
    metering_steps = [m for m in st.get("manual_steps", []) if not re.search(
        r"\binstall\b|pnpm add|bun add|bundle add|go get|uv add|poetry add|composer require", json.dumps(m))
        and not (isinstance(m, dict) and (m.get("kind") == "webhook-endpoint" or m.get("done")))]
    # No plan file: nothing is set up, which is work left (a setup that stopped).
    reported_left = bool(metering_steps) or any(
        m.get("unfed_reason") for m in st.get("meters", []) if isinstance(m, dict)) or (
        (st.get("plan_file") or {}).get("state") == "missing" and not st.get("complete", True))
    status = {"rc": status_rc, "reports_metering_work_left": reported_left,
              "truthful": reported_left == (not complete),
              "sdk_installed": (st.get("sdk") or {}).get("installed")}

    counts = {
        "sites": len(per_site),
        "found": sum(s["found_by_tool"] for s in per_site),
        "wired": sum(s["state"] == "wired" for s in per_site),
        "manual": sum(s["state"] == "manual" for s in per_site),
        "silent": sum(s["state"] == "silent" for s in per_site),
        "user_reachable": sum(s["user_reachable"] for s in per_site),
        "user_reachable_wired": sum(s["user_reachable"] and s["state"] == "wired" for s in per_site),
    }
    return {"counts": counts, "stopped": stopped, "sites": per_site, "not_billable": not_billable, "api_calls": api_calls, "webhook": webhook,
            "stub_resolvers": stubs, "unfed_meters": unfed, "silent_meters": silent_meters,
            "complete": complete, "status": status, "modified_files": modified,
            "created_files": sorted(generated), "tool_call_sites": len(tool_sites),
            "manual_steps": steps}


# ---------------------------------------------------------------------------- checks

# The project's own gates (--checks) live in gates.py.


# ---------------------------------------------------------------------------- one project

def setup_args(project, url):
    a = project["answers"]
    args = ["setup", "."]
    if project.get("package"):
        args += ["--package", project["package"]]
    for m in a.get("meter", []):
        args += ["--meter", m]
    for m in a.get("custom_meter", []):
        args += ["--custom-meter", m]
    args += ["--pricing", a.get("pricing", "unit")]
    if a.get("unit_price"):
        args += ["--unit-price", a["unit_price"]]
    if a.get("credits"):
        args += ["--credits", a["credits"]]
    args += ["--product", "Pro", "--customer", a["customer"],
             "--webhooks", "true" if a.get("webhooks") else "false",
             "--environment", "local", "--server-url", url, "--yes", "--no-install",
             "--no-checks", "--json"]
    return args


def run_project(project, tool: Path, cache: Path, out_dir: Path, with_checks: bool):
    name = project["name"]
    work = cache / "work" / name
    logs = cache / "logs" / name
    logs.mkdir(parents=True, exist_ok=True)
    started = time.time()
    result = {"name": name, "repo": project["repo"], "commit": project["commit"],
              "root": project.get("root", ""), "package": project.get("package", ""),
              "framework": project["framework"], "notes": project.get("notes", ""),
              "answers": project["answers"]}
    missing = extract(project, work)
    result["snapshot_missing_files"] = len(missing)
    pkg_prefix = project.get("package", "")
    sites = scan_billable(work / pkg_prefix if pkg_prefix and pkg_prefix != "." else work)
    if pkg_prefix and pkg_prefix != ".":
        sites = [{**s, "file": f"{pkg_prefix}/{s['file']}"} for s in sites]

    with open(logs / "checks.log", "w") as clog:
        if with_checks:
            deps = gates.install(work, project, cache, clog)
            gates.prepare_types(work, project, deps, clog)
            gate_cmds, unavailable = gates.gate_list(work, project, deps)
            before = gates.run_gates(work, gate_cmds, clog)
        emu = Emulator(tool, logs / "emulator.log")
        try:
            emu.api("POST", "/v1/products/", {"name": "Pro", "recurring_interval": "month",
                                               "prices": [{"amount_type": "fixed", "price_amount": 2000,
                                                           "price_currency": "usd"}]})
            env = {**os.environ, "SPAIRE_ACCESS_TOKEN": TOKEN, "SPAIRE_SERVER_URL": emu.url,
                   "NO_COLOR": "1"}
            if with_checks and deps.get("node_bin"):
                env["PATH"] = f"{deps['node_bin']}:{env.get('PATH', '')}"
            rc, dout, _ = sh([str(tool), "detect", ".", "--json"], cwd=work, env=env, timeout=120)
            detect = json.loads(dout) if dout.strip().startswith("{") else None
            # The snapshot's copy is committed; the tool's own config must not count as dirty.
            rc, sout, serr = sh([str(tool)] + setup_args(project, emu.url), cwd=work, env=env, timeout=300)
            (logs / "setup.stdout").write_text(sout)
            (logs / "setup.stderr").write_text(serr)
            result["setup_rc"] = rc
            try:
                setup_json = json.loads(sout)
            except json.JSONDecodeError:
                setup_json = None
            result["setup_error"] = None if rc == 0 else serr.strip().splitlines()[-8:]
            src, stout, sterr = sh([str(tool), "status", ".", "--json"], cwd=work, env=env, timeout=120)
            (logs / "status.stdout").write_text(stout + sterr)
            try:
                status_json = json.loads(stout)
            except json.JSONDecodeError:
                status_json = None
            meters = emu.api("GET", "/v1/meters/?limit=100")
            result["remote_meters"] = [m.get("name") for m in (meters or {}).get("items", [])]
        finally:
            emu.stop()
        result.update(analyze(project, work, pkg_prefix, sites, detect, setup_json,
                              serr, status_json, src))
        if not result["remote_meters"]:
            # setup failed before creating meters: nothing is priced, so nothing is unfed
            # (the call sites it never found still count as silent)
            result["unfed_meters"], result["silent_meters"] = [], []
        if with_checks:
            gates.after_setup(work, project, deps, clog)
            after = gates.run_gates(work, gate_cmds, clog)
            touched = set(result.get("modified_files", [])) | set(result.get("created_files", []))
            result["own_gates"] = {"deps": deps, "gates": gates.compare(before, after, touched),
                                   "unavailable": unavailable}
    result["seconds"] = round(time.time() - started, 1)
    previous = out_dir / f"{name}.json"
    if not with_checks and previous.exists():
        # A static re-run keeps the (slow) type-check measurement of an earlier --checks run,
        # marked as such, instead of dropping it.
        old = json.loads(previous.read_text())
        if old.get("own_gates") and old.get("commit") == result["commit"]:
            result["own_gates"] = old["own_gates"]
            result["checks_from_earlier_run"] = True
    previous.write_text(json.dumps(result, indent=2) + "\n")
    return result


# ---------------------------------------------------------------------------- report

def cell_state(x):
    return "—" if x is None else x["state"]


def report(out_dir: Path, meta: dict) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json"))
            if not p.name.endswith(".runtime.json")]
    runtime = {json.loads(p.read_text())["name"]: json.loads(p.read_text())
               for p in sorted(out_dir.glob("*.runtime.json"))}
    order = {p["name"]: i for i, p in enumerate(load_projects())}
    rows.sort(key=lambda r: order.get(r["name"], 1e9))
    lines = ["| project | framework | setup | sites | found | wired | manual | silent | api-calls | webhook | stub resolver | unfed meters (silent) | status truthful | runtime | own gates: before→after, **+new** |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    tot = dict(sites=0, found=0, wired=0, manual=0, silent=0)
    agg = dict(projects=0, setup_ok=0, silent_meters=0, unlisted_stubs=0, status_truthful=0,
               api_registered=0, api_total=0, wh_registered=0, wh_total=0, complete=0)
    for r in rows:
        agg["projects"] += 1
        c = r.get("counts", {})
        for k in tot:
            tot[k] += c.get(k, 0)
        agg["setup_ok"] += r.get("setup_rc") == 0
        agg["silent_meters"] += len(r.get("silent_meters", []))
        stubs = r.get("stub_resolvers", [])
        agg["unlisted_stubs"] += sum(not s["listed"] for s in stubs)
        st = r.get("status", {})
        agg["status_truthful"] += bool(st.get("truthful"))
        rt = runtime.get(r["name"])
        rt_cell = "—" if rt is None else "skipped" if rt.get("skipped") else "pass" if rt.get("ok") else "**FAIL**"
        agg["complete"] += bool(r.get("complete")) and (rt is None or bool(rt.get("ok")))
        if r.get("api_calls"):
            agg["api_total"] += 1
            agg["api_registered"] += r["api_calls"]["state"] == "registered"
        if r.get("webhook"):
            agg["wh_total"] += 1
            agg["wh_registered"] += r["webhook"]["state"] == "registered"
        chk = gates.summary(r.get("own_gates"))
        if r.get("own_gates") and r.get("checks_from_earlier_run"):
            chk += " (earlier run)"
        setup = "ok" if r.get("setup_rc") == 0 else f"exit {r.get('setup_rc')}"
        stub = "—" if not stubs else ", ".join(("listed " if s["listed"] else "UNLISTED ") + s["file"] for s in stubs)
        unfed = ", ".join([m + (" (silent)" if m in r.get("silent_meters", []) else "")
                           for m in r.get("unfed_meters", [])]
                          + [m + " (silent)" for m in r.get("silent_meters", []) if "(no meter chosen)" in m]) or "—"
        lines.append(
            f"| [{r['name']}](https://github.com/{r['repo']}/tree/{r['commit']}{'/' + r['root'] if r.get('root') else ''}) `{r['commit'][:8]}` | {r['framework']} | {setup} "
            f"| {c.get('sites', 0)} | {c.get('found', 0)} | {c.get('wired', 0)} | {c.get('manual', 0)} | {c.get('silent', 0)} "
            f"| {cell_state(r.get('api_calls'))} | {cell_state(r.get('webhook'))} | {stub} | {unfed} "
            f"| {'yes' if st.get('truthful') else 'no'} (exit {st.get('rc')}) | {rt_cell} | {chk} |")
    lines.append(f"| **total ({agg['projects']})** | | {agg['setup_ok']} ok | {tot['sites']} | {tot['found']} | {tot['wired']} | {tot['manual']} | {tot['silent']} "
                 f"| {agg['api_registered']}/{agg['api_total']} registered | {agg['wh_registered']}/{agg['wh_total']} registered "
                 f"| {agg['unlisted_stubs']} unlisted | {agg['silent_meters']} silent | {agg['status_truthful']}/{agg['projects']} "
                 f"| {sum(bool(v.get('ok')) for v in runtime.values())}/{sum(not v.get('skipped') for v in runtime.values())} pass | |")
    lines += ["", "Runtime checks:", "",
              "| project | kind | customer | meter: expected → counted | webhook signed / forged | result |",
              "|---|---|---|---|---|---|"]
    for name, rt in sorted(runtime.items(), key=lambda kv: order.get(kv[0], 1e9)):
        exp = rt.get("expect", {})
        got = rt.get("counted", {}).get(exp.get("meter"), {})
        d = rt.get("driver", {})
        wh = f"{d.get('webhook_signed', '—')} / {d.get('webhook_bad_signature', '—')}"
        res = (f"skipped: {rt['skipped']}" if rt.get("skipped") else "pass" if rt.get("ok")
               else "**FAIL**" + (f": {rt['error'][:120]}" if rt.get("error") else ""))
        lines.append(f"| {name} | {rt.get('kind', '')} | `{rt.get('customer', '')}` | {exp.get('meter')}: "
                     f"{exp.get('quantity')} → {got.get('quantity', '—')} ({got.get('events', 0)} events) | {wh} | {res} |")
    by_lang = {}
    projects = {p["name"]: p for p in load_projects()}
    for r in rows:
        for site in r.get("sites", []):
            lang = site_language(site["file"])
            b = by_lang.setdefault(lang, dict(sites=0, wired=0, manual=0, silent=0, reachable=0, reachable_wired=0))
            b["sites"] += 1
            b[site["state"]] += 1
            reachable = no_user_reason(projects.get(r["name"], {}), site["file"]) is None
            b["reachable"] += reachable
            b["reachable_wired"] += reachable and site["state"] == "wired"
    lines += ["", "Call sites by language (a site is *user-reachable* unless projects.toml labels its code as "
              "running outside any request: CLI scripts, build steps, browser code):", "",
              "| language | sites | wired | listed | silent | user-reachable | of those wired |",
              "|---|---|---|---|---|---|---|"]
    for lang, b in sorted(by_lang.items()):
        pct = f" ({100 * b['reachable_wired'] // b['reachable']}%)" if b["reachable"] else ""
        lines.append(f"| {lang} | {b['sites']} | {b['wired']} | {b['manual']} | {b['silent']} | {b['reachable']} "
                     f"| {b['reachable_wired']}{pct} |")
    lines += gates.report_section(rows)
    head = [f"Measured {meta.get('date', '')} with `spaire-billing` built from commit `{meta.get('commit', '')}`; "
            f"{agg['complete']}/{agg['projects']} projects complete after setup (every billable site wired, "
            f"API calls registered, webhook route registered, no stub resolver, runtime check passed where there is one)."]
    return "\n".join(head + [""] + lines) + "\n"


def load_projects():
    return tomllib.loads((HERE / "projects.toml").read_text())["project"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", type=Path, default=REPO / "target/debug/spaire-billing")
    ap.add_argument("--cache", type=Path, default=Path("/work/realworld-cache"))
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--only", action="append", help="project name (repeatable)")
    ap.add_argument("--checks", action="store_true",
                    help="install the project's deps and run its own type-check/lint/format gates before and "
                         "after setup; record the new problems (realworld/gates.py)")
    ap.add_argument("--report", action="store_true", help="print the markdown tables from --out and exit")
    ap.add_argument("--write-doc", action="store_true", help="with --report: put them into docs/realworld.md")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    meta_file = args.out / "_meta.txt"
    if args.report:
        meta = dict(l.split("=", 1) for l in meta_file.read_text().split("\n") if "=" in l) if meta_file.exists() else {}
        text = report(args.out, meta)
        if not args.write_doc:
            sys.stdout.write(text)
            return
        doc = REPO / "docs" / "realworld.md"
        body = doc.read_text()
        start = body.index("<!-- realworld:report:start")
        start = body.index("-->", start) + 3
        end = body.index("<!-- realworld:report:end -->")
        doc.write_text(body[:start] + "\n" + text + body[end:])
        print(f"wrote {doc}")
        return
    args.tool = args.tool.resolve()  # the tool runs in each project's copy, not here
    if not args.tool.exists():
        raise SystemExit(f"error: {args.tool} does not exist\nhint: cargo build -p spaire-billing")
    # The tool's code is what is measured: name the last commit that changed it, too.
    _, commit, _ = sh(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO)
    _, tool_commit, _ = sh(["git", "log", "-1", "--format=%h", "--abbrev=12", "--", "crates", "Cargo.lock"], cwd=REPO)
    dirty = sh(["git", "status", "--porcelain", "--", "crates"], cwd=REPO)[1].strip()
    meta = (f"date={dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
            f"commit={commit.strip()} (tool code as of {tool_commit.strip()}{', with uncommitted changes' if dirty else ''})\n")
    if not args.only:  # the report's header names the last full run; --only runs keep it
        meta_file.write_text(meta)
    projects = [p for p in load_projects() if not args.only or p["name"] in args.only]
    failed = 0
    for p in projects:
        try:
            r = run_project(p, args.tool, args.cache, args.out, args.checks)
            c = r["counts"]
            print(f"{p['name']:36} setup={r['setup_rc']} sites={c['sites']} found={c['found']} wired={c['wired']} "
                  f"manual={c['manual']} silent={c['silent']} api={cell_state(r['api_calls'])} "
                  f"webhook={cell_state(r['webhook'])} complete={r['complete']} status_truthful={r['status']['truthful']} "
                  f"({r['seconds']}s)", flush=True)
        except Exception as e:  # one broken project must not stop the others; say which and why
            failed += 1
            print(f"{p['name']:36} error: {e}", flush=True)
            (args.out / f"{p['name']}.error.txt").write_text(repr(e))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
