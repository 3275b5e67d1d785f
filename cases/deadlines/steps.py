"""Deadline rows, written in the transaction of the transition that opens or leaves a stage.

A stage where staff owe work gets one row per step of the policy's escalation ladder (a
reminder before the due time, overdue at it, escalations after it); the appeal window,
the subject's right, gets one step at its end that closes the case (``cases.closing``).
Leaving the stage cancels whatever is still pending. The worker that fires due rows
belongs to ``flows``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session

from cases import signals
from cases.deadlines.calendar import add_working_days, due_after, end_of
from cases.procedure.clock import local_date
from cases.procedure.policy import APPEAL_WINDOW_STEP, Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import core, insert_rows
from cases.store.models import (
    ConductCase,
    Deadline,
    DeadlineExtension,
    ExtensionState,
    StepState,
    pk,
    table_of,
)


def stage_due_at(
    policy: Policy, stage: Stage, severity: str | None, start: datetime
) -> datetime | None:
    """When ``stage`` entered at ``start`` is due (end of its Nth working day), if ever."""
    deadline = policy.deadlines.for_stage(stage)
    if deadline is None:
        return None
    return due_after(start, deadline.for_severity(severity), policy.end_of_day)


NEW_STEPS = "deadlines.new_steps"


def listen_for_new_steps(listener: Callable[[datetime], None]) -> Callable[[], None]:
    """Call ``listener`` with the earliest new step after each commit that wrote steps.

    Lets the deadline worker move its wake-up earlier at once instead of at its next
    safety tick. Returns a function that stops listening.
    """
    return signals.listen(NEW_STEPS, listener)


def ladder(
    policy: Policy, due_at: datetime, stage: Stage | None = None
) -> list[tuple[str, datetime]]:
    """The steps of ``stage`` around ``due_at``: (step, when). The policy's ladder, each
    step at the end of its working day; in the appeal window, one step at its end."""
    if stage is Stage.APPEAL_WINDOW:
        return [(APPEAL_WINDOW_STEP, due_at)]
    due_day = local_date(due_at)
    return [
        (step.step, end_of(add_working_days(due_day, step.offset_working_days), policy.end_of_day))
        for step in policy.escalation
    ]


def open_stage(session: Session, case: ConductCase, policy: Policy, now: datetime) -> None:
    """Set the case's due time for its current stage and write the stage's ladder rows."""
    case.extensions_granted = case.ladders_written = 0
    case.extension_requested_by = case.extension_requested_due_on = None
    due_at = stage_due_at(policy, Stage(case.stage), case.severity, now)
    if due_at is not None:
        write_ladder(session, case, policy, due_at)
    else:
        case.due_at = None
        clear_lateness(case)


def write_ladder(
    session: Session,
    case: ConductCase,
    policy: Policy,
    due_at: datetime,
    *,
    only: Collection[str] | None = None,
) -> None:
    """Make ``due_at`` the stage's due time and write its ladder as the stage's next revision
    (only the steps named in ``only`` when given: a recomputation leaves fired steps be)."""
    case.due_at = due_at
    clear_lateness(case)
    steps = [s for s in ladder(policy, due_at, Stage(case.stage)) if only is None or s[0] in only]
    revision, case.ladders_written = case.ladders_written, case.ladders_written + 1
    if not steps:
        return
    signals.note(session, NEW_STEPS, min(when for _, when in steps), min)
    insert_rows(
        session,
        Deadline,
        [
            {
                "case_id": pk(case),
                "stage": case.stage,
                "stage_entry": case.stage_entry,
                "revision": revision,
                "step": step,
                "due_at": when,
                "state": StepState.PENDING,
            }
            for step, when in steps
        ],
    )


def clear_lateness(case: ConductCase) -> None:
    """Overdue, escalation level and flag describe the current due time; a new one resets them."""
    case.overdue, case.escalation, case.flag = False, None, None


def cancel_pending(session: Session, case: ConductCase) -> int:
    """Cancel the pending steps of the stage the case is leaving; returns how many."""
    return core(session).execute(_CANCEL_PENDING, {"of_case": pk(case)}).rowcount


def lapse_extension_request(session: Session, case: ConductCase, now: datetime) -> None:
    """An extension request still undecided when its stage ends lapses with the stage."""
    if case.extension_requested_by is None:
        return
    core(session).execute(_LAPSE_EXTENSION, {"of_case": pk(case), "decided": now})


# On the tables, not the classes: Core statements skip the ORM's bookkeeping (no Deadline
# or DeadlineExtension objects are loaded in the transactions that run these).
_STEPS = table_of(Deadline)
_EXTENSIONS = table_of(DeadlineExtension)
_CANCEL_PENDING = (
    update(_STEPS)
    .where(_STEPS.c.case_id == bindparam("of_case"), _STEPS.c.state == StepState.PENDING)
    .values(state=StepState.CANCELLED)
)
_LAPSE_EXTENSION = (
    update(_EXTENSIONS)
    .where(
        _EXTENSIONS.c.case_id == bindparam("of_case"), _EXTENSIONS.c.state == ExtensionState.PENDING
    )
    .values(state=ExtensionState.LAPSED, decided_at=bindparam("decided"))
)
