"""What operators do with the outbox: list messages (the dead letters above all) and send
a dead one again. Secretaries and admins only; listings carry no addresses or text."""

from __future__ import annotations

import json
from datetime import datetime

import structlog
from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, select

from cases.outbox import NOTIFICATION_TOPICS
from cases.people.access import global_roles
from cases.procedure.clock import utcnow
from cases.procedure.errors import Forbidden, InvalidInput, NotFound
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, OutboxRow, OutboxState, Person

log = structlog.get_logger("qingfeng.notifications")
OPERATORS = {Role.ADMIN.value, Role.SECRETARY.value}


class OutboxEntry(BaseModel):
    id: int
    key: str
    topic: str
    reference: str | None
    channel: str | None
    notice: str | None
    audience: str | None
    state: str
    attempts: int
    created_at: datetime
    available_at: datetime
    sent_at: datetime | None
    last_error: str | None


def _require_operator(uow: UnitOfWork, person: Person | None) -> None:
    if person is not None and not (global_roles(uow.session, person.id or 0) & OPERATORS):
        raise Forbidden("only a secretary or an admin may see the notification outbox")


def list_messages(
    *,
    uow: UnitOfWork,
    viewer: Person | None,
    state: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[OutboxEntry]:
    """Notification rows (oldest first), optionally in one ``state``; ``viewer`` None is
    the operator at the command line."""
    with uow:
        _require_operator(uow, viewer)
        query = (
            select(OutboxRow, ConductCase.reference)
            .outerjoin(ConductCase, col(ConductCase.id) == OutboxRow.case_id)
            .where(col(OutboxRow.topic).in_(NOTIFICATION_TOPICS), col(OutboxRow.id) > after_id)
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        if state:
            query = query.where(OutboxRow.state == state)
        return [_entry(row, reference) for row, reference in uow.session.exec(query)]


def _entry(row: OutboxRow, reference: str | None) -> OutboxEntry:
    payload = json.loads(row.payload)
    assert row.id is not None
    return OutboxEntry(
        id=row.id,
        key=row.key,
        topic=row.topic,
        reference=reference,
        channel=payload.get("channel"),
        notice=payload.get("notice"),
        audience=payload.get("audience"),
        state=row.state,
        attempts=row.attempts,
        created_at=row.created_at,
        available_at=row.available_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


def retry_message(*, uow: UnitOfWork, viewer: Person | None, message_id: int) -> OutboxEntry:
    """Put a dead notification row back in the queue with fresh attempts."""
    with uow:
        _require_operator(uow, viewer)
        row = uow.session.get(OutboxRow, message_id)
        if row is None or row.topic not in NOTIFICATION_TOPICS:
            raise NotFound(f"no notification message {message_id}")
        if row.state != OutboxState.DEAD:
            raise InvalidInput(f"message {message_id} is {row.state}, not dead", field="id")
        uow.session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == message_id)
            .values(state=OutboxState.PENDING, attempts=0, available_at=utcnow(), last_error=None)
        )
        uow.commit()
        uow.session.refresh(row)
        reference = uow.session.get(ConductCase, row.case_id) if row.case_id else None
        log.info(
            "dead message queued again", message_id=message_id, by=viewer.id if viewer else None
        )
        return _entry(row, reference.reference if reference else None)
