"""The OpenAPI schema: valid without warnings, complete against the contract, served openly."""

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

# Every operation of docs/api.md, as (method, path).
CONTRACT = [
    ("get", "/"),
    ("get", "/token/"),
    ("post", "/token/"),
    ("delete", "/token/"),
    ("get", "/products/"),
    ("post", "/products/"),
    ("get", "/products/{id}/"),
    ("put", "/products/{id}/"),
    ("patch", "/products/{id}/"),
    ("delete", "/products/{id}/"),
    ("post", "/products/{id}/add_to_order/"),
    ("post", "/products/{id}/remove_from_order/"),
    ("get", "/products/{id}/stock_movements/"),
    ("get", "/orders/"),
    ("post", "/orders/"),
    ("get", "/orders/{id}/"),
    ("patch", "/orders/{id}/"),
    ("get", "/orders/current/"),
    ("patch", "/orders/current/"),
    ("post", "/orders/{id}/submit/"),
    ("post", "/orders/{id}/cancel/"),
    ("post", "/orders/{id}/fulfil/"),
    ("get", "/events/"),
    ("get", "/events/{id}/"),
    ("get", "/webhooks/"),
    ("post", "/webhooks/"),
    ("get", "/webhooks/{id}/"),
    ("patch", "/webhooks/{id}/"),
    ("delete", "/webhooks/{id}/"),
    ("post", "/webhooks/{id}/rotate_secret/"),
    ("get", "/webhooks/{id}/deliveries/"),
    ("post", "/webhooks/{id}/redeliver/"),
    ("get", "/healthz"),
    ("get", "/readyz"),
]
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def test_the_schema_validates_with_no_warnings(tmp_path: Path, capsys):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    captured = capsys.readouterr()
    assert "warning" not in (captured.out + captured.err).lower()
    assert "error" not in captured.err.lower()
    document = yaml.safe_load(target.read_text())
    assert document["openapi"].startswith("3.")


def test_every_operation_of_the_contract_is_described(schema):
    described = {(method, path) for method, path, _ in operations(schema)}

    assert set(CONTRACT) <= described
    assert described - set(CONTRACT) == set()


def test_every_operation_has_a_summary_and_a_success_response(schema):
    for method, path, operation in operations(schema):
        assert operation.get("summary") or operation.get("description"), (method, path)
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_every_error_response_of_the_api_uses_the_error_body(schema):
    error_refs = {
        "#/components/schemas/Error",
        "#/components/schemas/TransitionConflict",
        "#/components/schemas/SubmitConflict",
        "#/components/schemas/CartConflict",
        "#/components/schemas/PreconditionFailedError",
    }
    for method, path, operation in operations(schema):
        if path in {"/", "/healthz", "/readyz"}:
            continue
        errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
        assert "503" in errors, (method, path)
        for code, response in errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref in error_refs, (method, path, code)


def test_the_error_component_has_detail_code_errors_and_request_id(schema):
    error = schema["components"]["schemas"]["Error"]

    assert set(error["properties"]) == {"detail", "code", "errors", "request_id"}
    assert sorted(error["required"]) == ["code", "detail"]


def test_insufficient_stock_is_described_with_its_lines(schema):
    body = schema["components"]["schemas"]["InsufficientStockError"]
    line = schema["components"]["schemas"]["ShortLine"]

    assert "lines" in body["required"]
    assert body["properties"]["lines"]["items"]["$ref"] == "#/components/schemas/ShortLine"
    assert set(line["properties"]) == {"product", "requested", "available"}
    for path, component in [
        ("/orders/", "SubmitConflict"),
        ("/orders/{id}/submit/", "SubmitConflict"),
        ("/products/{id}/add_to_order/", "CartConflict"),
    ]:
        conflict = schema["paths"][path]["post"]["responses"]["409"]
        assert conflict["content"]["application/json"]["schema"]["$ref"] == (
            f"#/components/schemas/{component}"
        ), path
        shapes = schema["components"]["schemas"][component]["anyOf"]
        assert {"$ref": "#/components/schemas/InsufficientStockError"} in shapes, path


def test_quantity_rules_are_described_with_the_nearest_valid_quantities(schema):
    line = schema["components"]["schemas"]["QuantityRuleLine"]
    one = schema["components"]["schemas"]["QuantityRuleError"]
    every = schema["components"]["schemas"]["QuantityRulesError"]

    assert set(line["properties"]) == {
        "product",
        "quantity",
        "min_order_quantity",
        "order_increment",
        "max_order_quantity",
        "nearest",
    }
    assert {"code", "detail", "nearest", "quantity"} <= set(one["required"])
    assert every["properties"]["lines"]["items"]["$ref"] == "#/components/schemas/QuantityRuleLine"
    cart = schema["components"]["schemas"]["CartConflict"]["anyOf"]
    submit = schema["components"]["schemas"]["SubmitConflict"]["anyOf"]
    assert {"$ref": "#/components/schemas/QuantityRuleError"} in cart
    assert {"$ref": "#/components/schemas/QuantityRulesError"} in submit
    assert {"$ref": "#/components/schemas/DuplicatePoNumberError"} in submit


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/products/{id}/"),
        ("patch", "/products/{id}/"),
        ("delete", "/products/{id}/"),
        ("patch", "/orders/{id}/"),
        ("patch", "/orders/current/"),
        ("post", "/orders/{id}/submit/"),
        ("post", "/products/{id}/add_to_order/"),
        ("post", "/products/{id}/remove_from_order/"),
    ],
)
def test_conditional_writes_take_if_match_and_describe_412(schema, method, path):
    operation = schema["paths"][path][method]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}

    assert "If-Match" in headers
    refused = operation["responses"]["412"]["content"]["application/json"]["schema"]
    assert refused["$ref"] == "#/components/schemas/PreconditionFailedError"
    body = schema["components"]["schemas"]["PreconditionFailedError"]
    assert "current_version" in body["required"]


@pytest.mark.parametrize(
    "path", ["/products/", "/products/{id}/", "/orders/{id}/", "/orders/current/"]
)
def test_conditional_reads_take_if_none_match_and_describe_304(schema, path):
    operation = schema["paths"][path]["get"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}

    assert "If-None-Match" in headers
    assert "304" in operation["responses"]
    assert "content" not in operation["responses"]["304"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "ETag" in operation["responses"]["304"]["headers"]


def test_orders_carry_buyer_po_number_note_and_version(schema):
    order = schema["components"]["schemas"]["Order"]
    product = schema["components"]["schemas"]["Product"]

    assert {"buyer", "po_number", "note", "version"} <= set(order["properties"])
    buyer = order["properties"]["buyer"]
    buyer_ref = buyer.get("$ref") or buyer["allOf"][0]["$ref"]
    assert set(schema["components"]["schemas"][buyer_ref.rsplit("/", 1)[1]]["properties"]) == {
        "id",
        "username",
    }
    assert {"min_order_quantity", "order_increment", "max_order_quantity", "version"} <= set(
        product["properties"]
    )


def test_transitions_are_described_with_both_states(schema):
    body = schema["components"]["schemas"]["TransitionError"]

    assert {"current", "target"} <= set(body["required"])
    for path in ["/orders/{id}/cancel/", "/orders/{id}/fulfil/"]:
        conflict = schema["paths"][path]["post"]["responses"]["409"]
        assert conflict["content"]["application/json"]["schema"]["$ref"] == (
            "#/components/schemas/TransitionConflict"
        ), path


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("post", "/products/", {"201", "400", "401", "403", "409", "415", "422", "429"}),
        ("delete", "/products/{id}/", {"204", "401", "403", "404", "409"}),
        ("post", "/orders/", {"201", "400", "401", "409", "422", "429"}),
        ("post", "/orders/{id}/cancel/", {"200", "401", "404", "409"}),
        ("post", "/orders/{id}/fulfil/", {"200", "401", "403", "404", "409"}),
        ("get", "/products/", {"200", "400", "401", "429"}),
        ("get", "/products/{id}/stock_movements/", {"200", "401", "403", "404"}),
        ("get", "/token/", {"200", "401", "429"}),
        ("delete", "/token/", {"204", "401"}),
    ],
)
def test_operations_list_their_error_codes(schema, method, path, codes):
    assert codes <= set(schema["paths"][path][method]["responses"])


def test_throttled_and_unavailable_responses_carry_retry_after(schema):
    responses = schema["paths"]["/orders/"]["post"]["responses"]

    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]


def test_token_authentication_is_declared_and_basic_only_for_get_token(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["tokenAuth"]["type"] == "apiKey"
    assert (schemes["tokenAuth"]["in"], schemes["tokenAuth"]["name"]) == ("header", "Authorization")
    assert schemes["basicAuth"]["type"] == "http"
    assert schemes["basicAuth"]["scheme"] == "basic"
    assert schema["paths"]["/token/"]["get"]["security"] == [{"basicAuth": []}]
    assert schema["paths"]["/token/"]["post"]["security"] == [{}]
    for method, path, operation in operations(schema):
        if path in {"/", "/token/", "/healthz", "/readyz"} and method != "delete":
            continue
        assert operation["security"] == [{"tokenAuth": []}], (method, path)


def test_the_token_scheme_comes_first_and_says_how_to_type_it(schema):
    schemes = schema["components"]["securitySchemes"]

    assert list(schemes) == ["tokenAuth", "basicAuth"]
    assert "`Authorization: Token <key>`" in schemes["tokenAuth"]["description"]
    assert "type `Token`, a space, then the key" in schemes["tokenAuth"]["description"]


def test_no_scheme_a_client_cannot_use_is_offered(schema):
    """The session cookie authenticates the browsable API after an admin login, but no
    client can set it through Swagger UI's Authorize: it is not in the docs."""
    assert "cookieAuth" not in schema["components"]["securitySchemes"]
    for method, path, operation in operations(schema):
        for requirement in operation.get("security", []):
            assert set(requirement) <= {"tokenAuth", "basicAuth"}, (method, path)


def test_request_bodies_are_described(schema):
    place = schema["paths"]["/orders/"]["post"]["requestBody"]
    ref = place["content"]["application/json"]["schema"]["$ref"]
    items = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]["items"]

    assert place["required"] is True
    assert (items["minItems"], items["maxItems"]) == (1, 500)
    assert "requestBody" in schema["paths"]["/products/{id}/add_to_order/"]["post"]
    assert "requestBody" in schema["paths"]["/token/"]["post"]
    submit = schema["paths"]["/orders/{id}/submit/"]["post"]["requestBody"]
    assert submit.get("required") is not True
    ref = submit["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]) == {
        "po_number",
        "note",
    }


def test_catalogue_and_order_filters_are_parameters(schema):
    def query(path: str) -> set[str]:
        parameters = schema["paths"][path]["get"]["parameters"]
        return {p["name"] for p in parameters if p["in"] == "query"}

    assert query("/products/") >= {"search", "in_stock", "min_price", "max_price", "ordering"}
    assert query("/orders/") >= {"status", "all", "user", "po_number", "page", "page_size"}


def test_the_schema_is_served_without_authentication(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert "/orders/{id}/cancel/" in response.json()["paths"]


def test_the_schema_is_served_as_yaml_by_default(api):
    response = api.get("/api/schema/")

    assert response.status_code == 200
    assert "/orders/{id}/fulfil/" in yaml.safe_load(response.content)["paths"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_ui_is_an_html_page_without_authentication(api, path):
    response = api.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/schema/" in response.content


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_let_the_browser_load_from_this_server_only(api, path):
    """What the bundles would fetch by themselves (ReDoc's logo from its CDN, Swagger UI's
    validator badge) is refused by the browser."""
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in api.get(path)["Content-Security-Policy"].split(";")
    )

    assert policy["default-src"] == "'self'"
    for directive in ("img-src", "script-src", "style-src", "connect-src", "font-src"):
        sources = policy[directive].split()
        assert [s for s in sources if s.startswith(("http", "*")) or "." in s] == [], directive


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_ui_loads_nothing_from_other_hosts(api, path):
    import re

    page = api.get(path).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)

    assert any("/static/drf_spectacular_sidecar/" in asset for asset in assets)
    assert [asset for asset in assets if asset.startswith(("http:", "https:", "//"))] == []


def _handler(method: str, path: str):
    """The view method that serves an operation of the schema."""
    from django.urls import resolve

    match = resolve(path.replace("{id}", "1"))
    view_class = match.func.cls  # type: ignore[attr-defined]
    actions = getattr(match.func, "actions", None) or {}
    return getattr(view_class, actions.get(method, method))


def test_idempotency_key_is_documented_exactly_where_the_decorator_honours_it(schema):
    from opply.idempotency import HEADER, RESPONSES, is_idempotent

    decorated, documented = set(), set()
    for method, path, operation in operations(schema):
        if is_idempotent(_handler(method, path)):
            decorated.add((method, path))
            assert set(RESPONSES) <= set(operation["responses"]), (method, path)
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        if HEADER in headers:
            documented.add((method, path))

    assert decorated == documented
    assert ("post", "/orders/{id}/submit/") in decorated
    assert ("get", "/orders/") not in decorated


def test_swagger_ui_asks_no_online_validator_for_a_badge(api):
    page = api.get("/api/docs/").content.decode()

    assert '"validatorUrl": null' in page
