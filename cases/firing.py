"""Firing due deadline steps: claimed, recorded and announced in one transaction.

A step fires exactly once: the claim (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a single
claiming ``UPDATE … RETURNING`` on SQLite), its audit event, the case's flags and the
outbox row commit together, so a crash before the commit leaves the step pending and a
second worker never sees a claimed step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.db import UnitOfWork
from cases.models import ConductCase, Deadline
from cases.outbox import NOTIFICATION, enqueue
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


def _claim(session: Session, *, now: datetime, batch: int, sqlite: bool) -> list[Deadline]:
    if sqlite:
        claimed = session.execute(_CLAIM_SQLITE, {"now": now, "fired_at": now, "batch": batch})
        ids = list(claimed.scalars())
    else:
        ids = list(session.execute(_PENDING_DUE, {"now": now, "batch": batch}).scalars())
        if ids:
            session.execute(
                update(Deadline)
                .where(col(Deadline.id).in_(ids))
                .values(state="fired", fired_at=now)
            )
    if not ids:
        return []
    rows = session.exec(select(Deadline).where(col(Deadline.id).in_(ids))).all()
    return sorted(rows, key=lambda d: (d.due_at, d.id or 0))


def fire_due_steps(*, uow: UnitOfWork, policy: Policy, now: datetime, batch: int = 500) -> int:
    """Fire up to ``batch`` pending steps due by ``now``, oldest first; returns how many."""
    flags = {step.step: step.flag for step in policy.escalation}
    with uow:
        session = uow.session
        fired = _claim(session, now=now, batch=batch, sqlite=uow.db.is_sqlite)
        for step in fired:
            case = session.get(ConductCase, step.case_id)
            assert case is not None
            if step.due_at >= (case.due_at or step.due_at):
                # At or past the due time: the case is overdue and this step is its level.
                # Steps before it are reminders, whatever the policy names them.
                case.overdue, case.escalation = True, step.step
            case.flag = flags.get(step.step) or case.flag
            session.add(case)
            event = append_event(
                session,
                chain=case_chain(step.case_id),
                case_id=step.case_id,
                action=f"deadline.{step.step}",
                at=now,
                data={"stage": step.stage, "step": step.step, "due_at": step.due_at.isoformat()},
            )
            enqueue(
                session,
                key=f"deadline:{step.id}",
                topic=NOTIFICATION,
                now=now,
                case_id=step.case_id,
                payload={
                    "case_id": step.case_id,
                    "reference": case.reference,
                    "stage": step.stage,
                    "event": f"deadline.{step.step}",
                    "event_seq": event.seq,
                },
            )
        uow.commit()
    return len(fired)


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
