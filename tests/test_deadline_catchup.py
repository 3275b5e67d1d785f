"""Catching up after downtime: every case's steps are recorded once each, in ladder order,
with the flags they leave — however many batches, passes and workers share the work —
and what is sent is true now (no reminder after the due time; since when overdue)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlmodel import col, select

from api.http.deps import AppState
from cases.firing import fire_due_steps
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.store.db import Database, UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Deadline, Person
from flows.deadlines import DeadlineWorker
from tests.conftest import BOTH_DATABASES
from tests.helpers import act, file
from tests.notify_helpers import dispatcher, run_stage_work
from tests.processes import wait_for
from tests.receivers import smtp_server

POSTGRES = pytest.mark.parametrize("state", ["postgres"], indirect=True)
ACCEPT = c.Accept(category="other", severity="minor", investigators=["inv.wang"])
# Cases accepted a day apart: their ladders (10 working days, then +2, +5) interleave in
# due order, so a pass that took steps rather than cases would split each case's ladder.
FIRST = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)
LADDER = ["deadline.reminder", "deadline.overdue", "deadline.escalation_1", "deadline.escalation_2"]
CASES = 24


def _accepted(state: AppState, people: dict[str, Person], count: int = CASES) -> list[str]:
    refs = []
    for k in range(count):
        at = FIRST + timedelta(days=k)
        refs.append(file(state, now=at))
        act(state, people, refs[-1], "inv.wang", ACCEPT, now=at)
    return refs


def _recorded(state: AppState) -> dict[str, tuple[list[str], tuple[bool, str | None, str | None]]]:
    """Each case's deadline events in chain order, and its flags."""
    with UnitOfWork(state.db, write=False) as uow:
        cases = {
            case.id: case for case in uow.session.exec(select(ConductCase)) if case.id is not None
        }
        events = uow.session.exec(
            select(AuditEvent.case_id, AuditEvent.action)
            .where(col(AuditEvent.action).startswith("deadline."))
            .order_by(col(AuditEvent.case_id), col(AuditEvent.seq))
        ).all()
    found: dict[str, tuple[list[str], tuple[bool, str | None, str | None]]] = {
        case.reference: ([], (case.overdue, case.escalation, case.flag)) for case in cases.values()
    }
    for case_id, action in events:
        found[cases[case_id or 0].reference][0].append(action)
    return found


def _pending_due(state: AppState) -> int:
    with UnitOfWork(state.db, write=False) as uow:
        return len(
            uow.session.exec(
                select(Deadline.id).where(Deadline.state == "pending", Deadline.due_at <= utcnow())
            ).all()
        )


def _each_case_in_ladder_order_once(state: AppState, refs: list[str]) -> None:
    recorded = _recorded(state)
    for ref in refs:
        actions, flags = recorded[ref]
        # Ladder order, each step once (a skipped reminder keeps its place)
        assert [a.removesuffix(".skipped") for a in actions] == LADDER, ref
        assert actions[0] == "deadline.reminder.skipped", ref  # the due time had passed
        assert flags == (True, "escalation_2", "red"), ref  # no pass overwrote another's


@POSTGRES
def test_catch_up_at_start_in_many_batches(state: AppState, people: dict[str, Person]) -> None:
    refs = _accepted(state, people)
    worker = DeadlineWorker(state.db, state.policy, safety_seconds=1, batch=3)
    worker.start()  # a pass at start, the wake-up job and the safety tick all want to run
    try:
        assert wait_for(lambda: _pending_due(state) == 0, seconds=120)
    finally:
        worker.stop()
    _each_case_in_ladder_order_once(state, refs)


@POSTGRES
def test_two_instances_at_once_never_split_a_case(
    state: AppState, people: dict[str, Person]
) -> None:
    refs = _accepted(state, people)
    other = Database(state.db.url, pool_size=4)  # a second instance: its own connections
    workers = [
        DeadlineWorker(db, state.policy, safety_seconds=1, batch=2) for db in (state.db, other)
    ]
    ready = threading.Barrier(len(workers))

    def start(worker: DeadlineWorker) -> None:
        ready.wait()  # both start at once, as two instances brought up together
        worker.start()

    starting = [threading.Thread(target=start, args=(worker,)) for worker in workers]
    try:
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        assert wait_for(lambda: _pending_due(state) == 0, seconds=120)
    finally:
        for worker in workers:
            worker.stop()
        other.dispose()
    _each_case_in_ladder_order_once(state, refs)


@POSTGRES
def test_a_case_another_transaction_holds_is_left_whole(
    state: AppState, people: dict[str, Person]
) -> None:
    held, free = _accepted(state, people, count=2)
    later = FIRST + timedelta(days=60)
    with UnitOfWork(state.db, write=False) as uow:
        held_id = uow.session.exec(
            select(ConductCase.id).where(ConductCase.reference == held)
        ).one()
    engine = create_engine(state.db.url)
    fired: list[int] = []
    firing = threading.Thread(
        target=lambda: fired.append(
            fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=later)
        )
    )
    try:
        with engine.connect() as holder:  # another pass, or a staff action, on `held`
            holder.execute(
                select(ConductCase.id).where(ConductCase.id == held_id).with_for_update()
            )
            firing.start()
            firing.join(timeout=60)
            finished = not firing.is_alive()
            with UnitOfWork(state.db, write=False) as uow:
                states = set(
                    uow.session.exec(
                        select(Deadline.state).where(
                            Deadline.case_id == held_id, Deadline.stage == "investigation"
                        )
                    )
                )
            holder.rollback()
        firing.join()
    finally:
        engine.dispose()
    assert finished, "the pass waited for the held case instead of leaving it"
    assert fired == [4] and states == {"pending"}  # the free case's 4 steps; none of held's
    assert fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=later) == 4
    _each_case_in_ladder_order_once(state, [held, free])


@BOTH_DATABASES
def test_after_downtime_the_notices_say_what_is_true_now(
    state: AppState, people: dict[str, Person]
) -> None:
    [ref] = _accepted(state, people, count=1)  # investigation due 2026-08-17 18:00
    fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=FIRST + timedelta(days=60))
    run_stage_work(state)
    with smtp_server() as (controller, mailbox):
        dispatcher(state, controller.port).tick()
    since = "2026-08-17 18:00"
    late = [m for m in mailbox.mails if any(w in m["Subject"] for w in ("提醒", "逾期"))]

    def subjects(address: str) -> list[str]:
        return [m["Subject"] for m in late if m["To"] == address]

    # The investigator is told it is overdue, not "please finish on time" as well.
    assert subjects("inv.wang@qingfeng.example") == [f"【清风】逾期：{ref} 自 {since} 起逾期"]
    to_secretary = subjects("sec.li@qingfeng.example")
    assert sorted(to_secretary) == sorted(
        [
            f"【清风】逾期：{ref} 自 {since} 起逾期",
            f"【清风】一级督办：{ref} 自 {since} 起逾期未办结",
            f"【清风】二级督办（红色）：{ref} 自 {since} 起逾期未办结",
        ]
    )
    assert subjects("adv.cs-su@qingfeng.example") == [
        f"【清风】一级督办：{ref} 自 {since} 起逾期未办结"
    ]
    assert all(since in m.get_content() for m in late) and len(late) == 5
    with UnitOfWork(state.db, write=False) as uow:
        reminder = uow.session.exec(
            select(Deadline.state).where(
                Deadline.stage == "investigation", Deadline.step == "reminder"
            )
        ).one()
    assert reminder == "skipped"


def test_a_late_reminder_before_the_due_time_is_still_sent(
    state: AppState, people: dict[str, Person]
) -> None:
    [ref] = _accepted(state, people, count=1)
    due = datetime(2026, 8, 17, 10, 0, tzinfo=UTC)
    # Down over the reminder's time, back an hour before the due time: still true, so sent
    fired = fire_due_steps(
        uow=UnitOfWork(state.db), policy=state.policy, now=due - timedelta(hours=1)
    )
    assert fired == 1 and _recorded(state)[ref][0] == ["deadline.reminder"]
