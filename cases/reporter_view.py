"""What a reporter is told about their case when they give its receipt code (policy
``reporter_view``): the reference, the stage in coarse words, the filed date, the due date
if policy allows, and after closure the outcome as far as policy allows. Never who handles
the case, the subject's statement, the evidence or the interviews.

The receipt code is the only credential, so every answer that is not the case reads the
same: one NotFound for a wrong, unknown or malformed code, after the same work (the keyed
index is queried and an Argon2 hash checked, a dummy one when the index misses).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlmodel import select

from cases.audit import append_event, case_chain
from cases.people.secrets import check_receipt, normalise_receipt, receipt_lookup
from cases.procedure.clock import local_date, utcnow
from cases.procedure.errors import NotFound
from cases.procedure.policy import Label, Policy, ReporterOutcome
from cases.procedure.vocabulary import AppealOutcome, FindingsResult, Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, pk
from cases.views import READ_BY_REPORTER_EVENT

# The one answer to every code that does not open a case (zh-CN, then en).
NO_SUCH_RECEIPT = (
    "未找到与该查询码对应的举报，请核对后重试。"
    " / No report matches this receipt code; check it and try again."
)
# Queried when the code is malformed, so a malformed code costs what a wrong one does.
_NO_LOOKUP = "0" * 64


class ReporterCaseView(BaseModel):
    """The case as its reporter sees it with the receipt code."""

    reference: str
    status: Label = Field(description="Where the case stands, in coarse words (zh-CN, en).")
    filed_on: date = Field(description="The date filed (Asia/Shanghai).")
    due_on: date | None = Field(description="The current stage's due date, if policy tells it.")
    closed: bool
    outcome: Label | None = Field(description="After closure, if policy tells it.")
    decision: Label | None = Field(description="The disposition decided, if policy tells it.")


def reporter_view(
    *,
    uow: UnitOfWork,
    policy: Policy,
    secret: bytes,
    receipt_code: str,
    now: datetime | None = None,
) -> ReporterCaseView:
    """The case ``receipt_code`` opens, as policy lets its reporter see it; audited."""
    now = now or utcnow()
    normal = normalise_receipt(receipt_code)
    lookup = receipt_lookup(secret, normal) if normal else _NO_LOOKUP
    with uow:
        session = uow.session
        case = session.exec(select(ConductCase).where(ConductCase.receipt_lookup == lookup)).first()
        if not check_receipt(case.receipt_hash if case else None, normal or receipt_code):
            raise NotFound(NO_SUCH_RECEIPT)
        assert case is not None  # check_receipt is False without a case
        view = view_of(case, policy)
        append_event(
            session,
            chain=case_chain(pk(case)),
            case_id=case.id,
            action=READ_BY_REPORTER_EVENT,
            at=now,
        )
        uow.commit()
        return view


def view_of(case: ConductCase, policy: Policy) -> ReporterCaseView:
    """The reporter's view of ``case`` under ``policy.reporter_view``."""
    shown = policy.reporter_view
    closed = Stage(case.stage) is Stage.CLOSED
    result = outcome_of(case) if closed and shown.outcome != "none" else None
    disposition = policy.disposition(case.decision) if case.decision else None
    tell_decision = shown.outcome == "decision" and result not in (None, "declined", "overturned")
    return ReporterCaseView(
        reference=case.reference,
        status=shown.stages[Stage(case.stage)],
        filed_on=local_date(case.filed_at),
        due_on=local_date(case.due_at) if shown.due_date and case.due_at and not closed else None,
        closed=closed,
        outcome=shown.outcomes[result] if result else None,
        decision=disposition.label if tell_decision and disposition else None,
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
