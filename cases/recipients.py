"""Who an audience of a notice is on one case, resolved to people (or a reporter's address).

The reporter is reached when identified (a signed-in reporter) or when they left an e-mail
address as their contact; anonymous reporters otherwise follow their case with the receipt
code. ``assigned`` is the person an assignment named; ``requester`` the staff member whose
extension request was just decided; ``triagers`` the people who may accept or decline the
unit's reports (``TRIAGE_ROLES``, the roles the ``triage`` rule tests), the audience of
intake's ladder, where nobody is assigned yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from cases.procedure.vocabulary import ASSIGNABLE, TRIAGE_ROLES, Capacity, Role
from cases.store.models import CaseParty, ConductCase, Person, RoleGrant, Unit

AUDIENCES = (
    "reporter",
    "subject",
    "assignees",
    "triagers",
    "advisor",
    "secretary",
    "assigned",
    "requester",
)
_NAMED_BY = {"assigned": "person", "requester": "requested_by"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Recipient:
    person_id: int | None  # None: a reporter known only by the address they left
    address: str | None
    audience: str
    language: str

    @property
    def key(self) -> str:
        """Stable part of outbox keys: the person, or 'contact' for an address."""
        return str(self.person_id) if self.person_id is not None else "contact"


def resolve(
    session: Session, case: ConductCase, audiences: tuple[str, ...], event_data: dict[str, Any]
) -> list[Recipient]:
    """The people behind each audience, once each (the first audience naming them wins)."""
    seen: dict[str, Recipient] = {}
    for audience in audiences:
        if audience == "reporter" and case.reporter_id is None:
            contact = (case.reporter_contact or "").strip()
            if _EMAIL.match(contact):
                seen.setdefault("contact", Recipient(None, contact, audience, "zh-CN"))
            continue
        for person in _people(session, case, audience, event_data):
            if person.id is not None and person.active and str(person.id) not in seen:
                seen[str(person.id)] = Recipient(person.id, None, audience, person.language)
    return list(seen.values())


def _people(
    session: Session, case: ConductCase, audience: str, event_data: dict[str, Any]
) -> list[Person]:
    if audience in ("reporter", "subject"):
        person_id = case.reporter_id if audience == "reporter" else case.subject_id
        return [p for p in [session.get(Person, person_id or 0)] if p]
    if audience == "assignees":
        return _parties(session, case, {c.value for c in ASSIGNABLE})
    if audience == "advisor":
        return _parties(session, case, {Capacity.ADVISOR.value}) or _in_scope(
            session, case, Role.ADVISOR
        )
    if audience == "secretary":
        return _in_scope(session, case, Role.SECRETARY)
    if audience == "triagers":
        return _in_scope(session, case, *TRIAGE_ROLES)
    if audience in _NAMED_BY:  # the event's data names the person by handle
        handle = event_data.get(_NAMED_BY[audience])
        return list(session.exec(select(Person).where(Person.handle == handle)))
    raise ValueError(f"unknown audience {audience!r}")


def _parties(session: Session, case: ConductCase, capacities: set[str]) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .join(CaseParty, col(CaseParty.person_id) == Person.id)
            .where(
                CaseParty.case_id == case.id,
                col(CaseParty.active),
                col(CaseParty.capacity).in_(capacities),
            )
            .order_by(col(CaseParty.id))
        ).unique()
    )


def _in_scope(session: Session, case: ConductCase, *roles: Role) -> list[Person]:
    """People holding one of ``roles`` in the case's unit or any unit above it."""
    unit = session.get(Unit, case.unit_id)
    assert unit is not None
    above = unit.lineage()
    return list(
        session.exec(
            select(Person)
            .join(RoleGrant, col(RoleGrant.person_id) == Person.id)
            .where(
                col(RoleGrant.role).in_([role.value for role in roles]),
                col(RoleGrant.unit_id).in_(above),
            )
            .order_by(col(Person.id))
        ).unique()
    )
