"""Drives `spaire-billing mcp` with the official Python MCP client (the `mcp` package).

Run by `crates/spaire-billing/tests/it/mcp.rs`:

    python mcp_client.py handshake --binary target/debug/spaire-billing --project DIR
    python mcp_client.py flow      --binary ... --project DIR --server-url URL --edit FILE

Each scenario asserts the protocol-level facts itself (exit 1 with a message on failure) and
prints a normalised JSON transcript on stdout, which the Rust test snapshots. Timestamps,
hashes and paths are replaced by placeholders so the transcript is stable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

EXPECTED_TOOLS = {
    "detect_project",
    "list_meter_presets",
    "propose_plan",
    "apply_plan",
    "verify",
    "undo",
    "status",
}
EXPECTED_RESOURCES = {
    "spaire-billing://project/profile",
    "spaire-billing://plan/current",
    "spaire-billing://meter-presets",
}


# A complete, realistic set of answers (every kind of field), used to check the schema.
EXAMPLE_ANSWERS = {
    "environment": "sandbox",
    "package": ".",
    "customer": {"from": "function", "function": "getUserId", "module": "@/lib/auth"},
    "meters": [
        {"preset": "llm-tokens"},
        {"name": "images", "event": "image-generated", "aggregation": "count"},
    ],
    "prices": [{"meter": "llm-token-usage", "product": "Pro", "unit_amount": "0.0004", "cap_amount": 5000}],
    "credits": [{"meter": "images", "product": "Pro", "units": 100, "rollover": False}],
    "webhooks": {"events": ["order.paid"]},
}


class CheckFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def server_params(args: argparse.Namespace, extra_env: dict[str, str] | None = None) -> StdioServerParameters:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NO_COLOR": "1",
        # Logs go to stderr; asking for them proves they never reach the protocol stream.
        "SPAIRE_BILLING_LOG": "info",
    }
    env.update(extra_env or {})
    return StdioServerParameters(
        command=args.binary, args=["mcp", "--dir", args.project], env=env, cwd=args.project
    )


def tool_result(result: Any) -> dict[str, Any]:
    """The parts of a CallToolResult an agent relies on."""
    structured = result.structured_content
    text = result.content[0].text if result.content else None
    if structured is not None and text is not None:
        check(json.loads(text) == structured, "text content must mirror structuredContent")
    if structured is None:
        # rmcp reports arguments that do not match the schema as a tool error with a message
        # (so the model can correct itself), not as structured content.
        return {"is_error": bool(result.is_error), "text": text}
    return {"is_error": bool(result.is_error), "structured": structured}


async def call(session: ClientSession, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """A tool call that reports JSON-RPC errors as data instead of raising."""
    try:
        return tool_result(await session.call_tool(name, arguments))
    except MCPError as err:
        return {"jsonrpc_error": {"code": err.code, "message": err.message}}


async def handshake(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with stdio_client(server_params(args), errlog=sys.stderr) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server_info"] = {"name": init.server_info.name, "version": init.server_info.version}
            caps = init.capabilities
            out["capabilities"] = {"tools": caps.tools is not None, "resources": caps.resources is not None}
            check(bool(init.instructions) and "plan_hash" in init.instructions, "instructions explain the flow")

            tools = (await session.list_tools()).tools
            names = {t.name for t in tools}
            check(names == EXPECTED_TOOLS, f"tools: {sorted(names)}")
            check(len(tools) < 40, "well under 40 tools")
            listing = {}
            for tool in sorted(tools, key=lambda t: t.name):
                schema = tool.input_schema
                check(schema.get("type") == "object", f"{tool.name}: object schema")
                check(bool(tool.description), f"{tool.name}: described")
                ann = tool.annotations
                check(ann is not None, f"{tool.name}: annotated")
                listing[tool.name] = {
                    "title": ann.title,
                    "readOnly": ann.read_only_hint,
                    "destructive": ann.destructive_hint,
                    "idempotent": ann.idempotent_hint,
                    "openWorld": ann.open_world_hint,
                    "properties": sorted(schema.get("properties", {}).keys()),
                    "required": sorted(schema.get("required", [])),
                }
                # Every argument an agent fills in is documented for it.
                for prop, spec in schema.get("properties", {}).items():
                    check("description" in spec, f"{tool.name}.{prop} has a description")
            out["tools"] = listing
            # The published schema is the one the server enforces: a real answer set validates,
            # and the malformed calls below are schema violations too.
            import jsonschema

            schemas = {t.name: t.input_schema for t in tools}
            jsonschema.validate(EXAMPLE_ANSWERS, schemas["propose_plan"])
            for name, bad in (
                ("propose_plan", {"meters": "all of them"}),
                ("apply_plan", {"environment": "sandbox"}),
                ("apply_plan", {"plan_hash": "x", "environment": "staging"}),
            ):
                try:
                    jsonschema.validate(bad, schemas[name])
                    raise CheckFailed(f"{name} schema accepts {bad}")
                except jsonschema.ValidationError:
                    pass
            # Nothing that writes may look read-only; everything read-only must say so.
            for name in ("apply_plan", "undo"):
                check(listing[name]["readOnly"] is False and listing[name]["destructive"] is True, name)
            for name in ("detect_project", "list_meter_presets", "propose_plan", "status"):
                check(listing[name]["readOnly"] is True, name)

            resources = (await session.list_resources()).resources
            uris = {str(r.uri) for r in resources}
            check(uris == EXPECTED_RESOURCES, f"resources: {sorted(uris)}")
            out["resources"] = sorted(
                ({"uri": str(r.uri), "name": r.name, "mimeType": r.mime_type} for r in resources),
                key=lambda r: r["uri"],
            )
            presets = await session.read_resource("spaire-billing://meter-presets")
            preset_json = json.loads(presets.contents[0].text)
            out["preset_ids"] = [p["id"] for p in preset_json["presets"]]
            plan = json.loads((await session.read_resource("spaire-billing://plan/current")).contents[0].text)
            out["current_plan_without_proposal"] = plan
            try:
                await session.read_resource("spaire-billing://nope")
                raise CheckFailed("an unknown resource must be an error")
            except MCPError as err:
                out["unknown_resource"] = {"code": err.code}

            detected = await call(session, "detect_project", None)
            check(detected.get("is_error") is False, f"detect_project: {detected}")
            profile = json.loads((await session.read_resource("spaire-billing://project/profile")).contents[0].text)
            check(profile == detected["structured"], "tool and resource agree on the profile")
            out["detected_languages"] = [p["language"] for p in profile["packages"]]

            # No token: a sandbox proposal still works; remote objects become dashboard steps.
            offline = await call(session, "propose_plan", EXAMPLE_ANSWERS)
            check(offline.get("is_error") is False, f"propose_plan without a token: {offline}")
            remote = offline["structured"]["remote"]
            check(remote and all(r["environment"] == "sandbox" for r in remote), "every step names sandbox")
            check(all(r["action"] == "pending" and r["dashboard_steps"] for r in remote), "dashboard steps")
            check(not (Path(args.project) / "spaire-billing.toml").exists(), "propose writes nothing")
            out["offline_proposal_remote"] = [(r["action"], r["key"]) for r in remote]

            presets_tool = await call(session, "list_meter_presets", None)
            check(presets_tool["structured"] == preset_json, "tool and resource agree on presets")

            # Error cases: each is reported, and the server keeps serving afterwards.
            errors = {}
            errors["unknown_hash"] = await call(
                session, "apply_plan", {"plan_hash": "0123456789abcdef", "environment": "sandbox"}
            )
            errors["apply_without_hash"] = await call(session, "apply_plan", {"environment": "sandbox"})
            errors["meters_not_a_list"] = await call(session, "propose_plan", {"meters": "all of them"})
            errors["unknown_argument"] = await call(session, "verify", {"meterz": "x"})
            errors["bad_environment"] = await call(
                session, "apply_plan", {"plan_hash": "x", "environment": "staging"}
            )
            errors["unknown_preset"] = await call(
                session,
                "propose_plan",
                {"customer": {"from": "header", "header": "x-user"}, "meters": [{"preset": "llm-tokenz"}]},
            )
            errors["invented_nothing"] = await call(session, "propose_plan", {})
            errors["unknown_tool"] = await call(session, "delete_everything", {})
            out["errors"] = errors
            check(errors["unknown_hash"].get("is_error") is True, "unknown hash is a tool error")
            # Malformed arguments: rejected before any work, as a JSON-RPC error or a tool error.
            for key in ("apply_without_hash", "meters_not_a_list", "unknown_argument", "bad_environment", "unknown_tool"):
                rejected = "jsonrpc_error" in errors[key] or errors[key].get("is_error") is True
                check(rejected, f"{key} is rejected: {errors[key]}")

            again = await call(session, "list_meter_presets", None)
            check(again.get("is_error") is False, "server still serves after errors")
            out["still_serving"] = True
    return out


def redact(value: Any, replacements: dict[str, str]) -> Any:
    """Replaces run-specific strings (hashes, paths, URLs, ids) everywhere in a JSON value."""
    text = json.dumps(value)
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        if old:
            text = text.replace(json.dumps(old)[1:-1], new)
    return json.loads(text)


def create_meter(server_url: str, token: str, name: str, event: str) -> None:
    """Someone creates the meter in the dashboard: the account drifts from the proposal."""
    import httpx

    response = httpx.post(
        f"{server_url}/v1/meters/",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": name,
            "filter": {"conjunction": "and", "clauses": [{"property": "name", "operator": "eq", "value": event}]},
            "aggregation": {"func": "count"},
        },
    )
    check(response.status_code in (200, 201), f"create meter: {response.status_code} {response.text}")


def create_product(server_url: str, token: str, name: str) -> None:
    import httpx

    response = httpx.post(
        f"{server_url}/v1/products/",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": name,
            "recurring_interval": "month",
            "prices": [{"amount_type": "fixed", "price_amount": 2000, "price_currency": "usd"}],
        },
    )
    check(response.status_code in (200, 201), f"create product: {response.status_code} {response.text}")


async def flow(args: argparse.Namespace) -> dict[str, Any]:
    """detect → propose → drift refused → propose → apply → verify → status → undo."""
    token = os.environ["SPAIRE_ACCESS_TOKEN"]
    create_product(args.server_url, token, "Pro")
    answers = {
        "environment": "local",
        "server_url": args.server_url,
        "customer": {"from": "header", "header": "x-user-id"},
        "meters": [{"preset": "api-calls"}],
        "prices": [{"meter": "api-calls", "product": "Pro", "unit_amount": "0.5"}],
    }
    out: dict[str, Any] = {}
    replacements: dict[str, str] = {args.project: "[PROJECT]", args.server_url: "[SERVER_URL]"}
    env = {"SPAIRE_ACCESS_TOKEN": token}
    async with stdio_client(server_params(args, env), errlog=sys.stderr) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            detected = await call(session, "detect_project", None)
            check(detected.get("is_error") is False, f"detect_project: {detected}")
            languages = [p["language"] for p in detected["structured"]["packages"]]
            out["detected_languages"] = languages

            first = await call(session, "propose_plan", answers)
            check(first.get("is_error") is False, f"propose_plan: {first}")
            hash1 = first["structured"]["plan_hash"]
            replacements[hash1] = "[HASH1]"
            out["proposal_files"] = [(f["action"], f["path"]) for f in first["structured"]["files"]]
            out["proposal_remote"] = [
                (r["environment"], r["action"], r["key"]) for r in first["structured"]["remote"]
            ]
            check(all(r["environment"] == "local" for r in first["structured"]["remote"]), "remote names env")
            check(not (Path(args.project) / "spaire-billing.toml").exists(), "propose writes nothing")
            same = await call(session, "propose_plan", answers)
            check(same["structured"]["plan_hash"] == hash1, "proposing twice gives the same hash")
            current = json.loads((await session.read_resource("spaire-billing://plan/current")).contents[0].text)
            check(current["latest_proposal"]["plan_hash"] == hash1, "current plan resource shows the proposal")

            # Drift: the user edits a file between proposal and approval.
            edited = Path(args.project) / args.edit
            edited.write_text(edited.read_text() + "\n// edited after the proposal\n")
            drift = await call(session, "apply_plan", {"plan_hash": hash1, "environment": "local"})
            check(drift.get("is_error") is True, f"drift must be refused: {drift}")
            out["drift"] = drift
            check(not (Path(args.project) / "spaire-billing.toml").exists(), "a refused apply writes nothing")

            second = await call(session, "propose_plan", answers)
            hash2 = second["structured"]["plan_hash"]
            replacements[hash2] = "[HASH2]"
            check(hash2 != hash1, "the edit changes the hash")
            wrong_env = await call(session, "apply_plan", {"plan_hash": hash2, "environment": "sandbox"})
            check(wrong_env.get("is_error") is True, "an approval for another environment is refused")
            out["wrong_environment"] = wrong_env

            applied = await call(session, "apply_plan", {"plan_hash": hash2, "environment": "local"})
            check(applied.get("is_error") is False, f"apply_plan: {applied}")
            report = applied["structured"]
            out["applied"] = {
                "environment": report["environment"],
                "files": [(f["action"], f["path"]) for f in report["files"]],
                "remote_completed": len(report["remote_completed"]),
                "remote_pending": report["remote_pending"],
                "next_step": report["next_step"],
            }
            check((Path(args.project) / "spaire-billing.toml").exists(), "apply writes the plan file")

            again = await call(session, "propose_plan", answers)
            out["after_apply_nothing_to_do"] = again["structured"]["nothing_to_do"]

            verified = await call(session, "verify", {})
            out["verify"] = verified
            if verified.get("structured"):
                replacements[verified["structured"]["customer"]] = "[TEST_CUSTOMER]"
                for meter in verified["structured"]["meters"]:
                    if meter.get("meter_id"):
                        replacements[meter["meter_id"]] = "[METER_ID]"
            check(verified.get("is_error") is False and verified["structured"]["passed"] is True, f"verify: {verified}")

            status = await call(session, "status", None)
            check(status.get("is_error") is False, f"status: {status}")
            st = status["structured"]
            check("spaire_oat" not in json.dumps(st), "status never shows the token")
            out["status"] = {
                "token_present": st["token"]["present"],
                "pending_remote": st["pending_remote"],
                "edited_files": st["edited_files"],
                "missing_files": st["missing_files"],
                "last_apply_plan_hash": st["last_apply"]["plan_hash"],
            }

            preview = await call(session, "undo", {})
            check(preview.get("is_error") is False, f"undo preview: {preview}")
            undo_hash = preview["structured"]["undo_hash"]
            replacements[undo_hash] = "[UNDO_HASH]"
            replacements[preview["structured"]["applied_at"]] = "[TIME]"
            out["undo_preview"] = preview
            wrong = await call(session, "undo", {"undo_hash": "0000000000000000"})
            check(wrong.get("is_error") is True, "undo with a stale hash is refused")
            undone = await call(session, "undo", {"undo_hash": undo_hash})
            check(undone.get("is_error") is False, f"undo: {undone}")
            out["undone"] = {k: undone["structured"][k] for k in ("restored", "removed")}
            # The meter and the price created by the apply are reverted in the account too.
            out["undone"]["remote_reverted"] = len(undone["structured"]["remote"])
            check(
                len(undone["structured"]["remote"]) == len(report["remote_completed"]),
                f"undo reverts every remote object the apply created: {undone}",
            )

            # Remote drift: the account changes between proposal and approval.
            third = await call(session, "propose_plan", answers)
            hash3 = third["structured"]["plan_hash"]
            replacements.setdefault(hash3, "[HASH3]")  # same as HASH2 when undo restored everything
            create_meter(args.server_url, token, "api-calls", "api-call")
            remote_drift = await call(session, "apply_plan", {"plan_hash": hash3, "environment": "local"})
            check(remote_drift.get("is_error") is True, f"remote drift must be refused: {remote_drift}")
            check(not (Path(args.project) / "spaire-billing.toml").exists(), "a refused apply writes nothing")
            fourth = await call(session, "propose_plan", answers)
            replacements.setdefault(fourth["structured"]["plan_hash"], "[HASH4]")
            out["remote_drift"] = {
                "refused": remote_drift["structured"]["error"],
                "new_proposal_remote": [
                    (r["environment"], r["action"], r["key"]) for r in fourth["structured"]["remote"]
                ],
            }
    return redact(out, replacements)


async def markup(args: argparse.Namespace) -> dict[str, Any]:
    """`propose_plan` with `markup` on the llm-cost preset: the proposal's generated code and
    meter explanation carry it; `markup` elsewhere, or out of range, is a tool error."""
    out: dict[str, Any] = {}
    customer = {"from": "header", "header": "x-user"}
    async with stdio_client(server_params(args)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            proposal = await call(
                session,
                "propose_plan",
                {"customer": customer, "meters": [{"preset": "llm-tokens"}, {"preset": "llm-cost", "markup": 1.2}]},
            )
            check(proposal.get("is_error") is False, f"propose_plan with a markup: {proposal}")
            text = json.dumps(proposal["structured"])
            check("LLM_COST_MARKUP = 1.2;" in text, "the generated usage module multiplies by 1.2")
            check("times markup 1.2" in text, "the preview explains the cost meter with its markup")
            out["accepted"] = True
            for key, meters in {
                "markup_on_api_calls": [{"preset": "api-calls", "markup": 1.2}],
                "markup_on_custom": [{"name": "x", "event": "x", "aggregation": "count", "markup": 2}],
                "markup_zero": [{"preset": "llm-cost", "markup": 0}],
                "markup_too_large": [{"preset": "llm-cost", "markup": 5000}],
            }.items():
                refused = await call(session, "propose_plan", {"customer": customer, "meters": meters})
                check(refused.get("is_error") is True, f"{key} is refused: {refused}")
                out[key] = refused
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["handshake", "flow", "markup"])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--server-url", help="emulator base URL (flow)")
    parser.add_argument("--edit", help="file to edit between propose and apply (flow)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    args.project = str(Path(args.project).resolve())
    scenario = {"handshake": handshake, "flow": flow, "markup": markup}[args.scenario]
    failures: list[CheckFailed] = []
    out = None
    try:
        out = anyio.run(scenario, args)
    except* CheckFailed as group:
        # anyio task groups wrap exceptions (sometimes twice); report each failed check plainly.
        pending: list[BaseException] = [group]
        while pending:
            exc = pending.pop()
            if isinstance(exc, BaseExceptionGroup):
                pending.extend(exc.exceptions)
            else:
                failures.append(exc)
    if failures:
        for failure in failures:
            print(f"check failed: {failure}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
