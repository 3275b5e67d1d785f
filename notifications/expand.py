"""From events to messages: notification rows become deliveries (one per recipient), and
deliveries become messages (one per channel that reaches the recipient), each with the
variables of its notice taken from the case now. One transaction per batch; the unique
keys make a batch replayed after a crash add nothing twice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from cases.audit import canonical, case_chain
from cases.db import UnitOfWork
from cases.models import AuditEvent, ConductCase, OutboxMessage, Person, RoleGrant, Unit
from cases.notices import prepare_deliveries
from cases.outbox import (
    DELIVERY,
    MESSAGE,
    NOTIFICATION,
    OUTBOX,
    Claimed,
    Message,
    claim,
    enqueue_all,
)
from cases.policy import Policy
from cases.vocabulary import Stage
from notifications.context import message_context
from notifications.routes import Channel, Recipient, Routes

LEASE = timedelta(minutes=5)
NOT_STAFF = ("reporter", "subject")  # never reached through a group chat robot
_SETTLE = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"))
    .values(state=bindparam("state"), last_error=bindparam("error"), sent_at=bindparam("at"))
)


@dataclass(frozen=True)
class Expander:
    policy: Policy
    routes: Routes
    portal_url: str

    def expand(self, *, uow: UnitOfWork, now: datetime, batch: int = 200) -> int:
        """Expand up to ``batch`` due notification and delivery rows; returns how many."""
        with uow:
            session = uow.session
            rows = claim(
                session,
                topics=(NOTIFICATION, DELIVERY),
                now=now,
                lease_until=now + LEASE,
                batch=batch,
                sqlite=uow.db.is_sqlite,
            )
            settled = []
            for row in rows:
                error = self._expand_one(session, row, now)
                state = "dead" if error else "done"
                settled.append({"row_id": row.id, "state": state, "error": error, "at": now})
            if settled:
                session.execute(_SETTLE, settled)
            uow.commit()
            return len(rows)

    def _expand_one(self, session: Session, row: Claimed, now: datetime) -> str | None:
        """Write the row's next rows; an error text when it cannot go anywhere."""
        payload = row.payload
        case = session.get(ConductCase, row.case_id)
        if case is None:
            return "the case no longer exists"
        event = _event(session, case, payload["event_seq"])
        if row.topic == NOTIFICATION:
            prepare_deliveries(
                session,
                case,
                self.policy,
                stage=Stage(payload["stage"]),
                event=payload["event"],
                event_seq=payload["event_seq"],
                event_data=json.loads(event.data),
                now=now,
            )
            return None
        return self._messages(session, case, row, event, now)

    def _messages(
        self, session: Session, case: ConductCase, row: Claimed, event: AuditEvent, now: datetime
    ) -> str | None:
        delivery = row.payload
        person = session.get(Person, delivery["person_id"]) if delivery["person_id"] else None
        unit = session.get(Unit, case.unit_id)
        assert unit is not None
        channels = [
            c
            for c in self.routes.channels_for(_recipient(session, unit, person, delivery))
            if _reaches(c, person, delivery)
        ]
        if not channels:
            return "no channel reaches this recipient (no e-mail address and no route)"
        context = message_context(
            case=case,
            unit=unit,
            recipient=person,
            delivery=delivery,
            event_at=event.at,
            event_data=json.loads(event.data),
            policy=self.policy,
            portal_url=self.portal_url,
        )
        keys = {
            c.name: f"msg:{case.id}:{delivery['event_seq']}:{delivery['recipient']}:{c.name}"
            for c in channels
        }
        written = set(
            session.exec(select(OutboxMessage.key).where(col(OutboxMessage.key).in_(keys.values())))
        )
        messages = []
        for channel in channels:
            if keys[channel.name] in written:
                continue
            payload: dict[str, Any] = {
                "channel": channel.name,
                "notice": delivery["notice"],
                "language": delivery["language"],
                "reference": case.reference,
                "audience": delivery["audience"],
                "person_id": delivery["person_id"],
                "address": delivery["address"],
                "context": context,
            }
            if channel.personal and delivery.get("receipt_sealed"):
                payload["receipt_sealed"] = delivery["receipt_sealed"]
            messages.append(Message(keys[channel.name], MESSAGE, payload, case.id))
        enqueue_all(session, messages, now=now)
        if delivery.get("receipt_sealed"):  # the copy lives on in the message rows alone
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id)
                .values(payload=canonical({**delivery, "receipt_sealed": None}))
            )
        return None


def _event(session: Session, case: ConductCase, seq: int) -> AuditEvent:
    return session.exec(
        select(AuditEvent).where(
            AuditEvent.chain == case_chain(case.id or 0), AuditEvent.seq == seq
        )
    ).one()


def _recipient(
    session: Session, unit: Unit, person: Person | None, delivery: dict[str, Any]
) -> Recipient:
    roles = set(
        session.exec(select(RoleGrant.role).where(RoleGrant.person_id == person.id))
        if person
        else ()
    )
    if delivery["audience"] in NOT_STAFF:
        roles.add(delivery["audience"])
    above = [int(part) for part in unit.path.strip("/").split("/") if part]
    codes = session.exec(select(Unit.code).where(col(Unit.id).in_(above)))
    return Recipient(person.handle if person else None, frozenset(roles), tuple(codes))


def _reaches(channel: Channel, person: Person | None, delivery: dict[str, Any]) -> bool:
    """E-mail needs an address; group robots carry staff business only."""
    if channel.personal:
        return bool(delivery["address"] or (person and person.email))
    return person is not None and delivery["audience"] not in NOT_STAFF
