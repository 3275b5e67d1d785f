"""Staff sign-in: passwords (Argon2id), sessions of the console (only the token's SHA-256
is kept, so a copy of the database opens none), and sign-in by a campus identity (OIDC,
CAS) mapped to an active person by handle.

Password checks run outside any write transaction: an Argon2 check takes tens of
milliseconds, and SQLite has one writer at a time."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select, update

from cases.audit import SYSTEM_CHAIN, append_event
from cases.people.directory import person_by_handle
from cases.people.secrets import token_hash
from cases.procedure.clock import to_utc, utcnow
from cases.procedure.errors import InvalidInput, Unauthenticated
from cases.store.db import UnitOfWork
from cases.store.models import ApiToken, Person, pk
from cases.store.staff_sessions import StaffPassword, StaffSession

MIN_PASSWORD, MAX_PASSWORD = 10, 1024
# argon2-cffi's default profile (RFC 9106's second choice: Argon2id, 64 MiB, 3 passes):
# passwords are low-entropy secrets chosen by people, so they get more than receipt codes.
_hasher = PasswordHasher()
# A session in use is marked seen at most this often: a page view is not a write each time.
_TOUCH_EVERY = timedelta(seconds=60)
WRONG = "wrong handle or password"  # one answer for every failure: no account is revealed


class SignInMethod(StrEnum):
    PASSWORD = "password"
    OIDC = "oidc"
    CAS = "cas"


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lives unused (``idle``) and at most (``absolute``)."""

    idle: timedelta
    absolute: timedelta


@functools.cache
def _dummy_hash() -> str:
    # Checked when there is no such account, so a miss costs what a wrong password costs.
    return _hasher.hash(secrets.token_hex(16))


def set_password(*, uow: UnitOfWork, handle: str, password: str) -> None:
    """Set ``handle``'s password (Argon2id) and end their open sessions."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )
    if password.strip().casefold() == handle.casefold():
        raise InvalidInput("the password must not be the handle", field="password")
    hashed = _hasher.hash(password)  # before the transaction: it is slow on purpose
    with uow:
        person = person_by_handle(uow.session, handle, field="handle")
        now = utcnow()
        row = uow.session.get(StaffPassword, pk(person))
        if row is None:
            row = StaffPassword(person_id=pk(person), password_hash=hashed, set_at=now)
        row.password_hash, row.set_at = hashed, now
        uow.session.add(row)
        _end_all(uow.session, pk(person), now)
        append_event(
            uow.session, chain=SYSTEM_CHAIN, action="password.set", at=now, actor_id=person.id
        )
        uow.commit()


def sign_in_with_password(*, uow: UnitOfWork, handle: str, password: str) -> tuple[Person, str]:
    """The active person whose password this is and a new session token, or Unauthenticated."""
    with UnitOfWork(uow.db, write=False) as read:
        found = read.session.exec(
            select(Person, StaffPassword)
            .join(StaffPassword, col(StaffPassword.person_id) == Person.id)
            .where(Person.handle == handle)
        ).first()
    person, stored = found if found else (None, None)
    target = stored.password_hash if stored else _dummy_hash()
    try:
        matched = _hasher.verify(target, password[:MAX_PASSWORD]) and stored is not None
    except (VerificationError, InvalidHashError):
        matched = False
    if not matched or person is None or not person.active:
        raise Unauthenticated(WRONG, field="password")
    rehashed = _hasher.hash(password) if _hasher.check_needs_rehash(target) else None
    with uow:
        if rehashed and stored is not None:
            stored.password_hash = rehashed
            uow.session.add(stored)
        token = open_session(uow=uow, person=person, method=SignInMethod.PASSWORD)
        uow.commit()
    return person, token


def sign_in_with_identity(*, uow: UnitOfWork, handle: str, method: SignInMethod) -> str:
    """A new session for the active person ``handle`` vouched for by single sign-on, or
    Unauthenticated when no active person has that handle."""
    with uow:
        person = uow.session.exec(select(Person).where(Person.handle == handle)).first()
        if person is None or not person.active:
            raise Unauthenticated(f"no active staff member has the handle {handle!r}")
        token = open_session(uow=uow, person=person, method=method)
        uow.commit()
        return token


def open_session(*, uow: UnitOfWork, person: Person, method: SignInMethod) -> str:
    """A new session for ``person``: its token, shown to the browser only (kept as SHA-256)."""
    token = secrets.token_urlsafe(32)
    with uow:
        now = utcnow()
        uow.session.add(
            StaffSession(
                token_hash=token_hash(token),
                person_id=pk(person),
                method=method.value,
                created_at=now,
                last_seen_at=now,
            )
        )
        append_event(
            uow.session,
            chain=SYSTEM_CHAIN,
            action="session.opened",
            at=now,
            actor_id=person.id,
            data={"method": method.value},
        )
        uow.commit()
    return token


def session_person(*, uow: UnitOfWork, token: str, limits: SessionLimits) -> Person | None:
    """The active person of a live session (marked seen now), or None: unknown, ended,
    idle past ``limits.idle`` or older than ``limits.absolute``."""
    with UnitOfWork(uow.db, write=False) as read:
        found = read.session.exec(
            select(StaffSession, Person)
            .join(Person, col(Person.id) == StaffSession.person_id)
            .where(StaffSession.token_hash == token_hash(token), col(Person.active))
        ).first()
    if found is None or found[0].ended_at is not None:
        return None
    live, person = found
    now = utcnow()
    seen, opened = to_utc(live.last_seen_at), to_utc(live.created_at)
    if now - seen >= limits.idle or now - opened >= limits.absolute:
        return None
    if now - seen >= _TOUCH_EVERY:
        with uow:
            uow.session.exec(
                update(StaffSession)
                .where(col(StaffSession.id) == live.id, col(StaffSession.ended_at).is_(None))
                .values(last_seen_at=now)
            )
            uow.commit()
    return person


def end_session(*, uow: UnitOfWork, token: str) -> None:
    """End the session of ``token`` (sign-out); an unknown or ended one is left as it is."""
    with uow:
        live = uow.session.exec(
            select(StaffSession).where(StaffSession.token_hash == token_hash(token))
        ).first()
        if live is not None and live.ended_at is None:
            live.ended_at = utcnow()
            uow.session.add(live)
            append_event(
                uow.session,
                chain=SYSTEM_CHAIN,
                action="session.ended",
                at=live.ended_at,
                actor_id=live.person_id,
            )
        uow.commit()


def tokens_of(*, uow: UnitOfWork, person: Person) -> list[ApiToken]:
    """``person``'s personal access tokens, newest first (revoked ones too)."""
    with uow:
        return list(
            uow.session.exec(
                select(ApiToken)
                .where(ApiToken.person_id == person.id)
                .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
            )
        )


def _end_all(session: Session, person_id: int, now: datetime) -> None:
    session.exec(
        update(StaffSession)
        .where(col(StaffSession.person_id) == person_id, col(StaffSession.ended_at).is_(None))
        .values(ended_at=now)
    )
