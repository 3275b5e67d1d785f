"""After the appeal window: with no appeal, the decision takes effect and the case closes by
itself (no actor, the `close` transition, the closing notices), exactly once, instead of
turning overdue and red; an appeal in time keeps it open."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import col, select

from api.http.deps import AppState
from cases.firing import fire_due_steps
from cases.outbox import DELIVERY, STAGE_FLOW
from cases.people.directory import add_person
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Deadline, OutboxRow, Person
from flows.deadlines import DeadlineWorker
from tests.conftest import BOTH_DATABASES
from tests.helpers import act, carry_to, people_with
from tests.notify_helpers import file_named_report, run_stage_work
from tests.processes import wait_for

LONG_AGO = timedelta(days=60)  # the window (10 working days) ended weeks ago


def _case(state: AppState, ref: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()


def _events(state: AppState, case_id: int) -> list[AuditEvent]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(
            uow.session.exec(
                select(AuditEvent)
                .where(AuditEvent.case_id == case_id)
                .order_by(col(AuditEvent.seq))
            )
        )


def _in_window(state: AppState, people: dict[str, Person], *, at: datetime) -> str:
    reporter, _ = add_person(
        uow=UnitOfWork(state.db), handle="stu.wxm", name="王小明", email="wxm@univ.example"
    )
    ref = file_named_report(state, reporter, "stu.zhang")
    carry_to(state, people_with(state, people, "stu.zhang"), ref, Stage.APPEAL_WINDOW, now=at)
    return ref


@BOTH_DATABASES
def test_the_window_ends_and_the_worker_closes_the_case(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _in_window(state, people, at=utcnow() - LONG_AGO)
    window = _case(state, ref)
    assert window.id is not None and window.appeal_window_ends_at is not None
    with UnitOfWork(state.db, write=False) as uow:
        steps = uow.session.exec(
            select(Deadline.step, Deadline.due_at).where(
                Deadline.case_id == window.id, Deadline.stage == Stage.APPEAL_WINDOW
            )
        ).all()
    assert steps == [("close", window.appeal_window_ends_at)]  # no reminder, no ladder
    run_stage_work(state)  # the decision notice and the other runs so far

    worker = DeadlineWorker(state.db, state.policy, safety_seconds=3600)
    worker.start()
    try:
        assert wait_for(lambda: _case(state, ref).stage == Stage.CLOSED)
    finally:
        worker.stop()

    closed = _case(state, ref)
    assert (closed.overdue, closed.escalation, closed.flag) == (False, None, None)
    assert closed.decision == "warning" and closed.closed_at is not None
    assert closed.version == window.version + 1  # a transition, as a staff close is
    actions = [e.action for e in _events(state, window.id)]
    entered = actions.index("case.co_sign")  # the decision: into the appeal window
    assert actions[entered + 1 :] == ["case.close"]  # no deadline.*: no staff deadline here
    close = _events(state, window.id)[-1]
    assert close.actor_id is None
    assert json.loads(close.data) == {
        "automatic": True,
        "because": "appeal_window_ended",
        "appeal_window_ended_at": window.appeal_window_ends_at.isoformat(),
        "decision": "warning",
        "stage": "closed",  # every stage change records the stage entered and its due time
        "due_at": None,
    }
    assert fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=utcnow()) == 0

    with UnitOfWork(state.db, write=False) as uow:
        runs = uow.session.exec(
            select(OutboxRow.payload).where(
                OutboxRow.topic == STAGE_FLOW, OutboxRow.state == "pending"
            )
        ).all()
    assert [json.loads(p)["event"] for p in runs] == ["close"]
    assert [json.loads(p)["stage"] for p in runs] == ["closed"]
    run_stage_work(state)  # what the `case-stage` run of the close does: the closing notices
    with UnitOfWork(state.db, write=False) as uow:
        deliveries = [
            json.loads(p)
            for p in uow.session.exec(
                select(OutboxRow.payload).where(
                    OutboxRow.topic == DELIVERY,
                    OutboxRow.case_id == window.id,
                    col(OutboxRow.payload).contains('"event":"close"'),
                )
            )
        ]
    assert {(d["audience"], d["notice"]) for d in deliveries} == {
        ("subject", "closed"),
        ("reporter", "survey_invitation"),
        ("assignees", "closed"),
    }


def test_an_appeal_in_time_keeps_the_case_open(state: AppState, people: dict[str, Person]) -> None:
    ref = _in_window(state, people, at=utcnow() - LONG_AGO)
    ends = _case(state, ref).appeal_window_ends_at
    assert ends is not None
    act(state, people, ref, "stu.zhang", c.Appeal(grounds="不服"), now=ends - timedelta(hours=1))
    fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=ends + timedelta(hours=1))
    case = _case(state, ref)
    assert case.stage == Stage.APPEAL_REVIEW and case.closed_at is None
    with UnitOfWork(state.db, write=False) as uow:
        close = uow.session.exec(select(Deadline.state).where(Deadline.step == "close")).one()
    assert close == "cancelled"


def test_the_window_is_not_closed_before_it_ends(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _in_window(state, people, at=utcnow() - LONG_AGO)
    ends = _case(state, ref).appeal_window_ends_at
    assert ends is not None
    fired = fire_due_steps(
        uow=UnitOfWork(state.db), policy=state.policy, now=ends - timedelta(seconds=1)
    )
    assert fired == 0 and _case(state, ref).stage == Stage.APPEAL_WINDOW
