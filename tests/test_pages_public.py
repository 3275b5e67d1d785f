"""The public pages in a real browser (Debian chromium): the home page and the report form,
in zh-CN and en, on a phone-sized screen; errors beside their fields; the receipt once."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import func, select

from api.http.app import create_app as page_app
from api.http.deps import AppState
from cases.people.secrets import check_receipt
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Person
from tests.browser import refused

PHONE = {"width": 390, "height": 844}
CODE = re.compile(r"^[0-9A-Z]{4}$")


def _cases(state: AppState) -> list[ConductCase]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(uow.session.exec(select(ConductCase)))


def test_home_page_in_both_languages_on_a_phone(
    page: Page, people: dict[str, Person], screenshot: Callable[[str], Path]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/")
    expect(page.locator("h1")).to_have_text("反映学生会干部作风问题")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("footer")).to_contain_text("校团委办公室")  # contact from settings
    screenshot("home-zh")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Report a student-union officer's conduct")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot("home-en")
    page.goto("/report")  # the choice is remembered
    expect(page.locator("h1")).to_have_text("Make a report")
    assert refused(page) == []  # nothing the pages' policy had to stop


def test_a_failed_submit_shows_each_error_beside_its_field_and_keeps_what_was_written(
    page: Page, people: dict[str, Person], state: AppState, screenshot: Callable[[str], Path]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/report")
    page.get_by_label("一句话概括").fill("部长要求干事替他跑腿")
    page.get_by_label("发生地点").fill("学生活动中心")
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".error.summary")).to_be_visible()
    for name in ("unit", "subject_name", "details"):
        field = page.locator(f"#f-{name}")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#e-{name}")).to_have_text("请填写此项。")
    expect(page.get_by_label("一句话概括")).to_have_value("部长要求干事替他跑腿")
    expect(page.get_by_label("发生地点")).to_have_value("学生活动中心")
    screenshot("report-errors-zh")
    assert _cases(state) == []  # nothing filed


def test_an_anonymous_report_is_filed_and_its_receipt_shown_once(
    page: Page, people: dict[str, Person], state: AppState, screenshot: Callable[[str], Path]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/report")
    page.get_by_label("所在组织").select_option("cs-su")
    page.locator("#f-subject_name").fill("李某")
    page.get_by_label("职务").fill("组织部部长")
    page.get_by_label("问题类别").select_option(index=1)
    page.get_by_label("一句话概括").fill("部长要求干事替他跑腿")
    page.get_by_label("具体经过").fill("十一月以来多次要求新干事替他取快递、占座，不去就不给评优。")
    page.get_by_label("发生时间").fill("十一月每周例会后")
    page.get_by_label("发生地点").fill("学生活动中心 302")
    screenshot("report-filled-zh")
    page.get_by_role("button", name="提交").click()
    expect(page.locator("h1")).to_have_text("已收到你的反映")
    groups = page.locator(".code span").all_inner_texts()
    assert len(groups) == 4 and all(CODE.match(g) for g in groups)
    screenshot("receipt-zh")

    [case] = _cases(state)
    assert case.anonymous and case.reporter_name is None and case.summary == "部长要求干事替他跑腿"
    assert (case.subject_post, case.occurred, case.place) == (
        "组织部部长",
        "十一月每周例会后",
        "学生活动中心 302",
    )  # nothing the reporter wrote is lost
    assert check_receipt(case.receipt_hash, "-".join(groups))
    assert page.locator("strong", has_text=case.reference).count() == 1
    assert refused(page) == []


def test_a_repeated_submit_files_once_and_a_forged_one_files_nothing(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    fields = _filled_form(client)
    first = client.post("/report", data=fields)
    again = client.post("/report", data=fields)  # a double click, or the browser's resend
    assert first.status_code == again.status_code == 200
    codes = [re.findall(r"<span>([0-9A-Z]{4})</span>", r.text) for r in (first, again)]
    assert codes[0] == codes[1] and len(codes[0]) == 4
    assert len(_cases(state)) == 1

    forged = client.post("/report", data={**fields, "form_token": "x", "submission": "other"})
    assert forged.status_code == 422 and "页面已过期" in forged.text
    assert "部长要求干事替他跑腿" in forged.text  # what was written is kept
    with UnitOfWork(state.db, write=False) as uow:
        assert uow.session.exec(select(func.count()).select_from(ConductCase)).one() == 1


def _filled_form(client: TestClient) -> dict[str, str]:
    """A new report form's fields, filled in as an anonymous reporter would."""
    form = client.get("/report")
    submission = re.search(r'name="submission" value="([^"]+)"', form.text)
    assert submission is not None
    return {
        "form_token": client.cookies["qf_form"],
        "submission": submission.group(1),
        "unit": "cs-su",
        "subject_name": "李某",
        "summary": "部长要求干事替他跑腿",
        "details": "多次要求新干事替他取快递。",
        "anonymous": "true",
    }


def _file_through_the_form(client: TestClient) -> tuple[str, str]:
    filed = client.post("/report", data=_filled_form(client))
    reference = re.search(r"<strong>(QF-\d{4}-\d{5})</strong>", filed.text)
    assert reference is not None
    return reference.group(1), "-".join(re.findall(r"<span>([0-9A-Z]{4})</span>", filed.text))


def test_the_status_page_opens_with_the_code_and_slows_wrong_ones(
    people: dict[str, Person], state: AppState
) -> None:
    # A client with an address: the delays are per client (and overall).
    with TestClient(page_app(state), client=("192.0.2.8", 50000)) as client:
        _status_and_slowing(client)


def _status_and_slowing(client: TestClient) -> None:
    reference, code = _file_through_the_form(client)
    token = client.cookies["qf_form"]
    shown = client.post("/status", data={"receipt_code": code.lower(), "form_token": token})
    assert shown.status_code == 200 and reference in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert code not in shown.text  # the code is not echoed back

    answers = []
    for _ in range(6):
        wrong = client.post(
            "/status", data={"receipt_code": "0000-0000-0000-0000", "form_token": token}
        )
        answers.append(wrong.status_code)
        assert reference not in wrong.text
    assert answers[0] == 404
    assert 429 in answers  # the delay grew: wrong codes are slowed
    waited = client.post("/status", data={"receipt_code": code, "form_token": token})
    assert waited.status_code == 429 and "请" in waited.text  # even the right code waits


def test_status_page_in_a_browser_in_both_languages(
    page: Page,
    live_url: str,
    people: dict[str, Person],
    state: AppState,
    screenshot: Callable[[str], Path],
) -> None:
    page.set_viewport_size(PHONE)
    with TestClient(page_app(state)) as client:
        reference, code = _file_through_the_form(client)
    page.goto("/status")
    page.get_by_label("回执码").fill(code)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("h1")).to_contain_text(reference)
    screenshot("status-zh")
    page.goto("/status?lang=en")
    page.get_by_label("Receipt code").fill(code)
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("h1")).to_have_text(f"Report {reference}")
    screenshot("status-en")
    assert refused(page) == []
