"""The subject's page: a link (or a hand-over code) opens a short signed session; expired,
revoked and unknown links all get the same page; the subject gives a statement (with
files, kept as evidence for staff only) and appeals in a real browser (zh-CN and en);
nothing shown names or reaches the reporter."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from playwright.sync_api import FilePayload, Page, ViewportSize, expect
from sqlmodel import select

from api.http.deps import AppState
from cases import subject_links
from cases.evidence_files import evidence_file, evidence_store
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.errors import NotFound
from cases.procedure.policy import EvidenceFiles
from cases.procedure.vocabulary import Stage
from cases.service import file_report
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Evidence, Person
from cases.store.subject_links import SubjectLink
from tests.browser import refused
from tests.conftest import bearer
from tests.helpers import PATH, SHA, act

PHONE: ViewportSize = {"width": 390, "height": 844}
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 2000
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64
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


def _upload(name: str, mime_type: str, content: bytes) -> FilePayload:
    return {"name": name, "mimeType": mime_type, "buffer": content}


def _events(state: AppState, case: ConductCase) -> list[AuditEvent]:
    """The case's events but its reads (every page the subject is shown is one)."""
    with UnitOfWork(state.db, write=False) as uow:
        found = uow.session.exec(select(AuditEvent).where(AuditEvent.case_id == case.id))
        return [e for e in found if e.action != "case.read"]


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
    notice = client.post(
        f"/cases/{case.reference}/subject-notice", headers=bearer(tokens["inv.wang"])
    )
    assert notice.status_code == 201 and "告知书" in notice.text
    link = re.search(r"/s/([A-Za-z0-9_-]{43})<", notice.text)
    groups = re.findall(r"<span>([0-9A-Z]{4})</span>", notice.text)
    number = re.search(r"告知书编号：(\d+)", notice.text)
    assert link and number and len(groups) == 2
    assert REPORTER_NAME not in notice.text and "李部长" in notice.text
    unknown = client.post("/cases/QF-2026-99999/subject-notice", headers=bearer(tokens["inv.wang"]))
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
    page.get_by_label("附件（可不上传）").set_input_files(
        [_upload("实习证明.pdf", "application/pdf", PDF)]
    )
    page.get_by_role("button", name="提交陈述申辩").scroll_into_view_if_needed()
    screenshot("statement-file-zh")
    page.get_by_role("button", name="提交陈述申辩").click()
    expect(page.get_by_role("status")).to_have_text("已收到你的陈述申辩。")
    expect(page.locator("blockquote")).to_have_text("十一月我在外地实习，不在学校，请核实。")
    expect(page.locator("#statement ul.files")).to_have_text("实习证明.pdf")
    screenshot("statement-given-zh")
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


def test_a_link_opens_until_it_expires_and_a_visit_ends_with_its_link(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    case = _named_report(state, people)
    issued = utcnow()
    token = _link(state, case)
    with time_machine.travel(issued + timedelta(days=13, hours=23, minutes=50), tick=False):
        late = TestClient(client.app)
        opened = late.get(f"/s/{token}", follow_redirects=False)
        assert opened.status_code == 303  # opened again and again until it expires
        assert "Max-Age=600" in opened.headers["set-cookie"]  # the visit ends with the link
        assert late.get("/subject").status_code == 200
    with time_machine.travel(issued + timedelta(days=14, seconds=1), tick=False):
        gone = [late.get("/subject"), TestClient(client.app).get(f"/s/{token}")]
    assert [g.status_code for g in gone] == [404, 404]
    assert gone[0].text == gone[1].text == client.get("/s/unknown").text  # the one answer


def _statement_form(client: TestClient, token: str, text: str) -> dict[str, str]:
    assert client.get(f"/s/{token}").status_code == 200
    version = re.search(r'name="version" value="(\d+)"', client.get("/subject").text)
    assert version is not None
    return {"statement": text, "version": version.group(1), "form_token": client.cookies["qf_form"]}


def test_a_statement_carries_files_kept_as_evidence_that_only_staff_can_fetch(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    case = _named_report(state, people)
    form = _statement_form(client, _link(state, case), "我当时不在场，见附件。")
    files = [("files", ("实习证明.pdf", PDF, "application/pdf")),
             ("files", ("ticket.png", PNG, "image/png"))]  # fmt: skip
    given = client.post("/subject/statement", data=form, files=files, follow_redirects=False)
    assert given.status_code == 303, given.text
    with UnitOfWork(state.db, write=False) as uow:
        items = uow.session.exec(select(Evidence).where(Evidence.case_id == case.id)).all()
    assert {i.filename for i in items} == {"实习证明.pdf", "ticket.png"}
    assert {i.recorded_by for i in items} == {case.subject_id}
    assert {i.description for i in items} == {
        "陈述申辩附件：实习证明.pdf",
        "陈述申辩附件：ticket.png",
    }
    assert {i.media_type for i in items} == {"application/pdf", "image/png"}
    [event] = [e for e in _events(state, case) if e.action == "case.record_statement"]
    assert sorted(json.loads(event.data)["evidence"]) == sorted(i.id or 0 for i in items)
    shown = client.get("/subject").text
    assert "你上传的附件" in shown and "实习证明.pdf" in shown and "/file" not in shown

    store, subject = evidence_store(state.settings.data_dir), _subject(state, case)
    with pytest.raises(NotFound):  # the subject never gets a file back
        evidence_file(uow=UnitOfWork(state.db), store=store, reference=case.reference,
                      evidence_id=items[0].id or 0, viewer=subject)  # fmt: skip
    fetched = evidence_file(uow=UnitOfWork(state.db), store=store, reference=case.reference,
                            evidence_id=items[0].id or 0, viewer=people["inv.wang"])  # fmt: skip
    assert fetched.path.read_bytes() in (PDF, PNG)


def _subject(state: AppState, case: ConductCase) -> Person:
    with UnitOfWork(state.db, write=False) as uow:
        person = uow.session.get(Person, case.subject_id)
        assert person is not None
        return person


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([("files", ("big.pdf", PDF + b"0" * 1024 * 1024, "application/pdf"))], 413, "Too large"),
        ([("files", ("notes.txt", b"just words\n" * 50, "application/pdf"))], 415, "not accepted"),
        ([("files", (f"{n}.pdf", PDF, "application/pdf")) for n in range(4)], 422, "At most 3"),
    ],
)
def test_a_file_over_the_limits_is_told_beside_its_field_and_nothing_is_written(
    client: TestClient, people: dict[str, Person], state: AppState,
    files: list[Any], status: int, words: str,
) -> None:  # fmt: skip
    state.policy = state.policy.model_copy(
        update={"evidence": EvidenceFiles(max_file_mb=1, max_case_mb=2)}
    )
    case = _named_report(state, people)
    form = _statement_form(client, _link(state, case), "我当时不在场。")
    before = len(_events(state, case))
    refused = client.post("/subject/statement?lang=en", data=form, files=files)
    assert refused.status_code == status, refused.text
    assert 'id="e-files"' in refused.text and words in refused.text
    assert "我当时不在场。" in refused.text  # what was written is kept
    assert (
        len(_events(state, case)) == before and _case(state, case.reference).statement_text is None
    )
    store = evidence_store(state.settings.data_dir) / str(case.id)
    assert not store.exists() or list(store.iterdir()) == []  # no file left behind


def test_files_are_not_read_beyond_what_a_statement_may_carry_nor_without_a_visit(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    state.policy = state.policy.model_copy(
        update={"evidence": EvidenceFiles(max_file_mb=1, max_case_mb=2)}
    )
    case = _named_report(state, people)
    form = _statement_form(client, _link(state, case), "我当时不在场。")
    huge = [("files", ("huge.pdf", PDF + b"0" * 5 * 1024 * 1024, "application/pdf"))]
    refused = client.post("/subject/statement", data=form, files=huge)
    assert refused.status_code == 413 and 'id="e-files"' in refused.text
    assert "文件太大" in refused.text
    stranger = TestClient(client.app)
    stranger.cookies.set("qf_form", form["form_token"])
    files = [("files", ("a.pdf", PDF, "application/pdf"))]
    gone = stranger.post("/subject/statement", data=form, files=files)
    assert gone.status_code == 404 and "链接无法打开" in gone.text
    with UnitOfWork(state.db, write=False) as uow:
        assert uow.session.exec(select(Evidence)).all() == []


def test_the_subject_attaches_a_file_in_english_after_one_that_is_not_accepted(
    page: Page, people: dict[str, Person], state: AppState, screenshot: Callable[[str], Path]
) -> None:
    case = _named_report(state, people)
    page.set_viewport_size(PHONE)
    page.goto(f"/s/{_link(state, case)}")
    page.goto("/subject?lang=en")
    expect(page.locator("h1")).to_have_text("The case about you")
    words = "I was on placement in Shenzhen all November; the letter is attached."
    statement = page.get_by_role("textbox", name=re.compile("^Your statement"))
    statement.fill(words)
    files = page.get_by_label("Attachments (optional)")
    files.set_input_files([_upload("notes.txt", "text/plain", b"hi\n")])
    page.get_by_role("button", name="Give my statement").click()
    expect(page.locator("#e-files")).to_contain_text("This kind of file is not accepted")
    expect(statement).to_have_value(words)  # kept
    expect(files).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Give my statement").scroll_into_view_if_needed()
    screenshot("file-refused-en")
    assert _case(state, case.reference).statement_text is None
    files.set_input_files(
        [
            _upload("placement-letter.pdf", "application/pdf", PDF),
            _upload("train-ticket.png", "image/png", PNG),
        ]
    )
    page.get_by_role("button", name="Give my statement").click()
    expect(page.get_by_role("status")).to_have_text("Your statement has been recorded.")
    expect(page.locator("#statement ul.files li")).to_have_text(
        ["placement-letter.pdf", "train-ticket.png"]
    )
    page.locator("#statement ul.files").scroll_into_view_if_needed()
    screenshot("statement-given-en")
    assert _case(state, case.reference).statement_text == words
    assert REPORTER_NAME not in page.content() and refused(page) == []
