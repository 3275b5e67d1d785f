"""The figures for a period and a scope, as a person may read them, each beside its
definition: the committee's or a unit's summed from the projection (brought up to date
first, ``projection.refresh``), an investigator's computed from their cases' events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, JsonValue
from sqlmodel import Session, col, select

from cases.deadlines.calendar import current
from cases.metrics import projection
from cases.metrics.compute import Figures, Window, compute
from cases.metrics.definitions import SCOPE_FIGURES, UNIT_FIGURES, Kind, definition
from cases.metrics.events import (
    Investigator,
    Period,
    Scope,
)
from cases.metrics.reading import read_events
from cases.metrics.summed import summed
from cases.people.access import global_roles
from cases.people.directory import person_by_handle, unit_by_code
from cases.procedure.clock import utcnow
from cases.procedure.errors import Forbidden
from cases.procedure.policy import Label, Policy
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork, one_snapshot
from cases.store.models import ConductCase, Person, Unit, pk

OVERSIGHT = frozenset({Role.SECRETARY.value, Role.ADMIN.value})


class Phase(StrEnum):
    """How far a reading has come, for a progress display: ``progress(phase, done, total)``."""

    READING = "reading"  # the scope's events, in one query
    COMPUTING = "computing"  # the figures from the events
    UNITS = "units"  # each unit's figures in turn


Progress = Callable[[Phase, int, int], None]


def _silent(phase: Phase, done: int, total: int) -> None:
    """No progress display."""


class Figure(BaseModel):
    """One figure, its value and what it is."""

    code: str
    kind: Kind
    name: Label
    definition: Label = Field(description="What is counted (zh-CN and en).")
    computation: Label = Field(description="How the value is worked out (zh-CN and en).")
    value: JsonValue = Field(
        description="count: an integer; rate: {numerator, denominator, rate}; stage_rates: a "
        "rate per staff stage and 'overall'; stage_days: working days per staff stage; "
        "breakdown: counts by code; mean: a number. None: nothing to measure."
    )


class UnitFigures(BaseModel):
    """The 述职考评 side of one student-union unit: the figures of cases about its staff."""

    unit: str = Field(description="The unit's code.")
    name: Label
    figures: list[Figure]


class MetricsReport(BaseModel):
    period_from: date = Field(description="First day of the period (Asia/Shanghai).")
    period_to: date = Field(description="Last day of the period (Asia/Shanghai).")
    as_of: datetime = Field(description="The period's end, or the time of reading if earlier.")
    unit: str | None = Field(description="The unit (with those under it); None: all.")
    investigator: str | None = Field(description="The investigator's handle; None: anyone.")
    figures: list[Figure]
    units: list[UnitFigures]


def figure(code: str, value: Any) -> Figure:
    d = definition(code)
    return Figure(
        code=code,
        kind=d.kind,
        name=d.name,
        definition=d.definition,
        computation=d.computation,
        value=value,
    )


def _allowed(session: Session, viewer: Person | None, investigator: str | None) -> None:
    """Secretaries and admins read any scope; an investigator reads their own figures
    (decided before any name is looked up, so a refusal tells nothing about it). No viewer:
    the operator at the CLI, who has the database already and reads what an admin reads."""
    if viewer is None:
        return
    roles = global_roles(session, pk(viewer))
    if roles & OVERSIGHT:
        return
    if Role.INVESTIGATOR.value in roles and investigator == viewer.handle:
        return
    raise Forbidden(
        "only a secretary or an admin may read these figures; an investigator may read "
        f"their own (investigator={viewer.handle})",
        field="investigator",
    )


def unit_paths(session: Session, scope: Scope, before: datetime) -> list[str]:
    """The units with a case filed before ``before`` in ``scope`` (each has a line in the
    report, whether or not its cases are read)."""
    filed = select(ConductCase.id).where(
        col(ConductCase.unit_id) == Unit.id, col(ConductCase.filed_at) < before
    )
    query = select(Unit.path).where(filed.exists())
    if scope.unit_path is not None:
        query = query.where(col(Unit.path).startswith(scope.unit_path))
    return list(session.exec(query))


def allowed_scope(
    session: Session, viewer: Person | None, unit: str | None, investigator: str | None
) -> Scope:
    """The scope a reader asks for, once they may read it (Forbidden first, then the names
    looked up: NotFound naming ``unit`` or ``investigator``)."""
    _allowed(session, viewer, investigator)
    person = person_by_handle(session, investigator, field="investigator") if investigator else None
    path = unit_by_code(session, unit).path if unit else None
    return Scope(path, Investigator(pk(person), person.handle) if person else None)


def _units(session: Session, paths: list[str]) -> dict[str, Unit]:
    if not paths:
        return {}
    return {u.path: u for u in session.exec(select(Unit).where(col(Unit.path).in_(paths)))}


def _report(session: Session, figures: Figures, progress: Progress) -> list[UnitFigures]:
    units = _units(session, list(figures.units))
    report = []
    for done, (path, values) in enumerate(figures.units.items(), start=1):
        unit = units[path]
        report.append(
            UnitFigures(
                unit=unit.code,
                name=Label.model_validate({"zh-CN": unit.name_zh, "en": unit.name_en}),
                figures=[figure(code, values[code]) for code in UNIT_FIGURES],
            )
        )
        progress(Phase.UNITS, done, len(figures.units))
    return report


def metrics(
    *,
    uow: UnitOfWork,
    policy: Policy,
    period: Period,
    viewer: Person | None,
    unit: str | None = None,
    investigator: str | None = None,
    now: datetime | None = None,
    progress: Progress = _silent,
) -> MetricsReport:
    """The figures of ``unit`` (and the units under it) and/or ``investigator`` (a handle)
    over ``period``, for ``viewer`` (None: the operator at the CLI): Forbidden beyond what
    they may read. ``progress`` hears of each phase as it begins and each unit done."""
    as_of = min(period.end, now or utcnow())
    calendar = current()
    with uow:
        scope = allowed_scope(uow.session, viewer, unit, investigator)
    if scope.investigator is None:  # summed from the projection, brought up to date first
        progress(Phase.READING, 0, 1)
        projection.refresh(db=uow.db, policy=policy, calendar=calendar)
    with uow:
        session = uow.session
        one_snapshot(session)  # the figures' queries read one state, whatever commits
        progress(Phase.COMPUTING, 0, 1)
        figures = _figures(session, policy, period, scope, as_of)
        return MetricsReport(
            period_from=period.first,
            period_to=period.last,
            as_of=as_of,
            unit=unit,
            investigator=investigator,
            figures=[figure(code, figures.values[code]) for code in SCOPE_FIGURES],
            units=_report(session, figures, progress),
        )


def _figures(
    session: Session, policy: Policy, period: Period, scope: Scope, as_of: datetime
) -> Figures:
    """The committee's or a unit's figures summed from the projection; an investigator's
    computed from the events of the cases they triaged or investigated."""
    if scope.investigator is None:
        window = Window(period.start, as_of)
        units = unit_paths(session, scope, as_of)
        return summed(session, policy=policy, window=window, scope=scope, units=units)
    events = read_events(session, scope, as_of)
    return compute(events, policy=policy, calendar=current(), period=period, scope=scope, now=as_of)
