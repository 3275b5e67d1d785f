"""Deadline steps fire exactly once: after downtime, in order, never after the case left
the stage, never lost by a crash, never doubled by two workers. (Catch-up on PostgreSQL
with several passes and workers: tests/test_deadline_catchup.py.)"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlmodel import col, func, select

from api.http.deps import AppState
from cases import firing
from cases.firing import fire_due_steps
from cases.outbox import STAGE_FLOW
from cases.procedure import commands as c
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Deadline, OutboxRow, Person
from flows.deadlines import DeadlineWorker
from tests.conftest import BOTH_DATABASES
from tests.helpers import PATH, act, file
from tests.processes import wait_for

ACCEPTED = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)
ACCEPT = c.Accept(category="other", severity="minor", investigators=["inv.wang"])


def _accepted_case(state: AppState, people: dict[str, Person], at: datetime = ACCEPTED) -> str:
    ref = file(state, now=at)
    act(state, people, ref, "inv.wang", ACCEPT, now=at)
    return ref


def _events(state: AppState, ref: str) -> list[str]:
    with UnitOfWork(state.db, write=False) as uow:
        case_id = uow.session.exec(select(ConductCase.id).where(ConductCase.reference == ref)).one()
        return list(
            uow.session.exec(
                select(AuditEvent.action)
                .where(
                    AuditEvent.case_id == case_id, col(AuditEvent.action).startswith("deadline.")
                )
                .order_by(col(AuditEvent.seq))
            )
        )


def test_steps_missed_while_down_fire_once_in_order(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _accepted_case(state, people)
    with time_machine.travel(ACCEPTED + timedelta(days=60), tick=False):
        fired = fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=datetime.now(UTC))
        again = fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=datetime.now(UTC))
    assert again == 0
    # intake's steps were cancelled by the accept; investigation's four are taken in order,
    # and the reminder, due before a due time that has passed too, is skipped
    assert fired == 4
    assert _events(state, ref) == [
        "deadline.reminder.skipped",
        "deadline.overdue",
        "deadline.escalation_1",
        "deadline.escalation_2",
    ]
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()
        keys = uow.session.exec(
            select(OutboxRow.key).where(
                OutboxRow.topic == STAGE_FLOW, col(OutboxRow.payload).contains('"deadline.')
            )
        ).all()
    assert (case.overdue, case.escalation, case.flag) == (True, "escalation_2", "red")
    assert case.version == 2  # firing does not move the ETag staff hold
    assert len(keys) == len(set(keys)) == 3  # a run for each step that was sent


def test_only_steps_due_so_far_fire(state: AppState, people: dict[str, Person]) -> None:
    ref = _accepted_case(state, people)
    reminder_time = datetime(2026, 10, 15, 10, 0, tzinfo=UTC)
    assert (
        fire_due_steps(
            uow=UnitOfWork(state.db), policy=state.policy, now=reminder_time - timedelta(seconds=1)
        )
        == 0
    )
    assert fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=reminder_time) == 1
    assert _events(state, ref) == ["deadline.reminder"]


def test_a_case_that_left_the_stage_never_gets_its_steps(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _accepted_case(state, people)
    for handle, command, _ in (PATH[3], PATH[4]):  # statement, findings: off to verification
        act(state, people, ref, handle, command, now=ACCEPTED + timedelta(days=1))
    fire_due_steps(
        uow=UnitOfWork(state.db), policy=state.policy, now=ACCEPTED + timedelta(days=12)
    )  # investigation's steps would be due
    assert _events(state, ref) == []


def test_a_crash_between_claim_and_commit_loses_nothing(
    state: AppState, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = _accepted_case(state, people)
    later = ACCEPTED + timedelta(days=60)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("worker died mid-batch")

    with monkeypatch.context() as patch:
        patch.setattr(firing, "enqueue_all", crash)
        with pytest.raises(RuntimeError):
            fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=later)
    with UnitOfWork(state.db, write=False) as uow:
        states = set(
            uow.session.exec(select(Deadline.state).where(Deadline.stage == "investigation"))
        )
    assert states == {"pending"}
    assert fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=later) == 4
    assert len(_events(state, ref)) == 4


@BOTH_DATABASES
def test_two_workers_fire_no_step_twice(state: AppState, people: dict[str, Person]) -> None:
    refs = [_accepted_case(state, people) for _ in range(8)]
    later = ACCEPTED + timedelta(days=60)
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        total = 0
        while fired := fire_due_steps(
            uow=UnitOfWork(state.db), policy=state.policy, now=later, batch=3
        ):
            total += fired
        counts.append(total)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 4 * len(refs)
    with UnitOfWork(state.db, write=False) as uow:
        events = uow.session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(col(AuditEvent.action).startswith("deadline."))
        ).one()
    assert events == 4 * len(refs)
    assert all(len(_events(state, ref)) == 4 for ref in refs)


def test_worker_fires_missed_steps_on_start_and_waits_for_the_next(
    state: AppState, people: dict[str, Person]
) -> None:
    now = datetime.now(UTC)
    overdue = _accepted_case(state, people, at=now - timedelta(days=60))
    upcoming = _accepted_case(state, people, at=now)
    with UnitOfWork(state.db, write=False) as uow:
        next_step = uow.session.exec(
            select(func.min(Deadline.due_at)).where(
                Deadline.state == "pending", Deadline.due_at > now
            )
        ).one()
    worker = DeadlineWorker(state.db, state.policy, safety_seconds=3600)
    worker.start()  # the catch-up is its first pass, on the scheduler's thread
    try:
        assert wait_for(lambda: len(_events(state, overdue)) == 4)
        assert wait_for(lambda: _wake_time(worker) == next_step)
        assert _events(state, upcoming) == []
    finally:
        worker.stop()


def _wake_time(worker: DeadlineWorker) -> datetime | None:
    wake = worker.scheduler.get_job("deadline-wake")
    return wake.next_run_time if wake else None


def test_overdue_and_due_soon_filters(
    client: object, tokens: dict[str, str], state: AppState, people: dict[str, Person]
) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    now = datetime.now(UTC)
    late = _accepted_case(state, people, at=now - timedelta(days=60))
    fresh = _accepted_case(state, people, at=now)
    fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=now)
    headers = {"Authorization": f"Bearer {tokens['sec.li']}"}

    def refs(**params: object) -> set[str]:
        page = client.get("/cases", params=params, headers=headers).json()
        return {item["reference"] for item in page["items"]}

    assert refs(overdue=True) == {late}
    assert fresh in refs(overdue=False)
    assert refs(due_within=0) == {late}  # only what is already due
    assert {late, fresh} <= refs(due_within=30)


def test_deadlines_upcoming_cli(
    state: AppState, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app
    from config.settings import get_settings

    ref = _accepted_case(state, people, at=datetime.now(UTC))
    monkeypatch.setenv("QINGFENG_DATABASE_URL", state.db.url)
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(state.settings.data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["deadlines", "upcoming", "--days", "30"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if ref in line]
    assert [line.split()[-1] for line in lines] == [
        "reminder",
        "overdue",
        "escalation_1",
        "escalation_2",
    ]


def test_a_commit_with_an_earlier_step_moves_the_wake_up(
    state: AppState, people: dict[str, Person]
) -> None:
    worker = DeadlineWorker(state.db, state.policy, safety_seconds=3600)
    worker.start()
    try:
        assert wait_for(lambda: _wake_time(worker) is None)  # first pass done: nothing pending
        ref = file(state)  # intake opens: its reminder is the earliest step
        with UnitOfWork(state.db, write=False) as uow:
            earliest = uow.session.exec(
                select(func.min(Deadline.due_at)).where(Deadline.state == "pending")
            ).one()
        assert _wake_time(worker) == earliest
        assert _events(state, ref) == []
    finally:
        worker.stop()
