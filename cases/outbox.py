"""The outbox: everything that leaves the process is first a row written with the change.

Dispatchers (notifications, Prefect stage runs) read it after commit; the unique key makes
a retried transition or a re-run flow add nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from cases import signals
from cases.audit import canonical
from cases.models import OutboxMessage

WRITTEN = "outbox.written"  # signal: the set of topics a committed transaction wrote
_INSERT = insert(OutboxMessage.__table__)  # type: ignore[attr-defined]  # Core executemany
STAGE_FLOW = "stage_flow"
NOTIFICATION = "notification"  # an event that may concern people (expanded by recipients)
DELIVERY = "delivery"  # one message to one person, prepared by the stage flow


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


def enqueue_all(session: Session, messages: list[Message], *, now: datetime) -> None:
    """Add several messages in one statement (same uniqueness rule as ``enqueue``)."""
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
        session.execute(_INSERT, rows)
        signals.note(session, WRITTEN, {m.topic for m in messages}, set.union)
