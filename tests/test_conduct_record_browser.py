"""The conduct-record page in a real browser (Debian chromium): the secretary signs in,
follows the nav link, is told beside the field that the purpose is missing, then looks a
student up: a warning in force, one lifted, one changed on appeal (no period). zh-CN and
en, phone and desktop; full-page screenshots go to tests/artifacts/."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from api.http.deps import AppState
from cases.people.sessions import set_password
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.store.db import UnitOfWork
from cases.store.models import Person
from tests.browser import refused
from tests.test_conduct_record import PURPOSE, STUDENT, _appealed, _closed
from tests.test_console_board_browser import PASSWORD, VIEWS, _shot


def test_the_conduct_record_page_in_the_browser(
    page: Page, state: AppState, people: dict[str, Person]
) -> None:
    now = utcnow()
    in_force = _closed(state, people, now - timedelta(days=60))
    lifted = _closed(state, people, now - timedelta(days=300))
    changed = _appealed(
        state,
        people,
        now - timedelta(days=100),
        c.DecideAppeal(outcome="change", disposition="criticism", reasons=["过重"]),
    )
    set_password(uow=UnitOfWork(state.db), handle="sec.li", password=PASSWORD)
    page.goto("/signin?next=/console")
    page.locator("#f-handle").fill("sec.li")
    page.locator("#f-password").fill(PASSWORD)
    page.locator("#f-password").press("Enter")
    expect(page).to_have_url("/console")
    page.get_by_role("link", name="查询处理记录").click()
    expect(page.locator("h1")).to_have_text("学生会工作人员处理记录查询")
    page.locator("#f-person").fill(STUDENT)
    page.evaluate("document.querySelector('#f-purpose').removeAttribute('required')")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#e-purpose")).to_have_text("请填写此项。")
    _shot(page, "conduct-record-missing-zh-CN-desktop")
    for lang, size, viewport in VIEWS:
        page.set_viewport_size(viewport)
        page.goto(f"/console/conduct-record?lang={lang}")
        page.locator("#f-person").fill(STUDENT)
        page.locator("#f-purpose").fill(PURPOSE)
        page.locator("#lookup button").click()
        expect(page.locator(f"#record-{in_force}")).to_contain_text(
            "in force" if lang == "en" else "期限内"
        )
        expect(page.locator(f"#record-{lifted}")).to_contain_text(
            "lifted" if lang == "en" else "已期满解除"
        )
        expect(page.locator(f"#record-{changed}")).to_contain_text(
            "no period" if lang == "en" else "无期限"
        )
        _shot(page, f"conduct-record-{lang}-{size}")
    assert refused(page) == []
