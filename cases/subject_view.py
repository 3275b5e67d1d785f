"""What the subject of a case is shown (policy ``subject_view``).

The subject has the right to be told and heard (陈述申辩) and to appeal, so they see the
allegations as staff summarised them, the facts relied on once findings are confirmed,
the evidence list, their own statement and appeal deadlines and the decision. They never
see who reported, and by default neither the report's own words, nor witnesses' names,
nor staff deadlines and escalation flags, nor the case team (each a policy switch).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from cases.audit import case_chain
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import PARTIES, Action, Stage
from cases.store.models import (
    AuditEvent,
    CaseParty,
    ConductCase,
    Evidence,
    Interview,
    Person,
    Unit,
    pk,
)
from cases.views import DeadlineStep, deadline_steps

# The events of the procedure the subject is told about: when, and what happened.
TOLD = frozenset({"filed", Action.ACCEPT, Action.DECLINE, Action.RECORD_STATEMENT,
                  Action.WAIVE_STATEMENT, Action.SUBMIT_FINDINGS, Action.RETURN_FINDINGS,
                  Action.CONFIRM, Action.SIGN_OFF, Action.CO_SIGN, Action.APPEAL,
                  Action.DECIDE_APPEAL, Action.CLOSE})  # fmt: skip
# Findings are the facts relied on once a verifier confirmed them (the decision rests on them).
FINDINGS_SHOWN = (Stage.DISPOSITION, Stage.APPEAL_WINDOW, Stage.APPEAL_REVIEW, Stage.CLOSED)


class SubjectEvent(BaseModel):
    at: datetime
    action: str


REPORTER_ITEM = "反映人提供的材料"  # how the subject sees an item the reporter added


class EvidenceItem(BaseModel):
    description: str
    sha256: str
    collected_on: str | None


class SubjectCaseView(BaseModel):
    """The case as its subject sees it."""

    reference: str
    stage: str
    version: int
    unit: str
    filed_at: datetime
    category: str | None
    allegations: str | None = Field(
        description="The allegations as staff summarised them at acceptance."
    )
    report_summary: str | None = Field(description="The report's own words, if policy allows.")
    report_details: str | None
    statement_state: str
    statement_due_at: datetime | None
    statement: str | None
    statement_files: list[str] = Field(
        description="The names of the files the subject attached to their statement (the "
        "files themselves are for the case's staff only)."
    )
    findings_result: str | None = Field(description="Once verified: the facts relied on.")
    findings_summary: str | None
    evidence: list[EvidenceItem]
    interviews_held: int
    interviewees: list[str] | None = Field(description="Only if policy shows witnesses' names.")
    decision: str | None
    decided_at: datetime | None
    appeal_window_ends_at: datetime | None
    appeal_outcome: str | None
    closed_at: datetime | None
    case_team: list[str] | None = Field(description="Only if policy shows the case team.")
    due_at: datetime | None = Field(description="Staff due time, only if policy shows it.")
    deadlines: list[DeadlineStep] | None
    events: list[SubjectEvent]
    allowed_actions: list[str]


def subject_view_of(
    session: Session, case: ConductCase, unit: Unit, *, policy: Policy, allowed: list[str]
) -> SubjectCaseView:
    """The subject's view of ``case`` under ``policy.subject_view``."""
    shown = policy.subject_view
    findings = Stage(case.stage) in FINDINGS_SHOWN
    interviews = list(session.exec(select(Interview).where(Interview.case_id == case.id)))
    items = list(session.exec(select(Evidence).where(Evidence.case_id == case.id)))
    own = [e for e in items if e.recorded_by == case.subject_id]  # their statement's files
    return SubjectCaseView(
        reference=case.reference,
        stage=case.stage,
        version=case.version,
        unit=unit.code,
        filed_at=case.filed_at,
        category=case.category,
        allegations=case.allegations,
        report_summary=case.summary if shown.report_text else None,
        report_details=case.details if shown.report_text else None,
        statement_state=case.statement_state,
        statement_due_at=case.statement_due_at,
        statement=case.statement_text,
        findings_result=case.findings_result if findings else None,
        findings_summary=case.findings_summary if findings else None,
        statement_files=[e.filename or e.description for e in own],
        evidence=[
            EvidenceItem(
                # what a reporter wrote of their own item could tell who they are
                description=REPORTER_ITEM if e.from_reporter else e.description,
                sha256=e.sha256,
                collected_on=e.collected_on,
            )
            for e in items
            if e not in own
        ],
        interviews_held=len(interviews),
        interviewees=[i.interviewee for i in interviews] if shown.witness_names else None,
        decision=case.decision,
        decided_at=case.decided_at,
        appeal_window_ends_at=case.appeal_window_ends_at,
        appeal_outcome=case.appeal_outcome,
        closed_at=case.closed_at,
        case_team=_case_team(session, case) if shown.case_team else None,
        due_at=case.due_at if shown.internal_deadlines else None,
        deadlines=deadline_steps(session, case) if shown.internal_deadlines else None,
        events=_events(session, case),
        allowed_actions=allowed,
    )


def _events(session: Session, case: ConductCase) -> list[SubjectEvent]:
    rows = session.exec(
        select(AuditEvent.at, AuditEvent.action)
        .where(AuditEvent.chain == case_chain(pk(case)))
        .order_by(col(AuditEvent.seq))
    ).all()
    return [
        SubjectEvent(at=at, action=name)
        for at, action in rows
        if (name := action.removeprefix("case.")) in TOLD and action.startswith("case.")
    ]


def _case_team(session: Session, case: ConductCase) -> list[str]:
    rows = session.exec(
        select(Person.name)
        .join(CaseParty, col(CaseParty.person_id) == Person.id)
        .where(
            CaseParty.case_id == case.id,
            col(CaseParty.active),
            col(CaseParty.capacity).notin_(PARTIES),
        )
    ).all()
    return list(dict.fromkeys(rows))
