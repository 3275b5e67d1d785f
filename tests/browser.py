"""Browser tests: the real app under uvicorn and Debian's chromium driven by Playwright.

Fixtures (registered in tests/conftest.py): ``live_url``, the app on a free loopback port
against the test's fresh migrated SQLite file; ``browser``, one chromium per session;
``page``, a Playwright page whose relative URLs go to ``live_url``. The page reaches
loopback only: every request to another host is refused and listed in ``offsite``, so a
test shows a page needs no network; ``refused(page)`` lists what the page's
Content-Security-Policy stopped before any request. ``screenshot(name)`` saves a PNG under
tests/artifacts/ (gitignored), named after the test.

Playwright's own browser download cannot work here; `make browsers` installs Debian's
``chromium`` (and ``fonts-noto-cjk`` for the zh-CN text). Without it these tests are
skipped, unless QINGFENG_REQUIRE_BROWSER is set (as in CI), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from api.http.app import create_app
from api.http.deps import AppState
from tests.postgres import free_port
from tests.processes import wait_for

ARTIFACTS = Path(__file__).parent / "artifacts"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_MS = 60_000  # generous: a busy 2-core machine renders Swagger UI slowly
expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions may

# Content-Security-Policy refusals happen before any request, so routes never see them.
RECORD_REFUSALS = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__refused.push({directive: event.effectiveDirective, uri: event.blockedURI});
});
"""


def chromium() -> str | None:
    """The installed chromium, if any (Debian's package: /usr/bin/chromium)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def is_offsite(url: str) -> bool:
    """Whether ``url`` would leave this machine (data: and blob: URLs never do)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK


@pytest.fixture
def live_url(state: AppState) -> Iterator[str]:
    """The real app served by uvicorn on loopback, on the test's own database."""
    port = free_port()
    config = uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    assert wait_for(lambda: server.started or not thread.is_alive(), 60), "uvicorn not up"
    assert server.started, "uvicorn failed to start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


# Module scope, not session: while Playwright's sync API is running it keeps an event loop
# on the main thread, and Prefect's sync/async functions called from later test modules
# would then hand back coroutines instead of running.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium()
    if executable is None:
        if os.environ.get("QINGFENG_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (QINGFENG_REQUIRE_BROWSER) but not installed")
        pytest.skip("chromium is not installed here; `make browsers` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


@pytest.fixture
def offsite() -> list[str]:
    """URLs the test's page tried to fetch from a host other than loopback (all refused)."""
    return []


@pytest.fixture
def page(browser: Browser, live_url: str, offsite: list[str]) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_url, viewport={"width": 1280, "height": 900}, locale="zh-CN"
    )
    context.set_default_timeout(TIMEOUT_MS)

    def only_loopback(route: Route) -> None:
        if is_offsite(route.request.url):
            offsite.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    context.route("**/*", only_loopback)
    context.add_init_script(RECORD_REFUSALS)
    opened = context.new_page()
    yield opened
    context.close()


def refused(page: Page) -> list[dict[str, str]]:
    """What the page's Content-Security-Policy refused so far: directive and URI."""
    return list(page.evaluate("window.__refused"))


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save the page as tests/artifacts/<test>-<name>.png and return the path."""
    test = re.sub(r"[^\w.-]+", "_", request.node.name)

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{test}-{name}.png"
        page.screenshot(path=path)
        return path

    return take
