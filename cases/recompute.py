"""Deadlines counted again when the calendar changes (a year confirmed, a file corrected).

The calendar as last applied is kept on the system audit chain (``calendar.applied``:
each year's state and the days that differ from Monday to Friday). A year that differs
now, or was never recorded, is *changed*; every case whose pending steps counted days in
a changed year (from the stage's start to its last pending step) is counted again:

- its due time from the stage's start with the stage's working days (an extended stage
  keeps the granted day; the appeal window, the subject's right, never gets shorter),
  and its pending steps around it;
- when a time moved, the pending steps are cancelled and written again as the stage's
  next revision (steps already fired stay as history, and so do the flags they set),
  with a ``deadline.recomputed`` event on the case's chain, and a notice to the
  assignees when the due *day* moved;
- when nothing moved but the due time stopped (or started) being provisional, the event
  alone records it; when neither, nothing is written.

Running it again with the same files writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cases.audit import SYSTEM_CHAIN, NewEvent, append_events, case_chain
from cases.deadlines.calendar import WorkingCalendar, YearState, current
from cases.deadlines.steps import cancel_pending, ladder, stage_due_at, write_ladder
from cases.outbox import NOTIFICATION, NewOutboxRow, enqueue_all
from cases.procedure.clock import local_date, utcnow
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Deadline, StepState, pk

RECOMPUTED = "deadline.recomputed"
APPLIED = "calendar.applied"
_LOCK = 0x716663616C  # PostgreSQL advisory lock: one recomputation at a time


@dataclass(frozen=True)
class Recomputed:
    """What a recomputation found: each changed year's state before (None: not recorded)
    and now, and how many cases were rewritten, had their due day moved, or only their
    provisional mark changed."""

    changed: dict[int, tuple[str | None, str]] = field(default_factory=dict)
    rewritten: int = 0
    moved: int = 0
    marked: int = 0


@dataclass(frozen=True)
class _Outcome:
    data: dict[str, Any]
    moved: bool
    rewritten: bool


def recompute_deadlines(
    *,
    uow: UnitOfWork,
    policy: Policy,
    previous: WorkingCalendar | None = None,
    now: datetime | None = None,
) -> Recomputed:
    """Count again the pending steps that counted days in a year whose calendar changed
    since it was last applied (or since ``previous``, this process's calendar before)."""
    now, calendar = now or utcnow(), current()
    with uow:
        session = uow.session
        if not uow.db.is_sqlite:  # SQLite's writers take turns already
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        stored, spans = _applied(session), _spans(session)
        state = {y: calendar.describe(y) for y in _years(calendar, stored, spans.values(), now)}
        changed = {y for y, entry in state.items() if stored is None or stored.get(y) != entry}
        if previous is not None:
            changed |= {y for y, entry in state.items() if previous.describe(y) != entry}
        if not changed:
            return Recomputed()
        ids = [i for i, (first, last) in spans.items() if _touches(first, last, changed)]
        outcomes = [
            (case, outcome)
            for case, pending in _locked(session, ids)
            if (outcome := _recount(session, case, pending, policy, calendar, stored, changed))
        ]
        _record(session, outcomes, now)
        result = Recomputed(
            changed={y: (_state_of(stored, y), state[y]["state"]) for y in sorted(changed)},
            rewritten=sum(o.rewritten for _, o in outcomes),
            moved=sum(o.moved for _, o in outcomes),
            marked=sum(not o.rewritten for _, o in outcomes),
        )
        if stored != state:
            applied = NewEvent(SYSTEM_CHAIN, APPLIED, now, data=_applied_data(state, result))
            append_events(session, [applied])
        uow.commit()
    return result


def _record(session: Session, outcomes: list[tuple[ConductCase, _Outcome]], now: datetime) -> None:
    """Each case's event, and a notice where its due day moved."""
    if not outcomes:
        return
    events = append_events(
        session,
        [
            NewEvent(case_chain(pk(case)), RECOMPUTED, now, case_id=case.id, data=outcome.data)
            for case, outcome in outcomes
        ],
    )
    notices = [
        _notice(case, event.seq)
        for (case, outcome), event in zip(outcomes, events, strict=True)
        if outcome.moved
    ]
    enqueue_all(session, notices, now=now)


def _state_of(stored: dict[int, dict[str, Any]] | None, year: int) -> str | None:
    return stored[year]["state"] if stored and year in stored else None


def _applied(session: Session) -> dict[int, dict[str, Any]] | None:
    """Each year's calendar as last applied (None: never recorded)."""
    data = session.exec(
        select(AuditEvent.data)
        .where(AuditEvent.chain == SYSTEM_CHAIN, AuditEvent.action == APPLIED)
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()
    if data is None:
        return None
    return {int(year): entry for year, entry in json.loads(data)["years"].items()}


def _applied_data(state: dict[int, dict[str, Any]], result: Recomputed) -> dict[str, Any]:
    return {
        "years": {str(year): entry for year, entry in sorted(state.items())},
        "changed": sorted(result.changed),
        "rewritten": result.rewritten,
        "moved": result.moved,
        "marked": result.marked,
    }


def _spans(session: Session) -> dict[int, tuple[date, date]]:
    """Each case with pending steps: the local days its count runs over (from the
    stage's start to its last pending step)."""
    rows = session.execute(
        sa_select(col(ConductCase.id), col(ConductCase.stage_entered_at), func.max(Deadline.due_at))
        .join(Deadline, col(Deadline.case_id) == col(ConductCase.id))
        .where(col(Deadline.state) == StepState.PENDING)
        .group_by(col(ConductCase.id), col(ConductCase.stage_entered_at))
    ).all()
    return {case_id: (local_date(start), local_date(last)) for case_id, start, last in rows}


def _years(
    calendar: WorkingCalendar,
    stored: dict[int, dict[str, Any]] | None,
    spans: Collection[tuple[date, date]],
    now: datetime,
) -> list[int]:
    """The years worth recording: those with a file, those recorded before, and those
    from the earliest count to a year past the latest (a moved day may cross into it)."""
    first = min([now.year, *(start.year for start, _ in spans)])
    last = max([now.year, *(end.year for _, end in spans)]) + 1
    return sorted({*calendar.overrides, *(stored or {}), *range(first, last + 1)})


def _touches(first: date, last: date, years: set[int]) -> bool:
    return any(year in years for year in range(first.year, last.year + 1))


def _locked(session: Session, ids: list[int]) -> list[tuple[ConductCase, dict[str, datetime]]]:
    """The cases (rows locked, as a staff action locks them) with their pending steps."""
    if not ids:
        return []
    cases = session.exec(
        select(ConductCase)
        .where(col(ConductCase.id).in_(ids))
        .order_by(col(ConductCase.id))
        .with_for_update()
    ).all()
    pending: dict[int, dict[str, datetime]] = {}
    for case_id, step, due_at in session.execute(
        sa_select(col(Deadline.case_id), col(Deadline.step), col(Deadline.due_at)).where(
            col(Deadline.case_id).in_(ids), col(Deadline.state) == StepState.PENDING
        )
    ):
        pending.setdefault(case_id, {})[step] = due_at
    return [(case, pending[pk(case)]) for case in cases if pk(case) in pending]


def _recount(
    session: Session,
    case: ConductCase,
    pending: dict[str, datetime],
    policy: Policy,
    calendar: WorkingCalendar,
    stored: dict[int, dict[str, Any]] | None,
    changed: set[int],
) -> _Outcome | None:
    """Count the case's due time and pending steps again; rewrite them if a time moved."""
    stage, before = Stage(case.stage), case.due_at
    due = (
        before
        if case.extensions_granted
        else stage_due_at(policy, stage, case.severity, case.stage_entered_at)
    )
    if due is None or before is None:
        return None
    if stage is Stage.APPEAL_WINDOW:
        due = max(due, before)  # the subject was told when the window ends: never earlier
    steps = {step: when for step, when in ladder(policy, due, stage) if step in pending}
    first = local_date(case.stage_entered_at)
    mark = calendar.provisional(first, local_date(due))
    rewrite = due != before or steps != pending
    if not rewrite and _was_provisional(stored, first, local_date(before)) in (None, mark):
        return None
    if rewrite:
        flags = case.overdue, case.escalation, case.flag
        cancel_pending(session, case)
        write_ladder(session, case, policy, due, only=steps)
        case.overdue, case.escalation, case.flag = flags  # set by fired steps: history
        if stage is Stage.APPEAL_WINDOW:
            case.appeal_window_ends_at = due
    moved = local_date(due) != local_date(before)
    last = max([local_date(due), *(local_date(w) for w in pending.values())])
    data = {
        "stage": case.stage,
        "revision": case.ladders_written - 1,
        "previous_due_at": before.isoformat(),
        "due_at": due.isoformat(),
        "due_on": local_date(due).isoformat(),
        "moved": moved,
        "steps": {s: w.isoformat() for s, w in sorted(steps.items()) if pending.get(s) != w},
        "provisional": mark,
        "years": sorted(y for y in changed if first.year <= y <= last.year),
    }
    return _Outcome(data, moved, rewrite)


def _was_provisional(
    stored: dict[int, dict[str, Any]] | None, first: date, last: date
) -> bool | None:
    """Whether the count was provisional by the calendar as last applied (None: unknown)."""
    states = [
        (stored or {}).get(year, {}).get("state") for year in range(first.year, last.year + 1)
    ]
    if stored is None or None in states:
        return None
    return any(state != YearState.CONFIRMED.value for state in states)


def _notice(case: ConductCase, event_seq: int) -> NewOutboxRow:
    """The event's notification row (the dispatcher finds its audience, as for actions)."""
    payload = {
        "case_id": pk(case),
        "reference": case.reference,
        "stage": case.stage,
        "event": RECOMPUTED,
        "event_seq": event_seq,
    }
    return NewOutboxRow(f"event:{pk(case)}:{event_seq}", NOTIFICATION, payload, pk(case))
