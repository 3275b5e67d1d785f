"""From events to messages: notification rows become deliveries (one per recipient), and
deliveries become messages (one per channel that reaches the recipient), each with the
variables of its notice taken from the case now.

Per batch: a short claiming transaction, the reads (set-based: a few queries for the whole
batch) outside any write transaction, and one short transaction writing the new rows and
settling the claimed ones, so staff actions never wait long for the write lock. Keys are
unique and new rows skip existing ones, so a batch replayed after a crash adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, tuple_, update
from sqlmodel import Session, col, select

from cases.audit import canonical, case_chain
from cases.notices import prepare_deliveries
from cases.outbox import (
    CHANNEL_SEND,
    DELIVERY,
    NOTIFICATION,
    OUTBOX,
    Claimed,
    NewOutboxRow,
    claim,
    enqueue_all,
)
from cases.people.secrets import seal
from cases.procedure.errors import NotFound
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import Database, UnitOfWork
from cases.store.models import (
    AuditEvent,
    ConductCase,
    OutboxRow,
    OutboxState,
    Person,
    RoleGrant,
    Unit,
)
from cases.subject_links import new_link_token
from notifications.context import message_context
from notifications.routes import Channel, Routes, RoutingFacts

LEASE = timedelta(minutes=5)
NOT_STAFF = ("reporter", "subject")  # never reached through a group chat robot
# The subject's notices that ask them to act or tell them their rights: each message of
# one to a personal channel carries a fresh link to the subject's page (/s/<token>).
LINKED_NOTICES = frozenset({"statement_requested", "decision_notice"})
# What a row carries sealed only until it is sent: the reporter's receipt code, the
# subject's link token.
SEALED = ("receipt_sealed", "link_sealed")
_SETTLE = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"))
    .values(state=bindparam("state"), last_error=bindparam("error"), sent_at=bindparam("at"))
)
# A delivered (or expanded) row keeps nothing sealed: it rewrites its payload.
DROP_SEALED = (
    update(OUTBOX).where(OUTBOX.c.id == bindparam("row_id")).values(payload=bindparam("body"))
)


def holds_sealed(payload: dict[str, Any]) -> bool:
    """Whether the row still carries a sealed receipt code or link token."""
    return any(payload.get(name) for name in SEALED)


def without_sealed(row_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    """DROP_SEALED's parameters for one row: its payload less the sealed fields."""
    kept = {k: v for k, v in payload.items() if k not in SEALED}
    return {"row_id": row_id, "body": canonical(kept)}


@dataclass
class _Facts:
    """Everything a batch of deliveries needs, read in a handful of queries."""

    cases: dict[int, ConductCase] = field(default_factory=dict)
    units: dict[int, Unit] = field(default_factory=dict)
    events: dict[tuple[int, int], AuditEvent] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)
    roles: dict[int, set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, rows: list[Claimed]) -> _Facts:
        facts = cls()
        case_ids = {r.case_id for r in rows if r.case_id is not None}
        facts.cases = {
            c.id: c
            for c in session.exec(select(ConductCase).where(col(ConductCase.id).in_(case_ids)))
            if c.id is not None
        }
        facts.units = {u.id: u for u in session.exec(select(Unit)) if u.id is not None}
        pairs = {(case_chain(r.case_id), r.payload["event_seq"]) for r in rows if r.case_id}
        for event in session.exec(
            select(AuditEvent).where(tuple_(AuditEvent.chain, AuditEvent.seq).in_(pairs))
        ):
            facts.events[(event.case_id or 0, event.seq)] = event
        person_ids = {r.payload.get("person_id") for r in rows} - {None}
        facts.people = {
            p.id: p
            for p in session.exec(select(Person).where(col(Person.id).in_(person_ids)))
            if p.id is not None
        }
        for person_id, role in session.exec(
            select(RoleGrant.person_id, RoleGrant.role).where(
                col(RoleGrant.person_id).in_(person_ids)
            )
        ):
            facts.roles.setdefault(person_id, set()).add(role)
        return facts

    def unit_codes(self, unit: Unit) -> tuple[str, ...]:
        """The unit's code and those of every unit above it."""
        return tuple(self.units[i].code for i in unit.lineage() if i in self.units)


@dataclass(frozen=True)
class Expander:
    policy: Policy
    routes: Routes
    portal_url: str
    secret: bytes | None = None  # seals the subject's link tokens; without it, no links

    def expand(self, *, db: Database, now: datetime, batch: int = 50) -> int:
        """Expand up to ``batch`` due notification and delivery rows; returns how many."""
        with UnitOfWork(db) as uow:
            rows = claim(
                uow.session,
                topics=(NOTIFICATION, DELIVERY),
                now=now,
                lease_until=now + LEASE,
                batch=batch,
                sqlite=db.is_sqlite,
            )
            uow.commit()
        if not rows:
            return 0
        with UnitOfWork(db, write=False) as read:
            facts = _Facts.load(read.session, rows)
        messages: list[NewOutboxRow] = []
        linked: list[NewOutboxRow] = []  # of those, the ones that get a subject link
        settled, receipts = [], []
        for row in rows:
            body = row.payload
            error = None
            if row.case_id not in facts.cases:
                error = "the case no longer exists"
            elif row.topic == DELIVERY:
                error = self._messages(facts, row, messages, linked)
            settled.append(
                {
                    "row_id": row.id,
                    "state": OutboxState.DEAD if error else OutboxState.DONE,
                    "error": error,
                    "at": now,
                }
            )
            if holds_sealed(body):  # the sealed code lives on in the messages alone
                receipts.append(without_sealed(row.id, body))
        with UnitOfWork(db) as uow:
            for row in rows:
                if row.topic == NOTIFICATION and row.case_id in facts.cases:
                    self._deliveries(uow.session, facts, row, now)
            self._seal_links(uow.session, linked, now)
            enqueue_all(uow.session, messages, now=now, skip_existing=True)
            uow.session.execute(_SETTLE, settled)
            if receipts:
                uow.session.execute(DROP_SEALED, receipts)
            uow.commit()
        return len(rows)

    def _deliveries(self, session: Session, facts: _Facts, row: Claimed, now: datetime) -> None:
        case = session.get(ConductCase, row.case_id)
        event = facts.events[(row.case_id or 0, row.payload["event_seq"])]
        assert case is not None
        prepare_deliveries(
            session,
            case,
            self.policy,
            stage=Stage(row.payload["stage"]),
            event=row.payload["event"],
            event_seq=row.payload["event_seq"],
            event_data=json.loads(event.data),
            now=now,
        )

    def _seal_links(self, session: Session, linked: list[NewOutboxRow], now: datetime) -> None:
        """Issue a fresh subject link for each new message in ``linked``, in the write
        transaction that adds the message, and seal its token into the message's payload."""
        if not linked or self.secret is None:
            return
        keys = [m.key for m in linked]
        known = set(session.exec(select(OutboxRow.key).where(col(OutboxRow.key).in_(keys))))
        for message in linked:
            if message.key in known:  # a replayed batch: that message exists with its link
                continue
            try:
                token = new_link_token(
                    session,
                    case_id=message.case_id or 0,
                    person_id=message.payload["person_id"],
                    policy=self.policy,
                    now=now,
                )
            except NotFound:  # no longer the case's subject: the message goes without one
                continue
            message.payload["link_sealed"] = seal(self.secret, token)

    def _messages(
        self,
        facts: _Facts,
        row: Claimed,
        messages: list[NewOutboxRow],
        linked: list[NewOutboxRow],
    ) -> str | None:
        """Add the delivery's messages; an error text when no channel reaches its recipient."""
        delivery = row.payload
        case = facts.cases[row.case_id or 0]
        unit = facts.units[case.unit_id]
        person = facts.people.get(delivery["person_id"] or 0)
        roles = set(facts.roles.get(person.id or 0, ())) if person else set()
        if delivery["audience"] in NOT_STAFF:
            roles.add(delivery["audience"])
        recipient = RoutingFacts(
            person.handle if person else None, frozenset(roles), facts.unit_codes(unit)
        )
        channels = [c for c in self.routes.channels_for(recipient) if _reaches(c, person, delivery)]
        if not channels:
            return "no channel reaches this recipient (no e-mail address and no route)"
        event = facts.events[(case.id or 0, delivery["event_seq"])]
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
        for channel in channels:
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
            key = f"msg:{case.id}:{delivery['event_seq']}:{delivery['recipient']}:{channel.name}"
            messages.append(NewOutboxRow(key, CHANNEL_SEND, payload, case.id))
            if channel.personal and _gets_link(delivery):
                linked.append(messages[-1])
        return None


def _gets_link(delivery: dict[str, Any]) -> bool:
    """A notice to the case's subject that asks them to act or tells them their rights."""
    return (
        delivery["audience"] == "subject"
        and delivery["notice"] in LINKED_NOTICES
        and bool(delivery["person_id"])
    )


def _reaches(channel: Channel, person: Person | None, delivery: dict[str, Any]) -> bool:
    """E-mail needs an address; group robots carry staff business only."""
    if channel.personal:
        return bool(delivery["address"] or (person and person.email))
    return person is not None and delivery["audience"] not in NOT_STAFF
