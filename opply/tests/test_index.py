"""`GET /` answers where everything is; `/favicon.ico` is served for the admin and docs."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

# Each link of the index and what an anonymous caller gets there.
LINKS = {
    "docs": ("/api/docs/", 200),
    "redoc": ("/api/redoc/", 200),
    "schema": ("/api/schema/", 200),
    "token": ("/token/", 401),
    "products": ("/products/", 401),
    "orders": ("/orders/", 401),
    "events": ("/events/", 401),
    "webhooks": ("/webhooks/", 401),
    "admin": ("/admin/", 302),
}


def test_the_root_is_a_json_index_of_absolute_links(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["name"] == "opply API"
    assert "'Authorization: Token <key>'" in body["authentication"]
    assert body["links"] == {name: f"http://testserver{path}" for name, (path, _) in LINKS.items()}


def test_every_link_of_the_index_leads_somewhere(api):
    for name, url in api.get("/").json()["links"].items():
        response = api.get(url.removeprefix("http://testserver"))

        assert response.status_code == LINKS[name][1], name


def test_the_index_needs_no_token_even_a_wrong_one(api):
    api.credentials(HTTP_AUTHORIZATION="Token wrong")

    assert api.get("/").status_code == 200


def test_the_favicon_is_served(api):
    response = api.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(response.streaming_content).startswith(b"\x00\x00\x01\x00")  # an ICO
