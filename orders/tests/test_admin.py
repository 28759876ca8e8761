"""The orders admin: transitions go through the order services and never end in a 500."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders.models import Order
from orders.services import order_add_item, order_cancel, order_fulfil, order_place
from orders.tests.factories import UserFactory
from products.models import StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def place(user, *products_and_quantities) -> Order:
    return order_place(
        user=user,
        items=[{"product": p.pk, "quantity": q} for p, q in products_and_quantities],
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_action(client, action: str, orders: list[Order]):
    return client.post(
        reverse("admin:orders_order_changelist"),
        {"action": action, "_selected_action": [str(order.pk) for order in orders]},
    )


def test_order_list_shows_line_counts_and_totals_without_n_plus_one(
    admin_client, django_assert_max_num_queries
):
    products = [ProductFactory(price="2.50") for _ in range(3)]
    for index in range(15):
        buyer = UserFactory(username=f"shop{index}")
        place(buyer, *[(product, 1) for product in products[: index % 3 + 1]])

    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:orders_order_changelist"))

    assert response.status_code == 200
    rows = {order.user.username: order for order in response.context["cl"].result_list}
    assert len(rows) == 15
    assert rows["shop4"].line_count == 2
    assert rows["shop4"].total_amount == Decimal("5.00")
    assert rows["shop5"].line_count == 3


def test_order_list_filters_by_status_and_searches_buyer_and_number(admin_client):
    product = ProductFactory(quantity_in_stock=50)
    alice = place(UserFactory(username="alice"), (product, 1))
    bob = place(UserFactory(username="bob"), (product, 1))
    order_add_item(user=UserFactory(username="carol"), product_id=product.pk, quantity=1)
    url = reverse("admin:orders_order_changelist")

    submitted = admin_client.get(url, {"status__exact": "submitted"})
    by_buyer = admin_client.get(url, {"q": "ali"})
    by_number = admin_client.get(url, {"q": f"#{bob.pk}"})

    assert sorted(o.pk for o in submitted.context["cl"].result_list) == [alice.pk, bob.pk]
    assert [o.pk for o in by_buyer.context["cl"].result_list] == [alice.pk]
    assert [o.pk for o in by_number.context["cl"].result_list] == [bob.pk]


def test_cancel_and_restock_action_restores_stock_through_the_ledger(admin_client, admin_user):
    product = ProductFactory(quantity_in_stock=10)
    order = place(UserFactory(username="alice"), (product, 4))

    response = run_action(admin_client, "cancel_and_restock", [order])

    assert response.status_code == 302
    order.refresh_from_db()
    product.refresh_from_db()
    assert order.status == "cancelled"
    assert order.cancelled_at is not None
    assert product.quantity_in_stock == 10
    movement = StockMovement.objects.filter(order_id=order.pk, reason="cancel").get()
    assert (movement.delta, movement.actor) == (4, admin_user)
    assert messages_of(response) == [f"Order #{order.pk} cancelled and restocked."]


def test_mark_fulfilled_action_reports_each_illegal_transition_and_applies_the_rest(
    admin_client,
):
    product = ProductFactory(quantity_in_stock=10)
    buyer = UserFactory(username="alice")
    fulfillable = place(buyer, (product, 1))
    cancelled = order_cancel(actor=buyer, order_id=place(buyer, (product, 1)).pk)

    response = run_action(admin_client, "mark_fulfilled", [fulfillable, cancelled])

    assert response.status_code == 302
    fulfillable.refresh_from_db()
    cancelled.refresh_from_db()
    assert (fulfillable.status, cancelled.status) == ("fulfilled", "cancelled")
    assert messages_of(response) == [
        f"Order #{cancelled.pk}: An order cannot go from 'cancelled' to 'fulfilled'.",
        f"Order #{fulfillable.pk} fulfilled.",
    ]


def test_cancelling_a_fulfilled_order_is_a_message_not_a_500(admin_client, admin_user):
    product = ProductFactory(quantity_in_stock=10)
    order = order_fulfil(
        actor=admin_user, order_id=place(UserFactory(username="alice"), (product, 2)).pk
    )

    response = admin_client.post(reverse("admin:orders_order_cancel", args=[order.pk]), follow=True)

    assert response.status_code == 200
    assert "cannot go from &#x27;fulfilled&#x27; to &#x27;cancelled&#x27;" in (
        response.content.decode()
    )
    order.refresh_from_db()
    product.refresh_from_db()
    assert order.status == "fulfilled"
    assert product.quantity_in_stock == 8


def test_order_page_buttons_cancel_a_submitted_order(admin_client):
    product = ProductFactory(quantity_in_stock=5)
    order = place(UserFactory(username="alice"), (product, 5))
    change_url = reverse("admin:orders_order_change", args=[order.pk])

    page = admin_client.get(change_url)
    response = admin_client.post(reverse("admin:orders_order_cancel", args=[order.pk]))

    assert page.status_code == 200
    assert reverse("admin:orders_order_cancel", args=[order.pk]) in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == change_url
    product.refresh_from_db()
    assert product.quantity_in_stock == 5
    after = admin_client.get(change_url)
    assert reverse("admin:orders_order_cancel", args=[order.pk]) not in after.content.decode()


def test_transition_urls_refuse_get(admin_client):
    product = ProductFactory(quantity_in_stock=5)
    order = place(UserFactory(username="alice"), (product, 1))

    response = admin_client.get(reverse("admin:orders_order_fulfil", args=[order.pk]))

    assert response.status_code == 405
    order.refresh_from_db()
    assert order.status == "submitted"


def test_order_lines_are_read_only_and_orders_cannot_be_added_or_deleted(admin_client):
    product = ProductFactory(quantity_in_stock=5, price="3.00")
    order = place(UserFactory(username="alice"), (product, 2))

    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    add = admin_client.get(reverse("admin:orders_order_add"))
    delete = admin_client.post(
        reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"}
    )

    inline = page.context["inline_admin_formsets"][0]
    assert [(form.original.quantity, form.original.unit_price) for form in inline] == [
        (2, Decimal("3.00"))
    ]
    assert not inline.has_add_permission
    assert not inline.has_change_permission
    assert page.context["adminform"].form.fields == {}
    assert (add.status_code, delete.status_code) == (403, 403)
    assert Order.objects.filter(pk=order.pk, status="submitted").exists()


def test_staff_without_change_permission_cannot_cancel(client):
    product = ProductFactory(quantity_in_stock=5)
    order = place(UserFactory(username="alice"), (product, 1))
    client.force_login(UserFactory(username="clerk", is_staff=True))

    response = client.post(reverse("admin:orders_order_cancel", args=[order.pk]))

    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == "submitted"


@pytest.mark.parametrize("term", ["²", "#٣", "9" * 30])
def test_order_search_with_odd_digits_is_not_a_500(admin_client, term):
    response = admin_client.get(reverse("admin:orders_order_changelist"), {"q": term})

    assert response.status_code == 200


def test_a_cart_shows_the_same_running_total_as_the_api(admin_client, buyer, api):
    oats = ProductFactory(price="12.50", quantity_in_stock=10)
    salt = ProductFactory(price="4.00", quantity_in_stock=10)
    order_add_item(user=buyer, product_id=oats.pk, quantity=2)
    cart = order_add_item(user=buyer, product_id=salt.pk, quantity=3)

    listing = admin_client.get(reverse("admin:orders_order_changelist"))
    page = admin_client.get(reverse("admin:orders_order_change", args=[cart.pk]))

    api.force_authenticate(buyer)
    assert api.get("/orders/current/").json()["total_amount"] == "37.00"
    assert listing.status_code == page.status_code == 200
    assert b"37.00" in listing.content
    html = page.content.decode()
    assert "37.00" in html
    # Each line with its unit price at today's price and its line total.
    assert "12.50" in html
    assert "25.00" in html
    assert "4.00" in html
    assert "12.00" in html


def test_the_admin_is_named_and_order_lines_are_labelled(
    admin_client, django_assert_max_num_queries
):
    flour = ProductFactory(name="Rye flour", price=Decimal("18.50"), quantity_in_stock=10)
    rye = ProductFactory(name="Rye grain", price=Decimal("2.00"), quantity_in_stock=10)
    order = place(UserFactory(), (flour, 4), (rye, 1))

    with django_assert_max_num_queries(15):
        page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert page.status_code == 200
    assert "opply administration" in page.content.decode()
    labels = [str(form.original) for form in page.context["inline_admin_formsets"][0]]
    assert labels == [f"4 of Rye flour (order #{order.pk})", f"1 of Rye grain (order #{order.pk})"]


def test_the_order_list_puts_status_early_and_dates_compactly(admin_client):
    order = place(UserFactory(), (ProductFactory(quantity_in_stock=1), 1))

    page = admin_client.get(reverse("admin:orders_order_changelist"))

    row = page.content.decode()
    assert order.submitted_at.strftime("%Y-%m-%d %H:%M") in row
    assert page.context["cl"].list_display[1:4] == ["id", "status", "buyer"]
