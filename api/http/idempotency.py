"""Idempotency-Key for every POST: the same key and body replays the stored response.

It wraps a service call and opens no transaction of its own for the work: the service
is given ``remember`` and writes the record in its own transaction, so the effect and
the stored answer commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cases.procedure.clock import utcnow
from cases.procedure.errors import IdempotencyMismatch, VersionConflict
from cases.store.db import Database, UnitOfWork
from cases.store.models import IdempotencyRecord

Outcome = tuple[int, dict[str, Any], dict[str, str]]  # status, body, headers
Replay = Callable[[dict[str, Any]], dict[str, Any]]
R = TypeVar("R")


def fingerprint(method: str, path: str, body: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def _stored(db: Database, principal: str, key: str) -> IdempotencyRecord | None:
    with UnitOfWork(db, write=False) as uow:
        return uow.session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
            )
        ).first()


def _replay(record: IdempotencyRecord, print_: str, restore: Replay | None) -> JSONResponse:
    if record.fingerprint != print_:
        raise IdempotencyMismatch(
            "this Idempotency-Key was used with a different request body or path",
            field="Idempotency-Key",
        )
    saved = json.loads(record.response_body)
    body = restore(saved["body"]) if restore else saved["body"]
    headers = {**saved["headers"], "Idempotent-Replayed": "true"}
    return JSONResponse(body, status_code=record.status_code, headers=headers)


def call(
    *,
    db: Database,
    principal: str,
    key: str | None,
    print_: Callable[[], str],
    service: Callable[[Callable[[Session, R], None] | None], R],
    respond: Callable[[R], Outcome],
    store: Replay | None = None,
    restore: Replay | None = None,
) -> JSONResponse:
    """Call ``service`` once per (principal, key); a repeat gets the first answer.

    ``service(remember)`` runs the service function, passing ``remember`` on: the service
    calls it with its session and result just before it commits. ``respond`` turns the
    result into the answer; ``print_`` computes the request's fingerprint, only when there
    is a key. ``store`` strips what must not be kept (a receipt code); ``restore`` puts it
    back on replay.
    """
    if key is None:
        return _response(respond(service(None)))
    found = _stored(db, principal, key)
    if found is not None:
        return _replay(found, print_(), restore)
    answer: list[Outcome] = []

    def remember(session: Session, result: R) -> None:
        answer.append(respond(result))
        status, body, headers = answer[-1]
        kept = store(body) if store else body
        session.add(
            IdempotencyRecord(
                principal=principal,
                key=key,
                fingerprint=print_(),
                status_code=status,
                response_body=json.dumps({"body": kept, "headers": headers}, default=str),
                created_at=utcnow(),
            )
        )

    try:
        result = service(remember)
    except (IntegrityError, VersionConflict):
        # A concurrent request with the same key won the race: answer with its response.
        found = _stored(db, principal, key)
        if found is None:
            raise
        return _replay(found, print_(), restore)
    return _response(answer[-1] if answer else respond(result))


def _response(outcome: Outcome) -> JSONResponse:
    status, body, headers = outcome
    return JSONResponse(body, status_code=status, headers=headers)
