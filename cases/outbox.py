"""The outbox: everything that leaves the process is first a row written with the change.

Dispatchers (notifications, Prefect stage runs) read it after commit; the unique key makes
a retried transition or a re-run flow add nothing twice.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, insert, update
from sqlalchemy import select as sa_select  # five columns: more than sqlmodel's select types
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cases import signals
from cases.audit import canonical
from cases.store.db import core
from cases.store.models import ConductCase, OutboxRow, OutboxState, table_of

WRITTEN = "outbox.written"  # signal: the set of topics a committed transaction wrote
OUTBOX: Table = table_of(OutboxRow)  # Core, for executemany
_INSERT = insert(OUTBOX)
# Topics: what a row asks for.
STAGE_FLOW = "stage_flow"  # a Prefect run of a stage's work
NOTIFICATION = "notification"  # an event that may concern people (expanded by recipients)
DELIVERY = "delivery"  # one notice to one person, prepared by the stage flow
CHANNEL_SEND = "message"  # one rendered notice to one recipient through one channel
NOTIFICATION_TOPICS = (NOTIFICATION, DELIVERY, CHANNEL_SEND)  # the notification workers'


def _insert_new(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    insert_for = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert_for(OUTBOX).on_conflict_do_nothing(index_elements=["key"])


def stage_flow_key(case_id: int, stage: str, event_seq: int) -> str:
    """The outbox key of a stage run; its tail is the run's idempotency key."""
    return f"flow:{case_id}:{stage}:{event_seq}"


@dataclass(frozen=True)
class NewOutboxRow:
    """A row to enqueue."""

    key: str
    topic: str
    payload: dict[str, Any]
    case_id: int | None = None


def enqueue(
    session: Session,
    *,
    key: str,
    topic: str,
    payload: dict[str, Any],
    now: datetime,
    case_id: int | None = None,
) -> None:
    """Add a row. Its key is unique: a second write of the same key fails the
    transaction, which is what a replayed transition must do."""
    enqueue_all(session, [NewOutboxRow(key, topic, payload, case_id)], now=now)


def enqueue_all(
    session: Session, rows: list[NewOutboxRow], *, now: datetime, skip_existing: bool = False
) -> None:
    """Add several rows in one statement (same uniqueness rule as ``enqueue``, unless
    ``skip_existing``: then a key already written is left as it is)."""
    values = [
        {
            "key": row.key,
            "topic": row.topic,
            "case_id": row.case_id,
            "payload": canonical(row.payload),
            "state": OutboxState.PENDING,
            "attempts": 0,
            "created_at": now,
            "available_at": now,
        }
        for row in rows
    ]
    if values:
        core(session).execute(_insert_new(session) if skip_existing else _INSERT, values)
        signals.note(session, WRITTEN, {row.topic for row in rows}, set.union)


@dataclass(frozen=True)
class Backoff:
    """How long a row waits after a failed attempt: doubling from ``first_delay`` up to
    ``max_delay``, with 'equal jitter' (half fixed, half random) so that rows which failed
    together do not all come back together."""

    first_delay: float = 30.0  # seconds, after the first attempt
    max_delay: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` attempts (at least 1)."""
        ceiling = min(self.max_delay, self.first_delay * 2.0 ** min(max(attempts, 1) - 1, 60))
        return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    topic: str
    case_id: int | None
    payload: dict[str, Any]
    attempts: int  # including this one


_COLUMNS = (
    col(OutboxRow.id),
    col(OutboxRow.key),
    col(OutboxRow.topic),
    col(OutboxRow.case_id),
    col(OutboxRow.payload),
    col(OutboxRow.attempts),
)


def _due(topics: tuple[str, ...], now: datetime, batch: int) -> SelectOfScalar[int | None]:
    # 'sending' rows whose lease ran out were taken by a worker that died mid-send.
    return (
        select(col(OutboxRow.id))
        .where(
            col(OutboxRow.topic).in_(topics),
            col(OutboxRow.state).in_((OutboxState.PENDING, OutboxState.SENDING)),
            col(OutboxRow.available_at) <= now,
        )
        .order_by(col(OutboxRow.available_at), col(OutboxRow.id))
        .limit(batch)
    )


def claim(
    session: Session,
    *,
    topics: tuple[str, ...],
    now: datetime,
    lease_until: datetime,
    batch: int,
    sqlite: bool,
) -> list[Claimed]:
    """Take due rows of ``topics`` for one attempt: each is 'sending' until ``lease_until``,
    so no other worker takes it meanwhile (``SKIP LOCKED`` on PostgreSQL; on SQLite the
    claiming ``UPDATE`` holds the one write lock)."""
    due = _due(topics, now, batch)
    if not sqlite:
        due = due.with_for_update(skip_locked=True)
    taken = (
        update(OutboxRow)
        .where(col(OutboxRow.id).in_(due.scalar_subquery()))
        .values(
            state=OutboxState.SENDING,
            attempts=col(OutboxRow.attempts) + 1,
            available_at=lease_until,
        )
        .returning(*_COLUMNS)
    )
    rows = session.execute(taken).all()
    return sorted(
        (Claimed(r.id, r.key, r.topic, r.case_id, json.loads(r.payload), r.attempts) for r in rows),
        key=lambda c: c.id,
    )


def claim_stage_runs(
    session: Session,
    *,
    claimant: str,
    now: datetime,
    lease_until: datetime,
    batch: int,
    sqlite: bool,
) -> list[Claimed]:
    """Take due stage_flow rows for ``claimant`` (a `case-stage` deployment, so one Prefect
    server) to create their runs: 'sending' until ``lease_until`` and ``claimed_by`` it, so
    a dispatcher of another Prefect server over this database never creates them too. A
    row still 'sending' after its lease (its dispatcher died mid-create) is taken again by
    its own claimant only: its run may exist there, and the idempotency key finds it."""
    due = (
        select(col(OutboxRow.id))
        .where(
            OutboxRow.topic == STAGE_FLOW,
            col(OutboxRow.available_at) <= now,
            (col(OutboxRow.state) == OutboxState.PENDING) & col(OutboxRow.claimed_by).is_(None)
            | (col(OutboxRow.state).in_((OutboxState.PENDING, OutboxState.SENDING)))
            & (col(OutboxRow.claimed_by) == claimant),
        )
        .order_by(col(OutboxRow.id))
        .limit(batch)
    )
    if not sqlite:
        due = due.with_for_update(skip_locked=True)
    taken = (
        update(OutboxRow)
        .where(col(OutboxRow.id).in_(due.scalar_subquery()))
        .values(state=OutboxState.SENDING, claimed_by=claimant, available_at=lease_until)
        .returning(*_COLUMNS)
    )
    rows = session.execute(taken).all()
    return sorted(
        (Claimed(r.id, r.key, r.topic, r.case_id, json.loads(r.payload), r.attempts) for r in rows),
        key=lambda c: c.id,
    )


@dataclass(frozen=True)
class CaseStatus:
    """Where a case stands, for its parent run in Prefect (read when its rows dispatch)."""

    case_id: int
    reference: str
    stage: str
    overdue: bool
    escalation: str | None


def case_statuses(session: Session, case_ids: set[int]) -> dict[int, CaseStatus]:
    """The current status of each of ``case_ids``, by id."""
    rows = session.execute(
        sa_select(
            col(ConductCase.id),
            col(ConductCase.reference),
            col(ConductCase.stage),
            col(ConductCase.overdue),
            col(ConductCase.escalation),
        ).where(col(ConductCase.id).in_(case_ids))
    ).all()
    return {row[0]: CaseStatus(*row) for row in rows if row[0] is not None}
