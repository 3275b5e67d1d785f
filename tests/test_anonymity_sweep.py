"""Everything a case's subject can reach, gathered in one place: the mails sent to them, the
page their link opens, their API answers (the case, its messages, its files) and the
printed hand-over notice. None of it may carry the reporter's name, contact, receipt
code, words or files, whether the report was named or anonymous."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.http.deps import AppState
from cases.people import directory as org
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import Person
from tests.conftest import bearer
from tests.helpers import carry_to
from tests.notify_helpers import dispatcher, run_stage_work
from tests.receivers import smtp_server

SUBJECT, SUBJECT_MAIL = "2023010001", "zhangsan@univ.example"
NAME, CONTACT = "举报人王五", "wang5@example.edu"
WITNESS = "证人赵六"
REPORT = {
    "unit": "cs-su",
    "subject_handle": SUBJECT,
    "subject_name": "张三",
    "summary": "学生会干部搞小圈子",
    "details": "在部门内搞小圈子，排斥新成员，安排工作论资排辈，本学期以来多次发生。",
}
LINK = re.compile(r"https://qingfeng\.example/s/([A-Za-z0-9_-]{43,})")


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(out, "JPEG")
    return out.getvalue()


def _reporter_writes_and_adds(client: TestClient, code: str) -> list[str]:
    """The reporter's own words and file, each naming them; returns what they wrote."""
    words = [f"我是{NAME}，可以联系 {CONTACT}", f"{NAME}拍的", f"{NAME}的截图.jpg"]
    sent = client.post("/reports/messages", json={"receipt_code": code, "body": words[0]})
    added = client.post(
        "/reports/evidence",
        data={"receipt_code": code, "description": words[1]},
        files={"file": (words[2], _photo(), "image/jpeg")},
    )
    assert sent.status_code == added.status_code == 201, (sent.text, added.text)
    return words


def _to_the_decision(
    client: TestClient, state: AppState, people: dict[str, Person], ref: str, inv: dict[str, str]
) -> None:
    """Accepted with the allegations in staff's words, a witness heard, then decided."""
    accept = {
        "category": "cliques",
        "severity": "minor",
        "investigators": ["inv.wang"],
        "allegations": "在部门工作中搞小圈子、排斥新成员",
    }
    accepted = client.post(f"/cases/{ref}/accept", json=accept, headers={**inv, "If-Match": '"1"'})
    assert accepted.status_code == 200, accepted.text
    heard = {"interviewee": WITNESS, "summary": "证实情况", "held_on": "2026-11-20"}
    client.post(
        f"/cases/{ref}/record-interview", json=heard, headers={**inv, "If-Match": '"2"'}
    ).raise_for_status()
    answered = client.post(f"/cases/{ref}/messages", json={"body": f"{NAME}同学你好"}, headers=inv)
    assert answered.status_code == 201
    run_stage_work(state)
    carry_to(state, people, ref, Stage.APPEAL_WINDOW)
    run_stage_work(state)


def _mail_text(mail: object) -> str:
    assert isinstance(mail, EmailMessage)
    return f"{mail['Subject']}\n{mail.get_content()}"


@pytest.mark.parametrize("anonymous", [True, False])
def test_nothing_the_subject_can_reach_carries_a_trace_of_the_reporter(
    client: TestClient,
    state: AppState,
    people: dict[str, Person],
    tokens: dict[str, str],
    anonymous: bool,
) -> None:
    report = {**REPORT, "anonymous": anonymous, "reporter_name": NAME, "reporter_contact": CONTACT}
    filed = client.post("/reports", json=report).json()
    ref, code = filed["reference"], filed["receipt_code"]
    admin, inv = bearer(tokens["admin"]), bearer(tokens["inv.wang"])
    given = client.patch(f"/people/{SUBJECT}", json={"email": SUBJECT_MAIL}, headers=admin)
    assert given.status_code == 200, given.text  # the subject now has a mailbox
    reporter_words = _reporter_writes_and_adds(client, code)

    with smtp_server() as (controller, mailbox):
        notify = dispatcher(state, controller.port)
        notify.expander = replace(notify.expander, secret=state.secret)  # links in mails
        _to_the_decision(client, state, people, ref, inv)
        notify.tick()
    mails = [_mail_text(m) for m in mailbox.to(SUBJECT_MAIL)]
    assert len(mails) >= 2  # the statement request and the decision notice at least

    reached: dict[str, str] = {f"mail {n}": text for n, text in enumerate(mails)}
    visit = TestClient(client.app)
    [token, *_] = LINK.findall(mails[-1])
    assert visit.get(f"/s/{token}").status_code == 200
    reached["subject page"] = visit.get("/subject").text
    reached["subject page en"] = visit.get("/subject?lang=en").text

    _, own = org.create_token(uow=UnitOfWork(state.db), handle=SUBJECT, name="phone")
    as_subject = bearer(own)
    case = client.get(f"/cases/{ref}", headers=as_subject)
    assert case.status_code == 200 and case.json()["allegations"]
    reached["API case"] = json.dumps(case.json(), ensure_ascii=False)
    staff_view = client.get(f"/cases/{ref}", headers=inv).json()
    for item in staff_view["evidence"]:
        got = client.get(f"/cases/{ref}/evidence/{item['id']}/file", headers=as_subject)
        assert got.status_code == 404  # files are never served to the subject
        reached[f"API file {item['id']}"] = got.text
    talk = client.get(f"/cases/{ref}/messages", headers=as_subject)
    assert talk.status_code in (403, 404)
    reached["API messages"] = talk.text
    printed = client.post(f"/cases/{ref}/subject-notice", headers=inv)
    assert printed.status_code == 201  # what staff print and hand to the subject
    reached["printed notice"] = printed.text
    assert client.post(f"/cases/{ref}/subject-notice", headers=as_subject).status_code == 404

    traces = [NAME, CONTACT, code, code.replace("-", ""), WITNESS, REPORT["details"],
              REPORT["summary"], *reporter_words, "王五"]  # fmt: skip
    for where, text in reached.items():
        found = [t for t in traces if t in text]
        assert not found, f"{where} shows {found}"
    # The sweep saw what staff see differently: the same traces are on the staff side.
    assert (staff_view["reporter"] == NAME) is not anonymous
