"""Listing cases: filters and keyset (cursor) pagination, within the viewer's scope."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, time
from typing import TypeVar

from sqlmodel import col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from cases.deadlines.calendar import add_working_days, end_of
from cases.people.access import scope_condition
from cases.people.directory import unit_by_code
from cases.procedure.clock import local_date, to_utc, utcnow
from cases.procedure.errors import InvalidInput
from cases.procedure.vocabulary import PARTIES
from cases.store.db import UnitOfWork
from cases.store.models import CaseParty, ConductCase, Person, Unit
from cases.views import CaseSummary, summary_of


@dataclass(frozen=True)
class CaseFilter:
    stage: str | None = None
    unit: str | None = None
    category: str | None = None
    severity: str | None = None
    assignee: str | None = None
    filed_from: datetime | None = None
    filed_to: datetime | None = None
    overdue: bool | None = None
    due_within: int | None = None  # working days from today


@dataclass(frozen=True)
class Page:
    items: list[CaseSummary]
    next_cursor: str | None


def encode_cursor(case_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{case_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The case id a cursor points after; InvalidInput for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("c"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("not a cursor this service issued", field="cursor") from exc


def list_cases(
    *,
    uow: UnitOfWork,
    viewer: Person,
    filters: CaseFilter,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Cases the viewer may see, newest first, ``limit`` at a time."""
    assert viewer.id is not None
    query = (
        select(ConductCase, Unit.code)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .where(scope_condition(viewer.id))
        .order_by(col(ConductCase.id).desc())
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(col(ConductCase.id) < decode_cursor(cursor))
    query = _filtered(query, filters)
    with uow:
        if filters.unit:
            unit = unit_by_code(uow.session, filters.unit)
            query = query.where(col(Unit.path).startswith(unit.path))
        rows = uow.session.exec(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [summary_of(case, code) for case, code in rows]
    last_id = rows[-1][0].id if rows and more else None
    return Page(items, encode_cursor(last_id) if last_id is not None else None)


_Query = TypeVar("_Query", bound=Select)


def _filtered(query: _Query, filters: CaseFilter) -> _Query:
    """``query`` narrowed by every filter that needs no lookup (all but the unit)."""
    if filters.stage:
        query = query.where(ConductCase.stage == filters.stage)
    if filters.category:
        query = query.where(ConductCase.category == filters.category)
    if filters.severity:
        query = query.where(ConductCase.severity == filters.severity)
    if filters.filed_from:
        query = query.where(col(ConductCase.filed_at) >= to_utc(filters.filed_from))
    if filters.filed_to:
        query = query.where(col(ConductCase.filed_at) < to_utc(filters.filed_to))
    if filters.overdue is not None:
        query = query.where(col(ConductCase.overdue) == filters.overdue)
    if filters.due_within is not None:
        horizon = end_of(add_working_days(local_date(utcnow()), filters.due_within), time.max)
        query = query.where(col(ConductCase.due_at) <= horizon, ConductCase.stage != "closed")
    if filters.assignee:
        query = query.where(col(ConductCase.id).in_(_assigned_to(filters.assignee)))
    return query


def _assigned_to(handle: str) -> SelectOfScalar[int]:
    """The ids of the cases ``handle`` is actively assigned to (in a staff capacity)."""
    return (
        select(CaseParty.case_id)
        .join(Person, col(Person.id) == CaseParty.person_id)
        .where(
            Person.handle == handle,
            col(CaseParty.active),
            col(CaseParty.capacity).notin_(PARTIES),
        )
    )
