"""An admin grants and revokes roles and deactivates people (each in its own transaction,
audited on the system chain with who did it)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from cases.audit import SYSTEM_CHAIN, append_event
from cases.people.access import require_admin
from cases.people.directory import person_by_handle, unit_by_code
from cases.procedure.clock import utcnow
from cases.procedure.errors import InvalidInput, NotFound
from cases.procedure.vocabulary import STAFF_ROLES, Role
from cases.store.db import UnitOfWork
from cases.store.models import Person, RoleGrant, pk

# The roles an admin grants over a unit (reporter and subject are parts on a case).
GRANTABLE = (*sorted(STAFF_ROLES), Role.ADMIN)


def _grant(session: Session, person: Person, role: Role, unit_id: int) -> RoleGrant | None:
    return session.exec(
        select(RoleGrant).where(
            col(RoleGrant.person_id) == person.id,
            col(RoleGrant.role) == role.value,
            col(RoleGrant.unit_id) == unit_id,
        )
    ).first()


def _audit(session: Session, action: str, by: Person | None, data: dict[str, str]) -> None:
    actor = by.id if by else None
    append_event(session, chain=SYSTEM_CHAIN, action=action, at=utcnow(), actor_id=actor, data=data)


def grant_role(*, uow: UnitOfWork, by: Person | None, handle: str, role: Role, unit: str) -> None:
    """Give ``handle`` the ``role`` over ``unit`` and all below it (``by`` None: the CLI)."""
    if role not in GRANTABLE:
        raise InvalidInput(f"{role} is not a role an admin grants", field="role")
    with uow:
        if by is not None:
            require_admin(uow.session, by)
        person = person_by_handle(uow.session, handle, field="handle")
        over = unit_by_code(uow.session, unit)
        if _grant(uow.session, person, role, pk(over)) is not None:
            raise InvalidInput(f"{handle} already holds {role} over {unit}", field="role")
        uow.session.add(RoleGrant(person_id=pk(person), role=role.value, unit_id=pk(over)))
        _audit(uow.session, "role.granted", by, {"handle": handle, "role": f"{role}@{unit}"})
        uow.commit()


def revoke_role(*, uow: UnitOfWork, by: Person | None, handle: str, role: Role, unit: str) -> None:
    """Take ``role`` over ``unit`` from ``handle``; an admin keeps their own admin role."""
    with uow:
        if by is not None:
            require_admin(uow.session, by)
            if role is Role.ADMIN and by.handle == handle:
                raise InvalidInput("you cannot take your own admin role away", field="role")
        person = person_by_handle(uow.session, handle, field="handle")
        held = _grant(uow.session, person, role, pk(unit_by_code(uow.session, unit)))
        if held is None:
            raise NotFound(f"{handle} holds no {role} over {unit}", field="role")
        uow.session.delete(held)
        _audit(uow.session, "role.revoked", by, {"handle": handle, "role": f"{role}@{unit}"})
        uow.commit()


def deactivate_person(*, uow: UnitOfWork, by: Person | None, handle: str) -> None:
    """Mark ``handle`` inactive: their sessions and tokens stop working (kept for the record)."""
    with uow:
        if by is not None:
            require_admin(uow.session, by)
            if by.handle == handle:
                raise InvalidInput("you cannot deactivate yourself", field="handle")
        person = person_by_handle(uow.session, handle, field="handle")
        if person.active:
            person.active = False
            uow.session.add(person)
            _audit(uow.session, "person.deactivated", by, {"handle": handle})
        uow.commit()
