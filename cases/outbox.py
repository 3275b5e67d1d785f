"""The outbox: everything that leaves the process is first a row written with the change.

Dispatchers (notifications, Prefect stage runs) read it after commit; the unique key makes
a retried transition or a re-run flow add nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cases import signals
from cases.audit import canonical
from cases.db import core
from cases.models import OutboxMessage, table_of

WRITTEN = "outbox.written"  # signal: the set of topics a committed transaction wrote
OUTBOX: Table = table_of(OutboxMessage)  # Core, for executemany
_INSERT = insert(OUTBOX)
STAGE_FLOW = "stage_flow"
NOTIFICATION = "notification"  # an event that may concern people (expanded by recipients)
DELIVERY = "delivery"  # one message to one person, prepared by the stage flow


def _insert_new(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    insert_for = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert_for(OUTBOX).on_conflict_do_nothing(index_elements=["key"])


def stage_flow_key(case_id: int, stage: str, event_seq: int) -> str:
    """The outbox key of a stage run; its tail is the run's idempotency key."""
    return f"flow:{case_id}:{stage}:{event_seq}"


@dataclass(frozen=True)
class Message:
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
    """Add a message. Its key is unique: a second write of the same key fails the
    transaction, which is what a replayed transition must do."""
    enqueue_all(session, [Message(key, topic, payload, case_id)], now=now)


def enqueue_all(
    session: Session, messages: list[Message], *, now: datetime, skip_existing: bool = False
) -> None:
    """Add several messages in one statement (same uniqueness rule as ``enqueue``, unless
    ``skip_existing``: then a key already written is left as it is)."""
    rows = [
        {
            "key": m.key,
            "topic": m.topic,
            "case_id": m.case_id,
            "payload": canonical(m.payload),
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "available_at": now,
        }
        for m in messages
    ]
    if rows:
        core(session).execute(_insert_new(session) if skip_existing else _INSERT, rows)
        signals.note(session, WRITTEN, {m.topic for m in messages}, set.union)


MESSAGE = "message"  # one rendered notice to one recipient through one channel


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    topic: str
    case_id: int | None
    payload: dict[str, Any]
    attempts: int  # including this one


_COLUMNS = (
    col(OutboxMessage.id),
    col(OutboxMessage.key),
    col(OutboxMessage.topic),
    col(OutboxMessage.case_id),
    col(OutboxMessage.payload),
    col(OutboxMessage.attempts),
)


def _due(topics: tuple[str, ...], now: datetime, batch: int) -> SelectOfScalar[int | None]:
    # 'sending' rows whose lease ran out were taken by a worker that died mid-send.
    return (
        select(col(OutboxMessage.id))
        .where(
            col(OutboxMessage.topic).in_(topics),
            col(OutboxMessage.state).in_(("pending", "sending")),
            col(OutboxMessage.available_at) <= now,
        )
        .order_by(col(OutboxMessage.available_at), col(OutboxMessage.id))
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
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(due.scalar_subquery()))
        .values(state="sending", attempts=col(OutboxMessage.attempts) + 1, available_at=lease_until)
        .returning(*_COLUMNS)
    )
    rows = session.execute(taken).all()
    return sorted(
        (Claimed(r.id, r.key, r.topic, r.case_id, json.loads(r.payload), r.attempts) for r in rows),
        key=lambda c: c.id,
    )
