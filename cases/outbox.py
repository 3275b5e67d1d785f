"""The outbox: everything that leaves the process is first a row written with the change.

Dispatchers (notifications, Prefect stage runs) read it after commit; the unique key makes
a retried transition or a re-run flow add nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from cases.audit import canonical
from cases.models import OutboxMessage

_INSERT = insert(OutboxMessage)
STAGE_FLOW = "stage_flow"
NOTIFICATION = "notification"


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
    row = {
        "key": key,
        "topic": topic,
        "case_id": case_id,
        "payload": canonical(payload),
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "available_at": now,
    }
    session.execute(_INSERT, row)
