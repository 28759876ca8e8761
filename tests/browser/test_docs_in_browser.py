"""The docs pages in a real browser: they render, and nothing is fetched from another host
(ReDoc's bundle would fetch its logo from its CDN; the page's policy refuses it)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import browser_expect

pytestmark = [pytest.mark.browser, pytest.mark.system]

expect = browser_expect()

# ReDoc mounts its logo (an <img> with a CDN address) after the first render and drops it
# when it fails to load; once it has come and gone the page has asked for everything it will.
WATCH_REDOC_LOGO = """
window.redocLogo = "unseen";
new MutationObserver(() => {
  if (document.querySelector('img[alt="redocly logo"]')) window.redocLogo = "shown";
  else if (window.redocLogo === "shown") window.redocLogo = "gone";
}).observe(document, {childList: true, subtree: true});
"""


@pytest.mark.parametrize("path", ["/api/redoc/", "/api/docs/"])
def test_the_docs_page_renders_from_this_server_alone(page, step, live_admin, path):
    own_host = urlsplit(live_admin.server.url).netloc
    elsewhere: list[str] = []

    def only_this_server(route: Any, request: Any) -> None:
        address = urlsplit(request.url)
        if address.scheme in {"http", "https"} and address.netloc != own_host:
            elsewhere.append(request.url)
            route.abort()
        else:
            route.continue_()

    page.context.route("**/*", only_this_server)
    page.add_init_script(WATCH_REDOC_LOGO)

    with step("open the docs"):
        page.goto(live_admin.url(path))
        title = page.get_by_role("heading", name=re.compile(r"^opply API")).first
        expect(title).to_be_visible()
        if "redoc" in path:
            page.wait_for_function("() => window.redocLogo === 'gone'")
        page.wait_for_load_state("networkidle")

    assert elsewhere == []
