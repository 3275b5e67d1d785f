"""Listing cases: filters and keyset (cursor) pagination, within the viewer's scope."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import case as when
from sqlmodel import col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from cases.deadlines.calendar import add_working_days, end_of
from cases.people.access import scope_condition
from cases.people.directory import unit_by_code
from cases.procedure.clock import local_date, to_utc, utcnow
from cases.procedure.errors import InvalidInput
from cases.procedure.vocabulary import PARTIES, Stage
from cases.store.db import UnitOfWork
from cases.store.models import CaseParty, ConductCase, Person, RoleGrant, Unit
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


class CaseSort(StrEnum):
    """The order of a case list: newest filed first (the API's), soonest due first
    (none due last), or by stage in the procedure's order (soonest due first within)."""

    FILED = "filed"
    DUE = "due"
    STAGE = "stage"


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


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def decode_offset(cursor: str) -> int:
    """The position a sorted list's cursor points at; InvalidInput for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("o") or int(raw[1:]) < 0:
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("not a cursor this service issued", field="cursor") from exc


_STAGE_ORDER = when({stage.value: i for i, stage in enumerate(Stage)}, value=ConductCase.stage)
_NOT_DUE = when((col(ConductCase.due_at).is_(None), 1), else_=0)
_ORDER: dict[CaseSort, tuple[Any, ...]] = {
    CaseSort.DUE: (_NOT_DUE, col(ConductCase.due_at), col(ConductCase.id)),
    CaseSort.STAGE: (_STAGE_ORDER, _NOT_DUE, col(ConductCase.due_at), col(ConductCase.id)),
}


def list_cases(
    *,
    uow: UnitOfWork,
    viewer: Person,
    filters: CaseFilter,
    cursor: str | None = None,
    limit: int = 50,
    sort: CaseSort = CaseSort.FILED,
) -> Page:
    """Cases the viewer may see, newest first (or in ``sort``'s order), ``limit`` at a
    time. Newest first pages by case id; the other orders by position in the list."""
    assert viewer.id is not None
    query = (
        select(ConductCase, Unit.code)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .where(scope_condition(viewer.id))
        .limit(limit + 1)
    )
    offset = 0
    if sort is CaseSort.FILED:
        query = query.order_by(col(ConductCase.id).desc())
        if cursor:
            query = query.where(col(ConductCase.id) < decode_cursor(cursor))
    else:
        offset = decode_offset(cursor) if cursor else 0
        query = query.order_by(*_ORDER[sort]).offset(offset)
    query = _filtered(query, filters)
    with uow:
        if filters.unit:
            unit = unit_by_code(uow.session, filters.unit)
            query = query.where(col(Unit.path).startswith(unit.path))
        rows = uow.session.exec(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [summary_of(case, code) for case, code in rows]
    if sort is not CaseSort.FILED:
        return Page(items, encode_offset(offset + limit) if more else None)
    last_id = rows[-1][0].id if rows and more else None
    return Page(items, encode_cursor(last_id) if last_id is not None else None)


@dataclass(frozen=True)
class StaffChoice:
    handle: str
    name: str
    roles: frozenset[str]  # the roles they hold (in some unit)


def staff_choices(*, uow: UnitOfWork) -> list[StaffChoice]:
    """Active people holding a staff role, by handle, with their roles: whom a form may
    name (the action itself checks the person's role, scope and conflicts of interest)."""
    with uow:
        query = (
            select(Person.handle, Person.name, RoleGrant.role)
            .join(RoleGrant, col(RoleGrant.person_id) == Person.id)
            .where(col(Person.active))
            .order_by(col(Person.handle))
        )
        roles: dict[tuple[str, str], set[str]] = {}
        for handle, name, role in uow.session.exec(query).all():
            roles.setdefault((handle, name), set()).add(role)
    return [StaffChoice(h, n, frozenset(r)) for (h, n), r in roles.items()]


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
