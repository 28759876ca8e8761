"""What a first operator sees in the admin on a 1366 px laptop: the site named, every order
column in view, order lines labelled with their totals, an error said once, a favicon."""

from __future__ import annotations

import re

import pytest

from tests import jobs
from tests.browser.conftest import ADMIN_PASSWORD, browser_expect

pytestmark = [pytest.mark.browser, pytest.mark.system]

expect = browser_expect()

LAPTOP = {"width": 1366, "height": 768}


def test_the_admin_reads_right_at_laptop_width(page, step, live_admin):
    long_named = live_admin.database.run(
        jobs.order_by_a_long_named_buyer, product_id=live_admin.flour_id
    )
    page.set_viewport_size(LAPTOP)

    with step("log in to a named site"):
        page.goto(live_admin.url("/admin/"))
        page.fill("#id_username", "admin")
        page.fill("#id_password", ADMIN_PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#site-name")).to_have_text("opply administration")
        expect(page).to_have_title(re.compile(r"opply admin$"))

    with step("every order column is in view, status included"):
        page.goto(live_admin.url("/admin/orders/order/"))
        expect(page.locator(f"#result_list a:text-is('{long_named}')")).to_be_visible()
        results = page.locator(".results")
        box = results.bounding_box()
        assert box is not None
        headers = page.locator("#result_list thead th")
        names = [h.inner_text().strip().lower() for h in headers.all()]
        assert "status" in names, names
        for header in headers.all():
            edge = header.bounding_box()
            assert edge is not None
            assert edge["x"] + edge["width"] <= box["x"] + box["width"] + 0.5, header.inner_text()
        widths = results.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert widths[0] <= widths[1], widths

    with step("order lines are labelled and totalled"):
        page.goto(live_admin.url(f"/admin/orders/order/{live_admin.order_id}/change/"))
        row = page.locator("#lines-group tbody tr.has_original").first
        expect(row.locator("td.original p")).to_have_text(
            f"4 of Rye flour (order #{live_admin.order_id})"
        )
        expect(row.locator(".field-line_total")).to_have_text("74.00")

    with step("stock movements are labelled"):
        page.goto(live_admin.url(f"/admin/products/product/{live_admin.flour_id}/change/"))
        oldest = page.locator("#movements-group tbody tr.has_original").last
        expect(oldest.locator("td.original p")).to_have_text("+10 Rye flour: Initial stock")

    with step("a refused adjustment is said once"):
        page.goto(live_admin.url(f"/admin/products/product/{live_admin.flour_id}/adjust-stock/"))
        page.fill("#id_delta", "-500")
        page.fill("#id_note", "Miscount")
        page.click("input[name=_adjust]")
        expect(page.locator("#content")).to_contain_text("cannot go below 0")
        assert page.locator("#content").inner_text().count("in stock: stock cannot go below") == 1
        expect(page.locator(".messagelist")).to_have_count(0)
        expect(page.locator(".errornote")).to_have_count(0)

    with step("the icon the browser asks for is there"):
        icon = page.request.get(live_admin.url("/favicon.ico"))
        assert icon.status == 200, icon.status
        assert icon.body().startswith(b"\x00\x00\x01\x00")
