"""/docs and /redoc render in a real browser with nothing but loopback to reach."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser import refused
from tests.processes import PATIENCE

METHODS = {"get", "put", "post", "delete", "patch"}


def _operations(live_url: str) -> set[tuple[str, str]]:
    paths = httpx.get(f"{live_url}/openapi.json").json()["paths"]
    return {(m.upper(), path) for path, ops in paths.items() for m in ops if m in METHODS}


def test_swagger_ui_lists_every_operation_offline(
    page: Page, live_url: str, offsite: list[str], screenshot: Callable[[str], Path]
) -> None:
    page.goto("/docs")
    assert offsite == []  # the scripts and styles came from this server
    report = page.locator('.opblock-post .opblock-summary-path[data-path="/reports"]')
    expect(report).to_be_visible()
    blocks = page.locator(".opblock-summary")
    listed = {
        (
            block.locator(".opblock-summary-method").inner_text(),
            str(block.locator(".opblock-summary-path").get_attribute("data-path")),
        )
        for block in blocks.all()
    }
    assert listed == _operations(live_url)
    screenshot("docs")
    assert offsite == []
    assert refused(page) == []


def test_redoc_renders_offline(
    page: Page, live_url: str, offsite: list[str], screenshot: Callable[[str], Path]
) -> None:
    summary = httpx.get(f"{live_url}/openapi.json", timeout=PATIENCE).json()["paths"]["/reports"][
        "post"
    ]
    page.goto("/redoc")
    assert offsite == []
    expect(page.locator("h1").first).to_contain_text("qingfeng 清风")
    expect(page.locator("h2", has_text=summary["summary"]).first).to_be_visible()
    screenshot("redoc")
    assert offsite == []
    # The policy stops ReDoc's vendor logo before it is requested; the logo only.
    assert {r["directive"] for r in refused(page)} <= {"img-src"}
