"""Driving notifications in tests: the stage flow's work as plain functions, a dispatcher
over real servers, and reading what arrived."""

from __future__ import annotations

import json
from email.message import Message

from sqlmodel import col, select

from api.http.deps import AppState
from cases import stage_work
from cases.outbox import STAGE_FLOW
from cases.people.secrets import seal
from cases.procedure.commands import FileReport
from cases.procedure.vocabulary import Stage
from cases.service import file_report
from cases.store.db import UnitOfWork
from cases.store.models import OutboxRow, Person
from notifications.channels.email import SmtpSettings
from notifications.routes import Channel, Route, Routes
from notifications.sending import RetryPolicy
from notifications.service import Dispatcher

RECEIPT = "WXYZ-2345-6789-ABCD"


def run_stage_work(state: AppState) -> int:
    """What each pending `case-stage` run would do for notifications (its task, as a plain
    function), then mark the run done."""
    with UnitOfWork(state.db, write=False) as uow:
        rows = uow.session.exec(
            select(OutboxRow).where(OutboxRow.topic == STAGE_FLOW, OutboxRow.state == "pending")
        ).all()
    for row in rows:
        payload = json.loads(row.payload)
        stage_work.prepare_notifications(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            case_id=payload["case_id"],
            stage=Stage(payload["stage"]),
            event_seq=payload["event_seq"],
        )
        stage_work.finish_stage_run(uow=UnitOfWork(state.db), key=row.key, flow_run_id=None)
    return len(rows)


def dispatcher(
    state: AppState,
    smtp_port: int,
    *,
    channels: tuple[Channel, ...] = (),
    routes: tuple[Route, ...] = (),
    max_attempts: int = 8,
) -> Dispatcher:
    email = Channel("email", "email")
    return Dispatcher(
        state.db,
        state.policy,
        Routes(
            {c.name: c for c in (email, *channels)},
            (Route(channel="email"), *routes),
        ),
        smtp=SmtpSettings("127.0.0.1", smtp_port, timeout=30, sender="tw@univ.example"),
        pickup=state.settings.data_dir / "mail",
        secret=state.secret,
        retry=RetryPolicy(max_attempts=max_attempts, first_delay=30, max_delay=600),
        portal_url="https://qingfeng.example",
    )


def file_named_report(state: AppState, reporter: Person, subject: str) -> str:
    """A report by a signed-in reporter, with the receipt code sealed for their mail."""
    filed = file_report(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        report=FileReport(
            unit="cs-su",
            subject_handle=subject,
            subject_name="张同学",
            summary="活动经费去向不明",
            details="详细情况",
            anonymous=False,
            reporter_contact="+86 139 0000 1111",
        ),
        reporter=reporter,
        receipt_code=RECEIPT,
        sealed_receipt=seal(state.secret, RECEIPT),
    )
    with UnitOfWork(state.db) as uow:  # the subject is in the directory with a mailbox
        person = uow.session.exec(select(Person).where(Person.handle == subject)).one()
        person.email = f"{subject}@univ.example"
        uow.session.add(person)
        uow.commit()
    return filed.reference


def outbox_states(state: AppState, topic: str) -> dict[str, int]:
    with UnitOfWork(state.db, write=False) as uow:
        rows = uow.session.exec(select(OutboxRow.state).where(col(OutboxRow.topic) == topic)).all()
    counts: dict[str, int] = {}
    for value in rows:
        counts[value] = counts.get(value, 0) + 1
    return counts


def keys_of(mails: list[Message]) -> list[str]:
    return [str(m["X-Qingfeng-Key"]) for m in mails]
