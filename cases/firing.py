"""Firing due deadline steps: claimed, recorded and announced in one transaction.

A step fires exactly once: the claim (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a single
claiming ``UPDATE … RETURNING`` on SQLite), its audit event, the case's flags and the
outbox row commit together, so a crash before the commit leaves the step pending and a
second worker never sees a claimed step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, update
from sqlalchemy import select as sa_select  # more columns than sqlmodel's select types
from sqlmodel import Session, col, select

from cases.audit import NewEvent, append_events, case_chain
from cases.db import UnitOfWork
from cases.models import ConductCase, Deadline, table_of
from cases.outbox import STAGE_FLOW, Message, enqueue_all, stage_flow_key
from cases.policy import Policy

_DUE = (
    select(col(Deadline.id))
    .where(col(Deadline.state) == "pending", col(Deadline.due_at) <= bindparam("now"))
    .order_by(col(Deadline.due_at), col(Deadline.id))
    .limit(bindparam("batch"))
)
_PENDING_DUE = _DUE.with_for_update(skip_locked=True)
# SQLite has one writer at a time, so a single claiming UPDATE … RETURNING is the lock.
_CLAIM_SQLITE = (
    update(Deadline)
    .where(col(Deadline.id).in_(_DUE.scalar_subquery()))
    .values(state="fired", fired_at=bindparam("fired_at"))
    .returning(col(Deadline.id))
)


def _claim(session: Session, *, now: datetime, batch: int, sqlite: bool) -> list[int]:
    if sqlite:
        claimed = session.execute(_CLAIM_SQLITE, {"now": now, "fired_at": now, "batch": batch})
        return list(claimed.scalars())
    ids = list(session.execute(_PENDING_DUE, {"now": now, "batch": batch}).scalars())
    if ids:
        session.execute(
            update(Deadline).where(col(Deadline.id).in_(ids)).values(state="fired", fired_at=now)
        )
    return ids


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
    .order_by(col(Deadline.due_at), col(Deadline.id))
)
Flags = tuple[bool, str | None, str | None]  # overdue, escalation level, flag
_CASES = table_of(ConductCase)
_SET_FLAGS = (
    update(_CASES)
    .where(_CASES.c.id.in_(bindparam("case_ids", expanding=True)))
    .values(
        overdue=bindparam("is_overdue"), escalation=bindparam("level"), flag=bindparam("marked")
    )
)


def fire_due_steps(*, uow: UnitOfWork, policy: Policy, now: datetime, batch: int = 1000) -> int:
    """Fire up to ``batch`` pending steps due by ``now``, oldest first; returns how many."""
    with uow:
        session = uow.session
        ids = _claim(session, now=now, batch=batch, sqlite=uow.db.is_sqlite)
        if not ids:
            return 0
        # Set-based: a burst of thousands of steps costs a handful of statements per batch.
        fired = session.execute(_CLAIMED, {"ids": ids}).all()
        for (is_overdue, level, marked), case_ids in _flags_after(fired, policy).items():
            session.execute(
                _SET_FLAGS,
                {"case_ids": case_ids, "is_overdue": is_overdue, "level": level, "marked": marked},
            )
        events = append_events(session, [_event(step, now) for step in fired])
        enqueue_all(
            session,
            [
                message
                for step, event in zip(fired, events, strict=True)
                for message in _messages(step, event.seq)
            ],
            now=now,
        )
        uow.commit()
    return len(fired)


def _flags_after(fired: Sequence[Row[Any]], policy: Policy) -> dict[Flags, list[int]]:
    """Each case's overdue/escalation/flag after its fired steps, grouped by equal values."""
    marks = {step.step: step.flag for step in policy.escalation}
    after: dict[int, Flags] = {}
    for step in fired:
        is_overdue, level, marked = after.get(
            step.case_id, (step.overdue, step.escalation, step.flag)
        )
        if step.due_at >= (step.case_due_at or step.due_at):
            # At or past the due time: the case is overdue and this step is its level.
            # Steps before it are reminders, whatever the policy names them.
            is_overdue, level = True, step.step
        after[step.case_id] = (is_overdue, level, marks.get(step.step) or marked)
    grouped: dict[Flags, list[int]] = {}
    for case_id, flags in after.items():
        grouped.setdefault(flags, []).append(case_id)
    return grouped


def _event(step: Row[Any], now: datetime) -> NewEvent:
    return NewEvent(
        chain=case_chain(step.case_id),
        case_id=step.case_id,
        action=f"deadline.{step.step}",
        at=now,
        data={"stage": step.stage, "step": step.step, "due_at": step.due_at.isoformat()},
    )


def _messages(step: Row[Any], event_seq: int) -> list[Message]:
    """The step's run of the case's stage flow (as a transition has); the run prepares the
    step's notifications."""
    payload = {
        "case_id": step.case_id,
        "reference": step.reference,
        "stage": step.stage,
        "event": f"deadline.{step.step}",
        "event_seq": event_seq,
    }
    return [
        Message(
            stage_flow_key(step.case_id, step.stage, event_seq), STAGE_FLOW, payload, step.case_id
        )
    ]


def next_pending_due(*, uow: UnitOfWork) -> datetime | None:
    """When the earliest pending step falls due (None when nothing is pending)."""
    with uow:
        return uow.session.exec(
            select(Deadline.due_at)
            .where(col(Deadline.state) == "pending")
            .order_by(col(Deadline.due_at))
            .limit(1)
        ).first()


def upcoming_steps(*, uow: UnitOfWork, until: datetime) -> list[tuple[str, Deadline]]:
    """Pending steps due by ``until`` with their case references, earliest first."""
    with uow:
        rows = uow.session.exec(
            select(ConductCase.reference, Deadline)
            .join(ConductCase, col(ConductCase.id) == Deadline.case_id)
            .where(col(Deadline.state) == "pending", col(Deadline.due_at) <= until)
            .order_by(col(Deadline.due_at), col(Deadline.id))
        ).all()
        return [(reference, step) for reference, step in rows]
