"""The secretary's figures page in a real browser (Debian chromium): the period and unit
picked through the form, the charts drawn with their numbers as text, no script and
nothing refused by the page's policy; zh-CN and en on a phone and a desktop, a quarter
and a whole year. Full-page screenshots go to tests/artifacts/."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from api.http.deps import AppState
from cases.people.sessions import set_password
from cases.store.db import UnitOfWork
from cases.store.models import Person
from tests.browser import refused
from tests.test_console_board_browser import PASSWORD, VIEWS, _shot, _sign_in
from tests.test_console_figures import read, small
from tests.test_metrics import build


def test_the_secretary_reads_the_figures_in_the_browser(
    page: Page, state: AppState, people: dict[str, Person]
) -> None:
    build(state, people)
    small(state, people)
    set_password(uow=UnitOfWork(state.db), handle="sec.li", password=PASSWORD)
    _sign_in(page, "sec.li", "/console")
    page.get_by_role("link", name="统计图表").click()
    expect(page.locator("h1")).to_have_text("工作统计")
    page.locator("#f-year").select_option("2026")
    page.locator("#f-part").select_option("q1")
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url("/console/figures?year=2026&part=q1&unit=")
    expect(page.locator("#period")).to_contain_text("2026-01-01 至 2026-03-31")
    expect(page.locator("#chart-units")).to_contain_text("计算机学院学生会")
    law = next(u.on_time for u in read(state, people["sec.li"]).units if u.unit == "law-su")
    expect(page.locator("#units-law-su td")).to_contain_text(
        f"（{law.numerator}/{law.denominator}）"
    )
    assert page.locator("script").count() == 0
    for lang, size, viewport in VIEWS:
        page.set_viewport_size(viewport)
        page.goto(f"/console/figures?year=2026&part=q1&lang={lang}")
        _shot(page, f"figures-{lang}-{size}")
    for lang, size, viewport in VIEWS[:2]:
        page.set_viewport_size(viewport)
        page.goto(f"/console/figures?year=2026&lang={lang}")
        _shot(page, f"figures-year-{lang}-{size}")
    page.goto("/console/figures?year=2026&part=q1&unit=law-su&lang=en")
    expect(page.locator("#period")).to_contain_text("Law School Student Union and the units")
    assert refused(page) == []
