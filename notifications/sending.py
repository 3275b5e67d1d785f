"""Sending due messages: claim a batch (one attempt each, under a lease), render, send per
channel, then record each outcome: sent, retried later with exponential backoff and
jitter, or dead-lettered (a permanent failure, or the attempts are spent)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import col, select

from cases.outbox import CHANNEL_SEND, OUTBOX, Backoff, Claimed, claim
from cases.people.secrets import unseal
from cases.store.db import Database, UnitOfWork
from cases.store.models import OutboxState, Person
from notifications.channels.base import DeliveryError, Outgoing, Result, Sender
from notifications.expand import DROP_SEALED, LEASE, holds_sealed, without_sealed
from notifications.render import TemplateError, render

_RECORD = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"), OUTBOX.c.state == OutboxState.SENDING)
    .values(
        state=bindparam("state"),
        available_at=bindparam("available_at"),
        sent_at=bindparam("sent_at"),
        last_error=bindparam("error"),
        external_id=bindparam("external_id"),
    )
)


@dataclass(frozen=True)
class RetryPolicy(Backoff):
    """A message waits ``delay(attempts)`` after a failure and is dead after ``max_attempts``."""

    max_attempts: int = 8


class MessageSender:
    """Sends due `message` rows through the configured channels."""

    def __init__(
        self, db: Database, senders: Mapping[str, Sender], *, secret: bytes, retry: RetryPolicy
    ) -> None:
        self.db, self.senders, self.secret, self.retry = db, senders, secret, retry
        self._pool = ThreadPoolExecutor(max(1, len(senders)), thread_name_prefix="notify")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for sender in self.senders.values():
            sender.close()

    def send_due(self, *, now: datetime, batch: int = 50) -> int:
        """Send one batch of due messages; returns how many were attempted."""
        with UnitOfWork(self.db) as uow:
            rows = claim(
                uow.session,
                topics=(CHANNEL_SEND,),
                now=now,
                lease_until=now + LEASE,
                batch=batch,
                sqlite=self.db.is_sqlite,
            )
            uow.commit()
        if not rows:
            return 0
        results = self._send(rows, self._people(rows))
        self._record(rows, results, now)
        return len(rows)

    def _people(self, rows: list[Claimed]) -> dict[int, Person]:
        ids = {r.payload["person_id"] for r in rows if r.payload["person_id"]}
        with UnitOfWork(self.db, write=False) as uow:
            return {
                p.id: p
                for p in uow.session.exec(select(Person).where(col(Person.id).in_(ids)))
                if p.id is not None
            }

    def _send(self, rows: list[Claimed], people: dict[int, Person]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        by_channel: dict[str, list[tuple[int, Outgoing]]] = {}
        for row in rows:
            channel = row.payload["channel"]
            try:
                if channel not in self.senders:
                    raise DeliveryError(f"channel {channel!r} is not configured", permanent=True)
                outgoing = self._outgoing(row, people.get(row.payload["person_id"] or 0))
            except (DeliveryError, TemplateError, ValueError) as exc:
                results[row.id] = (
                    exc
                    if isinstance(exc, DeliveryError)
                    else DeliveryError(str(exc), permanent=True)
                )
                continue
            by_channel.setdefault(channel, []).append((row.id, outgoing))

        def send(channel: str) -> list[tuple[int, Result]]:
            ids, messages = zip(*by_channel[channel], strict=True)
            return list(zip(ids, self.senders[channel].send(list(messages)), strict=True))

        for pairs in self._pool.map(send, list(by_channel)):
            results.update(pairs)
        return results

    def _outgoing(self, row: Claimed, person: Person | None) -> Outgoing:
        payload = row.payload
        context = dict(payload["context"])
        if "receipt_code" in context and payload.get("receipt_sealed"):
            context["receipt_code"] = unseal(self.secret, payload["receipt_sealed"])
        if payload.get("link_sealed"):  # the subject's own page, for this message only
            token = unseal(self.secret, payload["link_sealed"])
            context["portal_url"] = f"{str(context['portal_url']).rstrip('/')}/s/{token}"
        text = render(payload["notice"], payload["language"], context)
        return Outgoing(
            key=row.key,
            notice=payload["notice"],
            reference=payload["reference"],
            language=payload["language"],
            subject=text.subject,
            body=text.body,
            email=payload["address"] or (person.email if person else None),
            mobile=person.phone if person else None,
            handle=person.handle if person else None,
        )

    def _record(self, rows: list[Claimed], results: dict[int, Result], now: datetime) -> None:
        updates = [self._outcome(row, results[row.id], now) for row in rows]
        # Only rows that carried a sealed receipt code or link token are rewritten once
        # sent: the rest keep their payload, so recording an outcome stays a small write.
        sent_sealed = [
            without_sealed(row.id, row.payload)
            for row in rows
            if holds_sealed(row.payload) and not isinstance(results[row.id], DeliveryError)
        ]
        with UnitOfWork(self.db) as uow:
            uow.session.execute(_RECORD, updates)
            if sent_sealed:  # the sealed code and token have done their work
                uow.session.execute(DROP_SEALED, sent_sealed)
            uow.commit()

    def _outcome(self, row: Claimed, result: Result, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {"row_id": row.id, "external_id": None, "sent_at": None}
        if not isinstance(result, DeliveryError):
            external = result[:64] if result else None
            return values | {
                "state": OutboxState.DONE, "available_at": now, "error": None,
                "sent_at": now, "external_id": external,
            }  # fmt: skip
        dead = result.permanent or row.attempts >= self.retry.max_attempts
        return values | {
            "state": OutboxState.DEAD if dead else OutboxState.PENDING,
            "available_at": now if dead else now + self.retry.delay(row.attempts),
            "error": str(result)[:500],
        }
