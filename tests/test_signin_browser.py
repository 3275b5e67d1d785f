"""Staff sign-in in a real browser (Debian chromium): a wrong password then the right one,
in zh-CN and in en, on a phone-sized screen; the account page's new token shown once;
sign-out. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from api.http.deps import AppState
from cases.people.sessions import set_password
from cases.store.db import UnitOfWork
from tests.browser import refused

PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"


@pytest.fixture
def wang(state: AppState, tokens: dict[str, str]) -> str:
    set_password(uow=UnitOfWork(state.db), handle="inv.wang", password=PASSWORD)
    return "inv.wang"


def test_staff_sign_in_with_a_password_in_chinese(
    page: Page, wang: str, screenshot: Callable[[str], Path]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/account")  # not signed in: to the sign-in page, and back afterwards
    expect(page.locator("h1")).to_have_text("工作人员登录")
    expect(page).to_have_url("/signin?next=/account")
    page.get_by_label("工号或用户名").fill(wang)
    page.get_by_label("密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".error.summary")).to_have_text("用户名或密码不正确。")
    expect(page.get_by_label("工号或用户名")).to_have_value(wang)  # kept
    screenshot("signin-wrong-zh")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_have_text("我的账号")
    expect(page.locator(".facts")).to_contain_text("王调查 (inv.wang)")
    page.get_by_label("名称").fill("导出脚本")
    page.get_by_role("button", name="创建").click()
    token = page.locator("#new-token")
    expect(token).to_contain_text("qf_")
    screenshot("account-new-token-zh")
    page.get_by_role("button", name="吊销 导出脚本").click()
    expect(page.locator(".done")).to_contain_text("已吊销")
    page.get_by_role("link", name="我的待办").click()
    expect(page.locator("h1")).to_have_text("我的待办")
    screenshot("console-home-zh")
    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("[role=alert]")).to_have_text("你已退出登录。")
    page.goto("/console")
    expect(page.locator("h1")).to_have_text("工作人员登录")
    assert refused(page) == []  # nothing the pages' policy had to stop


def test_staff_sign_in_with_a_password_in_english(
    page: Page, wang: str, screenshot: Callable[[str], Path]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/signin?lang=en")
    expect(page.locator("h1")).to_have_text("Staff sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot("signin-en")
    page.get_by_label("Staff number or user name").fill(wang)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("My inbox")
    expect(page.locator("table.cases, main p").first).to_be_visible()  # the inbox
    screenshot("console-home-en")
    page.get_by_role("link", name="My account").click()
    expect(page.locator("h2").first).to_have_text("Personal access tokens")
    expect(page.locator("table.tokens")).to_contain_text("cli")
    screenshot("account-en")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("[role=alert]")).to_have_text("You have signed out.")
    assert refused(page) == []
