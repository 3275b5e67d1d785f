"""What the advisor's sign-off page and the secretary's board read: proposals waiting for
an advisor, extension requests, co-signatures, appeals without a reviewer and the
conflict-of-interest overrides. Read-only, one transaction each, within the viewer's scope.

Who is "the case's advisor" is decided by the TRANSITIONS table's own predicate
(``CASE_ADVISOR``) on the case's context, never by a second rule here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from cases.context import CaseContext
from cases.people.access import case_for, global_roles, roles_in_scope, scope_condition
from cases.procedure import guards as G
from cases.procedure.clock import utcnow
from cases.procedure.errors import NotFound
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Action, Capacity, Role, Stage
from cases.store.db import UnitOfWork
from cases.store.models import (
    AuditEvent,
    CaseParty,
    ConductCase,
    DeadlineExtension,
    ExtensionState,
    Person,
    Unit,
)

ASSIGNING = (f"case.{Action.ASSIGN}", f"case.{Action.ACCEPT}")  # events that assign people
OVERRIDDEN = '%"coi_override":"%'  # an assignment's override reason in canonical JSON


@dataclass(frozen=True)
class CaseLine:
    """One case on a list: no personal data beyond who signed or asked."""

    reference: str
    version: int
    stage: str
    unit: str
    due_at: datetime | None
    overdue: bool
    unit_names: tuple[str, str] = ("", "")  # zh-CN, en
    disposition: str | None = None
    signed_by: str | None = None  # the advisor's name (a co-signature waiting)


@dataclass(frozen=True)
class PendingExtension:
    reference: str
    version: int
    stage: str
    unit: str
    requested_by: str
    requested_at: datetime
    reason: str
    requested_due_on: date
    previous_due_at: datetime


@dataclass(frozen=True)
class Override:
    """An assignment made despite a conflict of interest, and its reason."""

    reference: str
    unit: str
    at: datetime
    by: str | None
    person: str
    capacity: str
    reason: str


@dataclass(frozen=True)
class Board:
    extensions: list[PendingExtension]
    cosigns: list[CaseLine]
    appeals: list[CaseLine]
    overrides: list[Override]
    units: dict[str, tuple[str, str]]  # code -> (zh-CN name, en name)


@dataclass(frozen=True)
class Proposal:
    """What the sign-off page adds to the case file: the proposal's rationale, and
    whether the viewer is the case's advisor (else a secretary looking on)."""

    rationale: str | None
    advisor: bool
    unit_names: tuple[str, str]  # zh-CN, en


def _context(
    session: Session, case: ConductCase, unit: Unit, viewer: Person, policy: Policy, now: datetime
) -> CaseContext:
    assert viewer.id is not None
    parties = list(session.exec(select(CaseParty).where(CaseParty.case_id == case.id)))
    roles = roles_in_scope(session, viewer.id, unit.path)
    return CaseContext(
        case=case, actor=viewer, roles=roles, parties=parties, policy=policy, now=now
    )


def is_secretary(*, uow: UnitOfWork, viewer: Person) -> bool:
    """Whether ``viewer`` holds the secretary's role anywhere."""
    assert viewer.id is not None
    with uow:
        return Role.SECRETARY.value in global_roles(uow.session, viewer.id)


def proposals_to_sign(
    *, uow: UnitOfWork, viewer: Person, policy: Policy, now: datetime | None = None
) -> list[CaseLine]:
    """Cases in disposition with a proposal no advisor has signed, where ``viewer`` is
    the case's advisor; oldest due first."""
    assert viewer.id is not None
    now = now or utcnow()
    query = (
        select(ConductCase, Unit)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .where(
            scope_condition(viewer.id),
            ConductCase.stage == Stage.DISPOSITION,
            col(ConductCase.proposed_disposition).is_not(None),
            col(ConductCase.advisor_signed_by).is_(None),
        )
        .order_by(col(ConductCase.due_at), col(ConductCase.id))
    )
    with uow:
        session = uow.session
        return [
            _line(case, unit)
            for case, unit in session.exec(query).all()
            if G.CASE_ADVISOR(_context(session, case, unit, viewer, policy, now))
        ]


def proposal_of(
    *,
    uow: UnitOfWork,
    viewer: Person,
    policy: Policy,
    reference: str,
    now: datetime | None = None,
) -> Proposal:
    """The proposal of case ``reference`` for its advisor or a secretary over it;
    NotFound for anyone else (as for a case out of scope)."""
    now = now or utcnow()
    with uow:
        session = uow.session
        seen = case_for(session, viewer, reference)
        ctx = _context(session, seen.case, seen.unit, viewer, policy, now)
        advisor = G.CASE_ADVISOR(ctx)
        if not (advisor or G.SECRETARY(ctx)):
            raise NotFound(f"no case {reference} that you can see", field="reference")
        names = (seen.unit.name_zh, seen.unit.name_en)
        return Proposal(rationale=seen.case.proposal_rationale, advisor=advisor, unit_names=names)


def _line(case: ConductCase, unit: Unit, signed_by: str | None = None) -> CaseLine:
    return CaseLine(
        reference=case.reference,
        version=case.version,
        stage=case.stage,
        unit=unit.code,
        unit_names=(unit.name_zh, unit.name_en),
        due_at=case.due_at,
        overdue=case.overdue,
        disposition=case.proposed_disposition,
        signed_by=signed_by,
    )


def board_of(*, uow: UnitOfWork, viewer: Person, policy: Policy, limit: int = 100) -> Board:
    """The secretary's board within ``viewer``'s scope (the overdue cases come from
    cases.queries.list_cases)."""
    assert viewer.id is not None
    with uow:
        session = uow.session
        return Board(
            extensions=_extensions(session, viewer.id, limit),
            cosigns=_cosigns(session, viewer.id, policy, limit),
            appeals=_appeals(session, viewer.id, limit),
            overrides=_overrides(session, viewer.id, limit),
            units={u.code: (u.name_zh, u.name_en) for u in session.exec(select(Unit))},
        )


def _extensions(session: Session, viewer_id: int, limit: int) -> list[PendingExtension]:
    rows = session.exec(
        select(DeadlineExtension, ConductCase, Unit.code, Person.name)
        .join(ConductCase, col(ConductCase.id) == DeadlineExtension.case_id)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .join(Person, col(Person.id) == DeadlineExtension.requested_by)
        .where(scope_condition(viewer_id), DeadlineExtension.state == ExtensionState.PENDING)
        .order_by(col(DeadlineExtension.requested_at), col(DeadlineExtension.id))
        .limit(limit)
    ).all()
    return [
        PendingExtension(
            reference=case.reference,
            version=case.version,
            stage=request.stage,
            unit=code,
            requested_by=name,
            requested_at=request.requested_at,
            reason=request.reason,
            requested_due_on=request.requested_due_on,
            previous_due_at=request.previous_due_at,
        )
        for request, case, code, name in rows
    ]


def _cosigns(session: Session, viewer_id: int, policy: Policy, limit: int) -> list[CaseLine]:
    """Advisor-signed proposals whose disposition the policy says the secretary co-signs."""
    needing = [d.code for d in policy.dispositions if d.requires_cosign]
    signer = aliased(Person)
    rows = session.exec(
        select(ConductCase, Unit, signer.name)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .join(signer, col(signer.id) == ConductCase.advisor_signed_by)
        .where(
            scope_condition(viewer_id),
            ConductCase.stage == Stage.DISPOSITION,
            col(ConductCase.cosigned_by).is_(None),
            col(ConductCase.proposed_disposition).in_(needing),
        )
        .order_by(col(ConductCase.due_at), col(ConductCase.id))
        .limit(limit)
    ).all()
    return [_line(case, unit, signed_by=name) for case, unit, name in rows]


def _appeals(session: Session, viewer_id: int, limit: int) -> list[CaseLine]:
    """Cases in appeal review with no active appeal reviewer."""
    reviewer = exists(
        select(CaseParty.id).where(
            CaseParty.case_id == ConductCase.id,
            CaseParty.capacity == Capacity.APPEAL_REVIEWER,
            col(CaseParty.active),
        )
    )
    rows = session.exec(
        select(ConductCase, Unit)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .where(scope_condition(viewer_id), ConductCase.stage == Stage.APPEAL_REVIEW, ~reviewer)
        .order_by(col(ConductCase.due_at), col(ConductCase.id))
        .limit(limit)
    ).all()
    return [_line(case, unit) for case, unit in rows]


def _overrides(session: Session, viewer_id: int, limit: int) -> list[Override]:
    """Assignments made despite a conflict (the override reason in the event's data)."""
    actor = aliased(Person)
    rows = session.exec(
        select(AuditEvent, ConductCase.reference, Unit.code, actor.handle)
        .join(ConductCase, col(ConductCase.id) == AuditEvent.case_id)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .outerjoin(actor, col(actor.id) == AuditEvent.actor_id)
        .where(
            scope_condition(viewer_id),
            col(AuditEvent.action).in_(ASSIGNING),
            col(AuditEvent.data).like(OVERRIDDEN),
        )
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    ).all()
    return [
        Override(
            reference, code, event.at, by, item["person"], item["capacity"], item["coi_override"]
        )
        for event, reference, code, by in rows
        for item in _assignments(json.loads(event.data))
        if item.get("coi_override")
    ]


def _assignments(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The assignments an event records: an accept's list, or an assign's own."""
    assigned = data.get("assigned")
    return list(assigned) if isinstance(assigned, list) else [data]
