"""A live gunicorn server over a throwaway database, and a headless Chromium to drive it.

Debian's chromium (`apt-get install chromium`, which `.ci/run` does when it is missing)
is driven by Playwright; without it these tests are skipped, saying why."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import jobs
from tests.servers import ROOT, Database, Server, ServerFarm

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
# Milliseconds any one browser action or expectation may take before the step fails.
STEP_TIMEOUT_MS = 15_000

ADMIN_PASSWORD = "browser-admin-password"


def browser_expect() -> Any:
    """Playwright's `expect`, for a browser test module to call at import: without Chromium
    or Playwright the whole module is skipped, saying why."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests skipped: no Chromium at {CHROMIUM} "
            "(apt-get install chromium; .ci/run installs it)",
            allow_module_level=True,
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests skipped: playwright is not installed"
    )
    return sync_api.expect


@dataclass
class LiveAdmin:
    server: Server
    database: Database
    flour_id: int
    order_id: int
    other_order_id: int

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"


@pytest.fixture
def live_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system_database: Database, farm: ServerFarm
) -> LiveAdmin:
    """gunicorn with the admin's assets collected, a superuser, a product with stock and a
    buyer's two submitted orders, for 4 and 1 of it (made through the services)."""
    # Plain HTTP on the loopback: cookies without Secure, no redirect to HTTPS.
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        monkeypatch.setenv(name, "false")
    monkeypatch.setenv("STATIC_ROOT", str(tmp_path / "static"))
    collected = system_database.manage("collectstatic", "--noinput", "--verbosity", "0")
    assert collected.returncode == 0, collected.stderr
    made = system_database.run(jobs.admin_scene, admin_password=ADMIN_PASSWORD)
    (server,) = farm.start(system_database, workers=2)
    return LiveAdmin(
        server=server,
        database=system_database,
        flour_id=made["flour"],
        order_id=made["order"],
        other_order_id=made["other_order"],
    )


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh headless Chromium page; the browser is closed whatever happens."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests skipped: no Chromium at {CHROMIUM} "
            "(apt-get install chromium; .ci/run installs it)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests skipped: playwright is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            sync_api.expect.set_options(timeout=STEP_TIMEOUT_MS)
            page.test_name = re.sub(r"\W+", "-", request.node.name)
            yield page
        finally:
            browser.close()


@pytest.fixture
def step(page: Any) -> Callable[[str], AbstractContextManager[None]]:
    """`with step("adjust stock"): ...` names a step of the flow for its failure artifacts."""
    return functools.partial(_step, page)


@contextmanager
def _step(page: Any, name: str) -> Iterator[None]:
    """One step of a flow; when it fails, a screenshot and the page's HTML are saved to
    tests/artifacts/ before the failure goes on."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"\W+", "-", name)
        stem = ARTIFACTS / f"{page.test_name}--{slug}"
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(page.content(), encoding="utf-8")
        except Exception as exc:  # the page itself may be gone
            print(f"could not save the failing page: {exc}")
        print(f"step {name!r} failed; screenshot: {stem}.png")
        raise
