"""Read models: what a viewer is shown of a case. Privacy rules live here."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from cases.audit import REFUSED_EVENT, case_chain
from cases.deadlines.calendar import provisional, working_days_between
from cases.procedure.clock import local_date, utcnow
from cases.store.models import (
    AuditEvent,
    CaseParty,
    ConductCase,
    Deadline,
    DeadlineExtension,
    Evidence,
    Interview,
    Person,
    Unit,
    pk,
)

READ_EVENT = "case.read"
READ_BY_REPORTER_EVENT = "case.read_by_reporter"  # the reporter looked with their code
HIDDEN_FROM_TIMELINE = (READ_EVENT, READ_BY_REPORTER_EVENT, REFUSED_EVENT)  # reads, refusals


class CaseSummary(BaseModel):
    reference: str
    stage: str
    version: int
    unit: str
    category: str | None
    severity: str | None
    filed_at: datetime
    due_at: datetime | None
    due_provisional: bool = Field(
        description="The due time counts days in a year whose official holiday schedule is "
        "not yet confirmed (see `qingfeng calendar check`)."
    )
    overdue: bool
    escalation: str | None = Field(description="The last deadline step fired past the due time.")
    flag: str | None = Field(description="'red' once the policy's last escalation step fired.")


class TriageView(BaseModel):
    """What triage found when the report was filed."""

    possible_duplicate_of: str | None = Field(
        description="An earlier case about the same subject and category within the window."
    )
    missing: list[str] = Field(description="What to ask for: category, details, contact.")


def triage_of(case: ConductCase) -> TriageView:
    return TriageView(
        possible_duplicate_of=case.possible_duplicate_of,
        missing=[code for code in (case.missing_information or "").split(",") if code],
    )


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    action: str
    actor: str | None
    data: dict[str, Any]


class DeadlineStep(BaseModel):
    stage: str
    revision: int = Field(
        description="0 for the stage's first ladder, +1 each time it is written again (an "
        "extension granted, or a recount when a year's calendar was confirmed)."
    )
    step: str
    due_at: datetime
    state: str
    working_days_left: int = Field(description="From today (Asia/Shanghai); negative once past.")


class ExtensionView(BaseModel):
    stage: str
    requested_by: str
    requested_at: datetime
    reason: str
    requested_due_on: date
    previous_due_at: datetime
    state: str = Field(description="pending, granted, refused, or lapsed with its stage.")
    decided_by: str | None
    decided_at: datetime | None
    granted_due_on: date | None
    decision_note: str | None


class PartyView(BaseModel):
    person: str
    name: str
    capacity: str
    active: bool
    coi_override: str | None


class CaseDetail(CaseSummary):
    summary: str
    details: str
    occurred: str | None
    place: str | None
    allegations: str | None
    triage: TriageView
    subject: str
    subject_name: str
    subject_post: str | None
    reporter: str | None
    anonymous: bool
    decline_reason: str | None
    duplicate_of: str | None
    statement_state: str
    statement_due_at: datetime | None
    statement: str | None
    findings_result: str | None
    findings_summary: str | None
    recommended_disposition: str | None
    returns_count: int
    proposed_disposition: str | None
    advisor_signed: bool
    cosigned: bool
    decision: str | None
    decided_at: datetime | None
    appeal_window_ends_at: datetime | None
    appeal_outcome: str | None
    closed_at: datetime | None
    parties: list[PartyView]
    evidence: list[dict[str, Any]]
    interviews: list[dict[str, Any]]
    timeline: list[TimelineEntry]
    deadlines: list[DeadlineStep]
    extensions: list[ExtensionView]
    allowed_actions: list[str]


def summary_of(case: ConductCase, unit_code: str) -> CaseSummary:
    """The list view: no personal data, so listing is not a read of anyone's case file."""
    return CaseSummary(
        reference=case.reference,
        stage=case.stage,
        version=case.version,
        unit=unit_code,
        category=case.category,
        severity=case.severity,
        filed_at=case.filed_at,
        due_at=case.due_at,
        due_provisional=provisional(case.stage_entered_at, case.due_at),
        overdue=case.overdue,
        escalation=case.escalation,
        flag=case.flag,
    )


def detail_of(
    session: Session,
    case: ConductCase,
    unit: Unit,
    *,
    viewer: Person,
    allowed: list[str],
    oversight: bool = False,
) -> CaseDetail:
    """The case file as staff member ``viewer`` may see it: the reporter is hidden when the
    report is anonymous; refusals are shown to oversight (secretary, admin) only."""
    parties = _parties(session, case)
    events = _events(session, case, oversight=oversight)
    people = _people(session, parties, events)
    subject = session.get(Person, case.subject_id)
    assert subject is not None
    reveal_reporter = not case.anonymous and viewer.id != case.subject_id
    hidden = {case.reporter_id} if not reveal_reporter and case.reporter_id else set()
    return CaseDetail(
        **state_of(case, unit.code, allowed=allowed).model_dump(),
        summary=case.summary,
        details=case.details,
        occurred=case.occurred,
        place=case.place,
        allegations=case.allegations,
        subject=subject.handle,
        subject_name=subject.name,
        subject_post=case.subject_post,
        reporter=_reporter(session, case, people) if reveal_reporter else None,
        anonymous=case.anonymous,
        decline_reason=case.decline_reason,
        duplicate_of=case.duplicate_of,
        statement_due_at=case.statement_due_at,
        statement=case.statement_text,
        findings_result=case.findings_result,
        findings_summary=case.findings_summary,
        recommended_disposition=case.recommended_disposition,
        decided_at=case.decided_at,
        parties=_party_views(parties, hidden),
        evidence=_evidence(session, case),
        interviews=_interviews(session, case),
        timeline=_timeline(events, people, hidden),
        deadlines=deadline_steps(session, case),
        extensions=_extensions(session, case),
    )


def _parties(session: Session, case: ConductCase) -> list[tuple[CaseParty, Person]]:
    """The case's parties with their people, in the order they joined."""
    rows = session.exec(
        select(CaseParty, Person)
        .join(Person, col(Person.id) == CaseParty.person_id)
        .where(CaseParty.case_id == case.id)
        .order_by(col(CaseParty.id))
    ).all()
    return list(rows)


def _events(session: Session, case: ConductCase, *, oversight: bool) -> list[AuditEvent]:
    """The case chain's events for the timeline: no reads; refusals for oversight only."""
    hidden_events = (READ_EVENT, READ_BY_REPORTER_EVENT) if oversight else HIDDEN_FROM_TIMELINE
    rows = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.chain == case_chain(pk(case)), col(AuditEvent.action).notin_(hidden_events)
        )
        .order_by(col(AuditEvent.seq))
    ).all()
    return list(rows)


def _people(
    session: Session, parties: list[tuple[CaseParty, Person]], events: list[AuditEvent]
) -> dict[int | None, Person]:
    """Everyone the case file names, by id: its parties and the events' actors."""
    people: dict[int | None, Person] = {p.id: p for _, p in parties}
    actor_ids = {e.actor_id for e in events if e.actor_id} - set(people)
    people.update(
        {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(actor_ids)))}
    )
    return people


def _reporter(session: Session, case: ConductCase, people: dict[int | None, Person]) -> str | None:
    """The reporter's name: the person's, or the name given with the report."""
    named = people.get(case.reporter_id) or (
        session.get(Person, case.reporter_id) if case.reporter_id else None
    )
    return named.name if named else case.reporter_name


def _party_views(parties: list[tuple[CaseParty, Person]], hidden: set[int]) -> list[PartyView]:
    return [
        PartyView(
            person=p.handle,
            name=p.name,
            capacity=cp.capacity,
            active=cp.active,
            coi_override=cp.override_reason,
        )
        for cp, p in parties
        if p.id not in hidden and cp.capacity != "reporter"
    ]


def _evidence(session: Session, case: ConductCase) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "description": e.description,
            "filename": e.filename,
            "sha256": e.sha256,
            "media_type": e.media_type,
            "has_file": e.stored_name is not None,
            "from_reporter": e.from_reporter,
            "recorded_at": e.recorded_at,
        }
        for e in session.exec(select(Evidence).where(Evidence.case_id == case.id))
    ]


def _interviews(session: Session, case: ConductCase) -> list[dict[str, Any]]:
    return [
        {"interviewee": i.interviewee, "summary": i.summary, "held_on": i.held_on}
        for i in session.exec(select(Interview).where(Interview.case_id == case.id))
    ]


def _timeline(
    events: list[AuditEvent], people: dict[int | None, Person], hidden: set[int]
) -> list[TimelineEntry]:
    """The events with their actors' handles; a hidden reporter acts as nobody."""
    return [
        TimelineEntry(
            seq=e.seq,
            at=e.at,
            action=e.action,
            actor=None if e.actor_id in hidden or e.actor_id is None else people[e.actor_id].handle,
            data=json.loads(e.data),
        )
        for e in events
    ]


def deadline_steps(session: Session, case: ConductCase) -> list[DeadlineStep]:
    today = local_date(utcnow())
    rows = session.exec(
        select(Deadline).where(Deadline.case_id == case.id).order_by(col(Deadline.id))
    )
    return [
        DeadlineStep(
            stage=d.stage,
            revision=d.revision,
            step=d.step,
            due_at=d.due_at,
            state=d.state,
            working_days_left=working_days_between(today, local_date(d.due_at)),
        )
        for d in rows
    ]


def _extensions(session: Session, case: ConductCase) -> list[ExtensionView]:
    rows = session.exec(
        select(DeadlineExtension)
        .where(DeadlineExtension.case_id == case.id)
        .order_by(col(DeadlineExtension.id))
    ).all()
    ids = {r.requested_by for r in rows} | {r.decided_by for r in rows if r.decided_by}
    query = select(Person.id, Person.handle).where(col(Person.id).in_(ids))
    handles: dict[int | None, str] = dict(session.exec(query).all()) if ids else {}
    return [
        ExtensionView(
            **r.model_dump(exclude={"id", "case_id", "stage_entry", "requested_by", "decided_by"}),
            requested_by=handles[r.requested_by],
            decided_by=handles.get(r.decided_by) if r.decided_by else None,
        )
        for r in rows
    ]


class CaseState(CaseSummary):
    """What an action returns: the case's state after it, without re-reading the case file."""

    triage: TriageView
    statement_state: str
    returns_count: int
    proposed_disposition: str | None
    advisor_signed: bool
    cosigned: bool
    decision: str | None
    appeal_window_ends_at: datetime | None
    appeal_outcome: str | None
    closed_at: datetime | None
    allowed_actions: list[str]


def state_of(case: ConductCase, unit_code: str, *, allowed: list[str]) -> CaseState:
    """The action response, from the case row alone."""
    return CaseState(
        **summary_of(case, unit_code).model_dump(),
        triage=triage_of(case),
        statement_state=case.statement_state,
        returns_count=case.returns_count,
        proposed_disposition=case.proposed_disposition,
        advisor_signed=case.advisor_signed_by is not None,
        cosigned=case.cosigned_by is not None,
        decision=case.decision,
        appeal_window_ends_at=case.appeal_window_ends_at,
        appeal_outcome=case.appeal_outcome,
        closed_at=case.closed_at,
        allowed_actions=allowed,
    )
