"""The catalogue's count is remembered while nothing changes, and every product write and
stock change (a submit included) is seen by the next page (products/counts.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products import counts
from products.models import Product
from products.services import product_create, product_update
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _shared_cache(settings):
    """A cache other than the database table, as with Redis in production."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    counts._counts.clear()


def _count(client, query: str = "") -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/products/{query}")
    assert response.status_code == 200
    return response.json()["count"], [q["sql"] for q in queries if "COUNT(" in q["sql"]]


def test_pages_of_an_unchanged_catalogue_count_once(buyer_api):
    ProductFactory.create_batch(3)
    assert _count(buyer_api)[0] == 3
    assert _count(buyer_api, "?page_size=1&page=2") == (3, [])
    assert _count(buyer_api, "?page=1") == (3, [])


def test_filters_and_caller_kinds_are_counted_apart(buyer_api, staff_api):
    ProductFactory.create_batch(2)
    ProductFactory(is_active=False, quantity_in_stock=0)
    assert _count(buyer_api)[0] == 2
    assert _count(staff_api)[0] == 3
    assert _count(staff_api, "?in_stock=false")[0] == 1
    assert _count(buyer_api, "?search=nothing-like-it")[0] == 0


def test_every_product_write_is_seen_by_the_next_page(buyer_api):
    oats = ProductFactory()
    assert _count(buyer_api)[0] == 1
    product_create(actor=None, name="Rye", price="2.00", quantity_in_stock=5)
    count, counted = _count(buyer_api)
    assert (count, len(counted)) == (2, 1)
    product_update(product_id=oats.pk, actor=None, is_active=False)
    assert _count(buyer_api)[0] == 1


def test_a_submit_that_empties_a_product_is_seen_by_the_in_stock_count(buyer_api):
    last = ProductFactory(quantity_in_stock=1)
    ProductFactory(quantity_in_stock=5)
    assert _count(buyer_api, "?in_stock=true")[0] == 2
    placed = buyer_api.post(
        "/orders/", {"items": [{"product": last.pk, "quantity": 1}]}, format="json"
    )
    assert placed.status_code == 201
    assert Product.objects.get(pk=last.pk).quantity_in_stock == 0
    assert _count(buyer_api, "?in_stock=true")[0] == 1
    assert _count(buyer_api, "?in_stock=false")[0] == 1


@pytest.mark.usefixtures("database_cache")
def test_without_a_shared_cache_every_page_counts(buyer_api):
    ProductFactory()
    assert len(_count(buyer_api)[1]) == 1
    assert len(_count(buyer_api)[1]) == 1


class _CountingReads:
    """The shared cache, with every key read from it written down."""

    def __init__(self, cache):
        self.cache, self.read = cache, []

    def get(self, key, *args, **kwargs):
        self.read.append(key)
        return self.cache.get(key, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.cache, name)


def test_a_page_reads_the_marker_once_for_its_count_and_its_etag(buyer_api, monkeypatch):
    ProductFactory.create_batch(2)
    _count(buyer_api)  # a marker to go by
    reads = _CountingReads(counts.cache)
    monkeypatch.setattr(counts, "cache", reads)

    for query in ("", "?page_size=1&page=2", "?search=x"):
        reads.read.clear()
        response = buyer_api.get(f"/products/{query}")
        assert response.status_code == 200
        assert response["ETag"].startswith('W/"c')
        assert reads.read == [counts.MARKER_KEY]
    product_create(actor=None, name="Rye", price="2.00", quantity_in_stock=5)
    assert _count(buyer_api)[0] == 3
