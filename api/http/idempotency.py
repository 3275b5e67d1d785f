"""Idempotency-Key for every POST: the same key and body replays the stored response.

It wraps a service call and opens no transaction of its own for the work: the service
is given ``remember`` and writes the record in its own transaction, so the effect and
the stored answer commit together or not at all.

Whose key space. A key replays only for the caller that made it:

- Staff: per token's person (``person:<id>``); another person's same key is theirs alone.
- Anonymous callers of the API (POST /reports without a token): per client secret. The
  caller holds the secret in the ``qf_client`` cookie; an answer to a keyed request that
  came without one sets a new one (HttpOnly, SameSite=Strict, Secure on https). The key
  space is ``client:`` + HMAC(server secret, client secret, key), so the stored answer,
  and the receipt code derived from that principal, are reachable only with the secret;
  the table keeps no client secret and links no two keys of one client. A client that
  must survive a lost first answer sends its own random ``qf_client`` (22-200 URL-safe
  characters) from the first try; a cookie-keeping client (a browser, httpx, requests
  Session) has it from its first answer on.
- Another anonymous caller sending the same key and the same body (without that secret)
  is refused with 409 ``idempotency-key-taken``: it gets no reference and no code, and
  nothing is filed twice. The same key with a different body is simply its own request.
- The people's report form (api.http.pages.public) files under ``anonymous`` with the
  key ``form:<submission>``: a random token written only into that browser's form, which
  also carries the ``qf_form`` double-submit token; API keys never land in that space.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cases.procedure.clock import utcnow
from cases.procedure.errors import IdempotencyKeyTaken, IdempotencyMismatch, VersionConflict
from cases.store.db import Database, UnitOfWork
from cases.store.models import IdempotencyRecord

Outcome = tuple[int, dict[str, Any], dict[str, str]]  # status, body, headers
Replay = Callable[[dict[str, Any]], dict[str, Any]]
R = TypeVar("R")


CLIENT_COOKIE = "qf_client"
CLIENT_SPACE = "client:"  # the principal prefix of an anonymous caller's key space
_CLIENT_SECRET = re.compile(r"[A-Za-z0-9_-]{22,200}")


@dataclass(frozen=True)
class Caller:
    """An anonymous caller's key space; ``minted``: a new client secret to hand over."""

    principal: str
    minted: str | None


def anonymous_caller(request: Request, server_secret: bytes, key: str) -> Caller:
    """The key space of an anonymous caller sending ``key``: bound to its client secret."""
    sent = request.cookies.get(CLIENT_COOKIE) or ""
    held = sent if _CLIENT_SECRET.fullmatch(sent) else secrets.token_urlsafe(24)
    mac = hmac.new(server_secret, f"idempotency\x1f{held}\x1f{key}".encode(), hashlib.sha256)
    return Caller(CLIENT_SPACE + mac.hexdigest()[:32], None if held == sent else held)


def hand_over(response: Response, request: Request, caller: Caller) -> Response:
    """Set the caller's new client secret on ``response`` (none when it sent its own)."""
    if caller.minted:
        response.set_cookie(
            CLIENT_COOKIE,
            caller.minted,
            path="/reports",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


def fingerprint(method: str, path: str, body: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def _stored(db: Database, principal: str, key: str) -> IdempotencyRecord | None:
    with UnitOfWork(db, write=False) as uow:
        return uow.session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
            )
        ).first()


def _taken(db: Database, key: str, print_: str) -> bool:
    """Whether another anonymous caller already sent this key with this very request."""
    with UnitOfWork(db, write=False) as uow:
        found = uow.session.exec(
            select(IdempotencyRecord.id).where(
                IdempotencyRecord.key == key,
                IdempotencyRecord.fingerprint == print_,
                IdempotencyRecord.principal.startswith(CLIENT_SPACE),
            )
        ).first()
    return found is not None


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
    if principal.startswith(CLIENT_SPACE) and _taken(db, key, print_()):
        raise IdempotencyKeyTaken(
            "this Idempotency-Key and body were already sent by another caller; its answer "
            f"replays only with the {CLIENT_COOKIE} cookie that request held",
            field="Idempotency-Key",
        )
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
