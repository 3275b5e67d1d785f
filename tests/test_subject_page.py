"""The subject's page: a link (or a hand-over code) opens a short signed session; expired,
revoked and unknown links all get the same page; the subject gives a statement and
appeals in a real browser (zh-CN and en); nothing shown names or reaches the reporter."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import time_machine
from fastapi.testclient import TestClient
from playwright.sync_api import Page, ViewportSize, expect
from sqlmodel import select

from api.http.deps import AppState
from cases import subject_links
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.vocabulary import Stage
from cases.service import file_report
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Person
from cases.store.subject_links import SubjectLink
from tests.browser import refused
from tests.conftest import bearer
from tests.helpers import PATH, SHA, act

PHONE: ViewportSize = {"width": 390, "height": 844}
REPORTER_NAME, REPORTER_CONTACT = "赵举报", "13800001111 zhao.report@example.edu.cn"
ALLEGATIONS = "要求新干事替其取快递、占座，不从者不予评优"


def _named_report(state: AppState, people: dict[str, Person]) -> ConductCase:
    """A named report (the reporter's name and contact on file), accepted for investigation."""
    report = c.FileReport(
        unit="cs-su",
        subject_name="李部长",
        summary="部长要求干事替他跑腿",
        details=f"我是{REPORTER_NAME}，电话 {REPORTER_CONTACT}。部长多次要求新干事替他取快递。",
        anonymous=False,
        reporter_name=REPORTER_NAME,
        reporter_contact=REPORTER_CONTACT,
    )
    reference = file_report(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        report=report,
        reporter=None,
        receipt_code="ABCD-EFGH-JKMN-PQRS",
    ).reference
    accept = c.Accept(
        category="formalism", severity="serious", investigators=["inv.wang"],
        allegations=ALLEGATIONS,
    )  # fmt: skip
    act(state, people, reference, "inv.wang", accept)
    return _case(state, reference)


def _case(state: AppState, reference: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(ConductCase).where(ConductCase.reference == reference)).one()


def _link(state: AppState, case: ConductCase, **at: timedelta) -> str:
    return subject_links.issue_link(
        uow=UnitOfWork(state.db), policy=state.policy, case_id=case.id or 0,
        person_id=case.subject_id, now=utcnow() - at.get("ago", timedelta()),
    )  # fmt: skip


def _revoke(state: AppState, case: ConductCase) -> int:
    return subject_links.revoke_links(uow=UnitOfWork(state.db), case_id=case.id or 0, now=utcnow())


def test_a_link_opens_a_short_signed_session_and_leaves_the_address_bar(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    case = _named_report(state, people)
    token = _link(state, case)
    assert len(token) >= 43  # token_urlsafe(32): 256 bits
    with UnitOfWork(state.db, write=False) as uow:
        [row] = uow.session.exec(select(SubjectLink))
    assert token not in row.token_hash and len(row.token_hash) == 64  # only its SHA-256

    with time_machine.travel(utcnow(), tick=False):  # Max-Age counts down with the clock
        opened = client.get(f"/s/{token}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/subject"
    cookie = opened.headers["set-cookie"]
    assert "qf_subject=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Max-Age=1800" in cookie  # session_minutes: 30
    shown = client.get("/subject")
    assert shown.status_code == 200 and case.reference in shown.text and ALLEGATIONS in shown.text
    assert "陈述申辩" in shown.text and 'name="version"' in shown.text

    again = TestClient(client.app).get(f"/s/{token}", follow_redirects=False)
    assert again.status_code == 303  # the link keeps working until it expires
    # From another site (a mail reader) a Strict cookie would not follow a redirect.
    mailed = TestClient(client.app).get(
        f"/s/{token}", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False
    )
    assert mailed.status_code == 200 and 'http-equiv="refresh"' in mailed.text
    assert "qf_subject=" in mailed.headers["set-cookie"]


def test_expired_revoked_unknown_and_forged_all_get_the_same_page(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    case = _named_report(state, people)
    expired = _link(state, case, ago=timedelta(days=15))  # valid_days: 14
    live = _link(state, case)
    answers = [client.get(f"/s/{expired}"), client.get(f"/s/{live}x"), client.get("/s/nothing")]
    fresh = TestClient(client.app)
    answers.append(fresh.get("/subject"))  # no session at all
    fresh.cookies.set("qf_subject", "1.9999999999.forged")
    answers.append(fresh.get("/subject"))
    assert client.get(f"/s/{live}", follow_redirects=False).status_code == 303
    assert client.get("/subject").status_code == 200
    assert _revoke(state, case) == 2
    answers += [client.get("/subject"), client.get(f"/s/{live}")]  # the open visit ends too
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1, "every refusal must read the same"
    assert "链接无法打开" in answers[0].text and case.reference not in answers[0].text


def test_a_printed_notice_carries_a_code_that_opens_the_page_and_its_hand_over_is_audited(
    client: TestClient, people: dict[str, Person], state: AppState, tokens: dict[str, str]
) -> None:
    case = _named_report(state, people)
    notice = client.get(
        f"/cases/{case.reference}/subject-notice", headers=bearer(tokens["inv.wang"])
    )
    assert notice.status_code == 200 and "告知书" in notice.text
    link = re.search(r"/s/([A-Za-z0-9_-]{43})<", notice.text)
    groups = re.findall(r"<span>([0-9A-Z]{4})</span>", notice.text)
    number = re.search(r"告知书编号：(\d+)", notice.text)
    assert link and number and len(groups) == 2
    assert REPORTER_NAME not in notice.text and "李部长" in notice.text
    unknown = client.get("/cases/QF-2026-99999/subject-notice", headers=bearer(tokens["inv.wang"]))
    assert unknown.status_code == 404

    visitor = TestClient(client.app)
    visitor.get("/s")
    wrong = visitor.post("/s", data={"code": "AAAA AAAA", "form_token": visitor.cookies["qf_form"]})
    assert wrong.status_code == 422 and 'id="e-code"' in wrong.text
    typed = f"{groups[0].lower()}-{groups[1]}"  # case and dashes do not matter
    opened = visitor.post(
        "/s", data={"code": typed, "form_token": visitor.cookies["qf_form"]}, follow_redirects=False
    )
    assert opened.status_code == 303
    assert ALLEGATIONS in visitor.get("/subject").text

    handed_over = f"/subject-notices/{number.group(1)}/handed-over"
    unknown_notice = "/subject-notices/999999/handed-over"
    assert client.post(unknown_notice, headers=bearer(tokens["inv.wang"])).status_code == 404
    assert client.post(handed_over, headers=bearer(tokens["inv.wang"])).status_code == 204
    with UnitOfWork(state.db, write=False) as uow:
        events = uow.session.exec(select(AuditEvent.action).where(AuditEvent.case_id == case.id))
        assert "subject_notice.handed_over" in set(events)


def test_a_statement_on_a_stale_page_is_refused_plainly_and_what_was_written_kept(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    case = _named_report(state, people)
    client.get(f"/s/{_link(state, case)}")
    shown = client.get("/subject")
    version = re.search(r'name="version" value="(\d+)"', shown.text)
    assert version is not None
    act(state, people, case.reference, "inv.wang", c.RecordEvidence(description="照片", sha256=SHA))
    form = {"statement": "我没有这样做。", "version": version.group(1),
            "form_token": client.cookies["qf_form"]}  # fmt: skip
    stale = client.post("/subject/statement", data=form)
    assert stale.status_code == 409 and "新进展" in stale.text and "我没有这样做。" in stale.text
    empty = client.post("/subject/statement", data={**form, "statement": " "})
    assert empty.status_code == 422 and 'id="e-statement"' in empty.text
    assert _case(state, case.reference).statement_text is None


def test_the_subject_gives_a_statement_and_appeals_in_a_browser_and_never_sees_the_reporter(
    page: Page, people: dict[str, Person], state: AppState, screenshot: Callable[[str], Path]
) -> None:
    case = _named_report(state, people)
    seen: list[str] = []
    page.set_viewport_size(PHONE)
    page.goto(f"/s/{_link(state, case)}")
    expect(page).to_have_url(re.compile(r"/subject$"))
    expect(page.locator("h1")).to_have_text("关于你的案件")
    expect(page.get_by_text(ALLEGATIONS)).to_be_visible()
    screenshot("statement-zh")
    seen.append(page.content())
    page.get_by_label("你的陈述和申辩").fill("十一月我在外地实习，不在学校，请核实。")
    page.get_by_role("button", name="提交陈述申辩").click()
    expect(page.get_by_role("status")).to_have_text("已收到你的陈述申辩。")
    expect(page.locator("blockquote")).to_have_text("十一月我在外地实习，不在学校，请核实。")
    seen.append(page.content())

    for handle, command, _ in PATH[4:]:  # findings, verification, decision (co-signed)
        act(state, people, case.reference, handle, command)
    assert _case(state, case.reference).stage == Stage.APPEAL_WINDOW
    page.goto("/subject?lang=en")
    expect(page.locator("h1")).to_have_text("The case about you")
    expect(page.locator("#decision")).to_contain_text("you may appeal until")
    screenshot("appeal-en")
    seen.append(page.content())
    page.get_by_label("Grounds of appeal").fill("I was away on placement in November.")
    page.get_by_role("button", name="Lodge my appeal").click()
    expect(page.get_by_role("status")).to_have_text("Your appeal has been lodged.")
    seen.append(page.content())
    page.goto("/subject?lang=zh-CN")
    expect(page.locator("#decision")).to_contain_text("已提出申诉，正在复查。")
    screenshot("appealed-zh")
    seen.append(page.content())

    assert _case(state, case.reference).stage == Stage.APPEAL_REVIEW
    for html in seen:
        assert REPORTER_NAME not in html and "13800001111" not in html and "zhao.report" not in html
    assert refused(page) == []
