"""Self-tests of the harness's own judgement (the independent call-site scan and the
classifiers), so a change to a regex cannot silently move the numbers in docs/realworld.md.

    python3 -m unittest realworld/test_harness.py
"""

from __future__ import annotations

import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402
import runtime  # noqa: E402


def scan(files: dict[str, str]) -> list[tuple[str, str, int]]:
    with tempfile.TemporaryDirectory() as d:
        for rel, text in files.items():
            p = Path(d) / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return [(s["kind"], s["file"], s["line"]) for s in run.scan_billable(Path(d))]


class SilentKindTest(unittest.TestCase):
    def test_a_silent_site_of_a_kind_no_meter_was_chosen_for_is_a_silent_meter(self):
        sites = [{"kind": "llm", "state": "silent"}, {"kind": "storage", "state": "manual"}]
        self.assertEqual(run.unchosen_silent_kinds(["api-calls"], sites), ["llm (no meter chosen)"])
        # chosen kinds are judged by the unfed-meter rules instead; listed sites are not silent
        self.assertEqual(run.unchosen_silent_kinds(["llm-tokens-split"], sites), [])
        self.assertEqual(run.unchosen_silent_kinds(["api-calls"], [{"kind": "llm", "state": "manual"}]), [])


class ScanTest(unittest.TestCase):
    def test_ai_sdk_calls_count_only_in_files_importing_ai(self):
        sites = scan({
            "app/api/chat/route.ts": 'import { streamText } from "ai";\n\nconst r = streamText({ model });\n',
            "lib/other.ts": "export function streamText() {}\nstreamText();\n",
        })
        self.assertEqual(sites, [("llm", "app/api/chat/route.ts", 3)])

    def test_openai_anthropic_and_raw_fetch_are_llm_sites(self):
        sites = scan({
            "a.ts": "await openai.chat.completions.create({});\n",
            "b.ts": "// openai.chat.completions.create( in a comment\nawait anthropic.messages.create({});\n",
            "c.ts": 'const u = "https://api.openai.com/v1/chat/completions";\n',
        })
        self.assertEqual(sites, [("llm", "a.ts", 1), ("llm", "b.ts", 2), ("llm", "c.ts", 1)])

    def test_pydantic_ai_runs_skip_docstrings_comments_and_non_agents(self):
        sites = scan({
            "agent.py": (
                'from pydantic_ai import Agent\n'
                'def f():\n'
                '    """Example: result = await agent.run("hi")"""\n'
                '    # agent.run_sync("x")\n'
                '    result = await agent.run("hi")\n'
                '    workflow.run()\n'
                '    await _draw_agent().run(prompt)\n'
            ),
            "plain.py": "agent.run()\n",
        })
        self.assertEqual(sites, [("llm", "agent.py", 5), ("llm", "agent.py", 7)])

    def test_storage_sites_and_skipped_folders(self):
        sites = scan({
            "up.ts": "await s3.send(new PutObjectCommand({ Bucket }));\n",
            "up.py": "s3.put_object(Bucket=b, Key=k, Body=f)\n",
            "tests/test_up.py": "s3.put_object(Bucket=b)\n",
            "node_modules/x/index.js": "new PutObjectCommand({})\n",
        })
        self.assertEqual(sites, [("storage", "up.py", 1), ("storage", "up.ts", 1)])


class ClassifierTest(unittest.TestCase):
    def test_record_call_needs_a_recording_call_not_an_import(self):
        self.assertIsNone(run.RECORD_CALL.search('import { recordLlmUsage } from "@/lib/spaire/usage";'))
        self.assertIsNotNone(run.RECORD_CALL.search('recordLlmUsage(id, usage, "gpt");'))
        self.assertIsNotNone(run.RECORD_CALL.search("record_agent_run(customer, result)"))
        self.assertIsNotNone(run.RECORD_CALL.search('await meterChatCompletionStream(id, openai.chat.completions.create({'))
        self.assertIsNone(run.RECORD_CALL.search("app.use(spaireApiCalls());"))
        # Images and embeddings are recorded by their own helpers (mern-wallpapers' DALL-E).
        self.assertIsNotNone(run.RECORD_CALL.search("recordImageGeneration(String(req.user?.id ?? ''), response.data.data);"))
        self.assertIsNotNone(run.RECORD_CALL.search("recordEmbeddingUsage(id, result.usage);"))

    def test_auto_registered_locations(self):
        for p in ["server/middleware/spaire-api-calls.ts", "src/hooks.server.ts", "middleware.ts",
                  "config/initializers/spaire_billing.rb"]:
            self.assertIsNotNone(run.AUTO_REGISTERED.search(p), p)
        for p in ["lib/spaire/next.ts", "src/lib/server/spaire/sveltekit.ts"]:
            self.assertIsNone(run.AUTO_REGISTERED.search(p), p)

    def test_fastify_autoloaded_plugin_folder(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            (work / "src/plugins/external").mkdir(parents=True)
            (work / "src/app.ts").write_text(
                "import fastifyAutoload from '@fastify/autoload'\n"
                "await fastify.register(fastifyAutoload, {\n"
                "  dir: path.join(import.meta.dirname, 'plugins/external'),\n  options: {}\n})\n")
            self.assertTrue(run.autoloaded(work, "src/plugins/external/spaire-billing.ts"))
            self.assertFalse(run.autoloaded(work, "src/plugins/app/spaire-billing.ts"))
            self.assertFalse(run.autoloaded(work, "plugins/external/spaire-billing.ts"))

    def test_file_routed_webhook_paths(self):
        for p in ["app/api/webhooks/spaire/route.ts", "pages/api/webhooks/spaire.ts",
                  "src/routes/api/webhooks/spaire/+server.ts", "server/api/webhooks/spaire.post.ts"]:
            self.assertIsNotNone(run.FILE_ROUTED.search(p), p)
        self.assertIsNone(run.FILE_ROUTED.search("lib/spaire/webhooks.ts"))


class JsoncTest(unittest.TestCase):
    def test_comments_outside_strings_and_trailing_commas(self):
        import json
        text = '{ "paths": { "@/*": ["./*"] }, // c\n /* block */ "x": "a//b", "y": [1,], }'
        self.assertEqual(json.loads(runtime.strip_jsonc(text)),
                         {"paths": {"@/*": ["./*"]}, "x": "a//b", "y": [1]})


class SignatureTest(unittest.TestCase):
    def test_standard_webhooks_vector(self):
        # Same construction as the `standardwebhooks` package: base64(HMAC-SHA256(key, id.ts.body)).
        import base64
        import hashlib
        import hmac
        sig = runtime.sign_webhook('{"a":1}', "msg_1", "1700000000")
        want = base64.b64encode(hmac.new(runtime.WEBHOOK_SECRET.encode(), b'msg_1.1700000000.{"a":1}',
                                         hashlib.sha256).digest()).decode()
        self.assertEqual(sig, "v1," + want)


class NoUserLabelTest(unittest.TestCase):
    def test_prefixes_match_whole_path_segments(self):
        project = {"no_user": {"client/": "browser", "lib/gen.ts": "script", "pkg/demo_*": "demos"}}
        self.assertEqual(run.no_user_reason(project, "client/App.jsx"), "browser")
        self.assertIsNone(run.no_user_reason(project, "clientele/App.jsx"))
        self.assertEqual(run.no_user_reason(project, "lib/gen.ts"), "script")
        self.assertIsNone(run.no_user_reason(project, "lib/gen.tsx"))
        self.assertEqual(run.no_user_reason(project, "pkg/demo_x.py"), "demos")
        self.assertIsNone(run.no_user_reason({}, "client/App.jsx"))

    def test_every_label_says_why(self):
        # a label shrinks the denominator of the wiring goal; it must carry its reason
        for project in run.load_projects():
            for prefix, reason in project.get("no_user", {}).items():
                self.assertTrue(reason.strip(), f"{project['name']}: {prefix} has no reason")


class NotBillableLabelTest(unittest.TestCase):
    def test_a_label_names_one_file_and_line(self):
        project = {"not_billable": {"app/auth/routes.py:147": "0-byte folder marker"}}
        site = {"file": "app/auth/routes.py", "line": 147}
        self.assertEqual(run.not_billable_reason(project, site), "0-byte folder marker")
        self.assertIsNone(run.not_billable_reason(project, {**site, "line": 146}))
        self.assertIsNone(run.not_billable_reason({}, site))

    def test_every_label_says_why_and_is_a_site_the_scan_finds(self):
        # a label removes a site from the counts: it must carry its reason and name file:line
        for project in run.load_projects():
            for key, reason in project.get("not_billable", {}).items():
                self.assertTrue(reason.strip(), f"{project['name']}: {key} has no reason")
                self.assertRegex(key, r"^[^:]+:\d+$", f"{project['name']}: {key} is not file:line")


if __name__ == "__main__":
    unittest.main()


class OwnGatesTest(unittest.TestCase):
    """gates.py: problems parsed per tool, and only NEW ones reported (lines may shift)."""

    def test_ruff_concise_and_tsc_lines_parse_to_file_and_line(self):
        import gates
        work = Path("/w")
        ruff = gates.parse("ruff", "app/x.py:3:5: ARG001 Unused function argument: `a`\nFound 1 error.\n", ".", work)
        self.assertEqual(ruff, [{"file": "app/x.py", "line": 3, "msg": "ARG001 Unused function argument: `a`"}])
        tsc = gates.parse("tsc", "src/a.ts(12,3): error TS2307: Cannot find module 'x'.\n", "apps/web", work)
        self.assertEqual(tsc[0]["file"], "apps/web/src/a.ts")
        self.assertEqual(tsc[0]["line"], 12)

    def test_a_problem_that_only_moved_down_is_not_new_and_a_new_one_is_marked_touched(self):
        import gates
        old = {"file": "src/app.ts", "line": 10, "msg": "error no-console: Unexpected console statement."}
        moved = {**old, "line": 14}
        new = {"file": "src/lib/spaire/recorder.ts", "line": 144, "msg": "error no-void: Expected 'undefined'"}
        out = gates.compare({"eslint": {"problems": [old]}}, {"eslint": {"problems": [moved, new]}},
                            {"src/lib/spaire/recorder.ts"})["eslint"]
        self.assertEqual((out["before"], out["after"], out["new"], out["new_in_touched"]), (1, 2, 1, 1))
        self.assertTrue(out["new_problems"][0].startswith("src/lib/spaire/recorder.ts:144"))

    def test_a_crashed_gate_is_no_result_and_a_failed_install_is_not_measured(self):
        import gates
        out = gates.compare({"eslint": {"problems": []}}, {"eslint": {"problems": None, "error": "boom"}}, set())
        self.assertEqual(out["eslint"]["state"], "no result")
        own = {"deps": {"state": "timeout"}, "gates": {"node-check": {"state": "measured", "new": 0}}}
        self.assertIsNone(gates.new_total(own))
        own["deps"] = {"state": "ok"}
        self.assertEqual(gates.new_total(own), 0)

    def test_mypy_extensions_is_not_mypy(self):
        import gates
        with tempfile.TemporaryDirectory() as d:
            Path(d, "requirements.txt").write_text("fastapi==0.97.0\nmypy-extensions==1.0.0\n")
            self.assertEqual(gates.py_tools(Path(d)), {})
            Path(d, "requirements.txt").write_text("mypy==1.4.1\n")
            self.assertEqual(gates.py_tools(Path(d)), {"mypy": "1.4.1"})

    def test_prettier_is_run_once_when_files_are_unformatted(self):
        import gates
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            bin_dir = work / "node_modules" / ".bin"
            bin_dir.mkdir(parents=True)
            # exit 1 with one unformatted file: a result, not a reason to run the Prettier 2 spelling
            fake = bin_dir / "prettier"
            fake.write_text("#!/bin/sh\necho \"[warn] src/a.ts\"\nexit 1\n")
            fake.chmod(0o755)
            (work / "package.json").write_text('{"devDependencies": {"prettier": "3"}}')
            gate_cmds, _ = gates.gate_list(work, {"framework": "express"}, {})
            cmd = next(g for g in gate_cmds if g["tool"] == "prettier")
            rc, out, err = gates.sh(cmd["cmd"], cwd=work)
            self.assertEqual((rc, gates.parse("prettier", out + err, ".", work)),
                             (1, [{"file": "src/a.ts", "line": None, "msg": "not formatted"}]))


class InstallFallbackTest(unittest.TestCase):
    def test_a_locked_version_the_registry_lacks_installs_without_the_lockfile_and_says_so(self):
        import gates
        calls = []

        def fake_install_once(work, marker_dir, cmd, log, **extra):
            calls.append(cmd)
            if "--frozen-lockfile" in cmd:
                return {"state": "failed", "command": cmd, "reason": "ERR_PNPM_FETCH_404 GET .../vue-4.0.48.tgz: Not Found - 404", **extra}
            return {"state": "ok", "command": cmd, **extra}

        real = gates.install_once
        gates.install_once = fake_install_once
        try:
            with tempfile.TemporaryDirectory() as d:
                work = Path(d)
                (work / "package.json").write_text('{"packageManager": "pnpm@11.18.0"}')
                (work / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\n")
                out = gates.js_install(work, {}, None)
                # a package with a lockfile of its own installs in its directory
                app = work / "demo" / "app"
                app.mkdir(parents=True)
                (app / "package.json").write_text('{"packageManager": "pnpm@11.1.1"}')
                (app / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\n")
                self.assertEqual(gates.install_root(work, {"package": "demo/app"}), app)
                self.assertEqual(gates.install_root(work, {"package": "demo"}), work)
        finally:
            gates.install_once = real
        self.assertEqual(out["state"], "ok")
        self.assertIn("--config.lockfile=false", calls[-1])
        self.assertIn("not in the registry here", out["lockfile"])


class RuntimeHelpersTest(unittest.TestCase):
    def test_the_csrf_field_is_read_whatever_the_attribute_order(self):
        flask_wtf = '<form><input id="csrf_token" name="csrf_token" type="hidden" value="IjQ.abc"></form>'
        rails = '<input type="hidden" name="authenticity_token" value="r4ils==" autocomplete="off" />'
        self.assertEqual(runtime.form_token(flask_wtf, "csrf_token"), "IjQ.abc")
        self.assertEqual(runtime.form_token(rails, "authenticity_token"), "r4ils==")
        self.assertIsNone(runtime.form_token('<input name="csrf_token_x" value="no">', "csrf_token"))

    def test_the_llm_stub_answers_30_tokens_plain_and_streamed(self):
        import json
        import urllib.request
        server, url = runtime.start_llm_stub()
        try:
            def post(path, body):
                req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                             headers={"content-type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.read().decode()
            plain = json.loads(post("/chat/completions", {"model": "m", "messages": []}))
            self.assertEqual(plain["usage"]["total_tokens"], 30)
            streamed = post("/chat/completions", {"stream": True, "stream_options": {"include_usage": True}})
            chunks = [json.loads(l[6:]) for l in streamed.splitlines() if l.startswith("data: {")]
            self.assertEqual(chunks[-1]["usage"]["total_tokens"], 30)
            self.assertTrue(streamed.rstrip().endswith("data: [DONE]"))
            without = post("/chat/completions", {"stream": True})
            self.assertNotIn('"usage"', without)
            self.assertEqual(len(json.loads(post("/images/generations", {"prompt": "x"}))["data"]), 1)
            events = [json.loads(l[6:]) for l in post("/responses", {"stream": True}).splitlines()
                      if l.startswith("data: ")]
            self.assertEqual(events[-1]["type"], "response.completed")
            self.assertEqual(events[-1]["response"]["usage"]["total_tokens"], 30)
            self.assertEqual([e["sequence_number"] for e in events], list(range(len(events))))
        finally:
            server.shutdown()

    def test_api_sign_in_reads_the_token_and_its_sub_for_json_and_form_logins(self):
        import http.server
        import json
        import threading
        token = runtime.hs256_jwt("k", {"sub": "user-42"})
        seen = []

        class App(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                seen.append((self.headers["content-type"], self.rfile.read(int(self.headers["content-length"]))))
                body = json.dumps({"access_token": token}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), App)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            for form in (False, True):
                state = {}
                headers = runtime.api_sign_in({"path": "/login", "form": form, "body": {"username": "u"},
                                               "token_field": "access_token"}, state)(base)
                self.assertEqual(headers, {"authorization": "Bearer " + token})
                self.assertEqual(state["customer"], "user-42")
        finally:
            server.shutdown()
        self.assertEqual(seen, [("application/json", b'{"username": "u"}'),
                                ("application/x-www-form-urlencoded", b"username=u")])
