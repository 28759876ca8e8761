"""`manage.py seed_demo`: demo data on development machines only, never duplicated."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Sum

from products.models import Product, StockMovement

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    pairs = [line.split("(")[0].split(" / ") for line in output.splitlines() if " / " in line]
    return {name.strip(): password.strip() for name, password in pairs[1:]}


def test_seed_demo_refuses_without_debug_or_force(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        seed()

    assert not Product.objects.exists()
    assert not get_user_model().objects.exists()


def test_seed_demo_creates_catalogue_and_users_whose_printed_credentials_work(settings):
    settings.DEBUG = True

    output = seed()

    passwords = printed_passwords(output)
    assert set(passwords) == {"demo-staff", "demo-buyer-1", "demo-buyer-2"}
    staff = authenticate(username="demo-staff", password=passwords["demo-staff"])
    buyer = authenticate(username="demo-buyer-1", password=passwords["demo-buyer-1"])
    assert staff is not None
    assert staff.is_staff
    assert staff.is_superuser
    assert buyer is not None
    assert not buyer.is_staff
    assert Product.objects.filter(sku__startswith="DEMO-").count() == 7
    eggs = Product.objects.get(sku="DEMO-EGGS")
    assert (eggs.min_order_quantity, eggs.order_increment, eggs.max_order_quantity) == (12, 6, 120)
    stock = Product.objects.aggregate(total=Sum("quantity_in_stock"))["total"]
    assert StockMovement.objects.aggregate(total=Sum("delta"))["total"] == stock
    assert set(StockMovement.objects.values_list("reason", flat=True)) == {"initial"}


def test_seed_demo_twice_duplicates_nothing_and_keeps_stock(settings):
    settings.DEBUG = True
    seed()
    flour = Product.objects.get(sku="DEMO-FLOUR")
    Product.objects.filter(pk=flour.pk).update(quantity_in_stock=3)

    output = seed("--password", "demo pass 123")

    assert "(0 new)" in output
    assert Product.objects.count() == 7
    assert get_user_model().objects.count() == 3
    assert StockMovement.objects.count() == 6
    flour.refresh_from_db()
    assert flour.quantity_in_stock == 3
    assert authenticate(username="demo-buyer-2", password="demo pass 123") is not None


def test_seed_demo_runs_with_force_when_debug_is_off(settings):
    settings.DEBUG = False

    output = seed("--force")

    assert "demo-staff / " in output
    assert Product.objects.count() == 7
