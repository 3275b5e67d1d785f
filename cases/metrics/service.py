"""The figures for a period and a scope, as a person may read them: the events of the
scope's cases in one query, then ``compute``; each figure beside its definition."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, JsonValue
from sqlalchemy import ColumnElement, or_
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from cases.deadlines.calendar import current
from cases.metrics.compute import Figures, compute
from cases.metrics.definitions import SCOPE_FIGURES, UNIT_FIGURES, Kind, definition
from cases.metrics.events import (
    DEADLINE_PREFIX,
    FILED,
    RECOMPUTED,
    SURVEY,
    Event,
    Investigator,
    Period,
    Scope,
    action_event,
)
from cases.people.access import global_roles
from cases.people.directory import person_by_handle, unit_by_code
from cases.procedure.clock import to_utc, utcnow
from cases.procedure.errors import Forbidden
from cases.procedure.policy import Label, Policy
from cases.procedure.vocabulary import Action, Role
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Person, Unit, pk
from cases.store.reporter_side import SurveyAnswer

OVERSIGHT = frozenset({Role.SECRETARY.value, Role.ADMIN.value})
# The events the figures read: filing, every staff action, recorded due times, ratings.
READ = (FILED, RECOMPUTED, SURVEY, *(action_event(a) for a in Action))
TRIAGE_AND_ASSIGN = tuple(action_event(a) for a in (Action.ACCEPT, Action.DECLINE, Action.ASSIGN))


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


def _counted_since(since: datetime, before: datetime) -> ColumnElement[bool]:
    """Cases a period from ``since`` can count: open at its start, closed in it or later,
    or rated in it. A case closed earlier has no visit, event or rating in the period
    (closing is final), so it adds nothing to any figure. (Those filed after ``before``
    have no event before it.) Each term has its index: ix_case_closed_at, the rating's key."""
    rated = select(SurveyAnswer.case_id).where(
        col(SurveyAnswer.answered_at) >= since, col(SurveyAnswer.answered_at) < before
    )
    return or_(
        col(ConductCase.closed_at).is_(None),
        col(ConductCase.closed_at) >= since,
        col(ConductCase.id).in_(rated),
    )


def _unit_paths(session: Session, scope: Scope, before: datetime) -> list[str]:
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


def read_events(
    session: Session, scope: Scope, before: datetime, *, since: datetime | None = None
) -> list[Event]:
    """The scope's cases' events the figures read, earlier than ``before``: one query;
    with ``since``, only of the cases a period from ``since`` can count."""
    query = (
        select_rows(
            col(AuditEvent.case_id),
            col(AuditEvent.seq),
            col(Unit.path),
            col(AuditEvent.action),
            col(AuditEvent.at),
            col(AuditEvent.data),
            col(AuditEvent.actor_id),
        )
        .join(ConductCase, col(ConductCase.id) == AuditEvent.case_id)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .where(
            col(AuditEvent.at) < before,
            or_(
                col(AuditEvent.action).in_(READ), col(AuditEvent.action).startswith(DEADLINE_PREFIX)
            ),
        )
    )
    if since is not None:
        query = query.where(_counted_since(since, before))
    if scope.unit_path is not None:
        query = query.where(col(Unit.path).startswith(scope.unit_path))
    if scope.investigator is not None:  # a superset; compute keeps the cases exactly
        who = scope.investigator
        marked = select(AuditEvent.case_id).where(
            col(AuditEvent.action).in_(TRIAGE_AND_ASSIGN),
            or_(
                col(AuditEvent.actor_id) == who.person_id,
                col(AuditEvent.data).contains(
                    f'"person":{json.dumps(who.handle)}', autoescape=True
                ),
            ),
        )
        query = query.where(col(AuditEvent.case_id).in_(marked))
    return [
        Event(case_id, seq, path, action, to_utc(at), json.loads(data), actor_id)
        for case_id, seq, path, action, at, data, actor_id in session.execute(query)
    ]


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
    with uow:
        session = uow.session
        scope = allowed_scope(session, viewer, unit, investigator)
        progress(Phase.READING, 0, 1)
        # The committee's or a unit's: only the cases the period can count (an
        # investigator's are found from their events, so all of those are read).
        since = period.start if scope.investigator is None else None
        events = read_events(session, scope, as_of, since=since)
        units = _unit_paths(session, scope, as_of) if since is not None else []
        progress(Phase.COMPUTING, 0, 1)
        figures = compute(
            events,
            policy=policy,
            calendar=current(),
            period=period,
            scope=scope,
            now=as_of,
            units=units,
        )
        return MetricsReport(
            period_from=period.first,
            period_to=period.last,
            as_of=as_of,
            unit=unit,
            investigator=investigator,
            figures=[figure(code, figures.values[code]) for code in SCOPE_FIGURES],
            units=_report(session, figures, progress),
        )
