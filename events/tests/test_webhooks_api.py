"""/webhooks/: staff manage endpoints; the secret is shown once; unsafe URLs are refused."""

from __future__ import annotations

import pytest

from events.models import Delivery, WebhookEndpoint
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PUBLIC = "https://8.8.8.8/hooks"


def test_staff_add_an_endpoint_and_see_its_secret_once(staff_api):
    created = staff_api.post(
        "/webhooks/",
        {"url": PUBLIC, "events": ["order.submitted"], "description": "ERP"},
    )

    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert {k: body[k] for k in ("url", "events", "is_active", "description")} == {
        "url": PUBLIC,
        "events": ["order.submitted"],
        "is_active": True,
        "description": "ERP",
    }
    listed = staff_api.get("/webhooks/").json()["results"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in staff_api.get(f"/webhooks/{body['id']}/").json()
    assert WebhookEndpoint.objects.get().secret == body["secret"]


def test_rotating_the_secret_shows_a_new_one_once(staff_api):
    endpoint = staff_api.post("/webhooks/", {"url": PUBLIC}).json()

    rotated = staff_api.post(f"/webhooks/{endpoint['id']}/rotate_secret/")

    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != endpoint["secret"]
    assert WebhookEndpoint.objects.get().secret == rotated.json()["secret"]


def test_patch_and_delete(staff_api):
    endpoint = staff_api.post("/webhooks/", {"url": PUBLIC}).json()

    patched = staff_api.patch(f"/webhooks/{endpoint['id']}/", {"is_active": False})
    deleted = staff_api.delete(f"/webhooks/{endpoint['id']}/")

    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    assert deleted.status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_buyers_may_not_touch_webhooks(buyer_api):
    assert buyer_api.get("/webhooks/").status_code == 403
    assert buyer_api.post("/webhooks/", {"url": PUBLIC}).status_code == 403


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://8.8.8.8/hooks", "https://"),
        ("ftp://8.8.8.8/", "https://"),
        ("https://127.0.0.1/", "loopback"),
        ("https://localhost/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://10.1.2.3/", "private"),
        ("https://192.168.0.10/", "private"),
        ("https://[fd00::1]/", "private"),
        ("https://[::ffff:10.0.0.1]/", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://224.0.0.1/", "multicast"),
        ("https://[ff02::1]/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://[::]/", "unspecified"),
        ("https://100.64.0.1/", "reserved"),
        ("https://[64:ff9b::7f00:1]/", "loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),
        ("https://[64:ff9b::10.0.0.5]/", "private"),
        ("https://[64:ff9b:1::808:808]/", "reserved"),
        ("https://[2002:7f00:1::]/", "loopback"),
        ("https://[2002:a9fe:a9fe::]/", "link-local"),
        ("https://[::127.0.0.1]/", "loopback"),
        ("https://[::a9fe:a9fe]/", "link-local"),
        ("https://[::8.8.8.8]/", "reserved"),
        ("https://[::ffff:0:7f00:1]/", "loopback"),
        ("https://[::ffff:0:808:808]/", "reserved"),
        ("https://user:pw@8.8.8.8/", "password"),
        ("https://no-such-host.invalid/", "resolved"),
    ],
)
def test_unsafe_urls_are_refused_at_save_naming_the_reason(staff_api, url, reason):
    response = staff_api.post("/webhooks/", {"url": url})

    assert response.status_code == 400
    assert reason in response.json()["errors"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_the_guards_can_be_lifted_for_development(staff_api, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True

    response = staff_api.post("/webhooks/", {"url": "http://127.0.0.1:9/hooks"})

    assert response.status_code == 201


def test_unknown_event_types_are_refused(staff_api):
    response = staff_api.post("/webhooks/", {"url": PUBLIC, "events": ["order.exploded"]})

    assert response.status_code == 400
    assert "events" in response.json()["errors"]


def test_redeliver_queues_the_event_again_and_deliveries_list_it(staff_api, buyer):
    endpoint = staff_api.post("/webhooks/", {"url": PUBLIC}).json()
    ProductFactory()
    from events.models import Event

    event = Event.objects.get(type="product.created")

    queued = staff_api.post(f"/webhooks/{endpoint['id']}/redeliver/", {"event": event.pk})
    listed = staff_api.get(f"/webhooks/{endpoint['id']}/deliveries/")

    assert queued.status_code == 202
    assert queued.json()["state"] == "pending"
    assert queued.json()["webhook_id"] == f"msg_{event.pk}_{endpoint['id']}"
    assert [d["event"] for d in listed.json()["results"]] == [event.pk]
    assert Delivery.objects.get().state == "pending"
    missing = staff_api.post(f"/webhooks/{endpoint['id']}/redeliver/", {"event": 10**9})
    assert missing.status_code == 404


def test_check_deploy_warns_when_the_guards_are_lifted_without_debug(settings):
    from events.checks import webhook_guards

    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True

    assert [w.id for w in webhook_guards()] == ["events.W001", "events.W002"]
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert webhook_guards() == []


@pytest.mark.parametrize(
    "url",
    ["https://[64:ff9b::808:808]/", "https://[2002:808:808::]/", "https://[2001:4860:4860::8888]/"],
)
def test_ipv6_forms_of_public_addresses_are_accepted(staff_api, url):
    response = staff_api.post("/webhooks/", {"url": url})

    assert response.status_code == 201
    assert WebhookEndpoint.objects.get().url == url


def test_redeliver_refuses_an_event_the_endpoint_never_subscribed_to(staff_api):
    endpoint = staff_api.post("/webhooks/", {"url": PUBLIC, "events": ["order.submitted"]}).json()
    ProductFactory()
    from events.models import Event

    event = Event.objects.get(type="product.created")

    refused = staff_api.post(f"/webhooks/{endpoint['id']}/redeliver/", {"event": event.pk})

    assert refused.status_code == 409
    assert refused.json()["code"] == "event_not_subscribed"
    assert refused.json()["type"] == "product.created"
    assert not Delivery.objects.exists()
