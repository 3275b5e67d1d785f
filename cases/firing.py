"""Firing due deadline steps: claimed, recorded and announced in one transaction.

Claimed by case, not by step. A pass locks the cases that have due steps (``FOR UPDATE
SKIP LOCKED`` on the case rows on PostgreSQL; on SQLite the writer holds the database)
and claims every due step of those cases at once. So one case's steps are never split
between two passes — two workers, or two instances whose clocks differ — and they are
recorded in ladder order in one transaction; and the case's flags are read under that
lock and written by the same transaction, so no pass overwrites what another wrote.
Claiming steps by themselves let two passes take one case's reminder and escalation_2,
commit them in either order and each write the flags it had read before the other
committed. Staff actions lock the same row (``cases.people.access.case_for``): a case someone is
acting on is skipped and taken by the next pass.

A step fires exactly once: the claim, its audit event, the case's flags and the outbox
row commit together, so a crash before the commit leaves the step pending.

What is true now, after downtime: a step before the due time (a reminder) that falls due
once the due time itself has passed is recorded as skipped (its own state and event) and
sends nothing; the steps at or after it carry since when the case is overdue. The
appeal window's one step closes the case (``cases.closing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, update
from sqlalchemy import select as sa_select  # more columns than sqlmodel's select types
from sqlmodel import Session, col, select

from cases.audit import NewEvent, append_events, case_chain
from cases.closing import close_after_window
from cases.outbox import STAGE_FLOW, NewOutboxRow, enqueue_all, stage_flow_key
from cases.procedure.labels import DEADLINE_EVENT, SKIPPED
from cases.procedure.policy import APPEAL_WINDOW_STEP, Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Deadline, StepState, table_of
from config.telemetry import STEP_LATENESS, STEPS_FIRED

_STEPS = table_of(Deadline)
_CASES = table_of(ConductCase)
# The oldest due steps (an index range scan, however many are due), their cases by the
# earliest of them: a pass reads a bounded window, not every step a long downtime left.
_OLDEST_DUE = (
    sa_select(_STEPS.c.case_id, _STEPS.c.due_at)
    .where(_STEPS.c.state == StepState.PENDING, _STEPS.c.due_at <= bindparam("now"))
    .order_by(_STEPS.c.due_at, _STEPS.c.id)
    .limit(bindparam("window"))
    .subquery("oldest_due")
)
_FIRST_DUE = (
    sa_select(_OLDEST_DUE.c.case_id, func.min(_OLDEST_DUE.c.due_at).label("first_due"))
    .group_by(_OLDEST_DUE.c.case_id)
    .subquery("first_due")
)
WINDOW = 4  # steps looked at per case taken: room for another pass's cases to be skipped
# Oldest first. SKIP LOCKED leaves the cases another pass (or a staff action) holds to it
# and takes the next ones; SQLite renders no FOR UPDATE (its writer holds the database).
_LOCK_DUE_CASES = (
    sa_select(_CASES.c.id)
    .join(_FIRST_DUE, _FIRST_DUE.c.case_id == _CASES.c.id)
    .order_by(_FIRST_DUE.c.first_due, _CASES.c.id)
    .limit(bindparam("batch"))
    .with_for_update(of=_CASES, skip_locked=True)
)
_CLAIM = (
    update(_STEPS)
    .where(
        _STEPS.c.case_id.in_(bindparam("case_ids", expanding=True)),
        _STEPS.c.state == StepState.PENDING,
        _STEPS.c.due_at <= bindparam("now"),
    )
    .values(state=StepState.FIRED, fired_at=bindparam("fired_at"))
    .returning(_STEPS.c.id)
)
_SKIP = (
    update(_STEPS)
    .where(_STEPS.c.id.in_(bindparam("ids", expanding=True)))
    .values(state=StepState.SKIPPED)
)
_CLAIMED: Select[*tuple[Any, ...]] = (
    sa_select(
        col(Deadline.id),
        col(Deadline.case_id),
        col(Deadline.stage),
        col(Deadline.step),
        col(Deadline.due_at),
        col(ConductCase.reference),
        col(ConductCase.due_at).label("case_due_at"),
        col(ConductCase.overdue),
        col(ConductCase.escalation),
        col(ConductCase.flag),
    )
    .join(ConductCase, col(ConductCase.id) == col(Deadline.case_id))
    .where(col(Deadline.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Deadline.due_at), col(Deadline.id))  # per case: ladder order
)
Flags = tuple[bool, str | None, str | None]  # overdue, escalation level, flag
_SET_FLAGS = (
    update(_CASES)
    .where(_CASES.c.id.in_(bindparam("case_ids", expanding=True)))
    .values(
        overdue=bindparam("is_overdue"), escalation=bindparam("level"), flag=bindparam("marked")
    )
)
DUE_TIME_PASSED = "due_time_passed"  # why a reminder was skipped
NO_LADDER = "appeal_window_has_no_ladder"  # a ladder row written there before it had none


@dataclass
class _Plan:
    """What becomes of each claimed step, in ladder order."""

    fired: list[Row[Any]] = field(default_factory=list)  # recorded and announced
    skipped: dict[int, str] = field(default_factory=dict)  # step id -> why
    closing: list[int] = field(default_factory=list)  # cases whose appeal window ended


def fire_due_steps(*, uow: UnitOfWork, policy: Policy, now: datetime, batch: int = 1000) -> int:
    """Fire the due steps of up to ``batch`` cases (oldest due first), all of each case's
    together; returns how many steps were fired, skipped or closed a case."""
    with uow:
        session = uow.session
        due = {"now": now, "batch": batch, "window": batch * WINDOW}
        case_ids = list(session.execute(_LOCK_DUE_CASES, due).scalars())
        if not case_ids:
            return 0
        claim = {"case_ids": case_ids, "now": now, "fired_at": now}
        ids = list(session.execute(_CLAIM, claim).scalars())
        if not ids:  # another pass fired them between our snapshot and our lock
            return 0
        # Set-based: a burst of thousands of steps costs a handful of statements per batch.
        claimed = session.execute(_CLAIMED, {"ids": ids}).all()
        plan = _plan(claimed, now)
        if plan.skipped:
            session.execute(_SKIP, {"ids": list(plan.skipped)})
        for (is_overdue, level, marked), flagged in _flags_after(plan.fired, policy).items():
            session.execute(
                _SET_FLAGS,
                {"case_ids": flagged, "is_overdue": is_overdue, "level": level, "marked": marked},
            )
        _record(session, claimed, plan, now)
        close_after_window(session, plan.closing, policy=policy, now=now)
        uow.after_commit(partial(_count_fired, claimed, plan, now))
        uow.commit()
    return len(claimed)


def _plan(claimed: Sequence[Row[Any]], now: datetime) -> _Plan:
    plan = _Plan()
    for step in claimed:
        if step.stage == Stage.APPEAL_WINDOW:
            if step.step == APPEAL_WINDOW_STEP:
                plan.closing.append(step.case_id)
            else:
                plan.skipped[step.id] = NO_LADDER
        elif step.case_due_at is not None and step.due_at < step.case_due_at <= now:
            plan.skipped[step.id] = DUE_TIME_PASSED
        else:
            plan.fired.append(step)
    return plan


def _count_fired(claimed: Sequence[Row[Any]], plan: _Plan, now: datetime) -> None:
    """Count the steps that fired (not the skipped ones) and how late each was."""
    for step in claimed:
        if step.id not in plan.skipped:
            STEPS_FIRED.labels(stage=step.stage, step=step.step).inc()
            STEP_LATENESS.labels(stage=step.stage).observe((now - step.due_at).total_seconds())


def _record(session: Session, claimed: Sequence[Row[Any]], plan: _Plan, now: datetime) -> None:
    """The events of fired and skipped steps, in ladder order, and the fired steps' runs."""
    fired = {step.id for step in plan.fired}
    recorded = [step for step in claimed if step.id in fired or step.id in plan.skipped]
    if not recorded:  # only appeal windows that ended: their close is its own event
        return
    events = append_events(
        session, [_event(step, now, plan.skipped.get(step.id)) for step in recorded]
    )
    enqueue_all(
        session,
        [
            _run(step, event.seq)
            for step, event in zip(recorded, events, strict=True)
            if step.id in fired
        ],
        now=now,
    )


def _flags_after(fired: Sequence[Row[Any]], policy: Policy) -> dict[Flags, list[int]]:
    """Each case's overdue/escalation/flag after its fired steps, grouped by equal values."""
    marks = {step.step: step.flag for step in policy.escalation}
    after: dict[int, Flags] = {}
    for step in fired:
        is_overdue, level, marked = after.get(
            step.case_id, (step.overdue, step.escalation, step.flag)
        )
        if _past_due(step):
            # At or past the due time: the case is overdue and this step is its level.
            # Steps before it are reminders, whatever the policy names them.
            is_overdue, level = True, step.step
        after[step.case_id] = (is_overdue, level, marks.get(step.step) or marked)
    grouped: dict[Flags, list[int]] = {}
    for case_id, flags in after.items():
        grouped.setdefault(flags, []).append(case_id)
    return grouped


def _past_due(step: Row[Any]) -> bool:
    return bool(step.due_at >= (step.case_due_at or step.due_at))


def _event(step: Row[Any], now: datetime, skipped_because: str | None) -> NewEvent:
    data: dict[str, Any] = {"stage": step.stage, "step": step.step, "due_at": step.due_at}
    if skipped_because:
        data["skipped_because"] = skipped_because
    elif _past_due(step) and step.case_due_at is not None:
        data["overdue_since"] = step.case_due_at  # what the notices say, after downtime too
    return NewEvent(
        chain=case_chain(step.case_id),
        case_id=step.case_id,
        action=f"{DEADLINE_EVENT}{step.step}" + (SKIPPED if skipped_because else ""),
        at=now,
        data={k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()},
    )


def _run(step: Row[Any], event_seq: int) -> NewOutboxRow:
    """The step's run of the case's stage flow (as a transition has); the run prepares the
    step's notifications."""
    payload = {
        "case_id": step.case_id,
        "reference": step.reference,
        "stage": step.stage,
        "event": f"{DEADLINE_EVENT}{step.step}",
        "event_seq": event_seq,
    }
    return NewOutboxRow(
        stage_flow_key(step.case_id, step.stage, event_seq), STAGE_FLOW, payload, step.case_id
    )


def next_pending_due(*, uow: UnitOfWork) -> datetime | None:
    """When the earliest pending step falls due (None when nothing is pending)."""
    with uow:
        return uow.session.exec(
            select(Deadline.due_at)
            .where(col(Deadline.state) == StepState.PENDING)
            .order_by(col(Deadline.due_at))
            .limit(1)
        ).first()


def upcoming_steps(*, uow: UnitOfWork, until: datetime) -> list[tuple[str, Deadline]]:
    """Pending steps due by ``until`` with their case references, earliest first."""
    with uow:
        rows = uow.session.exec(
            select(ConductCase.reference, Deadline)
            .join(ConductCase, col(ConductCase.id) == Deadline.case_id)
            .where(col(Deadline.state) == StepState.PENDING, col(Deadline.due_at) <= until)
            .order_by(col(Deadline.due_at), col(Deadline.id))
        ).all()
        return [(reference, step) for reference, step in rows]
