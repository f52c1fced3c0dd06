"""Drives the official `spaire-sdk` against a running emulator.

The SDK validates every response with pydantic (a mismatch raises), so each call doubles as a
schema check. Also exercises `spaire_sdk.ingestion.Ingestion` batching and
`spaire_sdk.webhooks.validate_event` on webhooks the emulator really delivered.

Env: SPAIRE_SERVER_URL (no /v1), SPAIRE_ACCESS_TOKEN. Exit 0 = every check passed.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import sys
import threading
import time
import urllib.request
from typing import Any, Callable

from spaire_sdk import Spaire
from spaire_sdk.ingestion import Ingestion
from spaire_sdk import models
from spaire_sdk.models import SDKError
from spaire_sdk.webhooks import WebhookVerificationError, validate_event

SERVER_URL = os.environ.get("SPAIRE_SERVER_URL", "")
TOKEN = os.environ.get("SPAIRE_ACCESS_TOKEN", "")
if not SERVER_URL or not TOKEN:
    print("SPAIRE_SERVER_URL and SPAIRE_ACCESS_TOKEN must be set", file=sys.stderr)
    sys.exit(2)

failures: list[str] = []
passed: list[str] = []


def check(name: str, condition: bool, detail: str = "") -> None:
    if condition:
        passed.append(name)
    else:
        failures.append(f"{name}: {detail}" if detail else name)


def step(name: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - every failure is reported, not raised
        failures.append(f"{name} raised {type(err).__name__}: {str(err)[:400]}")
        return None


received: list[tuple[bytes, dict[str, str]]] = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        length = int(self.headers.get("content-length", "0"))
        received.append((self.rfile.read(length), {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
receiver_url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"


def emulator_post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{SERVER_URL}{path}",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


client = Spaire(access_token=TOKEN, server_url=SERVER_URL)
run = f"{int(time.time() * 1000):x}"
external_id = f"py-user-{run}"
event_name = f"py-llm-{run}"

endpoint = step(
    "webhooks.create_webhook_endpoint",
    lambda: client.webhooks.create_webhook_endpoint(
        request={
            "url": receiver_url,
            "format": "raw",
            "events": [
                "customer.created",
                "customer.state_changed",
                "benefit.created",
                "product.created",
                "product.updated",
                "subscription.created",
                "subscription.active",
                "order.paid",
                "benefit_grant.created",
                "benefit_grant.cycled",
            ],
        }
    ),
)
meter = step(
    "meters.create",
    lambda: client.meters.create(
        request={
            "name": f"Python tokens {run}",
            "filter": {
                "conjunction": "and",
                "clauses": [{"property": "name", "operator": "eq", "value": event_name}],
            },
            "aggregation": {"func": "sum", "property": "totalTokens"},
        }
    ),
)
customer = step(
    "customers.create",
    lambda: client.customers.create(request={"email": f"py-{run}@acme.io", "external_id": external_id}),
)
benefit = step(
    "benefits.create",
    lambda: client.benefits.create(
        request={
            "type": "meter_credit",
            "description": "50 included tokens",
            "properties": {"meter_id": meter.id, "units": 50, "rollover": False},
        }
    ),
)
product = step(
    "products.create",
    lambda: client.products.create(
        request={
            "name": f"Team {run}",
            "recurring_interval": "month",
            "prices": [{"amount_type": "fixed", "price_amount": 2000}],
        }
    ),
)
fixed_id = product.prices[0].id if product else None
updated = step(
    "products.update",
    lambda: client.products.update(
        id=product.id,
        product_update={
            "prices": [
                models.ExistingProductPrice(id=fixed_id),
                {"amount_type": "metered_unit", "meter_id": meter.id, "unit_amount": "1.5", "cap_amount": 5000},
            ]
        },
    ),
)
metered = [p for p in (updated.prices if updated else []) if type(p).__name__ == "ProductPriceMeteredUnit"]
check("metered price added", len(metered) == 1 and metered[0].unit_amount == "1.500000000000", str(metered))
step(
    "products.update_benefits",
    lambda: client.products.update_benefits(id=product.id, product_benefits_update={"benefits": [benefit.id]}),
)
status, _ = emulator_post("/_emulator/subscriptions", {"customer_id": customer.id, "product_id": product.id})
check("emulator subscription created", status == 201, str(status))

result = step(
    "events.ingest",
    lambda: client.events.ingest(
        request={
            "events": [
                {"name": event_name, "external_customer_id": external_id, "external_id": f"a-{run}", "metadata": {"totalTokens": 20}},
                {"name": event_name, "external_customer_id": external_id, "external_id": f"a-{run}", "metadata": {"totalTokens": 20}},
            ]
        }
    ),
)
check("dedupe", result is not None and result.inserted == 1 and result.duplicates == 1, str(result))

# Batching: 120 events through the SDK's background ingestion (batches of 50).
ingestion = Ingestion(TOKEN, server_url=SERVER_URL, max_batch_size=50, flush_interval=0.2)
for i in range(120):
    ingestion.ingest({"name": event_name, "external_customer_id": external_id, "metadata": {"totalTokens": 1}})
ingestion.close()

state = step("customers.get_state_external", lambda: client.customers.get_state_external(external_id=external_id))
active = [m for m in (state.active_meters if state else []) if m.meter_id == meter.id]
# credited 50; consumed 20 + 120 → balance −90 (overage).
check(
    "balance after batching",
    len(active) == 1 and active[0].consumed_units == 140 and active[0].credited_units == 50 and active[0].balance == -90,
    str(active),
)
now = dt.datetime.now(dt.timezone.utc)
quantities = step(
    "meters.quantities",
    lambda: client.meters.quantities(
        id=meter.id,
        start_timestamp=now - dt.timedelta(hours=2),
        end_timestamp=now,
        interval="hour",
        customer_id=customer.id,
    ),
)
check("quantities total counts external-id events for the customer id", quantities is not None and quantities.total == 140, str(quantities))

page = step("customer_meters.list", lambda: client.customer_meters.list(external_customer_id=external_id, limit=100))
names = []
while page is not None:
    names.extend(item.meter.name for item in page.result.items)
    page = page.next()
check("customer meter names", meter is not None and meter.name in names, str(names))

bad = Spaire(access_token="spaire_oat_not-a-real-token", server_url=SERVER_URL)
try:
    bad.meters.get(id=meter.id)
    check("bad token rejected", False)
except SDKError as err:
    check("bad token rejected with 401", err.status_code == 401, str(err.status_code))

emulator_post("/_emulator/webhooks/wait", {"timeout_ms": 20000})
types: dict[str, int] = {}
for body, headers in received:
    try:
        event = validate_event(body=body, headers=headers, secret=endpoint.secret)
        types[event.TYPE] = types.get(event.TYPE, 0) + 1
    except Exception as err:  # noqa: BLE001
        failures.append(f"validate_event rejected {json.loads(body)['type']}: {type(err).__name__}: {str(err)[-1500:]}")
for expected in ["customer.created", "customer.state_changed", "benefit.created", "product.created", "subscription.created", "order.paid", "benefit_grant.created"]:
    check(f"webhook {expected}", expected in types, ",".join(types))
if received:
    try:
        validate_event(body=received[0][0], headers=received[0][1], secret="spaire_whs_wrong-secret-for-this-check")
        check("wrong secret rejected", False)
    except WebhookVerificationError:
        check("wrong secret rejected", True)

server.shutdown()
print(json.dumps({"passed": len(passed), "failures": failures, "webhook_types": types}, indent=2))
sys.exit(0 if not failures else 1)
