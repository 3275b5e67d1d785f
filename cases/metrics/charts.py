"""The series behind the secretary's charts, from the same case histories as the figures:
cases entering each stage per month, the working days each staff stage took (a
distribution), and each unit's on-time rate. Same scope, period and access as
``service.metrics``; the definitions are those of ``compute`` (its ``stage_durations`` and
``on_time_rates``), so a chart never says other than a figure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from cases.deadlines.calendar import current
from cases.metrics.compute import Window, histories, in_scope, on_time_rates, stage_durations
from cases.metrics.events import Period
from cases.metrics.reading import read_events
from cases.metrics.service import allowed_scope, unit_paths
from cases.metrics.timeline import History
from cases.procedure.clock import local_date, utcnow
from cases.procedure.policy import Label, Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import Person, Unit

# Working days a stay took, in buckets: (lowest, highest); None: no upper bound.
DAY_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 1), (2, 3), (4, 5), (6, 10), (11, 20), (21, None),
)  # fmt: skip


class Rate(BaseModel):
    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator ÷ denominator; None when it is 0.")


class MonthEntries(BaseModel):
    """One calendar month of the period (cut to the period and to the time of reading)."""

    month: str = Field(description="The month, YYYY-MM (Asia/Shanghai).")
    entered: dict[Stage, int] = Field(
        description="Per stage, in procedure order: the cases that entered it in the month "
        "(a case entering a stage twice in a month counts once)."
    )


class DayBucket(BaseModel):
    low: int = Field(description="Fewest working days in the bucket.")
    high: int | None = Field(description="Most working days in the bucket; None: no bound.")


class StageDays(BaseModel):
    """How long the stays that left one staff stage in the period took."""

    stage: Stage
    counts: list[int] = Field(description="Stays per bucket, in the order of ``buckets``.")
    stays: int = Field(description="All the stays counted (the sum of ``counts``).")


class UnitOnTime(BaseModel):
    """One unit's cases (not those of units under it): the on-time rate of all staff stages."""

    unit: str = Field(description="The unit's code.")
    name: Label
    on_time: Rate


class Charts(BaseModel):
    period_from: date = Field(description="First day of the period (Asia/Shanghai).")
    period_to: date = Field(description="Last day of the period (Asia/Shanghai).")
    as_of: datetime = Field(description="The period's end, or the time of reading if earlier.")
    unit: str | None = Field(description="The unit (with those under it); None: all.")
    investigator: str | None = Field(description="The investigator's handle; None: anyone.")
    months: list[MonthEntries]
    buckets: list[DayBucket]
    stage_days: list[StageDays]
    units: list[UnitOnTime]


def _midnight(year: int, month: int) -> datetime:
    """00:00 of the month's first day, Asia/Shanghai (in UTC)."""
    day = date(year, month, 1)
    return Period(day, day).start


def months_of(window: Window) -> list[tuple[str, Window]]:
    """Each calendar month the window touches, with the part of the window inside it."""
    opened = local_date(window.start)
    year, month = opened.year, opened.month
    found: list[tuple[str, Window]] = []
    while (first := _midnight(year, month)) < window.end:
        label = f"{year:04d}-{month:02d}"
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        part = Window(max(first, window.start), min(_midnight(year, month), window.end))
        found.append((label, part))
    return found


def entries(cases: Sequence[History], window: Window) -> list[MonthEntries]:
    """Per month: the cases that entered each stage in it."""
    months = []
    for month, part in months_of(window):
        entered: dict[Stage, set[int]] = {stage: set() for stage in Stage}
        for history in cases:
            for visit in history.visits:
                if part.holds(visit.entered):
                    entered[visit.stage].add(history.case_id)
        months.append(MonthEntries(month=month, entered={s: len(c) for s, c in entered.items()}))
    return months


def bucket_of(days: int) -> int:
    """The index of the bucket ``days`` falls in."""
    return next(
        i
        for i, (low, high) in enumerate(DAY_BUCKETS)
        if low <= days and (high is None or days <= high)
    )


def distributions(cases: Sequence[History], window: Window) -> list[StageDays]:
    found = []
    for stage, took in stage_durations(cases, window).items():
        counts = [0] * len(DAY_BUCKETS)
        for days in took:
            counts[bucket_of(days)] += 1
        found.append(StageDays(stage=stage, counts=counts, stays=len(took)))
    return found


def unit_rates(
    session: Session, cases: Sequence[History], window: Window, paths: Sequence[str] = ()
) -> list[UnitOnTime]:
    """Each unit with cases in scope (``paths``, and those of ``cases``), in tree order:
    its on-time rate over all staff stages."""
    by_unit: dict[str, list[History]] = {path: [] for path in paths}
    for history in cases:
        by_unit.setdefault(history.unit_path, []).append(history)
    if not by_unit:
        return []
    units = {u.path: u for u in session.exec(select(Unit).where(col(Unit.path).in_(by_unit)))}
    return [
        UnitOnTime(
            unit=units[path].code,
            name=Label.model_validate({"zh-CN": units[path].name_zh, "en": units[path].name_en}),
            on_time=Rate.model_validate(on_time_rates(group, window)["overall"]),
        )
        for path, group in sorted(by_unit.items())
    ]


def charts(
    *,
    uow: UnitOfWork,
    policy: Policy,
    period: Period,
    viewer: Person | None,
    unit: str | None = None,
    investigator: str | None = None,
    now: datetime | None = None,
) -> Charts:
    """The chart series of a scope over ``period``: scope and access as ``metrics``."""
    as_of = min(period.end, now or utcnow())
    with uow:
        session = uow.session
        scope = allowed_scope(session, viewer, unit, investigator)
        window = Window(period.start, as_of)
        # A case closed before the period shows in no series: only its unit is named (an
        # investigator's few cases are all read, so their units are theirs).
        if scope.investigator is None:
            events = read_events(session, scope, as_of, open_since=window.start)
            paths = unit_paths(session, scope, as_of)
        else:
            events, paths = read_events(session, scope, as_of), []
        found = histories(events, policy=policy, calendar=current(), before=as_of)
        cases = [h for h in found if in_scope(h, scope)]
        return Charts(
            period_from=period.first,
            period_to=period.last,
            as_of=as_of,
            unit=unit,
            investigator=investigator,
            months=entries(cases, window),
            buckets=[DayBucket(low=low, high=high) for low, high in DAY_BUCKETS],
            stage_days=distributions(cases, window),
            units=unit_rates(session, cases, window, paths),
        )
