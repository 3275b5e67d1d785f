"""What the admin pages read: people with their unit, roles and contacts; declared
relationships; every API token. Admins only (``require_admin``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from cases.people.access import require_admin
from cases.procedure.errors import NotFound
from cases.store.db import UnitOfWork
from cases.store.models import ApiToken, Person, Relationship, RoleGrant, Unit

LIST_LIMIT = 200  # people listed at most on one page; search narrows it


@dataclass(frozen=True)
class Grant:
    """A role held over a unit (and everything under it)."""

    role: str
    unit: str  # the unit's code


@dataclass(frozen=True)
class PersonEntry:
    """A person as the admin pages show them."""

    handle: str
    name: str
    email: str | None
    phone: str | None
    language: str
    active: bool
    unit: Unit | None
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class RelationshipEntry:
    handle: str
    name: str
    other: str
    other_name: str
    kind: str
    declared_at: datetime


@dataclass(frozen=True)
class TokenEntry:
    public_id: str
    name: str
    owner: str
    owner_name: str
    created_at: datetime
    revoked_at: datetime | None


def _entries(session: Session, rows: Sequence[tuple[Person, Unit | None]]) -> list[PersonEntry]:
    ids = [p.id for p, _ in rows]
    grants: dict[int, list[Grant]] = defaultdict(list)
    query = (
        select(RoleGrant.person_id, RoleGrant.role, Unit.code)
        .join(Unit, col(Unit.id) == RoleGrant.unit_id)
        .where(col(RoleGrant.person_id).in_(ids))
        .order_by(col(RoleGrant.role), col(Unit.code))
    )
    for person_id, role, code in session.exec(query):
        grants[person_id].append(Grant(role, code))
    return [
        PersonEntry(
            handle=p.handle,
            name=p.name,
            email=p.email,
            phone=p.phone,
            language=p.language,
            active=p.active,
            unit=unit,
            grants=tuple(grants[p.id or 0]),
        )
        for p, unit in rows
    ]


def list_people(
    *, uow: UnitOfWork, viewer: Person, search: str = "", limit: int = LIST_LIMIT
) -> list[PersonEntry]:
    """People by handle, those whose handle or name contains ``search`` (any case)."""
    with uow:
        require_admin(uow.session, viewer)
        query = select(Person, Unit).outerjoin(Unit, col(Unit.id) == Person.unit_id)
        if search.strip():
            pattern = f"%{search.strip().lower()}%"
            query = query.where(
                or_(col(Person.handle).ilike(pattern), col(Person.name).ilike(pattern))
            )
        rows = list(uow.session.exec(query.order_by(col(Person.handle)).limit(limit)))
        return _entries(uow.session, rows)


def person_entry(*, uow: UnitOfWork, viewer: Person, handle: str) -> PersonEntry:
    """The person ``handle`` with unit, roles and contacts, or NotFound."""
    with uow:
        require_admin(uow.session, viewer)
        query = select(Person, Unit).outerjoin(Unit, col(Unit.id) == Person.unit_id)
        row = uow.session.exec(query.where(col(Person.handle) == handle)).first()
        if row is None:
            raise NotFound(f"no person {handle}", field="handle")
        return _entries(uow.session, [row])[0]


def list_relationships(*, uow: UnitOfWork, viewer: Person) -> list[RelationshipEntry]:
    """Every declared relationship, newest first."""
    with uow:
        require_admin(uow.session, viewer)
        other = aliased(Person)
        query = (
            select(Relationship, Person, other)
            .join(Person, col(Person.id) == Relationship.person_id)
            .join(other, col(other.id) == Relationship.other_id)
            .order_by(col(Relationship.declared_at).desc(), col(Relationship.id).desc())
        )
        return [
            RelationshipEntry(a.handle, a.name, b.handle, b.name, r.kind, r.declared_at)
            for r, a, b in uow.session.exec(query)
        ]


def list_tokens(*, uow: UnitOfWork, viewer: Person) -> list[TokenEntry]:
    """Every API token (revoked ones too), newest first; never a secret or its hash."""
    with uow:
        require_admin(uow.session, viewer)
        query = (
            select(ApiToken, Person)
            .join(Person, col(Person.id) == ApiToken.person_id)
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        )
        return [
            TokenEntry(t.public_id, t.name, p.handle, p.name, t.created_at, t.revoked_at)
            for t, p in uow.session.exec(query)
        ]
