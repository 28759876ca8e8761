"""Pricing rules: a cart follows today's prices; a placed order keeps the prices it had."""

from decimal import Decimal

import pytest

from orders import pricing
from orders.selectors import order_with_lines
from orders.services import order_add_item, order_submit
from products.services import product_update
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_cart_follows_todays_price_and_a_submitted_order_keeps_its_own(buyer, staff):
    oats = ProductFactory(price="2.50", quantity_in_stock=10)
    cart = order_add_item(user=buyer, product_id=oats.pk, quantity=4)

    product_update(product_id=oats.pk, actor=staff, price=Decimal("3.00"))
    cart = order_with_lines(order=cart)
    assert pricing.order_total(cart, cart.lines.all()) == Decimal("12.00")

    order_submit(user=buyer, order_id=cart.pk)
    product_update(product_id=oats.pk, actor=staff, price=Decimal("9.99"))
    placed = order_with_lines(order=cart)
    (line,) = placed.lines.all()
    assert line.unit_price == Decimal("3.00")
    assert pricing.line_unit_price(line) == Decimal("3.00")
    assert pricing.order_total(placed, placed.lines.all()) == placed.total_amount
    assert placed.total_amount == Decimal("12.00")


def test_raw_rule_and_formatting():
    assert pricing.unit_price(frozen=None, current=Decimal("1.10")) == Decimal("1.10")
    assert pricing.unit_price(frozen=Decimal("0.90"), current=Decimal("1.10")) == Decimal("0.90")
    assert pricing.line_total(Decimal("0.35"), 3) == Decimal("1.05")
    assert pricing.sum_lines([(Decimal("0.35"), 3), (Decimal("2"), 1)]) == Decimal("3.05")
    assert pricing.money(Decimal("7")) == "7.00"
