"""Service functions for the organisation: units, people, role grants, relationships, tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from cases.audit import SYSTEM_CHAIN, append_event
from cases.people.access import require_admin
from cases.people.contacts import check_field
from cases.people.secrets import new_token, token_hash
from cases.procedure.clock import utcnow
from cases.procedure.errors import InvalidInput, NotFound
from cases.procedure.text import handle_problem
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork
from cases.store.models import ApiToken, Person, Relationship, RoleGrant, Unit, pk


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name_zh: str
    name_en: str
    parent: str | None = None
    source: str = ""  # "file:line" for error messages


def unit_by_code(session: Session, code: str, *, field: str = "unit") -> Unit:
    """The unit with ``code`` or InvalidInput naming the field."""
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise InvalidInput(f"unknown unit {code!r}", field=field)
    return unit


def person_by_handle(session: Session, handle: str, *, field: str = "person") -> Person:
    """The person with ``handle`` or InvalidInput naming the field."""
    person = session.exec(_BY_HANDLE, params={"handle": handle}).first()
    if person is None:
        raise InvalidInput(f"unknown person {handle!r}", field=field)
    return person


def import_units(*, uow: UnitOfWork, specs: Iterable[UnitSpec]) -> int:
    """Create or update units (parents first or later in the file); all or nothing."""
    with uow:
        session = uow.session
        pending = list(specs)
        created = 0
        for spec in pending:
            unit = session.exec(select(Unit).where(Unit.code == spec.code)).first()
            if unit is None:
                unit = Unit(code=spec.code, name_zh=spec.name_zh, name_en=spec.name_en)
                created += 1
            unit.name_zh, unit.name_en = spec.name_zh, spec.name_en
            session.add(unit)
        session.flush()
        by_code = {u.code: u for u in session.exec(select(Unit))}
        for spec in pending:
            if spec.parent and spec.parent not in by_code:
                raise InvalidInput(
                    f"{spec.source}: parent {spec.parent!r} of unit {spec.code!r} is not defined",
                    field="parent",
                )
            by_code[spec.code].parent_id = by_code[spec.parent].id if spec.parent else None
        _rebuild_paths(by_code.values(), sources={s.code: s.source for s in pending})
        append_event(
            session,
            chain=SYSTEM_CHAIN,
            action="units.imported",
            at=utcnow(),
            data={"codes": sorted(s.code for s in pending)},
        )
        uow.commit()
        return created


def _rebuild_paths(units: Iterable[Unit], *, sources: dict[str, str]) -> None:
    by_id = {u.id: u for u in units}
    for unit in by_id.values():
        chain: list[int | None] = []
        current: Unit | None = unit
        while current is not None:
            if current.id in chain:
                raise InvalidInput(
                    f"{sources.get(unit.code, unit.code)}: unit {unit.code!r} is its own ancestor",
                    field="parent",
                )
            chain.append(current.id)
            current = by_id.get(current.parent_id) if current.parent_id else None
        unit.path = "/" + "/".join(str(i) for i in reversed(chain)) + "/"


def add_person(
    *,
    uow: UnitOfWork,
    handle: str,
    name: str,
    unit: str | None = None,
    roles: Iterable[tuple[Role, str]] = (),
    email: str | None = None,
    language: str = "zh-CN",
    with_token: bool = False,
) -> tuple[Person, str | None]:
    """Create a person with role grants ((role, unit code) pairs); optionally a first token."""
    if (problem := handle_problem(handle)) is not None:
        raise InvalidInput(f"handle {handle!r}: {problem}", field="handle")
    check_field("name", name)
    if email:
        check_field("email", email)
    with uow:
        session = uow.session
        if session.exec(select(Person).where(Person.handle == handle)).first():
            raise InvalidInput(f"a person with handle {handle!r} already exists", field="handle")
        home = unit_by_code(session, unit) if unit else None
        person = Person(
            handle=handle,
            name=name,
            email=email,
            language=language,
            unit_id=home.id if home else None,
            created_at=utcnow(),
        )
        session.add(person)
        session.flush()
        assert person.id is not None
        for role, unit_code in roles:
            grant_unit = unit_by_code(session, unit_code, field="role")
            session.add(RoleGrant(person_id=pk(person), role=role.value, unit_id=pk(grant_unit)))
        token = _issue_token(session, person, "cli") if with_token else None
        append_event(
            session,
            chain=SYSTEM_CHAIN,
            action="person.added",
            at=utcnow(),
            data={"handle": handle, "roles": sorted(f"{r}@{u}" for r, u in roles)},
        )
        uow.commit()
        return person, token


def _issue_token(session: Session, person: Person, name: str) -> str:
    assert person.id is not None
    public_id, token = new_token()
    session.add(
        ApiToken(
            public_id=public_id,
            person_id=person.id,
            name=name,
            secret_hash=token_hash(token),
            created_at=utcnow(),
        )
    )
    append_event(
        session,
        chain=SYSTEM_CHAIN,
        action="token.created",
        at=utcnow(),
        actor_id=person.id,
        data={"token": public_id, "name": name},
    )
    return token


def create_token(
    *,
    uow: UnitOfWork,
    handle: str,
    name: str,
    by: Person | None = None,
    remember: Callable[[Session, tuple[str, str]], None] | None = None,
) -> tuple[str, str]:
    """A new personal access token for ``handle``: (public id, token shown once).

    ``by``: who asks (an admin, or ``handle`` themselves); None: the operator at the CLI.
    ``remember`` writes the idempotency record in this transaction."""
    with uow:
        if by is not None and by.handle != handle:
            require_admin(uow.session, by)
        person = person_by_handle(uow.session, handle)
        token = _issue_token(uow.session, person, name)
        made = token.split("_")[1], token
        if remember:
            remember(uow.session, made)
        uow.commit()
        return made


def revoke(*, uow: UnitOfWork, public_id: str, by: Person | None = None) -> None:
    """Revoke a token by its public id (``by``: an admin or its owner; None: the CLI)."""
    with uow:
        token = uow.session.exec(select(ApiToken).where(ApiToken.public_id == public_id)).first()
        if by is not None and (token is None or token.person_id != by.id):
            require_admin(uow.session, by)
        if token is None:
            raise NotFound(f"no token {public_id}", field="token")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            uow.session.add(token)
            append_event(
                uow.session,
                chain=SYSTEM_CHAIN,
                action="token.revoked",
                at=utcnow(),
                data={"token": public_id},
            )
        uow.commit()


def declare_relationship(*, uow: UnitOfWork, handle: str, other: str, kind: str) -> None:
    """Record that two people are related; it blocks assigning one to the other's case."""
    with uow:
        a = person_by_handle(uow.session, handle)
        b = person_by_handle(uow.session, other, field="other")
        uow.session.add(
            Relationship(person_id=pk(a), other_id=pk(b), kind=kind, declared_at=utcnow())
        )
        append_event(
            uow.session,
            chain=SYSTEM_CHAIN,
            action="relationship.declared",
            at=utcnow(),
            data={"a": handle, "b": other, "kind": kind},
        )
        uow.commit()


def related(session: Session, person_id: int, others: Iterable[int | None]) -> str | None:
    """The kind of a declared relationship between ``person_id`` and any of ``others``."""
    ids = [o for o in others if o is not None]
    return session.exec(_RELATED, params={"person": person_id, "others": ids}).first()


# Built once (assignments check these every time): building a select costs more than
# running it, and a prebuilt one goes straight to SQLAlchemy's compiled cache.
_BY_HANDLE = select(Person).where(col(Person.handle) == bindparam("handle"))
_RELATED = (
    select(Relationship.kind)
    .where(
        (col(Relationship.person_id) == bindparam("person"))
        & col(Relationship.other_id).in_(bindparam("others", expanding=True))
        | (col(Relationship.other_id) == bindparam("person"))
        & col(Relationship.person_id).in_(bindparam("others", expanding=True))
    )
    .limit(1)
)


@dataclass(frozen=True)
class UnitChoice:
    """A unit as a reporter picks it: its code, names and depth in the tree."""

    code: str
    name_zh: str
    name_en: str
    depth: int


def unit_choices(*, uow: UnitOfWork) -> list[UnitChoice]:
    """Every unit in tree order (each under its parent), for the report form."""
    with uow:
        units = uow.session.exec(select(Unit).order_by(col(Unit.path))).all()
        return [UnitChoice(u.code, u.name_zh, u.name_en, len(u.lineage()) - 1) for u in units]
