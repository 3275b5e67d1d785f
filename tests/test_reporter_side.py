"""The reporter's side with the receipt code: messages with the case team both ways, the
evidence they add, the one survey of a closed case; over the API and on the status page."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from api.http.app import create_app
from api.http.deps import AppState
from api.http.throttle import Backoff
from cases.outbox import NOTIFICATION
from cases.procedure.clock import utcnow
from cases.procedure.policy import EvidenceFiles
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Evidence, OutboxRow, Person
from cases.store.reporter_side import CaseMessage, SurveyAnswer
from tests.conftest import bearer
from tests.helpers import carry_to

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞小圈子",
    "details": "在部门内搞小圈子，排斥新成员，安排工作论资排辈。",
}
GPS = 0x8825


@pytest.fixture
def client(state: AppState, tokens: dict[str, str]) -> Iterator[TestClient]:
    """The app with small evidence limits (1 MB a file), seen from one address."""
    state.policy = state.policy.model_copy(
        update={"evidence": EvidenceFiles(max_file_mb=1, max_case_mb=2)}
    )
    with TestClient(create_app(state), client=("192.0.2.9", 50000)) as test_client:
        yield test_client


def _filed(client: TestClient, **report: Any) -> tuple[str, str]:
    filed = client.post("/reports", json={**REPORT, **report})
    assert filed.status_code == 201, filed.text
    return filed.json()["reference"], filed.json()["receipt_code"]


def _status(client: TestClient, code: str) -> dict[str, Any]:
    seen = client.post("/reports/status", json={"receipt_code": code})
    assert seen.status_code == 200, seen.text
    return dict(seen.json())


def _events(state: AppState, reference: str) -> list[AuditEvent]:
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == reference))
        chain = f"case:{case.one().id}"
        return list(uow.session.exec(select(AuditEvent).where(AuditEvent.chain == chain)))


def _notified(state: AppState, event: str) -> list[dict[str, Any]]:
    with UnitOfWork(state.db, write=False) as uow:
        rows = uow.session.exec(select(OutboxRow).where(OutboxRow.topic == NOTIFICATION))
        payloads = [json.loads(r.payload) for r in rows]
    return [p for p in payloads if p["event"] == event]


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[GPS] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)}
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (20, 120, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_messages_go_both_ways_each_an_audit_event_and_a_notice_without_words(
    client: TestClient, tokens: dict[str, str], state: AppState
) -> None:
    ref, code = _filed(client)
    sent = client.post("/reports/messages", json={"receipt_code": code, "body": "还有一位证人。"})
    assert sent.status_code == 201, sent.text

    inv = bearer(tokens["inv.wang"])
    listed = client.get(f"/cases/{ref}/messages", headers=inv)
    assert listed.status_code == 200
    [mine] = listed.json()
    assert mine["from_reporter"] and mine["body"] == "还有一位证人。" and mine["author_id"] is None
    answered = client.post(f"/cases/{ref}/messages", json={"body": "请说明证人是谁。"}, headers=inv)
    assert answered.status_code == 201, answered.text

    view = _status(client, code)
    assert [(m["from_reporter"], m["body"]) for m in view["messages"]] == [
        (True, "还有一位证人。"),
        (False, "请说明证人是谁。"),
    ]
    assert "王调查" not in json.dumps(view, ensure_ascii=False)  # never who answered
    events = {e.action: json.loads(e.data) for e in _events(state, ref)}
    assert events["message.from_reporter"] == {"message": sent.json()["id"], "length": 7}
    assert "证人" not in json.dumps(events["message.to_reporter"], ensure_ascii=False)
    # The team is told (at intake: those who take up the unit's reports), and so is the
    # reporter; the notice names the event, never the words.
    assert [n["reference"] for n in _notified(state, "message.from_reporter")] == [ref]
    assert [n["reference"] for n in _notified(state, "message.to_reporter")] == [ref]


def test_only_the_case_team_corresponds_and_out_of_scope_is_404(
    client: TestClient, tokens: dict[str, str], people: dict[str, Person]
) -> None:
    ref, _ = _filed(client)
    advisor = bearer(tokens["adv.cs-su"])  # sees the case, is not its correspondent
    assert client.get(f"/cases/{ref}/messages", headers=advisor).status_code == 403
    said = client.post(f"/cases/{ref}/messages", json={"body": "你好"}, headers=advisor)
    assert said.status_code == 403 and said.headers["content-type"] == "application/problem+json"
    elsewhere = next(h for h in tokens if h.startswith("adv.") and h != "adv.cs-su")
    assert (
        client.get(f"/cases/{ref}/messages", headers=bearer(tokens[elsewhere])).status_code == 404
    )
    empty = client.post(
        f"/cases/{ref}/messages", json={"body": "  "}, headers=bearer(tokens["sec.li"])
    )
    assert empty.status_code == 422 and empty.json()["field"] == "body"


def test_a_reporter_waits_for_an_answer_after_the_policy_number_of_messages(
    client: TestClient, tokens: dict[str, str], state: AppState
) -> None:
    ref, code = _filed(client)
    limit = state.policy.reporter_view.unanswered_messages
    for n in range(limit):
        sent = client.post("/reports/messages", json={"receipt_code": code, "body": f"第{n}条"})
        assert sent.status_code == 201
    assert _status(client, code)["may_write"] is False
    refused = client.post("/reports/messages", json={"receipt_code": code, "body": "再一条"})
    assert refused.status_code == 409 and refused.json()["field"] == "body"
    client.post(f"/cases/{ref}/messages", json={"body": "收到"}, headers=bearer(tokens["sec.li"]))
    again = client.post("/reports/messages", json={"receipt_code": code, "body": "谢谢"})
    assert again.status_code == 201
    with UnitOfWork(state.db, write=False) as uow:
        assert len(uow.session.exec(select(CaseMessage)).all()) == limit + 2


def test_a_wrong_code_writes_nothing_and_is_slowed_like_a_status_read(
    client: TestClient, state: AppState
) -> None:
    _filed(client)
    client.app.state.receipt_backoff = Backoff(clock=lambda: 1000.0)  # type: ignore[attr-defined]
    wrong = {"receipt_code": "0000-0000-0000-0000"}
    for _ in range(2):  # the second failure brings a delay (1 s; the clock stands still)
        assert client.post("/reports/messages", json={**wrong, "body": "x"}).status_code == 404
    slowed = client.post("/reports/survey", json={**wrong, "score": 5})
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"
    added = client.post("/reports/evidence", data=wrong, files={"file": ("a.pdf", b"%PDF-1.4")})
    assert added.status_code == 429
    with UnitOfWork(state.db, write=False) as uow:
        assert uow.session.exec(select(CaseMessage)).all() == []


def test_the_survey_is_once_after_closure_and_is_an_audit_event(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    ref, code = _filed(client)
    early = client.post("/reports/survey", json={"receipt_code": code, "score": 5})
    assert early.status_code == 409 and early.json()["field"] == "score"
    carry_to(state, people, ref, Stage.CLOSED)
    assert _status(client, code)["may_rate"] is True
    for bad in (0, 6, "五"):
        answer = client.post("/reports/survey", json={"receipt_code": code, "score": bad})
        assert answer.status_code == 422 and answer.json()["field"] == "score", bad
    rated = client.post(
        "/reports/survey", json={"receipt_code": code, "score": 4, "comment": "及时"}
    )
    assert rated.status_code == 204, rated.text
    twice = client.post("/reports/survey", json={"receipt_code": code, "score": 1})
    assert twice.status_code == 409
    closed = client.post("/reports/messages", json={"receipt_code": code, "body": "还在吗"})
    assert closed.status_code == 409
    view = _status(client, code)
    assert view["may_rate"] is False and view["may_write"] is False
    [answered] = [e for e in _events(state, ref) if e.action == "survey.answered"]
    assert json.loads(answered.data) == {"score": 4, "comment": "及时"}
    with UnitOfWork(state.db, write=False) as uow:
        assert [(a.score, a.comment) for a in uow.session.exec(select(SurveyAnswer))] == [
            (4, "及时")
        ]


def test_evidence_the_reporter_adds_is_stripped_limited_and_typed(
    client: TestClient, tokens: dict[str, str], state: AppState
) -> None:
    ref, code = _filed(client)
    photo = _jpeg_with_gps()
    added = client.post(
        "/reports/evidence",
        data={"receipt_code": code, "description": "聊天截图"},
        files={"file": ("me.jpg", photo, "image/jpeg")},
    )
    assert added.status_code == 201, added.text
    too_big = client.post(
        "/reports/evidence",
        data={"receipt_code": code},
        files={"file": ("big.pdf", b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10), "application/pdf")},
    )
    assert too_big.status_code == 413 and too_big.json()["field"] == "file"
    wrong = client.post(
        "/reports/evidence",
        data={"receipt_code": code},
        files={"file": ("a.pdf", b"#!/bin/sh\necho hi\n", "application/pdf")},
    )
    assert wrong.status_code == 415 and wrong.json()["field"] == "file"

    with UnitOfWork(state.db, write=False) as uow:
        [item] = uow.session.exec(select(Evidence)).all()
    assert item.from_reporter and item.recorded_by is None and item.description == "聊天截图"
    assert item.original_sha256 != item.sha256  # the anonymous report's photo was stripped
    stored = state.settings.data_dir / "evidence" / str(item.case_id) / str(item.stored_name)
    assert GPS not in Image.open(stored).getexif()
    files = [p for p in (state.settings.data_dir / "evidence").rglob("*") if p.is_file()]
    assert files == [stored]  # nothing left of the refused ones
    assert _status(client, code)["added_evidence"] == ["me.jpg"]
    # Staff download it like any item; the event says the reporter added it.
    inv = bearer(tokens["inv.wang"])
    got = client.get(f"/cases/{ref}/evidence/{item.id}/file", headers=inv)
    assert got.status_code == 200 and got.content == stored.read_bytes()
    assert "evidence.added_by_reporter" in [e.action for e in _events(state, ref)]


# The status page: the code opens a short visit, then the forms.


def _page_token(client: TestClient) -> str:
    client.get("/status")
    return client.cookies["qf_form"]


def _open_visit(client: TestClient, code: str, then: str = "") -> Any:
    token = _page_token(client)
    return client.post("/status", data={"receipt_code": code, "form_token": token, "then": then})


def test_the_status_page_opens_a_visit_and_takes_a_message_and_a_file(
    client: TestClient, state: AppState
) -> None:
    ref, code = _filed(client)
    opened = _open_visit(client, code)
    assert opened.status_code == 200 and ref in opened.text
    assert opened.history[0].status_code == 303 and "qf_reporter" in client.cookies
    assert code not in opened.text and opened.headers["cache-control"] == "no-store"
    token = client.cookies["qf_form"]

    sent = client.post(
        "/status/case/message", data={"body": "补充：时间是周三", "form_token": token}
    )
    assert sent.status_code == 200 and "留言已发送" in sent.text and "补充：时间是周三" in sent.text
    empty = client.post("/status/case/message", data={"body": " ", "form_token": token})
    assert empty.status_code == 422 and 'id="e-body"' in empty.text
    forged = client.post("/status/case/message", data={"body": "伪造", "form_token": "x"})
    assert forged.status_code == 422 and "伪造" in forged.text  # kept, not sent

    added = client.post(
        "/status/case/evidence",
        data={"form_token": token, "description": ""},
        files={"file": ("photo.jpg", _jpeg_with_gps(), "image/jpeg")},
    )
    assert added.status_code == 200 and "photo.jpg" in added.text
    wrong = client.post(
        "/status/case/evidence",
        data={"form_token": token, "description": "说明文字"},
        files={"file": ("x.pdf", b"not a pdf at all", "application/pdf")},
    )
    assert wrong.status_code == 415 and 'id="e-file"' in wrong.text and "说明文字" in wrong.text
    with UnitOfWork(state.db, write=False) as uow:
        assert len(uow.session.exec(select(Evidence)).all()) == 1
        assert [m.body for m in uow.session.exec(select(CaseMessage))] == ["补充：时间是周三"]


def test_a_visit_ends_after_the_policy_minutes_and_a_forged_one_opens_nothing(
    client: TestClient, state: AppState
) -> None:
    ref, code = _filed(client)
    _open_visit(client, code)
    minutes = state.policy.reporter_view.session_minutes
    with time_machine.travel(utcnow() + timedelta(minutes=minutes, seconds=1), tick=False):
        over = client.get("/status/case")
        assert (
            over.status_code == 401 and ref not in over.text and 'id="e-receipt_code"' in over.text
        )
    visit = client.cookies["qf_reporter"]
    case_id, until, _ = visit.split(".")
    client.cookies.set("qf_reporter", f"{int(case_id) + 1}.{until}.{'0' * 64}")
    assert client.get("/status/case").status_code == 401
    fresh = TestClient(client.app)
    assert fresh.get("/status/case").status_code == 401


def test_the_closing_mails_survey_link_leads_to_a_one_time_rating(
    client: TestClient, people: dict[str, Person], state: AppState
) -> None:
    ref, code = _filed(client)
    carry_to(state, people, ref, Stage.CLOSED)
    asked = client.get("/survey")
    assert asked.status_code == 200 and "满意度评价" in asked.text
    opened = _open_visit(client, code, then="survey")
    assert opened.status_code == 200 and 'name="score"' in opened.text
    token = client.cookies["qf_form"]
    missing = client.post("/status/case/survey", data={"form_token": token, "comment": "很好"})
    assert missing.status_code == 422 and 'id="e-score"' in missing.text and "很好" in missing.text
    rated = client.post("/status/case/survey", data={"form_token": token, "score": "5"})
    assert (
        rated.status_code == 200
        and "感谢你的评价" in rated.text
        and 'name="score"' not in rated.text
    )
    again = client.post("/status/case/survey", data={"form_token": token, "score": "1"})
    assert again.status_code == 409
    with UnitOfWork(state.db, write=False) as uow:
        assert [a.score for a in uow.session.exec(select(SurveyAnswer))] == [5]


def test_files_sent_with_the_report_form_are_its_evidence_and_a_bad_one_files_nothing(
    client: TestClient, state: AppState
) -> None:
    client.get("/report")
    form = {**REPORT, "anonymous": "true", "form_token": client.cookies["qf_form"]}
    bad = client.post(
        "/report",
        data={**form, "submission": "one"},
        files=[("evidence", ("a.jpg", _jpeg_with_gps(), "image/jpeg")),
               ("evidence", ("b.exe", b"MZ\x90\x00" + b"\x00" * 64, "image/jpeg"))],
    )  # fmt: skip
    assert (
        bad.status_code == 415 and 'id="e-evidence"' in bad.text and REPORT["details"] in bad.text
    )
    with UnitOfWork(state.db, write=False) as uow:
        assert uow.session.exec(select(ConductCase)).all() == []
        assert uow.session.exec(select(Evidence)).all() == []
    assert not [p for p in (state.settings.data_dir / "evidence").rglob("*") if p.is_file()]

    good = client.post(
        "/report",
        data={**form, "submission": "two"},
        files=[("evidence", ("a.jpg", _jpeg_with_gps(), "image/jpeg"))],
    )
    assert good.status_code == 200 and re.search(r"QF-\d{4}-\d{5}", good.text)
    with UnitOfWork(state.db, write=False) as uow:
        [item] = uow.session.exec(select(Evidence)).all()
        [filed] = [e for e in uow.session.exec(select(AuditEvent)) if e.action == "case.filed"]
        assert item.from_reporter and item.original_sha256 != item.sha256
    assert json.loads(filed.data)["evidence"] == [item.id]
