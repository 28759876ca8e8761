"""`manage.py import_products`: all rows checked first, upsert by SKU, stock through the ledger."""

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from products.importing import ImportRow, products_import
from products.models import Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.csv"
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


def run_import(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_products", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def assert_ledger_matches_stock() -> None:
    for product in Product.objects.all():
        total = product.movements.aggregate(total=Sum("delta"))["total"] or 0
        assert total == product.quantity_in_stock, product.sku


def test_import_creates_products_with_their_stock_as_import_movements(tmp_path):
    path = write_csv(
        tmp_path,
        """
sku,name,price,quantity_in_stock,is_active
FL-1,Flour,2.50,10,true
SU-1,Sugar,1.2,0,false
""",
    )

    out, err = run_import(path)

    assert "2 created, 0 updated, 0 unchanged; 1 stock movement(s)" in out
    assert err == ""
    flour, sugar = Product.objects.order_by("sku")
    assert (flour.sku, flour.name, flour.price, flour.quantity_in_stock, flour.is_active) == (
        "FL-1",
        "Flour",
        Decimal("2.50"),
        10,
        True,
    )
    assert (sugar.price, sugar.quantity_in_stock, sugar.is_active) == (Decimal("1.20"), 0, False)
    movement = flour.movements.get()
    assert (movement.delta, movement.reason, movement.note, movement.quantity_after) == (
        10,
        "import",
        "import catalogue.csv",
        10,
    )
    assert not sugar.movements.exists()
    assert_ledger_matches_stock()


def test_import_reports_every_bad_row_with_its_line_and_writes_nothing(tmp_path):
    existing = ProductFactory(sku="OLD-1", name="Old", quantity_in_stock=5)
    path = write_csv(
        tmp_path,
        """
sku,name,price,quantity_in_stock
OLD-1,Renamed,1.00,50
BAD-1,Bad price,abc,1
,No sku,1.00,1
BAD-2,Negative stock,1.00,-3
BAD-3,Too precise,1.005,2
OLD-1,Twice,1.00,1
""",
    )

    with pytest.raises(CommandError, match="5 invalid row"):
        run_import(path)

    existing.refresh_from_db()
    assert (existing.name, existing.quantity_in_stock) == ("Old", 5)
    assert Product.objects.count() == 1
    assert not StockMovement.objects.filter(reason="import").exists()


def test_bad_rows_are_listed_together_on_stderr(tmp_path):
    path = write_csv(
        tmp_path,
        """
sku,name,price,quantity_in_stock,is_active
OK-1,Fine,1.00,1,yes
BAD-1,Bad price,abc,1,maybe
,No sku,1.00,x
OK-1,Twice,1.00,1
""",
    )
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_products", str(path), stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "line 3: price: 'abc' is not a number; is_active: 'maybe' is not true/false",
        "line 4: sku: required; quantity_in_stock: 'x' is not a whole number",
        "line 5: sku 'OK-1' already appears on line 2",
    ]
    assert not Product.objects.exists()


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(tmp_path):
    path = write_csv(
        tmp_path,
        """
sku,name,price,quantity_in_stock
OK-1,Fine,1.00,4
BAD-1,Bad,-1,1
OK-2,Also fine,3,0
""",
    )

    out, err = run_import(path, "--skip-invalid")

    assert "2 created" in out
    assert "1 invalid row(s) skipped" in out
    assert err.strip() == "line 3: price: -1 is negative"
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["OK-1", "OK-2"]
    assert_ledger_matches_stock()


def test_upsert_updates_by_sku_and_records_stock_differences_as_import(tmp_path):
    flour = ProductFactory(sku="FL-1", name="Flour", price="2.00", quantity_in_stock=10)
    salt = ProductFactory(sku="SA-1", name="Salt", price="1.00", quantity_in_stock=3)
    same = ProductFactory(sku="SAME", name="Same", price="1.00", quantity_in_stock=7)
    inactive = ProductFactory(sku="OFF", name="Off", price="1.00", quantity_in_stock=1)
    Product.objects.filter(pk=inactive.pk).update(is_active=False)
    path = write_csv(
        tmp_path,
        """
sku,name,price,quantity_in_stock
FL-1,Wheat flour,2.20,4
SA-1,Salt,1.50,3
SAME,Same,1.00,7
OFF,Off,1.00,6
NEW-1,New,9.99,2
""",
    )

    out, _ = run_import(path)

    assert "1 created, 3 updated, 1 unchanged; 3 stock movement(s)" in out
    flour.refresh_from_db()
    salt.refresh_from_db()
    inactive.refresh_from_db()
    assert (flour.name, flour.price, flour.quantity_in_stock) == ("Wheat flour", Decimal("2.20"), 4)
    assert (salt.price, salt.quantity_in_stock) == (Decimal("1.50"), 3)
    assert (inactive.quantity_in_stock, inactive.is_active) == (6, False)
    imports = StockMovement.objects.filter(reason="import").order_by("product__sku")
    assert [(m.product.sku, m.delta, m.quantity_after) for m in imports] == [
        ("FL-1", -6, 4),
        ("NEW-1", 2, 2),
        ("OFF", 5, 6),
    ]
    assert not salt.movements.filter(reason="import").exists()
    assert not same.movements.filter(reason="import").exists()
    assert_ledger_matches_stock()


def test_importing_the_same_file_twice_changes_nothing_the_second_time(tmp_path):
    path = write_csv(tmp_path, "sku,name,price,quantity_in_stock\nA,Apple,1,5\nB,Pear,2,6\n")
    run_import(path)

    out, _ = run_import(path)

    assert "0 created, 0 updated, 2 unchanged; 0 stock movement(s)" in out
    assert StockMovement.objects.count() == 2
    assert_ledger_matches_stock()


def test_import_in_small_batches_gives_the_same_result(tmp_path):
    existing = [
        ProductFactory(sku=f"P{i:02d}", name=f"Product {i}", price="1.00", quantity_in_stock=i)
        for i in range(7)
    ]
    rows = "".join(f"P{i:02d},Product {i},1.00,{i * 2}\n" for i in range(12))
    path = write_csv(tmp_path, "sku,name,price,quantity_in_stock\n" + rows)

    out, _ = run_import(path, "--batch-size", "3")

    assert "5 created, 6 updated, 1 unchanged; 11 stock movement(s)" in out
    assert Product.objects.count() == 12
    assert [p.quantity_in_stock for p in Product.objects.order_by("sku")] == [
        i * 2 for i in range(12)
    ]
    assert existing[0].movements.count() == 0  # P00 had and has 0
    assert_ledger_matches_stock()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("sku,name,price\nA,B,1\n", "missing column"),
        ("sku,name,price,quantity_in_stock,colour\n", "unknown column"),
    ],
)
def test_a_bad_header_is_refused(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)

    with pytest.raises(CommandError, match=message):
        run_import(path)

    assert not Product.objects.exists()


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run_import(tmp_path / "nope.csv")


def test_the_service_refuses_a_sku_given_twice():

    row = ImportRow(
        line=2, sku="A", name="A", price=Decimal(1), quantity_in_stock=1, is_active=None
    )

    with pytest.raises(ValueError, match="only once"):
        products_import(rows=[row, row], actor=None)

    assert not Product.objects.exists()


def test_import_sets_quantity_rules_and_bumps_the_version_of_changed_products(tmp_path):
    eggs = ProductFactory(sku="EG-1", name="Eggs", price=Decimal("2.00"), quantity_in_stock=60)
    salt = ProductFactory(sku="SA-1", name="Salt", price=Decimal("1.00"), quantity_in_stock=5)
    path = write_csv(
        tmp_path,
        """
sku,name,price,quantity_in_stock,min_order_quantity,order_increment,max_order_quantity
EG-1,Eggs,2.00,60,12,6,48
SA-1,Salt,1.00,5,,,
NE-1,Nuts,3.00,0,10,5,
""",
    )

    out, err = run_import(path)

    assert "1 created, 1 updated, 1 unchanged" in out
    assert err == ""
    eggs.refresh_from_db()
    salt.refresh_from_db()
    nuts = Product.objects.get(sku="NE-1")
    rules = [
        (p.min_order_quantity, p.order_increment, p.max_order_quantity, p.version)
        for p in (eggs, salt, nuts)
    ]
    assert rules == [(12, 6, 48, 2), (1, 1, None, 1), (10, 5, None, 1)]


def test_import_refuses_incoherent_rules_by_line(tmp_path):
    ProductFactory(sku="EG-1", quantity_in_stock=1)
    path = write_csv(
        tmp_path,
        """
sku,name,price,quantity_in_stock,min_order_quantity,order_increment,max_order_quantity
EG-1,Eggs,2.00,1,10,6,
NE-1,Nuts,3.00,1,6,6,3
OK-1,Fine,3.00,1,0,x,
""",
    )

    with pytest.raises(CommandError, match="3 invalid row"):
        run_import(path)

    parsed_errors = Product.objects.filter(sku__in=["NE-1", "OK-1"]).exists()
    assert not parsed_errors
    assert Product.objects.get(sku="EG-1").min_order_quantity == 1


def test_a_partial_rule_column_is_merged_with_the_products_own_rules(tmp_path):
    ProductFactory(sku="EG-1", quantity_in_stock=1, min_order_quantity=12, order_increment=6)
    keeps = write_csv(
        tmp_path, "sku,name,price,quantity_in_stock,max_order_quantity\nEG-1,Eggs,2.00,1,60\n"
    )
    run_import(keeps)
    breaks = tmp_path / "breaks.csv"
    breaks.write_text("sku,name,price,quantity_in_stock,order_increment\nEG-1,Eggs,2.00,1,5\n")
    err = StringIO()

    with pytest.raises(CommandError, match="incoherent quantity rules"):
        call_command("import_products", str(breaks), stdout=StringIO(), stderr=err)

    assert "line 2: min_order_quantity: Must be a multiple of the order increment (5)" in (
        err.getvalue()
    )
    eggs = Product.objects.get(sku="EG-1")
    assert (eggs.min_order_quantity, eggs.order_increment, eggs.max_order_quantity) == (12, 6, 60)


@pytest.mark.django_db(transaction=True)
def test_each_batch_is_committed_before_the_next_begins():
    # Buyers' writes get the lock between batches: nothing of the import is held open
    # across them, and what a batch wrote is already committed when the next one starts.
    rows = [
        ImportRow(
            line=n + 2,
            sku=f"S{n}",
            name=f"P{n}",
            price=Decimal(1),
            quantity_in_stock=n,
            is_active=None,
        )
        for n in range(7)
    ]
    seen: list[tuple[bool, int]] = []

    def progress(_: int) -> None:
        seen.append((connection.in_atomic_block, Product.objects.count()))

    summary = products_import(rows=rows, actor=None, batch_size=3, on_progress=progress)

    assert seen == [(False, 3), (False, 6), (False, 7)]
    assert (summary.created, summary.movements) == (7, 6)
    assert_ledger_matches_stock()


def test_a_latin_1_file_is_refused_naming_the_line_and_how_to_read_it(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_bytes("sku,name,price,quantity_in_stock\nCR-1,Café,2.50,3\n".encode("latin-1"))

    with pytest.raises(CommandError) as raised:
        run_import(path)

    message = str(raised.value)
    assert message == (
        f"{path} is not UTF-8 text at line 2, column 9 (byte 0xe9): save it as UTF-8, "
        "or give its encoding, e.g. --encoding latin-1 (or cp1252)."
    )
    assert not Product.objects.exists()


def test_a_latin_1_file_imports_with_its_encoding(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_bytes("sku,name,price,quantity_in_stock\nCR-1,Café,2.50,3\n".encode("latin-1"))

    run_import(path, "--encoding", "latin-1")

    assert Product.objects.get().name == "Café"


def test_an_unknown_encoding_is_refused(tmp_path):
    path = write_csv(tmp_path, "sku,name,price,quantity_in_stock\n")

    with pytest.raises(CommandError, match="Unknown encoding 'klingon'"):
        run_import(path, "--encoding", "klingon")


def test_the_help_shows_the_defaults():
    from products.importing import IMPORT_BATCH_SIZE
    from products.management.commands.import_products import Command

    help_text = " ".join(
        Command().create_parser("manage.py", "import_products").format_help().split()
    )

    assert f"buyers writing between batches (default: {IMPORT_BATCH_SIZE})" in help_text
    assert "(default: utf-8-sig," in help_text
