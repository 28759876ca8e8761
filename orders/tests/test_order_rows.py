"""A page of orders' lines, read by a statement prepared per number of orders, is what the
ORM's `IN` query answers, by the same statement."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import selectors
from orders.models import OrderLine
from orders.tests.factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


def _orms_lines(order_ids):
    return list(
        OrderLine.objects.filter(order_id__in=order_ids)
        .order_by("id")
        .values_list(*selectors.LINE_ROW)
    )


def test_lines_of_a_page_of_orders_are_the_orms_by_its_statement(buyer):
    orders = [
        OrderFactory(user=buyer, status="submitted", submitted_at=timezone.now()) for _ in range(5)
    ]
    for n, order in enumerate(orders):
        OrderLineFactory.create_batch(n, order=order)  # the first has none
    rows = list(selectors.Order.objects.order_by("id").values_list(*selectors.ORDER_ROW))
    for page in (rows[:1], rows[1:4], rows[:3], rows[::-1], rows):
        ids = [row[0] for row in page]
        with CaptureQueriesContext(connection) as ours:
            read = selectors.order_rows_with_lines(page)
        with CaptureQueriesContext(connection) as orms:
            expected = _orms_lines(ids)

        assert read == [
            (order, [line for line in expected if line[0] == order[0]]) for order in page
        ]
        assert [q["sql"] for q in ours] == [q["sql"] for q in orms]
    assert selectors.order_rows_with_lines([]) == []
