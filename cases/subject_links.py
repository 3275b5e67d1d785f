"""The subject's links: how the subject of a case opens their page (policy ``subject_link``).

A link is an unguessable token (``secrets.token_urlsafe(32)``, 256 bits) in the address
/s/<token>, shown once and kept only as its SHA-256; a hand-over notice adds a short code
(8 characters of an alphabet without look-alikes) to type at /s. A link opens the page
until it expires or is revoked; every notice to the subject carries a fresh one. An
expired, revoked or unknown link is one and the same NotFound, so a guess learns nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.people.access import case_for
from cases.procedure.errors import Forbidden, NotFound
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Capacity, Role
from cases.store.db import UnitOfWork
from cases.store.models import CaseParty, ConductCase, Person, pk
from cases.store.subject_links import SubjectLink

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: read aloud or copied from paper, a code is typed right.
CODE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 8
ISSUED_EVENT, HANDED_OVER_EVENT = "subject_link.issued", "subject_notice.handed_over"
REVOKED_EVENT = "subject_link.revoked"
GONE = "this link does not open a case (it may have expired or been withdrawn)"


@dataclass(frozen=True)
class SubjectSession:
    """An opened link: whose page, which case, and until when this visit lasts."""

    link_id: int
    case_id: int
    reference: str
    person: Person
    expires_at: datetime


@dataclass(frozen=True)
class HandOver:
    """A fresh link for a printed notice: its number, token and short code (shown once)."""

    link_id: int
    reference: str
    subject_name: str
    token: str
    code: str
    expires_at: datetime


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalised_code(typed: str) -> str:
    """The code as typed, without spaces or dashes, in capitals."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def _new_link(
    session: Session, case: ConductCase, policy: Policy, now: datetime, *, code: str | None
) -> tuple[SubjectLink, str]:
    token = secrets.token_urlsafe(32)
    link = SubjectLink(
        case_id=pk(case),
        person_id=case.subject_id,
        token_hash=_digest(token),
        code_hash=_digest(code) if code else None,
        created_at=now,
        expires_at=now + timedelta(days=policy.subject_link.valid_days),
    )
    session.add(link)
    session.flush()
    append_event(
        session,
        chain=case_chain(pk(case)),
        case_id=case.id,
        action=ISSUED_EVENT,
        at=now,
        data={"link": link.id, "code": code is not None, "expires_at": link.expires_at.isoformat()},
    )
    return link, token


def _subject_case(session: Session, case_id: int, person_id: int) -> ConductCase:
    case = session.get(ConductCase, case_id)
    if case is None or case.subject_id != person_id:
        raise NotFound(f"no case {case_id} with that subject", field="case_id")
    return case


def new_link_token(
    session: Session, *, case_id: int, person_id: int, policy: Policy, now: datetime
) -> str:
    """A fresh link for the case's subject, added in ``session`` (the caller commits);
    returns its token, which is kept nowhere."""
    case = _subject_case(session, case_id, person_id)
    _, token = _new_link(session, case, policy, now, code=None)
    return token


def issue_link(
    *, uow: UnitOfWork, policy: Policy, case_id: int, person_id: int, now: datetime
) -> str:
    """A fresh link for the case's subject; returns its token, which is kept nowhere."""
    with uow:
        token = new_link_token(
            uow.session, case_id=case_id, person_id=person_id, policy=policy, now=now
        )
        uow.commit()
        return token


def hand_over(
    *, uow: UnitOfWork, policy: Policy, reference: str, staff: Person, now: datetime
) -> HandOver:
    """A fresh link and short code for a notice staff print and hand to the subject."""
    with uow:
        session = uow.session
        case = _staff_case(session, staff, reference)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        link, token = _new_link(session, case, policy, now, code=code)
        subject = session.get(Person, case.subject_id)
        assert subject is not None
        uow.commit()
        return HandOver(pk(link), case.reference, subject.name, token, code, link.expires_at)


def record_hand_over(*, uow: UnitOfWork, staff: Person, link_id: int, now: datetime) -> str:
    """Record that staff handed the printed notice ``link_id`` to the subject; its case."""
    with uow:
        session = uow.session
        link = session.get(SubjectLink, link_id)
        case = session.get(ConductCase, link.case_id) if link and link.code_hash else None
        if case is None:
            raise NotFound(f"no hand-over notice {link_id}", field="notice")
        _staff_case(session, staff, case.reference)
        append_event(
            session,
            chain=case_chain(pk(case)),
            case_id=case.id,
            actor_id=staff.id,
            action=HANDED_OVER_EVENT,
            at=now,
            data={"link": link_id},
        )
        uow.commit()
        return case.reference


def _staff_case(session: Session, staff: Person, reference: str) -> ConductCase:
    """The case if ``staff`` may hand the subject a notice: its investigators and the
    secretaries over it (NotFound if they cannot read it, Forbidden if they may only read)."""
    seen = case_for(session, staff, reference)
    case = seen.case
    if staff.id in (case.subject_id, case.reporter_id):
        raise NotFound(f"no case {reference} that you can see", field="reference")
    investigates = session.exec(
        select(CaseParty.id).where(
            CaseParty.case_id == case.id,
            CaseParty.person_id == staff.id,
            CaseParty.capacity == Capacity.INVESTIGATOR.value,
            col(CaseParty.active),
        )
    ).first()
    if investigates is None and Role.SECRETARY.value not in seen.roles:
        raise Forbidden(
            "only the case's investigators and the secretary hand the subject a notice",
            field="reference",
        )
    return case


def open_link(*, uow: UnitOfWork, policy: Policy, token: str, now: datetime) -> SubjectSession:
    """A visit opened with the link's token (NotFound when expired, revoked or unknown)."""
    return _open(uow, policy, col(SubjectLink.token_hash) == _digest(token), now)


def open_code(*, uow: UnitOfWork, policy: Policy, code: str, now: datetime) -> SubjectSession:
    """A visit opened with a hand-over notice's short code (NotFound as for a link)."""
    typed = normalised_code(code)
    if len(typed) != CODE_LENGTH:
        raise NotFound(GONE, field="code")
    return _open(uow, policy, col(SubjectLink.code_hash) == _digest(typed), now)


def resume(*, uow: UnitOfWork, link_id: int, until: datetime, now: datetime) -> SubjectSession:
    """The visit a session cookie names, while its link still opens the page."""
    with uow:
        return _session(uow.session, col(SubjectLink.id) == link_id, now, until)


def _open(uow: UnitOfWork, policy: Policy, which: object, now: datetime) -> SubjectSession:
    until = now + timedelta(minutes=policy.subject_link.session_minutes)
    with uow:
        return _session(uow.session, which, now, until)


def _session(session: Session, which: object, now: datetime, until: datetime) -> SubjectSession:
    row = session.exec(
        select(SubjectLink, ConductCase, Person)
        .join(ConductCase, col(ConductCase.id) == SubjectLink.case_id)
        .join(Person, col(Person.id) == SubjectLink.person_id)
        .where(which)  # type: ignore[arg-type]
    ).first()
    if row is None:
        raise NotFound(GONE, field="token")
    link, case, person = row
    live = link.revoked_at is None and now < link.expires_at
    if not live or case.subject_id != person.id or not person.active:
        raise NotFound(GONE, field="token")
    return SubjectSession(pk(link), pk(case), case.reference, person, min(until, link.expires_at))


def revoke_links(
    *, uow: UnitOfWork, case_id: int, now: datetime, actor_id: int | None = None
) -> int:
    """Withdraw every live link of the case (a visit open with one ends at its next page)."""
    with uow:
        revoked = (
            uow.session.connection()
            .execute(
                update(SubjectLink)
                .where(col(SubjectLink.case_id) == case_id, col(SubjectLink.revoked_at).is_(None))
                .values(revoked_at=now)
            )
            .rowcount
        )
        if revoked:
            append_event(
                uow.session,
                chain=case_chain(case_id),
                case_id=case_id,
                actor_id=actor_id,
                action=REVOKED_EVENT,
                at=now,
                data={"links": revoked},
            )
        uow.commit()
        return int(revoked)
