"""The admin's people pages in a real browser (Debian chromium), in zh-CN and en on a
phone: find a person, open their page, correct a phone number. Screenshots go to
tests/artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from api.http.deps import AppState
from cases.people.sessions import set_password
from cases.store.db import UnitOfWork
from tests.browser import refused

PHONE: ViewportSize = {"width": 390, "height": 844}
TALL: ViewportSize = {"width": 390, "height": 2200}  # the whole person page
PASSWORD = "correct horse battery"


@pytest.fixture
def admin(state: AppState, tokens: dict[str, str]) -> str:
    set_password(uow=UnitOfWork(state.db), handle="admin", password=PASSWORD)
    return "admin"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "zh-CN",
            {
                "user": "工号或用户名",
                "password": "密码",
                "signin": "登录",
                "find": "查找",
                "search": "按用户名或姓名查找",
                "heading": "人员",
                "phone": "电话",
                "save": "保存",
                "saved": "联系方式已保存。",
            },
        ),
        (
            "en",
            {
                "user": "Staff number or user name",
                "password": "Password",
                "signin": "Sign in",
                "find": "Find",
                "search": "Find by user name or name",
                "heading": "People",
                "phone": "Phone",
                "save": "Save",
                "saved": "Contact details saved.",
            },
        ),
    ],
)
def test_an_admin_finds_a_person_and_corrects_their_phone(
    page: Page, admin: str, screenshot: Callable[[str], Path], lang: str, words: dict[str, str]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"/signin?lang={lang}&next=/console/admin/people")
    page.get_by_label(words["user"]).fill(admin)
    page.get_by_label(words["password"]).fill(PASSWORD)
    page.get_by_role("button", name=words["signin"]).click()
    expect(page.locator("h1")).to_have_text(words["heading"])
    expect(page.locator("#person-inv\\.wang")).to_contain_text("inv.wang@qingfeng.example")
    screenshot(f"people-{lang}")
    page.get_by_label(words["search"]).fill("王")
    page.get_by_role("button", name=words["find"], exact=True).click()
    expect(page.locator("ul.roster > li")).to_have_count(1)
    page.get_by_role("link", name="王调查").click()
    expect(page.locator("h1")).to_contain_text("inv.wang")
    page.get_by_label(words["phone"]).fill("+86 10 6275 0000")
    page.get_by_role("button", name=words["save"], exact=True).click()
    expect(page.locator(".done")).to_have_text(words["saved"])
    expect(page.get_by_label(words["phone"])).to_have_value("+86 10 6275 0000")
    screenshot(f"person-{lang}")
    page.set_viewport_size(TALL)  # roles, grant and deactivate too
    screenshot(f"person-all-{lang}")
    assert refused(page) == []  # the admin stylesheet is the site's own
