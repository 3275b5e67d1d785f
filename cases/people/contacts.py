"""A person's contact details: staff add or correct them (a reported subject has none)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from sqlalchemy import ColumnElement, and_, bindparam, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from cases.audit import SYSTEM_CHAIN, append_event
from cases.people.access import global_roles
from cases.procedure.clock import utcnow
from cases.procedure.errors import Forbidden, InvalidInput, NotFound
from cases.procedure.labels import LANGUAGES
from cases.procedure.text import text_problem
from cases.procedure.vocabulary import Capacity, Role
from cases.store.db import UnitOfWork
from cases.store.models import CaseParty, ConductCase, Person, RoleGrant, Unit

# Who may correct the contact details of the people on the cases they see (admins: anyone's).
CONTACT_EDITORS = frozenset({Role.INVESTIGATOR, Role.VERIFIER, Role.SECRETARY})

NAME_MAX = 100
EMAIL_MAX = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"\+?[0-9][0-9 \-]*")
PHONE_DIGITS = (5, 20)


@dataclass(frozen=True)
class ContactChanges:
    """What to change: None leaves a field as it is; "" clears email or phone."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None

    def given(self) -> dict[str, str]:
        """The fields given, validated and trimmed (None for a cleared email or phone)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        given = {k: v.strip() for k, v in values.items() if v is not None}
        if not given:
            raise InvalidInput("nothing to change: give name, email, phone or language")
        for key, value in given.items():
            check_field(key, value)
        return given


def check_field(key: str, value: str) -> None:
    """InvalidInput naming ``key`` unless ``value`` may be that contact field."""
    if key == "name" and not 0 < len(value) <= NAME_MAX:
        raise InvalidInput(f"a name is 1 to {NAME_MAX} characters", field="name")
    if key == "name" and (problem := text_problem(value)) is not None:
        raise InvalidInput(f"a name: {problem}", field="name")
    if key == "email" and value and (len(value) > EMAIL_MAX or not _EMAIL.fullmatch(value)):
        raise InvalidInput("not an email address (name@example.edu.cn)", field="email")
    if key == "phone" and value:
        digits = sum(ch.isdigit() for ch in value)
        low, high = PHONE_DIGITS
        if not _PHONE.fullmatch(value) or not low <= digits <= high:
            raise InvalidInput(
                f"a phone number is {low} to {high} digits, with + - and spaces only",
                field="phone",
            )
    if key == "language" and value not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}", field="language")


def update_person(
    *, uow: UnitOfWork, by: Person | None, handle: str, changes: ContactChanges
) -> Person:
    """Set a person's name, email, phone or language (``by`` None: the operator at the CLI)."""
    given = changes.given()
    with uow:
        session = uow.session
        if by is not None:
            _require_editor(session, by)
        person = session.exec(select(Person).where(Person.handle == handle)).first()
        if person is None or (by is not None and not _may_edit(session, by, person)):
            raise NotFound(f"no person {handle} that you can see", field="handle")
        changed = sorted(k for k, v in given.items() if (v or None) != getattr(person, k))
        for key in changed:
            setattr(person, key, given[key] or None)
        if changed:
            session.add(person)
            append_event(
                session,
                chain=SYSTEM_CHAIN,
                action="person.updated",
                at=utcnow(),
                actor_id=by.id if by else None,
                data={"handle": handle, "fields": changed},  # names only: no personal data
            )
        uow.commit()
        return person


def _require_editor(session: Session, by: Person) -> None:
    assert by.id is not None
    roles = global_roles(session, by.id)
    if Role.ADMIN.value not in roles and not roles & {r.value for r in CONTACT_EDITORS}:
        raise Forbidden("only an admin or case staff may change contact details")


def _may_edit(session: Session, by: Person, person: Person) -> bool:
    """An admin: anyone. Staff: the subject, or a named reporter, of a case in their scope."""
    assert by.id is not None
    if Role.ADMIN.value in global_roles(session, by.id):
        return True
    found = session.exec(_CASE_OF, params={"staff": by.id, "person": person.id}).first()
    return found is not None


def _is_party(person: ColumnElement[int]) -> ColumnElement[bool]:
    # An anonymous report's reporter stays hidden: an answer must not tell who filed it.
    return or_(
        col(ConductCase.subject_id) == person,
        exists(
            select(CaseParty.id).where(
                col(CaseParty.case_id) == ConductCase.id,
                col(CaseParty.person_id) == person,
                or_(
                    col(CaseParty.capacity) == Capacity.SUBJECT.value,
                    and_(
                        col(CaseParty.capacity) == Capacity.REPORTER.value,
                        ~col(ConductCase.anonymous),
                    ),
                ),
            )
        ),
    )


def _case_of() -> ColumnElement[bool]:
    case_unit, grant_unit = aliased(Unit), aliased(Unit)
    return exists(
        select(RoleGrant.id)
        .join(grant_unit, col(grant_unit.id) == RoleGrant.unit_id)
        .join(case_unit, col(case_unit.id) == ConductCase.unit_id)
        .where(
            col(RoleGrant.person_id) == bindparam("staff"),
            col(RoleGrant.role).in_([r.value for r in CONTACT_EDITORS]),
            col(case_unit.path).startswith(col(grant_unit.path)),
        )
    )


# A case in ``staff``'s scope where ``person`` is the subject or a named reporter.
_CASE_OF = select(ConductCase.id).where(_case_of(), _is_party(bindparam("person"))).limit(1)
