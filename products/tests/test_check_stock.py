"""`manage.py check_stock` reconciles every product with its ledger."""

import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orders.tests.factories import UserFactory
from products.models import Product, StockMovement
from products.services import stock_adjust
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _check_stock() -> str:
    out = StringIO()
    call_command("check_stock", stdout=out)
    return out.getvalue()


def test_check_stock_is_clean_when_every_product_matches_its_ledger():
    first = ProductFactory(quantity_in_stock=10)
    ProductFactory(quantity_in_stock=3)
    stock_adjust(product_id=first.pk, delta=-4, actor=None)

    output = _check_stock()

    assert output.strip() == "Stock ledger clean: 2 products match their movements."


def test_check_stock_counts_a_product_without_movements_and_zero_stock_as_clean():
    product = ProductFactory(quantity_in_stock=0)
    assert not StockMovement.objects.filter(product=product).exists()

    output = _check_stock()

    assert "1 products match" in output


def test_check_stock_reports_stock_without_any_movement():
    product = ProductFactory(quantity_in_stock=0)
    Product.objects.filter(pk=product.pk).update(quantity_in_stock=5)
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("check_stock", stdout=out)

    assert raised.value.returncode == 1
    assert f"product {product.pk}: quantity_in_stock 5, sum of movements 0" in out.getvalue()


def test_check_stock_lists_every_mismatch_with_both_figures_and_exits_1():
    clean = ProductFactory(quantity_in_stock=7)
    drifted = ProductFactory(quantity_in_stock=10)
    missing_movement = ProductFactory(quantity_in_stock=4)
    Product.objects.filter(pk=drifted.pk).update(quantity_in_stock=8)
    StockMovement.objects.filter(product=missing_movement).delete()
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("check_stock", stdout=out)

    assert raised.value.returncode == 1
    assert str(raised.value).startswith("2 of 3 products do not match their stock ledger.")
    lines = out.getvalue().splitlines()
    assert lines == [
        f"product {drifted.pk}: quantity_in_stock 8, sum of movements 10 (difference -2)",
        f"product {missing_movement.pk}: quantity_in_stock 4, sum of movements 0 (difference +4)",
    ]
    assert f"product {clean.pk}:" not in out.getvalue()


def test_check_stock_reads_the_catalogue_in_one_query(django_assert_num_queries):
    for _ in range(5):
        ProductFactory(quantity_in_stock=2)

    with django_assert_num_queries(1):
        output = _check_stock()

    assert "5 products match" in output


class Terminal(io.StringIO):
    """Standard input as an operator at a terminal would type it."""

    def isatty(self) -> bool:
        return True


def _drifted(stock: int, ledger: int) -> Product:
    """A product whose stock was written past the services: `stock`, with a ledger of `ledger`."""
    product = ProductFactory.create(quantity_in_stock=ledger)
    Product.objects.filter(pk=product.pk).update(quantity_in_stock=stock)
    return product


def _repair(*args: str) -> str:
    out = StringIO()
    call_command("check_stock", "--repair", *args, stdout=out)
    return out.getvalue()


def test_a_mismatch_report_says_how_to_repair_it():
    _drifted(stock=8, ledger=10)

    with pytest.raises(CommandError) as raised:
        _check_stock()

    assert raised.value.returncode == 1
    assert "run: manage.py check_stock --repair --actor USERNAME" in str(raised.value)
    assert not StockMovement.objects.filter(reason="reconcile").exists()


def test_repair_writes_one_reconcile_movement_per_mismatch_for_the_actor():
    staff = UserFactory(username="keeper", is_staff=True)
    short, extra = _drifted(stock=8, ledger=10), _drifted(stock=5, ledger=0)
    clean = ProductFactory(quantity_in_stock=3)

    output = _repair("--actor", "keeper", "--yes")

    assert "Wrote 2 reconcile movement(s) for keeper" in output
    written = StockMovement.objects.filter(reason="reconcile").order_by("product_id")
    assert [(m.product_id, m.delta, m.quantity_after, m.actor, m.note) for m in written] == [
        (short.pk, -2, 8, staff, "check_stock --repair"),
        (extra.pk, 5, 5, staff, "check_stock --repair"),
    ]
    assert dict(Product.objects.values_list("pk", "quantity_in_stock")) == {
        short.pk: 8,
        extra.pk: 5,
        clean.pk: 3,
    }
    assert _check_stock().startswith("Stock ledger clean: 3 products")


def test_repair_asks_at_a_terminal_and_writes_on_yes(monkeypatch):
    UserFactory(username="keeper", is_staff=True)
    product = _drifted(stock=8, ledger=10)
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))

    output = _repair("--actor", "keeper")

    assert "Write 1 reconcile movement(s) for keeper? [y/N]" in output
    assert product.movements.filter(reason="reconcile", delta=-2).count() == 1


def test_repair_declined_at_the_terminal_writes_nothing(monkeypatch):
    UserFactory(username="keeper", is_staff=True)
    _drifted(stock=8, ledger=10)
    monkeypatch.setattr("sys.stdin", Terminal("\n"))

    with pytest.raises(CommandError) as raised:
        _repair("--actor", "keeper")

    assert raised.value.returncode == 1
    assert str(raised.value).endswith("Nothing was written.")
    assert not StockMovement.objects.filter(reason="reconcile").exists()


def test_repair_without_a_terminal_needs_yes(monkeypatch):
    UserFactory(username="keeper", is_staff=True)
    _drifted(stock=8, ledger=10)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    with pytest.raises(CommandError, match="add --yes to repair without one"):
        _repair("--actor", "keeper")

    assert not StockMovement.objects.filter(reason="reconcile").exists()


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        ((), "--repair needs --actor USERNAME"),
        (("--actor", "buyer"), "--actor buyer: no active staff user"),
        (("--actor", "nobody"), "--actor nobody: no active staff user"),
    ],
)
def test_repair_is_written_for_an_existing_staff_user_only(args, refusal):
    UserFactory(username="buyer")
    _drifted(stock=8, ledger=10)

    with pytest.raises(CommandError, match=refusal):
        _repair(*args, "--yes")

    assert not StockMovement.objects.filter(reason="reconcile").exists()
