"""Notifications end to end: events become mails through a real SMTP server, exactly
once, in each recipient's language, surviving a mail server that is down for a while."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlmodel import select

from api.http.deps import AppState
from cases.firing import fire_due_steps
from cases.outbox import CHANNEL_SEND, DELIVERY
from cases.people.directory import add_person
from cases.procedure import commands as c
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import Deadline, OutboxRow, Person
from tests.conftest import BOTH_DATABASES
from tests.helpers import PATH, act, carry_to, people_with
from tests.notify_helpers import (
    RECEIPT,
    dispatcher,
    file_named_report,
    keys_of,
    outbox_states,
    run_stage_work,
)
from tests.receivers import free_port, smtp_server

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai


@pytest.fixture
def reporter(state: AppState, people: dict[str, Person]) -> Person:
    person, _ = add_person(
        uow=UnitOfWork(state.db),
        handle="stu.wxm",
        name="王小明",
        email="wxm@univ.example",
        language="en",
    )
    return person


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_a_case_reaches_everyone_once_in_their_language(
    state: AppState,
    people: dict[str, Person],
    reporter: Person,
    clock: time_machine.Coordinates,
    tmp_path: Path,
) -> None:
    with smtp_server() as (controller, mailbox):
        notify = dispatcher(state, controller.port)
        ref = file_named_report(state, reporter, "stu.zhang")
        notify.tick()  # the receipt goes at once, before any stage run
        [receipt] = mailbox.to("wxm@univ.example")
        assert RECEIPT in receipt.get_content() and receipt["Content-Language"] == "en"
        assert receipt["Subject"] == f"[qingfeng] Report {ref} received"

        run_stage_work(state)
        notify.tick()
        [to_secretary] = mailbox.to("sec.li@qingfeng.example")
        assert "已收到反映" in to_secretary["Subject"] and RECEIPT not in to_secretary.get_content()
        assert len(mailbox.to("wxm@univ.example")) == 1  # the stage run did not send it again

        for handle, command, _ in PATH:  # to the appeal window, each stage run as it comes
            act(state, people, ref, handle, command)
            run_stage_work(state)
            notify.tick()

    to_subject = mailbox.to("stu.zhang@univ.example")
    subjects = [m["Subject"] for m in to_subject]
    assert subjects == [
        f"【清风】请就 {ref} 进行陈述申辩",
        f"【清风】{ref} 处理决定告知",
    ]
    decision = to_subject[1].get_content()
    assert "警告" in decision and "申诉" in decision
    # The subject never learns who reported: no name, handle, address or phone.
    for mail in to_subject:
        text = mail.as_string() + mail.get_content()
        for secret in ("王小明", "stu.wxm", "wxm@univ.example", "139 0000 1111", RECEIPT):
            assert secret not in text
    assert [m["Subject"] for m in mailbox.to("wxm@univ.example")][1] == (
        f"[qingfeng] Report {ref} accepted"
    )
    assert any("被指派" in m["Subject"] for m in mailbox.to("inv.wang@qingfeng.example"))
    assert any("待您签署" in m["Subject"] for m in mailbox.to("adv.cs-su@qingfeng.example"))
    keys = keys_of(mailbox.mails)
    assert len(keys) == len(set(keys))  # each (event, recipient, channel) once
    assert outbox_states(state, CHANNEL_SEND) == {"done": len(keys)}


def test_receipt_code_is_never_stored_in_clear(
    state: AppState,
    people: dict[str, Person],
    reporter: Person,
    db_file: Path,
    clock: time_machine.Coordinates,
) -> None:
    with smtp_server() as (controller, mailbox):
        file_named_report(state, reporter, "stu.zhang")
        dispatcher(state, controller.port).tick()
    assert RECEIPT in mailbox.mails[0].get_content()
    state.db.dispose()  # checkpoint the WAL so every byte is in the file
    stored = b"".join(p.read_bytes() for p in db_file.parent.glob("qingfeng.db*"))
    assert RECEIPT.encode() not in stored
    with UnitOfWork(state.db, write=False) as uow:
        payloads = uow.session.exec(select(OutboxRow.payload)).all()
    assert not any('"receipt_sealed":"' in p for p in payloads)  # dropped once sent


@BOTH_DATABASES
def test_mail_server_down_then_back_every_message_arrives_once(
    state: AppState, people: dict[str, Person], reporter: Person, clock: time_machine.Coordinates
) -> None:
    port = free_port()
    notify = dispatcher(state, port)
    ref = file_named_report(state, reporter, "stu.zhang")
    carry_to(state, people_with(state, people, "stu.zhang"), ref, Stage.INVESTIGATION)
    run_stage_work(state)
    notify.tick()  # nobody listens on the port: every message is postponed
    waiting = outbox_states(state, CHANNEL_SEND)
    assert waiting == {"pending": waiting["pending"]} and waiting["pending"] >= 5
    with UnitOfWork(state.db, write=False) as uow:
        rows = uow.session.exec(select(OutboxRow).where(OutboxRow.topic == CHANNEL_SEND)).all()
    assert all(r.attempts == 1 and r.available_at.replace(tzinfo=UTC) > NOW for r in rows)
    assert all("unreachable" in (r.last_error or "") for r in rows)

    clock.shift(timedelta(minutes=2))  # past the first backoff (at most 30 s)
    with smtp_server(port=port) as (_, mailbox):
        notify.tick()
        notify.tick()
        clock.shift(timedelta(hours=2))
        notify.tick()
    keys = keys_of(mailbox.mails)
    assert sorted(keys) == sorted(r.key for r in rows)  # each arrived, once
    assert outbox_states(state, CHANNEL_SEND) == {"done": len(rows)}


def test_a_recipient_no_channel_reaches_is_dead_lettered(
    state: AppState, people: dict[str, Person], clock: time_machine.Coordinates
) -> None:
    with UnitOfWork(state.db) as uow:
        secretary = uow.session.exec(select(Person).where(Person.handle == "sec.li")).one()
        secretary.email = None
        uow.session.add(secretary)
        uow.commit()
    from tests.helpers import file

    file(state)
    run_stage_work(state)
    with smtp_server() as (controller, mailbox):
        dispatcher(state, controller.port).tick()
    assert mailbox.mails == []
    with UnitOfWork(state.db, write=False) as uow:
        [dead] = uow.session.exec(
            select(OutboxRow).where(OutboxRow.topic == DELIVERY, OutboxRow.state == "dead")
        ).all()
    assert "no channel reaches" in (dead.last_error or "")


def test_assignment_and_extension_decisions_are_told_without_a_stage_run(
    state: AppState, people: dict[str, Person], clock: time_machine.Coordinates
) -> None:
    from tests.helpers import file

    ref = file(state)
    carry_to(state, people, ref, Stage.INVESTIGATION)
    run_stage_work(state)
    act(state, people, ref, "sec.li", c.Assign(capacity="investigator", person="inv.zhao"))
    act(
        state,
        people,
        ref,
        "inv.wang",
        c.RequestExtension(reason="证人出差", due_on=datetime(2026, 12, 31).date()),
    )
    act(state, people, ref, "sec.li", c.RefuseExtension(reason="时限内可完成"))
    with smtp_server() as (controller, mailbox):
        dispatcher(state, controller.port).tick()
    assert any("被指派" in m["Subject"] for m in mailbox.to("inv.zhao@qingfeng.example"))
    assert any("申请延期" in m["Subject"] for m in mailbox.to("sec.li@qingfeng.example"))
    decided = [m for m in mailbox.to("inv.wang@qingfeng.example") if "延期" in m["Subject"]]
    assert [m["Subject"] for m in decided] == [f"【清风】{ref} 延期申请未获批准"]


def test_the_intake_reminder_reaches_the_people_who_triage(
    state: AppState, people: dict[str, Person]
) -> None:
    from tests.helpers import file

    filed = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday: intake due Thursday
    ref = file(state, now=filed)
    with UnitOfWork(state.db, write=False) as uow:
        reminder = uow.session.exec(
            select(Deadline.due_at).where(Deadline.stage == "intake", Deadline.step == "reminder")
        ).one()
    fired = fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=reminder)
    assert fired == 1
    run_stage_work(state)
    with smtp_server() as (controller, mailbox):
        dispatcher(state, controller.port).tick()
    reminded = {m["To"] for m in mailbox.mails if "提醒" in m["Subject"]}
    # Nobody is assigned at intake: those who may accept or decline the unit's reports are
    # told (the league's investigators and its secretary), not verifiers or advisors.
    assert reminded == {
        "inv.wang@qingfeng.example",
        "inv.zhao@qingfeng.example",
        "sec.li@qingfeng.example",
    }
    assert all(ref in m["Subject"] for m in mailbox.mails if "提醒" in m["Subject"])


def test_triagers_are_whom_the_triage_rule_lets_accept(state: AppState) -> None:
    from cases.context import CaseContext
    from cases.procedure.guards import TRIAGE
    from cases.procedure.vocabulary import TRIAGE_ROLES, Role
    from cases.store.models import ConductCase

    for role in Role:
        ctx = CaseContext(
            case=ConductCase(),
            actor=Person(handle="x", name="x", created_at=NOW),
            roles=frozenset({role.value}),
            parties=[],
            policy=state.policy,
            now=NOW,
        )
        assert TRIAGE(ctx) is (role in TRIAGE_ROLES), role
