"""The figure rows' monthly sums (cases.store.figures ``MONTHLY``): the counted events and
the staff stays left, per month, kept equal to the rows by the refresher.

A year's report sums twelve months of these instead of a year of rows (a year at
1,000,000 cases is some 230,000 stays and 180,000 events). ``write_counts`` is called by
``projection.write`` in its transaction: it takes away what the cases' old rows counted and
adds what their new rows count, so the sums never drift from the rows. Months are
Asia/Shanghai calendar months, as the periods are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, select
from sqlmodel import Session, col

from cases.metrics.compute import Window
from cases.metrics.events import Period
from cases.procedure.clock import local_date
from cases.store.db import core, upsert
from cases.store.figures import (
    NO_DAYS,
    FigureEvent,
    FigureEventMonth,
    FigureLeftMonth,
    FigureVisit,
)
from cases.store.models import table_of

EventKey = tuple[str, int, str, str]  # month, unit, kind, detail
LeftKey = tuple[str, int, str, int, bool]  # month, unit, stage, days, on time


def whole_months(window: Window) -> tuple[list[str], list[Window]]:
    """The months ``window`` holds whole ('YYYY-MM', in order), and the parts of it left
    outside them (none, one or two; the whole window when it holds no month whole)."""
    day = local_date(window.start)
    year, month = day.year, day.month
    if _month_start(year, month) < window.start:
        year, month = _next(year, month)
    first, months = _month_start(year, month), []
    while _month_start(*_next(year, month)) <= window.end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = _next(year, month)
    if not months:
        return [], [window]
    after = _month_start(year, month)
    parts = [Window(window.start, first), Window(after, window.end)]
    return months, [part for part in parts if part.start < part.end]


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _month_start(year: int, month: int) -> datetime:
    """00:00 of the month's first day, Asia/Shanghai (in UTC)."""
    first = date(year, month, 1)
    return Period(first, first).start


def month_of(moment: datetime) -> str:
    """The Asia/Shanghai month of a moment, 'YYYY-MM'."""
    return local_date(moment).strftime("%Y-%m")


def on_time(left_at: datetime, due_at: datetime | None) -> bool:
    """A stay left by its due time (or with none) was on time."""
    return due_at is None or left_at <= due_at


class Counts:
    """What some figure rows add to the monthly sums."""

    def __init__(self) -> None:
        self.events: Counter[EventKey] = Counter()
        self.left: Counter[LeftKey] = Counter()

    def event(self, unit_id: int, kind: str, detail: str | None, at: datetime) -> None:
        self.events[(month_of(at), unit_id, kind, detail or "")] += 1

    def stay(self, unit_id: int, stage: str, days: int | None, left_at: datetime | None,
             due_at: datetime | None) -> None:  # fmt: skip
        if left_at is not None:
            key = (month_of(left_at), unit_id, stage, NO_DAYS if days is None else days)
            self.left[(*key, on_time(left_at, due_at))] += 1


def counts_of_rows(events: Iterable[dict[str, Any]], visits: Iterable[dict[str, Any]]) -> Counts:
    """What new rows (as ``projection.rows_of`` makes them) count."""
    counts = Counts()
    for e in events:
        counts.event(e["unit_id"], e["kind"], e["detail"], e["at"])
    for v in visits:
        counts.stay(v["unit_id"], v["stage"], v["days"], v["left_at"], v["due_at"])
    return counts


def counts_held(session: Session, case_ids: list[int]) -> Counts:
    """What these cases' rows in the database count now."""
    counts = Counts()
    events = select(
        col(FigureEvent.unit_id), col(FigureEvent.kind), col(FigureEvent.detail),
        col(FigureEvent.at),
    ).where(col(FigureEvent.case_id).in_(case_ids))  # fmt: skip
    for unit_id, kind, detail, at in session.execute(events):
        counts.event(unit_id, kind, detail, at)
    left = (col(FigureVisit.case_id).in_(case_ids), col(FigureVisit.left_at).is_not(None))
    stays = select(
        col(FigureVisit.unit_id), col(FigureVisit.stage), col(FigureVisit.days),
        col(FigureVisit.left_at), col(FigureVisit.due_at),
    ).where(*left)  # fmt: skip
    for unit_id, stage, days, left_at, due_at in session.execute(stays):
        counts.stay(unit_id, stage, days, left_at, due_at)
    return counts


def write_counts(session: Session, old: Counts, new: Counts) -> None:
    """Move the monthly sums from what ``old`` rows counted to what ``new`` rows count."""
    events = Counter(new.events)
    events.subtract(old.events)
    left = Counter(new.left)
    left.subtract(old.left)
    _add(session, FigureEventMonth, ("month", "unit_id", "kind", "detail"), events)
    _add(session, FigureLeftMonth, ("month", "unit_id", "stage", "days", "on_time"), left)


def _add(session: Session, model: Any, keys: tuple[str, ...], deltas: Counter[Any]) -> None:
    changed = [dict(zip(keys, key, strict=True), count=n) for key, n in deltas.items() if n]
    if not changed:
        return
    table = table_of(model)
    added = upsert(
        session, model, list(keys), lambda held, new: {"count": held.c.count + new.count}
    )
    core(session).execute(added, sorted(changed, key=lambda row: [row[k] for k in keys]))
    months = sorted({row["month"] for row in changed})
    core(session).execute(delete(table).where(and_(table.c.month.in_(months), table.c.count == 0)))
