"""The conduct-record lookup page (严格选拔): a student number (or handle) and the purpose,
then the person's decided cases in the policy period as a table, in force or lifted in
words. Only for the roles policy names (conduct_record.roles); anyone else gets 404, as
for a page out of scope. The result is the answer to the POST, never in a URL; each
lookup is audited by the service (cases.conduct_record.look_up_conduct_record)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.http.console.acting import posted
from api.http.console.render import page, text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from api.http.pages.render import field_errors, form_token_ok
from cases.conduct_record import (
    IDENTIFIER_MAX,
    PURPOSE_MAX,
    ConductRecord,
    ConductRecordQuery,
    look_up_conduct_record,
    may_look_up,
)
from cases.procedure.errors import Forbidden, InvalidInput
from cases.store.db import UnitOfWork
from cases.store.models import Person

router = APIRouter(include_in_schema=False)
PATH = "/console/conduct-record"
FIELDS = ("person", "purpose")


def _missing(request: Request, staff: Person) -> HTMLResponse:
    return page(request, "signoff_missing.html", staff=staff, status_code=404)


def _page(request: Request, staff: Person, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The lookup form (with ``record``, the result beneath it); 404 unless allowed."""
    state = app_state(request)
    if not may_look_up(uow=UnitOfWork(state.db, write=False), policy=state.policy, viewer=staff):
        return _missing(request, staff)
    context.setdefault("values", {})
    return page(
        request,
        "conduct_record.html",
        staff=staff,
        status_code=status,
        years=state.policy.conduct_record.period_years,
        limits={"person": IDENTIFIER_MAX, "purpose": PURPOSE_MAX},
        **context,
    )


@router.get(PATH, response_class=HTMLResponse)
def lookup_form(request: Request, staff: StaffUser) -> HTMLResponse:
    return _page(request, staff)


def _look_up(request: Request, staff: Person, query: ConductRecordQuery) -> HTMLResponse:
    state = app_state(request)
    values = query.model_dump()
    try:
        record: ConductRecord = look_up_conduct_record(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            actor=staff,
            person=query.person,
            purpose=query.purpose,
        )
    except Forbidden:
        return _missing(request, staff)
    except InvalidInput as refused:
        field = refused.field if refused.field in FIELDS else "purpose"
        errors = {field: text(request, "field.invalid")}
        return _page(request, staff, status=422, values=values, errors=errors)
    return _page(request, staff, values=values, record=record)


@router.post(PATH, response_class=HTMLResponse)
async def lookup_submit(request: Request, staff: StaffUser) -> HTMLResponse:
    sent = await request.form()
    values = {name: posted(sent, name) for name in FIELDS}
    if not form_token_ok(request, posted(sent, "form_token")):
        notice = text(request, "record.expired")
        return await run_in_threadpool(
            _page, request, staff, status=403, values=values, notice=notice
        )
    try:
        query = ConductRecordQuery.model_validate(values)
    except ValidationError as exc:
        errors = field_errors(request, exc)
        return await run_in_threadpool(
            _page, request, staff, status=422, values=values, errors=errors
        )
    return await run_in_threadpool(_look_up, request, staff, query)
