"""What a reporter is told about their case when they give its receipt code (policy
``reporter_view``): the reference, the stage in coarse words, the filed date, the due date
if policy allows, their messages with the case team, the evidence they added, whether
they may rate the case, and after closure the outcome as far as policy allows. Never who
handles the case, the subject's statement, the team's evidence or the interviews.

The receipt code is the only credential, so every answer that is not the case reads the
same (cases.reporter_side.receipt_case).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.messages import may_write, messages_of
from cases.procedure.clock import local_date, utcnow
from cases.procedure.errors import NotFound
from cases.procedure.policy import Label, Policy, ReporterOutcome
from cases.procedure.vocabulary import AppealOutcome, FindingsResult, Stage
from cases.reporter_side import NO_SUCH_RECEIPT, receipt_case, survey_answered
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Evidence, pk
from cases.views import READ_BY_REPORTER_EVENT

__all__ = ["NO_SUCH_RECEIPT", "READ_BY_REPORTER_EVENT", "ReporterCaseView", "reporter_view"]


class ReporterMessage(BaseModel):
    """A message on the case: the reporter's own, or the case team's (never by name)."""

    from_reporter: bool
    body: str
    sent_at: datetime


class ReporterCaseView(BaseModel):
    """The case as its reporter sees it with the receipt code."""

    reference: str
    status: Label = Field(description="Where the case stands, in coarse words (zh-CN, en).")
    filed_on: date = Field(description="The date filed (Asia/Shanghai).")
    due_on: date | None = Field(description="The current stage's due date, if policy tells it.")
    closed: bool
    outcome: Label | None = Field(description="After closure, if policy tells it.")
    decision: Label | None = Field(description="The disposition decided, if policy tells it.")
    messages: list[ReporterMessage] = Field(description="With the case team, oldest first.")
    may_write: bool = Field(description="Whether a message may be sent now.")
    added_evidence: list[str] = Field(description="The files the reporter added, by name.")
    may_add_evidence: bool = Field(description="Whether evidence may be added (case open).")
    may_rate: bool = Field(description="Closed and not yet rated: the survey is open.")


def reporter_view(
    *,
    uow: UnitOfWork,
    policy: Policy,
    secret: bytes,
    receipt_code: str | None = None,
    case_id: int | None = None,
    now: datetime | None = None,
) -> ReporterCaseView:
    """The case ``receipt_code`` opens (or ``case_id``, opened by it for this visit), as
    policy lets its reporter see it; audited."""
    now = now or utcnow()
    with uow:
        session = uow.session
        if receipt_code is not None:
            case: ConductCase | None = receipt_case(session, secret, receipt_code)
        else:
            case = session.get(ConductCase, case_id) if case_id else None
        if case is None:
            raise NotFound(NO_SUCH_RECEIPT, field="receipt_code")
        view = view_of(session, case, policy)
        append_event(
            session,
            chain=case_chain(pk(case)),
            case_id=case.id,
            action=READ_BY_REPORTER_EVENT,
            at=now,
        )
        uow.commit()
        return view


def view_of(session: Session, case: ConductCase, policy: Policy) -> ReporterCaseView:
    """The reporter's view of ``case`` under ``policy.reporter_view``."""
    shown = policy.reporter_view
    closed = Stage(case.stage) is Stage.CLOSED
    result = outcome_of(case) if closed and shown.outcome != "none" else None
    disposition = policy.disposition(case.decision) if case.decision else None
    tell_decision = shown.outcome == "decision" and result not in (None, "declined", "overturned")
    messages = messages_of(session, pk(case))
    added = select(Evidence.filename, Evidence.description).where(
        Evidence.case_id == case.id, col(Evidence.from_reporter)
    )
    return ReporterCaseView(
        reference=case.reference,
        status=shown.stages[Stage(case.stage)],
        filed_on=local_date(case.filed_at),
        due_on=local_date(case.due_at) if shown.due_date and case.due_at and not closed else None,
        closed=closed,
        outcome=shown.outcomes[result] if result else None,
        decision=disposition.label if tell_decision and disposition else None,
        messages=[
            ReporterMessage(from_reporter=m.from_reporter, body=m.body, sent_at=m.sent_at)
            for m in messages
        ],
        may_write=may_write(case, messages, policy),
        added_evidence=[name or words for name, words in session.exec(added)],
        may_add_evidence=not closed,
        may_rate=closed and not survey_answered(session, pk(case)),
    )


def outcome_of(case: ConductCase) -> ReporterOutcome | None:
    """How a closed case ended, in the reporter's terms (None when no result was recorded)."""
    if case.decline_reason:
        return "declined"
    if case.appeal_outcome == AppealOutcome.OVERTURN:
        return "overturned"
    return _RESULTS.get(case.findings_result or "")


_RESULTS: dict[str, ReporterOutcome] = {
    FindingsResult.SUBSTANTIATED: "substantiated",
    FindingsResult.PARTLY_SUBSTANTIATED: "partly_substantiated",
    FindingsResult.UNSUBSTANTIATED: "unsubstantiated",
}
