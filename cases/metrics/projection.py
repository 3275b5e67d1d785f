"""The figures' projection (cases.store.figures): each case's history as rows, kept up
to date from its audit chain.

Every append marks its case dirty in the same transaction (cases.audit); ``refresh``
replays each dirty case's chain (``read_history``, the same reading the figures make from
raw events) and writes its rows again, in one transaction per batch. A change of the
deadlines policy or the calendar (``basis``) marks every case dirty: what is due, and how
many working days a stay took, are counted by them. The background worker refreshes every
minute; a report refreshes what is left before it sums.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from datetime import timedelta
from itertools import groupby
from typing import Any

import holidays
from sqlalchemy import delete, func, insert, select, text
from sqlmodel import Session, col

from cases.deadlines.calendar import WorkingCalendar
from cases.metrics.events import SURVEY, Event, action_event
from cases.metrics.monthly import counts_held, counts_of_rows, write_counts
from cases.metrics.reading import read_case_events
from cases.metrics.timeline import Days, History, read_history
from cases.procedure.clock import utcnow
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import STAFF_STAGES, Action
from cases.store.db import Database, UnitOfWork, core, insert_rows
from cases.store.figures import (
    MONTHLY,
    PROJECTION,
    FigureBasis,
    FigureCase,
    FigureDirty,
    FigureDue,
    FigureEvent,
    FigureVisit,
)
from cases.store.models import ConductCase, table_of

# The events a figure counts (in the window), and what of them it reads.
COUNTED = frozenset(
    action_event(a)
    for a in (
        Action.ACCEPT,
        Action.DECLINE,
        Action.CLOSE,
        Action.DECIDE_APPEAL,
        Action.RETURN_FINDINGS,
        Action.REQUEST_EXTENSION,
        Action.GRANT_EXTENSION,
        Action.APPEAL,
    )
) | {SURVEY}
DETAIL = {action_event(Action.DECIDE_APPEAL): "outcome", SURVEY: "score"}
BATCH = 500
_LOCK = 0x71666967  # PostgreSQL: one refresher at a time ('qfig')

Rows = dict[type[Any], list[dict[str, Any]]]
Refreshed = Callable[[int, int], None]  # (done, total)


def basis(policy: Policy, calendar: WorkingCalendar) -> str:
    """A digest of what the rows are counted by: deadlines, end of day, the calendar."""
    counted_by = {
        "deadlines": policy.deadlines.model_dump(mode="json"),
        "end_of_day": str(policy.end_of_day),
        "calendar": repr(sorted(calendar.overrides.items())),
        "holidays": holidays.__version__,
    }
    return hashlib.sha256(json.dumps(counted_by, sort_keys=True).encode()).hexdigest()


def rows_of(history: History, unit_id: int) -> Rows:
    """The projection's rows of one case's history (its unit: ``unit_id``)."""
    case_id = history.case_id
    rows: Rows = {table: [] for table in PROJECTION}
    rows[FigureCase].append(
        {
            "case_id": case_id,
            "unit_id": unit_id,
            "filed_at": history.visits[0].entered,
            "triaged_at": history.triaged_at,
            "category": history.category,
            "finished_at": history.finished_at,
            "findings": history.findings,
            "decision": history.decision,
            "appeal_outcome": history.appeal_outcome,
            "rated_at": min((at for at, _ in history.scores), default=None),
        }
    )
    for n, visit in enumerate(history.visits):
        if visit.stage not in STAFF_STAGES:
            continue
        rows[FigureVisit].append(
            {
                "case_id": case_id,
                "n": n,
                "unit_id": unit_id,
                "stage": visit.stage.value,
                "entered_at": visit.entered,
                "left_at": visit.left,
                "due_at": visit.due,
                "days": visit.days,
                "seconds": None if visit.left is None else _seconds(visit.left - visit.entered),
            }
        )
        rows[FigureDue] += [
            {"case_id": case_id, "n": n, "k": k, "since": since, "due_at": due}
            for k, (since, due) in enumerate(visit.dues)
        ]
    rows[FigureEvent] += [
        {
            "case_id": case_id,
            "seq": e.seq,
            "unit_id": unit_id,
            "kind": e.action,
            "at": e.at,
            "detail": str(e.data[DETAIL[e.action]]) if e.action in DETAIL else None,
        }
        for e in history.events
        if e.action in COUNTED
    ]
    return rows


def _seconds(took: timedelta) -> int:
    """Whole seconds, rounded up: the longest stay bounds a search, so never short."""
    return math.ceil(took.total_seconds())


def write(session: Session, case_ids: list[int], events: Iterable[Event], days: Days) -> None:
    """Replace these cases' rows with those of their chains (``events``, in case order),
    and move the monthly sums with them."""
    held = counts_held(session, case_ids)
    for model in reversed(PROJECTION):  # children first: the foreign keys hold
        core(session).execute(delete(table_of(model)).where(col(model.case_id).in_(case_ids)))
    of_case = select(col(ConductCase.id), col(ConductCase.unit_id))
    units = {i: u for i, u in session.execute(of_case.where(col(ConductCase.id).in_(case_ids)))}
    rows: Rows = {table: [] for table in PROJECTION}
    ordered = sorted(events, key=lambda e: (e.case_id, e.seq))
    for _, found in groupby(ordered, key=lambda e: e.case_id):
        chain = list(found)
        history = read_history(chain, policy=days.policy, calendar=days.calendar, days=days)
        if history.visits:  # a case is filed first; a chain without it has no figures
            for model, more in rows_of(history, units[history.case_id]).items():
                rows[model] += more
    for model in PROJECTION:  # parents first: the foreign keys hold at each insert
        if rows[model]:
            insert_rows(session, model, rows[model])
    write_counts(session, held, counts_of_rows(rows[FigureEvent], rows[FigureVisit]))


def _mark_every_case(session: Session) -> None:
    core(session).execute(delete(table_of(FigureDirty)))
    everything = select(col(ConductCase.id))
    core(session).execute(insert(table_of(FigureDirty)).from_select(["case_id"], everything))


def _one_refresher(session: Session) -> None:
    """PostgreSQL: wait for any other refresher's transaction (SQLite's write lock does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})


def _claim(session: Session, digest: str, batch: int) -> list[int]:
    """Up to ``batch`` dirty cases, taken off the list (after a change of basis: all)."""
    _one_refresher(session)
    kept = session.get(FigureBasis, 1)
    if kept is None or kept.digest != digest:
        _mark_every_case(session)
        session.merge(FigureBasis(id=1, digest=digest, counted_at=utcnow()))
    marks = select(col(FigureDirty.case_id)).order_by(col(FigureDirty.case_id)).limit(batch)
    # Locked in case order (PostgreSQL): a transaction still appending to one of these
    # cases is waited for, so its events are read below.
    claimed = list(session.scalars(marks.with_for_update()))
    if claimed:  # deleted before the chains are read: an append after this marks it again
        dirty = col(FigureDirty.case_id).in_(claimed)
        core(session).execute(delete(table_of(FigureDirty)).where(dirty))
    return claimed


def pending(db: Database) -> int:
    """How many cases' rows are to be written again."""
    with UnitOfWork(db, write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(FigureDirty)) or 0)


def _fresh(db: Database, digest: str) -> bool:
    """Nothing to write (read only, so a report on fresh rows takes no write lock)."""
    with UnitOfWork(db, write=False) as uow:
        kept = uow.session.get(FigureBasis, 1)
        marked = uow.session.scalar(select(col(FigureDirty.case_id)).limit(1))
        return kept is not None and kept.digest == digest and marked is None


def refresh(
    *,
    db: Database,
    policy: Policy,
    calendar: WorkingCalendar,
    batch: int = BATCH,
    progress: Refreshed | None = None,
) -> int:
    """Write the rows of every dirty case again, a batch per transaction; how many."""
    digest, done = basis(policy, calendar), 0
    if _fresh(db, digest):
        return 0
    days = Days(policy, calendar)
    total = pending(db)
    while True:
        with UnitOfWork(db) as uow:
            claimed = _claim(uow.session, digest, batch)
            if claimed:
                write(uow.session, claimed, read_case_events(uow.session, claimed), days)
            uow.commit()
        done += len(claimed)
        if progress is not None:
            progress(done, max(total, done))
        if len(claimed) < batch:
            return done


def rebuild(
    *, db: Database, policy: Policy, calendar: WorkingCalendar, progress: Refreshed | None = None
) -> int:
    """Write every case's rows and the monthly sums again from the chains (after restoring
    a backup or a hand edit, say): all deleted first, so nothing wrong is carried over."""
    with UnitOfWork(db) as uow:
        _one_refresher(uow.session)
        for model in (*MONTHLY, *reversed(PROJECTION)):
            core(uow.session).execute(delete(table_of(model)))
        _mark_every_case(uow.session)
        uow.commit()
    return refresh(db=db, policy=policy, calendar=calendar, progress=progress)
