"""Deadline rows, written in the transaction of the transition that opens or leaves a stage.

The deadline worker that fires them belongs to ``flows`` (the Deadlines issue); here a
stage's entry writes its due step and its leaving cancels whatever is still pending.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from cases.calendar import due_after
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


def open_stage(session: Session, case: ConductCase, policy: Policy, now: datetime) -> None:
    """Set the case's due time for its current stage and write the stage's due step."""
    case.due_at = stage_due_at(policy, Stage(case.stage), case.severity, now)
    if case.due_at is not None:
        session.add(
            Deadline(
                case_id=pk(case),
                stage=case.stage,
                stage_entry=case.stage_entry,
                step="due",
                due_at=case.due_at,
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
