"""The operator's day in a real browser: log in to the admin, add a product, adjust its
stock with a reason, cancel a submitted order and see its stock come back."""

from __future__ import annotations

import re

import pytest

from tests import jobs
from tests.browser.conftest import ADMIN_PASSWORD, browser_expect

pytestmark = [pytest.mark.browser, pytest.mark.system]

expect = browser_expect()


def test_staff_adjusts_stock_and_cancels_an_order_in_the_admin(page, step, live_admin):
    with step("log in"):
        page.goto(live_admin.url("/admin/"))
        expect(page).to_have_url(re.compile(r"/admin/login/"))
        page.fill("#id_username", "admin")
        page.fill("#id_password", ADMIN_PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#site-name")).to_be_visible()
        expect(page.locator("#content h1")).to_have_text("Site administration")

    with step("admin styles load"):
        stylesheet = page.request.get(live_admin.url("/static/admin/css/base.css"))
        assert stylesheet.ok, stylesheet.status
        background = page.eval_on_selector("#header", "e => getComputedStyle(e).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background

    with step("add a product with initial stock"):
        page.goto(live_admin.url("/admin/products/product/add/"))
        page.fill("#id_name", "Cocoa nibs")
        page.fill("#id_sku", "NIB-1")
        page.fill("#id_price", "7.25")
        page.fill("#id_quantity_in_stock", "5")
        page.click("input[name=_continue]")
        expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
        expect(page.locator(".field-quantity_in_stock .readonly")).to_have_text("5")
        expect(page.locator("#id_quantity_in_stock")).to_have_count(0)

    with step("adjust stock with a reason"):
        page.click("text=Adjust stock")
        expect(page.locator("#current-stock")).to_have_text("5")
        page.fill("#id_delta", "-2")
        page.fill("#id_note", "Damaged in storage")
        page.click("input[name=_adjust]")
        expect(page.locator(".messagelist .success")).to_contain_text("changed by -2 to 3")
        expect(page.locator(".field-quantity_in_stock .readonly")).to_have_text("3")
        newest = page.locator("#movements-group tbody tr").first
        expect(newest).to_contain_text("Damaged in storage")
        expect(newest.locator(".field-delta")).to_have_text("-2")

    with step("stock cannot go below zero"):
        page.click("text=Adjust stock")
        page.fill("#id_delta", "-50")
        page.fill("#id_note", "Miscount")
        page.click("input[name=_adjust]")
        expect(page.locator(".errorlist")).to_have_text("Only 3 in stock: stock cannot go below 0.")
        expect(page.locator(".messagelist")).to_have_count(0)
        expect(page.locator("#current-stock")).to_have_text("3")

    with step("open the submitted order"):
        page.goto(live_admin.url("/admin/orders/order/?status__exact=submitted"))
        page.click(f"#result_list a:text-is('{live_admin.order_id}')")
        expect(page.locator(".field-status .readonly")).to_have_text("Submitted")
        expect(page.locator("#lines-group")).to_contain_text("Rye flour")

    with step("cancel and restock it"):
        page.click("button[name=_cancel]")
        expect(page.locator(".messagelist .success")).to_contain_text(
            f"Order #{live_admin.order_id} cancelled and restocked."
        )
        expect(page.locator(".field-status .readonly")).to_have_text("Cancelled")
        expect(page.locator("button[name=_cancel]")).to_have_count(0)

    with step("the stock is restored"):
        page.goto(live_admin.url(f"/admin/products/product/{live_admin.flour_id}/change/"))
        expect(page.locator(".field-quantity_in_stock .readonly")).to_have_text("9")
        newest = page.locator("#movements-group tbody tr").first
        expect(newest.locator(".field-reason")).to_have_text("Order cancelled")
        expect(newest.locator(".field-delta")).to_have_text("4")

    with step("mark fulfilled from the list, then refuse to cancel a fulfilled order"):
        page.goto(live_admin.url("/admin/orders/order/"))
        for order_id in (live_admin.order_id, live_admin.other_order_id):
            page.check(f"input[name=_selected_action][value='{order_id}']")
        page.select_option("select[name=action]", "mark_fulfilled")
        page.click("button[name=index]")
        messages = page.locator(".messagelist")
        expect(messages.locator(".error")).to_have_text(
            f"Order #{live_admin.order_id}: An order cannot go from 'cancelled' to 'fulfilled'."
        )
        expect(messages.locator(".success")).to_have_text(
            f"Order #{live_admin.other_order_id} fulfilled."
        )

    state = live_admin.database.run(jobs.catalogue_and_ledger)
    assert state["orders"] == {
        str(live_admin.order_id): "cancelled",
        str(live_admin.other_order_id): "fulfilled",
    }
    nibs, flour = state["products"]["NIB-1"], state["products"]["RYE-25"]
    assert (nibs["stock"], nibs["ledger"]) == (3, 3)
    assert nibs["movements"] == [["initial", 5, ""], ["adjustment", -2, "Damaged in storage"]]
    assert (flour["stock"], flour["ledger"]) == (9, 9)
    assert [(reason, delta) for reason, delta, _ in flour["movements"]] == [
        ("initial", 10),
        ("submit", -4),
        ("submit", -1),
        ("cancel", 4),
    ]
