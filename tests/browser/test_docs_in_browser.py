"""The docs pages in a real browser: they render, and nothing is fetched from another host
(ReDoc's bundle would fetch its logo from its CDN; the page's policy refuses it)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.system]

if not CHROMIUM.exists():
    pytest.skip(
        f"browser tests skipped: no Chromium at {CHROMIUM} "
        "(apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests skipped: playwright is not installed"
)
expect = sync_api.expect


@pytest.mark.parametrize(
    ("path", "title"),
    [("/api/redoc/", "#redoc-container h1"), ("/api/docs/", "#swagger-ui h2.title")],
)
def test_the_docs_page_renders_from_this_server_alone(page, step, live_admin, path, title):
    own_host = urlsplit(live_admin.server.url).netloc
    elsewhere: list[str] = []

    def only_this_server(route, request):
        if urlsplit(request.url).scheme in {"http", "https"} and (
            urlsplit(request.url).netloc != own_host
        ):
            elsewhere.append(request.url)
            route.abort()
        else:
            route.continue_()

    page.context.route("**/*", only_this_server)
    favicon: list[int] = []
    page.on(
        "response",
        lambda r: favicon.append(r.status) if urlsplit(r.url).path == "/favicon.ico" else None,
    )

    with step("open the docs"):
        page.goto(live_admin.url(path))
        expect(page.locator(title).first).to_contain_text("opply API")
        page.wait_for_load_state("networkidle")

    assert elsewhere == []
    assert 404 not in favicon
