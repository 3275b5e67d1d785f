"""My inbox (/console): the cases where the signed-in person has a role, through the same
``list_cases`` as GET /cases (its ``assignee`` filter; "all I may see" drops it), with
each case's stage in words and working days left. Sorted by links (?sort=), filtered by
a GET form, paged with the cursor list_cases returns."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.http.console.render import page, text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from api.http.pages.render import language_of
from cases.deadlines.calendar import working_days_between
from cases.people.directory import unit_choices
from cases.procedure.clock import local_date, utcnow
from cases.procedure.errors import InvalidInput
from cases.procedure.labels import stage_label
from cases.procedure.vocabulary import Stage
from cases.queries import CaseFilter, CaseSort, Page, list_cases
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.views import CaseSummary

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


@dataclass(frozen=True)
class InboxQuery:
    """The inbox's query string, checked: anything unknown falls back to the default."""

    sort: CaseSort = CaseSort.DUE
    stage: str = ""
    unit: str = ""
    overdue: bool = False
    everything: bool = False  # all the cases I may see, not just those where I have a role
    cursor: str = ""

    @classmethod
    def of(cls, request: Request) -> InboxQuery:
        asked = request.query_params
        sort = asked.get("sort", "")
        stage = asked.get("stage", "")
        return cls(
            sort=CaseSort(sort) if sort in CaseSort._value2member_map_ else CaseSort.DUE,
            stage=stage if stage in Stage._value2member_map_ else "",
            unit=asked.get("unit", "").strip()[:40],
            overdue=asked.get("overdue") == "1",
            everything=asked.get("whose") == "all",
            cursor=asked.get("cursor", "")[:200],
        )

    def link(self, **changes: object) -> str:
        """This inbox's URL with ``changes`` (a new sort or filter starts at page one)."""
        values = {
            "sort": self.sort.value,
            "stage": self.stage,
            "unit": self.unit,
            "overdue": "1" if self.overdue else "",
            "whose": "all" if self.everything else "",
            "cursor": "",
        }
        values.update({k: str(v) for k, v in changes.items()})
        return "/console?" + urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class InboxRow:
    case: CaseSummary
    stage: str
    days_left: int | None  # working days; negative once past


def _rows(cases: list[CaseSummary], language: str) -> list[InboxRow]:
    today = local_date(utcnow())
    return [
        InboxRow(
            case=case,
            stage=stage_label(case.stage, language),
            days_left=None
            if case.due_at is None or case.stage == Stage.CLOSED
            else working_days_between(today, local_date(case.due_at)),
        )
        for case in cases
    ]


def _list(request: Request, staff: Person, asked: InboxQuery) -> tuple[Page, str]:
    filters = CaseFilter(
        stage=asked.stage or None,
        unit=asked.unit or None,
        overdue=True if asked.overdue else None,
        assignee=None if asked.everything else staff.handle,
    )
    uow = UnitOfWork(app_state(request).db, write=False)
    try:
        listed = list_cases(
            uow=uow,
            viewer=staff,
            filters=filters,
            cursor=asked.cursor or None,
            limit=PAGE_SIZE,
            sort=asked.sort,
        )
        return listed, ""
    except InvalidInput as exc:
        if exc.field == "unit":  # no such unit: nothing matches
            return Page([], None), text(request, "inbox.no_unit", unit=asked.unit)
        # a cursor we did not issue (or of another order): page one
        uow = UnitOfWork(app_state(request).db, write=False)
        first = list_cases(uow=uow, viewer=staff, filters=filters, limit=PAGE_SIZE, sort=asked.sort)
        return first, text(request, "inbox.bad_cursor")


@router.get("/console", response_class=HTMLResponse)
async def inbox(request: Request, staff: StaffUser) -> HTMLResponse:
    asked = InboxQuery.of(request)
    listed, notice = await run_in_threadpool(_list, request, staff, asked)
    units = await run_in_threadpool(
        unit_choices, uow=UnitOfWork(app_state(request).db, write=False)
    )
    language = language_of(request)
    return page(
        request,
        "inbox.html",
        staff=staff,
        asked=asked,
        rows=_rows(listed.items, language),
        next_link=asked.link(cursor=listed.next_cursor) if listed.next_cursor else None,
        notice=notice,
        stages=[(s.value, stage_label(s, language)) for s in Stage],
        sorts=list(CaseSort),
        units=units,
        unit_names={u.code: u.name_en if language == "en" else u.name_zh for u in units},
    )
