"""A case's due time explained: the count behind it and behind each step of its ladder.

Read like the case itself (``case_for``: out of scope is NotFound). Its subject sees the
count only where policy shows them staff deadlines, or in the appeal window (their own).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cases.deadlines.calendar import WorkingCalendar, current
from cases.deadlines.explain import (
    Count,
    explain_granted_day,
    explain_offset,
    explain_working_days,
)
from cases.people.access import case_for
from cases.procedure.clock import local_date
from cases.procedure.labels import STAGES
from cases.procedure.policy import Label, Policy
from cases.procedure.vocabulary import STAFF_STAGES, Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Person


class LadderStepCount(BaseModel):
    step: str = Field(description="The ladder step's code (policy escalation).")
    label: Label
    count: Count


class DueDateExplanation(BaseModel):
    """Why the case's current due time is when it is, day by day (zh-CN and en words)."""

    reference: str
    stage: str
    stage_label: Label
    due_at: datetime | None = Field(description="The case's due time as stored (UTC).")
    due: Count | None = Field(description="The count behind it (None: no due time shown).")
    agrees: bool | None = Field(
        description="The count ends at the stored due time (false: a calendar change not "
        "yet applied, or an appeal window kept from an earlier count)."
    )
    ladder: list[LadderStepCount] = Field(description="Each step's count from the due day.")


def _count(case: ConductCase, policy: Policy, calendar: WorkingCalendar) -> Count | None:
    stage, due_at = Stage(case.stage), case.due_at
    deadline = policy.deadlines.for_stage(stage)
    if due_at is None or deadline is None:
        return None
    start, end = case.stage_entered_at, policy.end_of_day
    if case.extensions_granted:
        return explain_granted_day(
            calendar, start=start, due_day=local_date(due_at), end_of_day=end
        )
    days = deadline.for_severity(case.severity)
    return explain_working_days(calendar, start=start, working_days=days, end_of_day=end)


def _ladder(case: ConductCase, policy: Policy, calendar: WorkingCalendar) -> list[LadderStepCount]:
    if case.due_at is None or Stage(case.stage) not in STAFF_STAGES:
        return []  # the appeal window's one step is its end: the due time itself
    return [
        LadderStepCount(
            step=step.step,
            label=step.label,
            count=explain_offset(
                calendar,
                due_at=case.due_at,
                offset=step.offset_working_days,
                end_of_day=policy.end_of_day,
            ),
        )
        for step in policy.escalation
    ]


def explain_due_date(
    *, uow: UnitOfWork, policy: Policy, reference: str, viewer: Person
) -> DueDateExplanation:
    """The case's due time and its ladder explained day by day, as ``viewer`` may see them."""
    with uow:
        case = case_for(uow.session, viewer, reference).case
        stage, calendar = Stage(case.stage), current()
        shown = (
            viewer.id != case.subject_id
            or policy.subject_view.internal_deadlines
            or stage is Stage.APPEAL_WINDOW
        )
        due = _count(case, policy, calendar) if shown else None
        ladder = _ladder(case, policy, calendar) if shown else []
        if not policy.subject_view.internal_deadlines and viewer.id == case.subject_id:
            ladder = []
        return DueDateExplanation(
            reference=case.reference,
            stage=stage,
            stage_label=STAGES[stage],
            due_at=case.due_at if shown else None,
            due=due,
            agrees=None if due is None else due.end_at == case.due_at,
            ladder=ladder,
        )
