"""Idempotency-Key for every POST: the same key and body replays the stored response."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cases.clock import utcnow
from cases.db import UnitOfWork
from cases.errors import IdempotencyMismatch, VersionConflict
from cases.models import IdempotencyRecord

Outcome = tuple[int, dict[str, Any], dict[str, str]]  # status, body, headers
Replay = Callable[[dict[str, Any]], dict[str, Any]]


def fingerprint(method: str, path: str, body: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def _stored(uow: UnitOfWork, principal: str, key: str) -> IdempotencyRecord | None:
    with uow:
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


def run(
    *,
    uow: UnitOfWork,
    principal: Callable[[Session], str],
    key: str | None,
    print_: Callable[[], str],
    handler: Callable[[], Outcome],
    store: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    restore: Replay | None = None,
) -> JSONResponse:
    """Run ``handler`` once per (principal, key), in the same transaction as its record.

    ``principal`` names (and may authenticate) the caller inside that transaction;
    ``print_`` computes the request's fingerprint, only when there is a key to check.
    ``store`` strips what must not be kept (a receipt code); ``restore`` puts it back on replay.
    """
    if key is None:
        with uow:
            principal(uow.session)
            status, body, headers = handler()
            uow.commit()
        return JSONResponse(body, status_code=status, headers=headers)
    who = ""
    try:
        with uow:
            who = principal(uow.session)
            found = _stored(uow, who, key)
            if found is not None:
                return _replay(found, print_(), restore)
            status, body, headers = handler()
            kept = store(body) if store else body
            uow.session.add(
                IdempotencyRecord(
                    principal=who,
                    key=key,
                    fingerprint=print_(),
                    status_code=status,
                    response_body=json.dumps({"body": kept, "headers": headers}, default=str),
                    created_at=utcnow(),
                )
            )
            uow.commit()
        return JSONResponse(body, status_code=status, headers=headers)
    except (IntegrityError, VersionConflict):
        # A concurrent request with the same key won the race: answer with its response.
        found = _stored(UnitOfWork(uow.db, write=False), who, key)
        if found is None:
            raise
        return _replay(found, print_(), restore)
