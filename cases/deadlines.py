"""Deadline rows, written in the transaction of the transition that opens or leaves a stage.

A stage's entry writes one row per step of the policy's escalation ladder (a reminder
before the due time, overdue at it, escalations after it); leaving the stage cancels
whatever is still pending. The worker that fires due rows belongs to ``flows``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from cases.calendar import add_working_days, due_after, end_of, local_date
from cases.models import ConductCase, Deadline, pk
from cases.policy import Policy
from cases.vocabulary import Stage


def stage_due_at(
    policy: Policy, stage: Stage, severity: str | None, start: datetime
) -> datetime | None:
    """When ``stage`` entered at ``start`` is due (end of its Nth working day), if ever."""
    deadline = policy.deadlines.for_stage(stage)
    if deadline is None:
        return None
    return due_after(start, deadline.for_severity(severity), policy.end_of_day)


def ladder(policy: Policy, due_at: datetime) -> list[tuple[str, datetime]]:
    """The policy's steps around ``due_at``: (step, when), each at the end of its working day."""
    due_day = local_date(due_at)
    return [
        (step.step, end_of(add_working_days(due_day, step.offset_working_days), policy.end_of_day))
        for step in policy.escalation
    ]


def open_stage(session: Session, case: ConductCase, policy: Policy, now: datetime) -> None:
    """Set the case's due time for its current stage and write the stage's ladder rows."""
    case.due_at = stage_due_at(policy, Stage(case.stage), case.severity, now)
    if case.due_at is None:
        return
    for step, when in ladder(policy, case.due_at):
        session.add(
            Deadline(
                case_id=pk(case),
                stage=case.stage,
                stage_entry=case.stage_entry,
                step=step,
                due_at=when,
            )
        )


def cancel_pending(session: Session, case: ConductCase) -> int:
    """Cancel the pending steps of the stage the case is leaving; returns how many."""
    result = session.execute(
        update(Deadline)
        .where(col(Deadline.case_id) == case.id, col(Deadline.state) == "pending")
        .values(state="cancelled")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
