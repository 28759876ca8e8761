"""The benchmark dataset, loaded into an empty (or emptied) PostgreSQL database with COPY.

10,000 products, 1,000 buyers with API tokens and a three-line cart each, and 10,000
historical orders (submitted or fulfilled) of 1 to 20 lines spread over the last year,
with the stock ledger that explains every product's stock: an initial movement per
product and a submit movement per historical line, so `manage.py check_stock` holds.

Run with the project's settings in the environment (bench/run.py does):
    python bench/dataset.py
It prints the buyers' tokens, the visible product ids and the deep page as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

PRODUCTS = 10_000
BUYERS = 1_000
ORDERS = 10_000
MAX_LINES = 20
CART_LINES = 3
STOCK = 1_000_000  # left on every product once history is applied: no scenario runs short
PAGE_SIZE = 20
SEED = 6

ADJECTIVES = ["Organic", "Roasted", "Raw", "Fine", "Coarse", "Dried", "Premium", "Bulk"]
NOUNS = [
    "Oat Flour", "Cane Sugar", "Cocoa Powder", "Almonds", "Hazelnuts", "Sea Salt",
    "Vanilla Pods", "Rice Flour", "Coconut Oil", "Chickpeas", "Lentils", "Quinoa",
    "Sunflower Seeds", "Pea Protein", "Oat Milk Base", "Malt Extract",
]  # fmt: skip
SIZES = ["1 kg", "5 kg", "10 kg", "25 kg", "500 g", "1 t"]
# Search terms the catalogue search scenario picks from; each matches many products.
SEARCH_TERMS = ["flour", "sugar", "cocoa", "seeds", "salt", "organic", "oil", "lentils"]

TABLES = [
    "orders_orderline",
    "orders_order",
    "products_stockmovement",
    "products_product",
    "authtoken_token",
    "opply_idempotencyrecord",
    "auth_user",
]


def _copy(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opply.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("The benchmark dataset needs PostgreSQL (set DATABASE_URL=postgres://...).")

    started = time.monotonic()
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    year_ago = now - timedelta(days=365)

    name_of: dict[int, str] = {}
    price_of: dict[int, Decimal] = {}
    for pk in range(1, PRODUCTS + 1):
        name_of[pk] = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(SIZES)} #{pk}"
        price_of[pk] = Decimal(rng.randrange(50, 50_000)) / 100
    visible = [pk for pk in price_of if pk % 100 != 0]  # every hundredth product inactive
    active = set(visible)

    password = make_password("bench-password")
    buyers = list(range(1, BUYERS + 1))
    tokens = {pk: f"{rng.getrandbits(160):040x}" for pk in buyers}

    # Historical orders, oldest first, with the lines that took stock.
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    taken = dict.fromkeys(price_of, 0)
    for pk in range(1, ORDERS + 1):
        created = year_ago + timedelta(seconds=(pk * 365 * 86_400) // (ORDERS + 1))
        submitted = created + timedelta(minutes=rng.randrange(1, 120))
        fulfilled = submitted + timedelta(days=2) if rng.random() < 0.15 else None
        status = "fulfilled" if fulfilled else "submitted"
        user = rng.choice(buyers)
        total = Decimal(0)
        for product_id in rng.sample(visible, rng.randint(1, MAX_LINES)):
            quantity = rng.randint(1, 50)
            total += price_of[product_id] * quantity
            taken[product_id] += quantity
            lines.append((pk, product_id, quantity, price_of[product_id], submitted, user))
        orders.append((pk, user, status, total, created, submitted, None, fulfilled))

    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        _copy(
            cursor,
            "auth_user",
            [
                "id", "password", "is_superuser", "username", "first_name", "last_name",
                "email", "is_staff", "is_active", "date_joined",
            ],
            (
                (pk, password, False, f"buyer{pk:04d}", "", "", f"buyer{pk:04d}@example.com",
                 False, True, year_ago)
                for pk in buyers
            ),
        )  # fmt: skip
        _copy(
            cursor,
            "authtoken_token",
            ["key", "user_id", "created"],
            ((key, pk, year_ago) for pk, key in tokens.items()),
        )
        _copy(
            cursor,
            "products_product",
            ["id", "name", "sku", "price", "quantity_in_stock", "is_active", "created_at",
             "updated_at"],
            (
                (pk, name_of[pk], f"SKU-{pk:06d}", price_of[pk], STOCK, pk in active, year_ago,
                 year_ago)
                for pk in price_of
            ),
        )  # fmt: skip
        _copy(
            cursor,
            "orders_order",
            ["id", "user_id", "status", "total_amount", "created_at", "submitted_at",
             "cancelled_at", "fulfilled_at"],
            orders,
        )  # fmt: skip
        # Each buyer's active cart, newer than any historical order.
        carts = [(ORDERS + pk, pk, "active", Decimal(0), now, None, None, None) for pk in buyers]
        _copy(
            cursor,
            "orders_order",
            ["id", "user_id", "status", "total_amount", "created_at", "submitted_at",
             "cancelled_at", "fulfilled_at"],
            carts,
        )  # fmt: skip
        cart_lines: list[tuple[Any, ...]] = [
            (order[0], product_id, rng.randint(1, 5), None)
            for order in carts
            for product_id in rng.sample(visible, CART_LINES)
        ]
        _copy(
            cursor,
            "orders_orderline",
            ["order_id", "product_id", "quantity", "unit_price"],
            [(o, p, q, u) for o, p, q, u, _, _ in lines] + cart_lines,
        )

        # The ledger: initial stock, then every historical submit in time order.
        stock = {pk: STOCK + taken[pk] for pk in price_of}
        movements: list[tuple[Any, ...]] = [
            (pk, stock[pk], "initial", None, None, "", stock[pk], year_ago) for pk in price_of
        ]
        for order_id, product_id, quantity, _, submitted, user in lines:
            stock[product_id] -= quantity
            movements.append(
                (product_id, -quantity, "submit", order_id, user, "", stock[product_id], submitted)
            )
        _copy(
            cursor,
            "products_stockmovement",
            ["product_id", "delta", "reason", "order_id", "actor_id", "note", "quantity_after",
             "created_at"],
            movements,
        )  # fmt: skip

        for table in ("auth_user", "products_product", "orders_order", "orders_orderline",
                      "products_stockmovement"):  # fmt: skip
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")

    print(
        f"dataset: {PRODUCTS} products, {BUYERS} buyers, {ORDERS} orders with "
        f"{len(lines)} lines, {len(movements)} stock movements "
        f"in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    json.dump(
        {
            "tokens": list(tokens.values()),
            "products": visible,
            "deep_page": len(visible) // PAGE_SIZE - 10,
            "search_terms": SEARCH_TERMS,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
