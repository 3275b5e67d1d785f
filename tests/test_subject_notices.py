"""The subject's notices carry their own page: each mail asking the subject for a statement
or telling them the decision and their right of appeal holds a fresh link (/s/<token>),
issued when the message is written, sealed until it is sent and dropped once it has gone;
a printed notice's short code typed at /s meets the growing delay receipt codes meet."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.http.app import create_app
from api.http.deps import AppState
from api.http.throttle import Backoff, client_key
from cases import subject_links
from cases.outbox import CHANNEL_SEND, DELIVERY
from cases.people.directory import add_person
from cases.procedure.clock import utcnow
from cases.procedure.labels import event_label
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, OutboxRow, OutboxState, Person
from cases.store.subject_links import SubjectLink
from notifications.routes import Channel, Route
from notifications.service import Dispatcher
from tests.helpers import carry_to
from tests.notify_helpers import dispatcher, file_named_report, run_stage_work
from tests.receivers import http_receiver, smtp_server, wecom
from tests.test_receipts import Clock

SUBJECT_MAIL = "stu.zhang@univ.example"
LINK = re.compile(r"https://qingfeng\.example/s/([A-Za-z0-9_-]{43,})")


@pytest.fixture
def reporter(state: AppState) -> Person:
    person, _ = add_person(
        uow=UnitOfWork(state.db), handle="stu.wxm", name="王小明", email="wxm@univ.example"
    )
    return person


def _notify(state: AppState, port: int, robot_url: str) -> Dispatcher:
    """The test dispatcher with a WeCom group robot routed to everyone, whose expander
    seals subject links with the server secret."""
    group = Channel("group", "wecom", url=f"{robot_url}/cgi-bin/webhook/send?key=K")
    notify = dispatcher(state, port, channels=(group,), routes=(Route(channel="group"),))
    notify.expander = replace(notify.expander, secret=state.secret)
    return notify


def _opens_subject_page(client: TestClient, token: str, reference: str) -> None:
    visit = TestClient(client.app)
    opened = visit.get(f"/s/{token}", follow_redirects=False)
    assert opened.status_code in (200, 303)
    assert "qf_subject=" in opened.headers["set-cookie"]
    page = visit.get("/subject")
    assert page.status_code == 200 and reference in page.text


def _text(mail: Message) -> str:
    assert isinstance(mail, EmailMessage)  # the SMTP receiver parses with the default policy
    return str(mail.get_content())


def _payloads(state: AppState) -> list[str]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(uow.session.exec(select(OutboxRow.payload)))


def test_each_notice_to_the_subject_carries_a_fresh_link_to_their_page(
    client: TestClient,
    state: AppState,
    people: dict[str, Person],
    reporter: Person,
    db_file: Path,
) -> None:
    with smtp_server() as (controller, mailbox), http_receiver(wecom("K")) as robot:
        notify = _notify(state, controller.port, robot.url)
        ref = file_named_report(state, reporter, "stu.zhang")
        carry_to(state, people, ref, Stage.INVESTIGATION)  # accepted: a statement is asked
        run_stage_work(state)
        notify.tick()
        [asked] = mailbox.to(SUBJECT_MAIL)
        assert "陈述申辩" in asked["Subject"]
        [first] = LINK.findall(_text(asked))
        _opens_subject_page(client, first, ref)
        assert not any('"link_sealed"' in p for p in _payloads(state))  # dropped once sent

        carry_to(state, people, ref, Stage.APPEAL_WINDOW)  # decided: the right of appeal
        run_stage_work(state)
        notify.tick()
    decided = mailbox.to(SUBJECT_MAIL)[1]
    assert "处理决定" in decided["Subject"]
    [second] = LINK.findall(_text(decided))
    assert second != first
    _opens_subject_page(client, second, ref)
    _opens_subject_page(client, first, ref)  # the first still opens until it expires

    # Staff mails point at the portal itself; the robot never carries a subject's notice.
    staff = [m for m in mailbox.mails if m["To"] not in (SUBJECT_MAIL, "wxm@univ.example")]
    assert staff and not any("/s/" in _text(m) for m in staff)
    posts = [r.json["text"]["content"] for r in robot.accepted]
    assert posts and not any("/s/" in text or "陈述申辩" in text for text in posts)

    # Two links, each issued with its message; the tokens are nowhere in the database.
    with UnitOfWork(state.db, write=False) as uow:
        links = uow.session.exec(select(SubjectLink)).all()
        issued = uow.session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "subject_link.issued")
        ).all()
        messages = uow.session.exec(
            select(OutboxRow).where(col(OutboxRow.topic) == CHANNEL_SEND)
        ).all()
    assert len(links) == len(issued) == 2
    assert {m.state for m in messages} == {"done"}
    state.db.dispose()  # checkpoint the WAL so every byte is in the file
    stored = b"".join(p.read_bytes() for p in db_file.parent.glob("qingfeng.db*"))
    assert first.encode() not in stored and second.encode() not in stored
    assert not any('"link_sealed"' in p for p in _payloads(state))


def test_a_replayed_batch_issues_no_second_link(
    state: AppState, people: dict[str, Person], reporter: Person
) -> None:
    """A delivery expanded again (its lease ran out, say) adds no message and no link."""
    with smtp_server() as (controller, mailbox), http_receiver(wecom("K")) as robot:
        notify = _notify(state, controller.port, robot.url)
        ref = file_named_report(state, reporter, "stu.zhang")
        carry_to(state, people, ref, Stage.INVESTIGATION)
        run_stage_work(state)
        notify.tick()
        with UnitOfWork(state.db) as uow:  # every delivery due again
            rows = uow.session.exec(select(OutboxRow).where(OutboxRow.topic == DELIVERY)).all()
            for row in rows:
                row.state, row.available_at = OutboxState.PENDING, utcnow() - timedelta(minutes=1)
                uow.session.add(row)
            uow.commit()
        assert notify.tick() >= len(rows) > 0
    assert len(mailbox.to(SUBJECT_MAIL)) == 1
    with UnitOfWork(state.db, write=False) as uow:
        assert len(uow.session.exec(select(SubjectLink)).all()) == 1


def _type_code(visitor: TestClient, code: str) -> Any:
    form = {"code": code, "form_token": visitor.cookies["qf_form"]}
    return visitor.post("/s?lang=en", data=form, follow_redirects=False)


def test_wrong_notice_codes_are_slowed_per_client_with_a_429_page_beside_the_field(
    state: AppState, people: dict[str, Person], reporter: Person
) -> None:
    ref = file_named_report(state, reporter, "stu.zhang")
    carry_to(state, people, ref, Stage.INVESTIGATION)
    code = subject_links.hand_over(
        uow=UnitOfWork(state.db), policy=state.policy, reference=ref,
        staff=people["inv.wang"], now=utcnow(),
    ).code  # fmt: skip
    clock, here, there = Clock(), client_key(state.secret, "192.0.2.7"), "192.0.2.8"
    app = create_app(state)
    app.state.subject_code_backoff = backoff = Backoff(clock=clock)
    app.state.receipt_backoff = receipts = Backoff(clock=clock)
    with TestClient(app, client=("192.0.2.7", 50000)) as visitor:
        visitor.get("/s")
        assert _type_code(visitor, "AAAA-AAAA").status_code == 422
        assert _type_code(visitor, "AAAA-AAAC").status_code == 422  # the 2nd: wait 1 s
        slowed = _type_code(visitor, code)  # even the right code waits: nothing is checked
        assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"
        assert 'id="e-code"' in slowed.text and "please wait 1 s" in slowed.text
        assert "qf_subject" not in slowed.headers.get("set-cookie", "")
        with TestClient(app, client=(there, 50000)) as other:  # another address: not slowed
            other.get("/s")
            assert _type_code(other, "AAAA-AAAD").status_code == 422
        clock.now += 1
        assert _type_code(visitor, "AAAA-AAAE").status_code == 422  # the 3rd: wait 2 s
        clock.now += 1
        form = {"code": code, "form_token": visitor.cookies["qf_form"]}
        zh = visitor.post("/s?lang=zh-CN", data=form)
        assert zh.status_code == 429 and "请 1 秒后再试" in zh.text
        clock.now += 1
        assert _type_code(visitor, code).status_code == 303  # waited as told: it opens
    assert backoff.failures(here) == 3 and backoff.failures(client_key(state.secret, there)) == 1
    assert receipts.failures(here) == 0  # receipt codes are counted apart


# Events written on a case besides the staff actions, some by the reporter's side.
OTHER_CASE_EVENTS = (
    "subject_link.issued", "subject_link.revoked", "subject_notice.handed_over",
    "evidence.downloaded", "person.updated", "message.from_reporter", "message.to_reporter",
    "survey.answered", "evidence.added_by_reporter",
)  # fmt: skip


def test_every_event_on_a_case_reads_in_words_in_both_languages(
    state: AppState, people: dict[str, Person], reporter: Person
) -> None:
    ref = file_named_report(state, reporter, "stu.zhang")
    carry_to(state, people, ref, Stage.APPEAL_WINDOW)
    staff, now = people["inv.wang"], utcnow()
    notice = subject_links.hand_over(
        uow=UnitOfWork(state.db), policy=state.policy, reference=ref, staff=staff, now=now
    )
    subject_links.record_hand_over(
        uow=UnitOfWork(state.db), staff=staff, link_id=notice.link_id, now=now
    )
    with UnitOfWork(state.db, write=False) as uow:
        case_id = uow.session.exec(select(ConductCase.id).where(ConductCase.reference == ref)).one()
    subject_links.revoke_links(uow=UnitOfWork(state.db), case_id=case_id or 0, now=now)
    with UnitOfWork(state.db, write=False) as uow:
        written = set(
            uow.session.exec(select(AuditEvent.action).where(AuditEvent.case_id == case_id))
        )
    assert {"subject_link.issued", "subject_notice.handed_over", "subject_link.revoked"} <= written
    for action in written | set(OTHER_CASE_EVENTS):
        for language in ("zh-CN", "en"):
            assert event_label(action, language, state.policy) != action, (action, language)
