"""insomnia_opply.json runs green, request by request, against a live gunicorn server.

The collection is read as Insomnia would: request groups and requests in their sort order,
the base environment substituted into `{{ _.name }}`, `{% response 'body', ... %}` tags (the
ids) read from the earlier responses they name, and the after-response script of each request
that issues a token, which stores the new key in `token`. Each request's description ends
with its expected status; every status must match.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests import jobs
from tests.servers import CLIENT_TIMEOUT, ROOT, Database, ServerFarm

pytestmark = pytest.mark.system

COLLECTION = ROOT / "insomnia_opply.json"
USERNAME = "insomnia-admin"
PASSWORD = "insomnia-admin-password"
VARIABLE = re.compile(r"\{\{\s*_\.(\w+)\s*\}\}")
RESPONSE_TAG = re.compile(
    r"\{%\s*response\s+'body',\s*'(\w+)',\s*'b64::([A-Za-z0-9+/=]+)::46b',\s*'\w[\w-]*',"
    r"\s*\d+\s*%\}"
)
EXPECTED = re.compile(r"Expected status: (\d{3})\s*$")
SEED_ORDER = [
    ("GET", "/token/"),
    ("POST", "/products/"),
    ("POST", "/products/"),
    ("GET", "/products/"),
    ("POST", "/products/{{ _.product_id }}/add_to_order/"),
    ("POST", "/products/{{ _.second_product_id }}/add_to_order/"),
    ("POST", "/products/{{ _.second_product_id }}/remove_from_order/"),
    ("POST", "/orders/{{ _.order_id }}/submit/"),
    ("GET", "/orders/"),
    ("GET", "/orders/current/"),
]
# Every operation of the API (docs/api.md), with ids as the collection names them.
OPERATIONS = {
    ("GET", "/token/"),
    ("POST", "/token/"),
    ("DELETE", "/token/"),
    ("GET", "/products/"),
    ("POST", "/products/"),
    ("GET", "/products/{id}/"),
    ("PUT", "/products/{id}/"),
    ("PATCH", "/products/{id}/"),
    ("DELETE", "/products/{id}/"),
    ("POST", "/products/{id}/add_to_order/"),
    ("POST", "/products/{id}/remove_from_order/"),
    ("GET", "/products/{id}/stock_movements/"),
    ("GET", "/orders/"),
    ("POST", "/orders/"),
    ("GET", "/orders/{id}/"),
    ("GET", "/orders/current/"),
    ("PATCH", "/orders/current/"),
    ("PATCH", "/orders/{id}/"),
    ("POST", "/orders/{id}/submit/"),
    ("POST", "/orders/{id}/cancel/"),
    ("POST", "/orders/{id}/fulfil/"),
    ("GET", "/events/"),
    ("GET", "/events/{id}/"),
    ("GET", "/webhooks/"),
    ("POST", "/webhooks/"),
    ("GET", "/webhooks/{id}/"),
    ("PATCH", "/webhooks/{id}/"),
    ("DELETE", "/webhooks/{id}/"),
    ("POST", "/webhooks/{id}/rotate_secret/"),
    ("GET", "/webhooks/{id}/deliveries/"),
    ("POST", "/webhooks/{id}/redeliver/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/schema/"),
    ("GET", "/"),
}
# The after-response script of every request that issues a token (Insomnia 9.1 or later): the
# token variable follows the newest key, so "Revoke my token" then "Get token" just works.
TOKEN_SCRIPT = (
    "// The token variable follows the newest key: every request after this one sends it.\n"
    "if (insomnia.response.code === 200) {\n"
    "  const key = insomnia.response.json().token;\n"
    '  insomnia.baseEnvironment.set("token", key);\n'
    '  insomnia.environment.set("token", key);\n'
    "}\n"
)


def load() -> dict[str, Any]:
    return json.loads(COLLECTION.read_text())


def ordered_requests(export: dict[str, Any]) -> list[dict[str, Any]]:
    """The requests in the order Insomnia lists them: depth first, by metaSortKey."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for resource in export["resources"]:
        if resource["_type"] in {"request_group", "request"}:
            children.setdefault(resource["parentId"], []).append(resource)

    def walk(parent: str) -> list[dict[str, Any]]:
        found = []
        for item in sorted(children.get(parent, []), key=lambda r: r["metaSortKey"]):
            found.extend([item] if item["_type"] == "request" else walk(item["_id"]))
        return found

    [workspace] = [r for r in export["resources"] if r["_type"] == "workspace"]
    return walk(workspace["_id"])


def base_environment(export: dict[str, Any]) -> dict[str, Any]:
    [workspace] = [r for r in export["resources"] if r["_type"] == "workspace"]
    [environment] = [
        r
        for r in export["resources"]
        if r["_type"] == "environment" and r["parentId"] == workspace["_id"]
    ]
    return dict(environment["data"])


def expected_status(request: dict[str, Any]) -> int:
    match = EXPECTED.search(request["description"])
    assert match, f"{request['name']}: the description must end with 'Expected status: NNN'"
    return int(match.group(1))


def issues_a_token(request: dict[str, Any]) -> bool:
    return request["method"] in {"GET", "POST"} and request["url"].endswith("/token/")


def operation_of(request: dict[str, Any]) -> tuple[str, str]:
    path = request["url"].replace("{{ _.base_url }}", "")
    return request["method"], re.sub(r"\{\{ _\.\w+_id \}\}", "{id}", path)


@dataclass
class Runner:
    """Renders templates against the environment and the responses received so far."""

    environment: dict[str, Any]
    responses: dict[str, Any] = field(default_factory=dict)

    def render(self, text: str) -> str:
        for _ in range(5):  # an environment value may itself hold a tag
            text = VARIABLE.sub(lambda m: str(self.environment[m.group(1)]), text)
            text = RESPONSE_TAG.sub(self._response_value, text)
        assert "{{" not in text, f"unrendered variable in {text!r}"
        assert "{%" not in text, f"unrendered tag in {text!r}"
        return text

    def _response_value(self, match: re.Match[str]) -> str:
        request_id, encoded = match.group(1), match.group(2)
        assert request_id in self.responses, f"{request_id} must run before it is referred to"
        value: Any = self.responses[request_id]
        path = base64.b64decode(encoded).decode()
        assert path.startswith("$."), path
        for key in path[2:].split("."):
            value = value[int(key)] if isinstance(value, list) else value[key]
        return str(value)

    def send(self, request: dict[str, Any]) -> requests.Response:
        headers = {
            h["name"]: self.render(h["value"]) for h in request["headers"] if not h.get("disabled")
        }
        params = [
            (p["name"], self.render(p["value"]))
            for p in request["parameters"]
            if not p.get("disabled")
        ]
        body = request["body"].get("text")
        auth = request["authentication"]
        basic = None
        if auth.get("type") == "basic" and not auth.get("disabled"):
            basic = (self.render(auth["username"]), self.render(auth["password"]))
        response = requests.request(
            request["method"],
            self.render(request["url"]),
            headers=headers,
            params=params,
            data=self.render(body).encode() if body is not None else None,
            auth=basic,
            timeout=CLIENT_TIMEOUT,
            allow_redirects=False,
        )
        if "json" in response.headers.get("Content-Type", ""):
            self.responses[request["_id"]] = response.json()
        script = request.get("afterResponseScript")
        assert script in (None, "", TOKEN_SCRIPT), (
            f"{request['name']}: a script this runner cannot run"
        )
        if script == TOKEN_SCRIPT and response.status_code == 200:
            self.environment["token"] = response.json()["token"]
        return response


def test_the_collection_is_an_insomnia_v4_export_with_a_base_environment():
    export = load()

    assert export["_type"] == "export"
    assert export["__export_format"] == 4
    types = {r["_type"] for r in export["resources"]}
    assert types == {"workspace", "environment", "request_group", "request"}
    assert {"base_url", "token", "username", "password"} <= set(base_environment(export))
    assert len({r["_id"] for r in export["resources"]}) == len(export["resources"])


def test_the_collection_starts_with_the_seed_flow_and_covers_every_operation():
    requests_ = ordered_requests(load())
    flow = [
        (r["method"], r["url"].replace("{{ _.base_url }}", ""))
        for r in requests_[: len(SEED_ORDER)]
    ]

    assert flow == SEED_ORDER
    assert {operation_of(r) for r in requests_} == OPERATIONS
    assert all(expected_status(r) for r in requests_)


def test_every_request_that_issues_a_token_stores_it_and_no_other_runs_a_script():
    requests_ = ordered_requests(load())

    issuing = [r["name"] for r in requests_ if issues_a_token(r)]
    assert len(issuing) == 3, issuing
    for request in requests_:
        expected = TOKEN_SCRIPT if issues_a_token(request) else None
        assert request.get("afterResponseScript") == expected, request["name"]
        assert request.get("preRequestScript") is None, request["name"]


def test_after_revoking_a_new_token_is_fetched_and_used_before_the_collection_ends():
    names = [r["_id"] for r in ordered_requests(load())]

    revoke = names.index("req_token_delete")
    assert names[revoke + 1 :] == ["req_token_get_again", "req_product_list_new_token"]


def test_every_request_answers_its_expected_status_on_a_live_server(
    system_database: Database, farm: ServerFarm, monkeypatch: pytest.MonkeyPatch
):
    system_database.run(jobs.create_superuser, username=USERNAME, password=PASSWORD)
    monkeypatch.setenv("SECURE_SSL_REDIRECT", "false")
    [server] = farm.start(system_database, workers=2)
    export = load()
    environment = base_environment(export)
    environment.update(base_url=server.url, username=USERNAME, password=PASSWORD)
    runner = Runner(environment)

    results = []
    for request in ordered_requests(export):
        response = runner.send(request)
        results.append((request["name"], response.status_code, expected_status(request)))
        assert response.status_code == expected_status(request), (
            request["name"],
            response.status_code,
            response.text[:500],
        )

    assert len(results) == len(ordered_requests(export))
    first_token = runner.responses["req_token_get"]["token"]
    new_token = runner.responses["req_token_get_again"]["token"]
    assert new_token != first_token
    # The token variable followed the newest key: the last request was sent with it.
    assert runner.environment["token"] == new_token
    old_key = requests.get(
        f"{server.url}/products/",
        headers={"Authorization": f"Token {first_token}"},
        timeout=CLIENT_TIMEOUT,
    )
    assert old_key.status_code == 401
    assert runner.responses["req_order_submit"]["status"] == "submitted"
    assert runner.responses["req_order_cancel"]["status"] == "cancelled"
    assert runner.responses["req_order_fulfil"]["status"] == "fulfilled"
    assert runner.responses["req_b2b_add_too_few"]["nearest"] == [None, 12]
    assert runner.responses["req_b2b_add_default"]["items"][0]["quantity"] == 12
    assert runner.responses["req_b2b_product_stale_write"]["current_version"] == 1
    b2b_order = runner.responses["req_b2b_submit"]
    assert (b2b_order["status"], b2b_order["po_number"]) == ("submitted", "PO-2026-0042")
    assert [o["id"] for o in runner.responses["req_b2b_order_by_po"]["results"]] == [
        b2b_order["id"]
    ]
    assert system_database.check_stock().returncode == 0
