"""The inbox and the case page in a real browser (Debian chromium): screenshots in zh-CN
and en (tests/artifacts/), an investigator accepting a case through its form, and one case
from intake to closure through the console by four people."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import Page, ViewportSize, expect
from sqlmodel import select

from api.http.deps import AppState
from cases.deadlines.calendar import add_working_days
from cases.people.sessions import set_password
from cases.procedure.clock import local_date, utcnow
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Person
from tests.browser import refused
from tests.helpers import SHA, carry_to, file

PASSWORD = "correct horse battery"
PHONE: ViewportSize = {"width": 390, "height": 844}
FOUR = ("inv.wang", "ver.liu", "adv.cs-su", "sec.li")


@pytest.fixture
def staff(state: AppState, tokens: dict[str, str]) -> tuple[str, ...]:
    for handle in FOUR:
        set_password(uow=UnitOfWork(state.db), handle=handle, password=PASSWORD)
    return FOUR


def sign_in(page: Page, handle: str) -> None:
    page.context.clear_cookies()
    page.goto("/signin?lang=zh-CN")
    page.get_by_label("工号或用户名").fill(handle)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_have_text("我的待办")


def take(page: Page, action: str, fields: Mapping[str, str | list[str]] | None = None) -> None:
    """Open the action's form on the case page, fill it and send it."""
    form = page.locator(f"#action-{action}")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    for name, value in (fields or {}).items():
        control = form.locator(f'[name="{name}"]')
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            assert isinstance(value, str)
            control.fill(value)
    form.locator("button[type=submit]").click()


def test_inbox_and_case_page_in_both_languages(
    page: Page,
    state: AppState,
    people: dict[str, Person],
    staff: tuple[str, ...],
    screenshot: Callable[[str], Path],
) -> None:
    reference = file(state)
    carry_to(state, people, reference, Stage.VERIFICATION)
    file(state)
    sign_in(page, "inv.wang")
    expect(page.locator(f"#case-{reference}")).to_contain_text("核实")
    screenshot("inbox-zh")
    page.goto("/console?lang=en&whose=all")
    expect(page.locator("h1")).to_have_text("My inbox")
    screenshot("inbox-en")
    page.get_by_role("link", name=reference).click()
    expect(page.locator("h1")).to_have_text(f"Case {reference}")
    expect(page.locator("#timeline")).to_be_visible()
    screenshot("case-en")
    page.goto(f"/console/cases/{reference}?lang=zh-CN")
    expect(page.locator("h1")).to_have_text(f"案件 {reference}")
    expect(page.locator(".timeline")).to_contain_text("提交调查结论")
    screenshot("case-zh")
    page.set_viewport_size(PHONE)
    screenshot("case-phone-zh")
    page.get_by_role("link", name="期限如何计算").click()
    expect(page.locator("h1")).to_contain_text("期限计算")
    assert refused(page) == []


def test_an_investigator_accepts_a_case_through_its_form(
    page: Page, state: AppState, staff: tuple[str, ...], screenshot: Callable[[str], Path]
) -> None:
    reference = file(state)
    sign_in(page, "inv.wang")
    page.goto("/console?whose=all")
    page.get_by_role("link", name=reference).click()
    page.locator("#action-accept summary").click()
    page.locator("#action-accept").scroll_into_view_if_needed()
    screenshot("accept-form-zh")
    take(
        page,
        "accept",
        {"category": "formalism", "severity": "serious", "investigators": ["inv.wang"]},
    )
    expect(page.locator(".done")).to_have_text("已办理：立案受理。")
    expect(page.locator(".facts")).to_contain_text("调查")
    expect(page.locator("#action-accept")).to_have_count(0)
    screenshot("accepted-zh")
    page.goto("/console")
    expect(page.locator(f"#case-{reference}")).to_be_visible()  # now one of mine


def _case(state: AppState, reference: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        query = select(ConductCase).where(ConductCase.reference == reference)
        return uow.session.exec(query).one()


def _as(page: Page, handle: str, reference: str) -> None:
    sign_in(page, handle)
    page.goto(f"/console/cases/{reference}")


def _done(page: Page, words: str) -> None:
    expect(page.locator(".done")).to_have_text(f"已办理：{words}。")


def test_one_case_from_intake_to_closure_by_four_people(
    page: Page, state: AppState, staff: tuple[str, ...], screenshot: Callable[[str], Path]
) -> None:
    """Investigator, verifier, advisor and secretary, each through their own forms: an
    extension, a return from verification, an advisor's refusal and a co-signature."""
    reference = file(state)
    yesterday = (local_date(utcnow()) - timedelta(days=1)).isoformat()
    _as(page, "inv.wang", reference)
    take(
        page,
        "accept",
        {"category": "formalism", "severity": "serious", "investigators": ["inv.wang"]},
    )
    _done(page, "立案受理")
    take(page, "record-evidence", {"description": "照片", "sha256": SHA})
    _done(page, "登记证据")
    take(
        page, "record-interview", {"interviewee": "证人甲", "summary": "说明", "held_on": yesterday}
    )
    _done(page, "记录谈话")
    take(page, "record-statement", {"statement": "本人陈述"})
    _done(page, "记录陈述申辩")
    due = _case(state, reference).due_at
    assert due is not None
    later = add_working_days(local_date(due), 3).isoformat()
    take(page, "request-extension", {"reason": "证人出差", "due_on": later})
    _done(page, "申请延期")

    _as(page, "sec.li", reference)
    take(page, "grant-extension")
    _done(page, "批准延期")
    assert local_date(_case(state, reference).due_at or due).isoformat() == later

    _as(page, "inv.wang", reference)
    findings = {"result": "substantiated", "summary": "属实", "recommended_disposition": "warning"}
    take(page, "submit-findings", findings)
    _done(page, "提交调查结论")

    _as(page, "sec.li", reference)
    take(page, "assign", {"capacity": "verifier", "person": "ver.liu"})
    _done(page, "指派")

    _as(page, "ver.liu", reference)
    take(page, "return-findings", {"reasons": "证据不足\n请补充谈话"})
    _done(page, "退回补充调查")
    expect(page.locator(".facts")).to_contain_text("调查")

    _as(page, "inv.wang", reference)
    take(page, "submit-findings", findings)
    _done(page, "提交调查结论")

    _as(page, "ver.liu", reference)
    take(page, "confirm")
    _done(page, "核实确认")

    _as(page, "inv.wang", reference)
    take(page, "propose", {"disposition": "warning", "rationale": "情节较重"})
    _done(page, "提出处理意见")

    _as(page, "adv.cs-su", reference)
    take(page, "refuse", {"comments": "请说明从轻情节"})
    _done(page, "退回处理意见")

    _as(page, "inv.wang", reference)
    take(page, "propose", {"disposition": "warning", "rationale": "已说明从轻情节"})
    _done(page, "提出处理意见")

    _as(page, "adv.cs-su", reference)
    take(page, "sign-off")
    _done(page, "签署同意")

    _as(page, "sec.li", reference)
    take(page, "co-sign")
    _done(page, "会签")
    expect(page.locator(".facts")).to_contain_text("申诉期")

    with time_machine.travel(utcnow() + timedelta(days=40), tick=True):
        _as(page, "sec.li", reference)  # weeks later: a new session
        take(page, "close", {"note": "申诉期满"})
        _done(page, "结案")
    expect(page.locator(".facts")).to_contain_text("结案")
    assert _case(state, reference).stage == Stage.CLOSED
    timeline = page.locator(".timeline")
    for event in ("批准延期", "退回补充调查", "指导教师退回处理意见", "团委书记会签"):
        expect(timeline).to_contain_text(event)
    screenshot("closed-zh")
    assert refused(page) == []


def test_outside_their_scope_a_person_can_neither_open_nor_act_on_a_case(
    page: Page, state: AppState, people: dict[str, Person], staff: tuple[str, ...]
) -> None:
    reference = file(state)  # a cs-su case
    outsider = next(h for h in people if h.startswith("adv.") and h != "adv.cs-su")
    set_password(uow=UnitOfWork(state.db), handle=outsider, password=PASSWORD)
    sign_in(page, outsider)
    opened = page.goto(f"/console/cases/{reference}")
    assert opened is not None and opened.status == 404
    assert "详细情况" not in page.content()  # nothing of the case (its details, say)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "qf_form")
    acted = page.request.post(
        f"/console/cases/{reference}/accept",
        form={"form_token": token, "version": "1", "category": "cliques", "severity": "minor",
              "investigators": "inv.wang"},
    )  # fmt: skip
    assert acted.status == 404
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == reference))
        assert case.one().stage == Stage.INTAKE  # nothing moved
    sign_in(page, "inv.wang")  # someone in scope sees it
    assert (shown := page.goto(f"/console/cases/{reference}")) is not None and shown.status == 200
    assert "详细情况" in page.content()
