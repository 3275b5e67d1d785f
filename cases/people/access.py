"""Who may see what: role grants scoped to a unit subtree, parties on a case, tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, bindparam, exists, func, or_
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cases.people.secrets import token_hash
from cases.procedure.errors import Forbidden, NotFound, Unauthenticated
from cases.procedure.vocabulary import STAFF_ROLES, Role
from cases.store.db import UnitOfWork
from cases.store.models import ApiToken, CaseParty, ConductCase, Person, RoleGrant, Unit

# Hot statements are built once with bind parameters: building a select costs more than
# running it, and a prebuilt one hits SQLAlchemy's compiled cache directly.
_TOKEN_OWNER = (
    select(Person)
    .join(ApiToken, col(ApiToken.person_id) == Person.id)
    .where(
        col(ApiToken.secret_hash) == bindparam("secret_hash"),
        col(ApiToken.revoked_at).is_(None),
        col(Person.active),
    )
)


def _grants_over(unit_path: ColumnElement[str] | Mapped[str]) -> SelectOfScalar[str]:
    """Roles of person ``person_id`` granted on ``unit_path``'s unit or any unit above it."""
    grant_unit = aliased(Unit)
    return (
        select(RoleGrant.role)
        .join(grant_unit, col(grant_unit.id) == RoleGrant.unit_id)
        .where(
            col(RoleGrant.person_id) == bindparam("person_id"),
            unit_path.startswith(col(grant_unit.path)),
        )
    )


_ROLES_OVER = _grants_over(bindparam("unit_path", type_=String))
# The same roles over the case's unit, as one text (correlated to the outer query's Unit):
# the case, its unit and the viewer's roles in a single round trip.
_ROLES_OVER_CASE = (
    _grants_over(col(Unit.path))
    .with_only_columns(func.aggregate_strings(col(RoleGrant.role), ","))
    .scalar_subquery()
)
_CASE_AND_UNIT = (
    select(ConductCase, Unit, _ROLES_OVER_CASE)
    .join(Unit, col(Unit.id) == ConductCase.unit_id)
    .where(col(ConductCase.reference) == bindparam("reference"))
)
# For an action: the case row stays locked to the transaction's end (PostgreSQL; SQLite's
# writers already hold the database's write lock), so its version cannot move meanwhile.
_CASE_AND_UNIT_FOR_UPDATE = _CASE_AND_UNIT.with_for_update(of=ConductCase)


def authenticate(session: Session, token: str) -> Person:
    """The active person behind a bearer token, or Unauthenticated."""
    person = session.exec(_TOKEN_OWNER, params={"secret_hash": token_hash(token)}).first()
    if person is None:
        raise Unauthenticated("the token is unknown, revoked, or its owner is inactive")
    return person


def roles_in_scope(session: Session, person_id: int, unit_path: str) -> frozenset[str]:
    """Roles ``person_id`` holds in the unit at ``unit_path`` or any unit above it."""
    grants = session.exec(_ROLES_OVER, params={"person_id": person_id, "unit_path": unit_path})
    return frozenset(grants.all())


def global_roles(session: Session, person_id: int) -> frozenset[str]:
    """Every role the person holds anywhere."""
    return frozenset(session.exec(select(RoleGrant.role).where(RoleGrant.person_id == person_id)))


def roles_held(*, uow: UnitOfWork, person: Person | None) -> frozenset[str]:
    """Every role ``person`` holds anywhere (none for nobody): what the console offers."""
    if person is None or person.id is None:
        return frozenset()
    with uow:
        return global_roles(uow.session, person.id)


def _handles(person_id: int) -> ColumnElement[bool]:
    return exists(
        select(CaseParty.id).where(
            CaseParty.case_id == ConductCase.id,
            CaseParty.person_id == person_id,
            col(CaseParty.capacity).notin_(["reporter"]),
        )
    )


def scope_condition(person_id: int) -> ColumnElement[bool]:
    """SQL condition on ConductCase: visible to ``person_id`` (staff scope or own part)."""
    staff = [r.value for r in STAFF_ROLES]
    case_unit, grant_unit = aliased(Unit), aliased(Unit)
    in_scope = exists(
        select(RoleGrant.id)
        .join(grant_unit, col(grant_unit.id) == RoleGrant.unit_id)
        .join(case_unit, col(case_unit.id) == ConductCase.unit_id)
        .where(
            RoleGrant.person_id == person_id,
            col(RoleGrant.role).in_(staff),
            col(case_unit.path).startswith(grant_unit.path),
        )
    )
    return or_(in_scope, _handles(person_id))


@dataclass(frozen=True)
class VisibleCase:
    """A case the person may see, its unit, and the roles the person holds over it."""

    case: ConductCase
    unit: Unit
    roles: frozenset[str]


def case_for(
    session: Session, person: Person, reference: str, *, for_update: bool = False
) -> VisibleCase:
    """The case ``reference`` if ``person`` may see it; otherwise NotFound (never Forbidden).

    ``for_update`` locks the case row until the transaction ends (for an action).
    """
    assert person.id is not None
    query = _CASE_AND_UNIT_FOR_UPDATE if for_update else _CASE_AND_UNIT
    row = session.exec(query, params={"reference": reference, "person_id": person.id}).first()
    if row is None:
        raise NotFound(f"no case {reference} that you can see", field="reference")
    case, unit, listed = row
    roles = frozenset(listed.split(",")) if listed else frozenset()
    if not (roles & {r.value for r in STAFF_ROLES}) and not _is_handler(session, case, person):
        raise NotFound(f"no case {reference} that you can see", field="reference")
    return VisibleCase(case, unit, roles)


def _is_handler(session: Session, case: ConductCase, person: Person) -> bool:
    if person.id == case.subject_id:
        return True
    return (
        session.exec(
            select(CaseParty.id).where(
                CaseParty.case_id == case.id,
                CaseParty.person_id == person.id,
                col(CaseParty.capacity) != "reporter",
            )
        ).first()
        is not None
    )


def require_admin(session: Session, person: Person) -> None:
    """Raise Forbidden unless ``person`` is an admin."""
    assert person.id is not None
    if Role.ADMIN.value not in global_roles(session, person.id):
        raise Forbidden("only an admin may do this")
