"""The catalogue page's ETag comes from the catalogue marker when there is a shared cache, so
a client that holds it gets its 304 without the page being read; every product write, stock
change and import gives the page a new ETag (products/counts.py, API.md section 7)."""

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opply.conditional import content_etag
from products import counts
from products.models import Product
from products.services import product_update
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _shared_cache(settings):
    """A cache other than the database table, as with Redis in production, emptied."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    counts._counts.clear()


def _etag(client, query: str = "") -> str:
    response = client.get(f"/products/{query}")
    assert response.status_code == 200
    return response["ETag"]


def test_a_held_etag_is_answered_304_without_reading_the_catalogue(buyer_api):
    ProductFactory.create_batch(2)
    first = buyer_api.get("/products/")
    with CaptureQueriesContext(connection) as queries:
        again = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=first["ETag"])

    assert first["ETag"].startswith('W/"c')
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", first["ETag"])
    assert [q["sql"] for q in queries if "products_product" in q["sql"]] == []


def test_callers_formats_and_parameters_have_etags_of_their_own(buyer_api, staff_api):
    ProductFactory()
    buyer = _etag(buyer_api)
    assert _etag(buyer_api) == buyer
    other_host = buyer_api.get("/products/", HTTP_HOST="localhost")["ETag"]
    assert len({buyer, _etag(staff_api), _etag(buyer_api, "?page_size=1"), other_host}) == 4
    browsable = buyer_api.get("/products/?format=api", HTTP_IF_NONE_MATCH=buyer)
    staff = staff_api.get("/products/", HTTP_IF_NONE_MATCH=buyer)
    assert (browsable.status_code, staff.status_code) == (200, 200)


def test_a_price_change_gives_a_new_etag(buyer_api):
    oats = ProductFactory()
    before = _etag(buyer_api)
    product_update(product_id=oats.pk, actor=None, price="9.99")
    response = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response.json()["results"][0]["price"] == "9.99"
    assert response["ETag"] != before


def test_a_submit_that_takes_stock_gives_a_new_etag(buyer_api):
    oats = ProductFactory(quantity_in_stock=5)
    cart = buyer_api.post(f"/products/{oats.pk}/add_to_order/", {"quantity": 2}).json()
    before = _etag(buyer_api)
    submitted = buyer_api.post(f"/orders/{cart['id']}/submit/")
    assert submitted.status_code == 200, submitted.content
    assert Product.objects.get(pk=oats.pk).quantity_in_stock == 3
    response = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response.json()["results"][0]["quantity_in_stock"] == 3


def test_an_import_gives_a_new_etag(buyer_api, tmp_path):
    ProductFactory(sku="FL-1", name="Flour", price="2.00", quantity_in_stock=10)
    before = _etag(buyer_api)
    path = tmp_path / "catalogue.csv"
    path.write_text("sku,name,price,quantity_in_stock\nFL-1,Flour,2.00,4\n", encoding="utf-8")
    call_command("import_products", str(path), stdout=StringIO(), stderr=StringIO())
    response = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response.json()["results"][0]["quantity_in_stock"] == 4


def test_a_change_around_the_services_is_seen_within_the_max_age(buyer_api, monkeypatch):
    oats = ProductFactory()
    clock = [1_000_000.0]
    monkeypatch.setattr(counts.time, "time", lambda: clock[0])
    before = _etag(buyer_api)
    Product.objects.filter(pk=oats.pk).update(name="Renamed by hand")
    clock[0] += counts.MAX_AGE_S
    response = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response.json()["results"][0]["name"] == "Renamed by hand"


def test_a_star_waits_for_the_page_to_exist(buyer_api):
    ProductFactory()
    assert buyer_api.get("/products/", HTTP_IF_NONE_MATCH="*").status_code == 304
    assert buyer_api.get("/products/?page=9", HTTP_IF_NONE_MATCH="*").status_code == 404


@pytest.mark.usefixtures("database_cache")
def test_without_a_shared_cache_the_etag_is_the_page_hash(buyer_api):
    ProductFactory()
    response = buyer_api.get("/products/")
    assert response["ETag"] == content_etag(response.content)
    again = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
