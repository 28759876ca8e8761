"""Work that the system tests run inside Django against a test's own database, in a child
process (`Database.run(jobs.seed, ...)` in tests/servers.py). Plain functions: keyword
arguments and return values travel as JSON, so they take and return JSON-shaped data."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Sum
from rest_framework.authtoken.models import Token

from accounts.services import token_get_or_create
from orders.models import Order, OrderLine
from orders.services import order_add_item, order_place
from products.models import Product, StockMovement
from products.services import product_create


def seed(
    *, stocks_and_prices: list[list[Any]], buyers: int, cart: list[list[int]], prefix: str
) -> dict[str, list[Any]]:
    """Products through the service (so the ledger holds), buyers with tokens, and, when
    `cart` lists (product index, quantity) pairs, an active order per buyer holding them."""
    User = get_user_model()
    products = [
        product_create(actor=None, name=f"Product {i}", price=price, quantity_in_stock=stock)
        for i, (price, stock) in enumerate(stocks_and_prices)
    ]
    User.objects.bulk_create(
        [User(username=f"{prefix}{i:05d}", password="!") for i in range(buyers)]
    )
    users = list(User.objects.filter(username__startswith=prefix).order_by("username"))
    tokens = Token.objects.bulk_create(
        [Token(user=user, key=secrets.token_hex(20)) for user in users]
    )
    carts: list[int] = []
    if cart:
        Order.objects.bulk_create([Order(user=user) for user in users])
        orders = list(Order.objects.filter(user__in=users).order_by("user__username"))
        OrderLine.objects.bulk_create(
            [
                OrderLine(order=order, product=products[index], quantity=quantity)
                for order in orders
                for index, quantity in cart
            ]
        )
        carts = [order.pk for order in orders]
    return {
        "products": [product.pk for product in products],
        "tokens": [token.key for token in sorted(tokens, key=lambda t: t.user.username)],
        "orders": carts,
    }


def orders_state() -> dict[str, Any]:
    """Every order (status, lines, prices, its ledger movements by product) and every
    product's stock."""
    orders: dict[int, dict[str, Any]] = {}
    for order in Order.objects.prefetch_related("lines"):
        orders[order.pk] = {
            "status": order.status,
            "submitted_at": order.submitted_at,
            "lines": {line.product_id: line.quantity for line in order.lines.all()},
            "prices": [line.unit_price for line in order.lines.all()],
            "movements": {},
        }
    for movement in StockMovement.objects.exclude(order_id=None):
        assert movement.order_id is not None
        moves = orders[movement.order_id]["movements"]
        moves.setdefault(movement.product_id, []).append([movement.reason, movement.delta])
    return {
        "orders": orders,
        "stock": dict(Product.objects.values_list("pk", "quantity_in_stock")),
    }


def line_products_by_order() -> dict[int, list[int]]:
    """Each order's product ids in the order its lines were written."""
    result: dict[int, list[int]] = {}
    for line in OrderLine.objects.order_by("id"):
        result.setdefault(line.order_id, []).append(line.product_id)
    return result


def create_superuser(*, username: str, password: str) -> None:
    get_user_model().objects.create_superuser(username, "admin@example.com", password)


def admin_scene(*, admin_password: str) -> dict[str, int]:
    """A superuser, a buyer and two placed orders of one product, for the admin's browser test."""
    User = get_user_model()
    User.objects.create_superuser("admin", "admin@example.com", admin_password)
    buyer = User.objects.create_user("shop", "shop@example.com", "shop-password")
    flour = product_create(
        actor=None, name="Rye flour", sku="RYE-25", price=Decimal("18.50"), quantity_in_stock=10
    )
    order = order_place(user=buyer, items=[{"product": flour.pk, "quantity": 4}])
    other = order_place(user=buyer, items=[{"product": flour.pk, "quantity": 1}])
    return {"flour": flour.pk, "order": order.pk, "other_order": other.pk}


def order_by_a_long_named_buyer(*, product_id: int) -> int:
    """A placed order whose buyer has a name as long as a purchasing mailbox."""
    buyer = get_user_model().objects.create_user("purchasing@north-bakery.example", password="x")
    return order_place(user=buyer, items=[{"product": product_id, "quantity": 2}]).pk


def catalogue_and_ledger() -> dict[str, Any]:
    """Each product by sku with its stock, the sum of its ledger and its movements; each
    order's status."""
    products = {
        product.sku: {
            "stock": product.quantity_in_stock,
            "ledger": product.movements.aggregate(total=Sum("delta"))["total"],
            "movements": list(
                product.movements.order_by("id").values_list("reason", "delta", "note")
            ),
        }
        for product in Product.objects.all()
    }
    return {"products": products, "orders": dict(Order.objects.values_list("pk", "status"))}


def fuzz_accounts() -> dict[str, str]:
    """A buyer with a cart, a staff user and a user whose token the fuzzer may revoke; their
    token keys by role."""
    User = get_user_model()
    buyer = User.objects.create_user("fuzz-buyer", password="fuzz-buyer-password")
    staff = User.objects.create_user("fuzz-staff", password="fuzz-staff-password", is_staff=True)
    revoker = User.objects.create_user("fuzz-revoker", password="fuzz-revoker-password")
    products = [
        product_create(
            actor=None, name=f"Fuzz product {i}", price=Decimal("9.99"), quantity_in_stock=50
        )
        for i in range(3)
    ]
    order_add_item(user=buyer, product_id=products[0].pk, quantity=2)
    return {
        "buyer": token_get_or_create(user=buyer).key,
        "staff": token_get_or_create(user=staff).key,
        "revoker": token_get_or_create(user=revoker).key,
    }


def make_staff(*, username: str) -> None:
    get_user_model().objects.filter(username=username).update(is_staff=True)


def po_number_holders(*, po_number: str) -> dict[str, Any]:
    """Every placed order carrying `po_number`, as [user id, order id], and the stock left
    of the only product."""
    placed = Order.objects.filter(po_number=po_number).exclude(status=Order.Status.ACTIVE)
    return {
        "orders": sorted(placed.values_list("user_id", "id")),
        "stock": Product.objects.get().quantity_in_stock,
    }


def product_and_cart(*, product: int, cart: int) -> list[Any]:
    """A product's price and version, and an order's version and only line's quantity."""
    found = Product.objects.get(pk=product)
    order = Order.objects.get(pk=cart)
    return [str(found.price), found.version, order.version, order.lines.get().quantity]


# --- Events and webhooks ------------------------------------------------------------------


def staff_token(*, username: str) -> str:
    user = get_user_model().objects.create_user(username, is_staff=True)
    return Token.objects.create(user=user).key


def feed_writer(*, writer: int, count: int) -> str:
    """Transactions that write events, then stay open a random while before committing (the
    dangerous shape for a feed: an id drawn early, committed late), or commit at once."""
    import random
    import time

    from django.db import transaction

    from products.services import stock_adjust

    rng = random.Random(writer)
    product = product_create(
        actor=None, name=f"Writer {writer}", price=Decimal("1.00"), quantity_in_stock=1000
    )
    for n in range(count):
        with transaction.atomic():
            stock_adjust(product_id=product.pk, delta=rng.choice([1, -1]), actor=None)
            if rng.random() < 0.3:
                product_create(actor=None, name=f"W{writer}-{n}", price=Decimal("1.00"))
            time.sleep(rng.choice([0, 0, 0.001, 0.01, 0.05]))
    return "done"


def event_ids() -> list[int]:
    from events.models import Event

    return list(Event.objects.order_by("pk").values_list("pk", flat=True))


def event_feed() -> list[list[Any]]:
    """Every event: id, type, commit-time timestamp, and the id in its data (orders)."""
    from events.models import Event

    return [
        [event.pk, event.type, event.created_at.timestamp(), event.data.get("id")]
        for event in Event.objects.order_by("pk")
    ]


def delivery_states() -> dict[str, int]:
    from collections import Counter

    from events.models import Delivery

    return dict(Counter(Delivery.objects.values_list("state", flat=True)))


def webhook_endpoint_create(*, url: str) -> int:
    from events.services import endpoint_create

    return endpoint_create(url=url).pk


def product_create_one(*, name: str) -> int:
    return product_create(actor=None, name=name, price=Decimal("1.00")).pk


def delivery_attempts() -> list[list[Any]]:
    from events.models import DeliveryAttempt

    return [
        [attempt.succeeded, attempt.error] for attempt in DeliveryAttempt.objects.order_by("pk")
    ]
