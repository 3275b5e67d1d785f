"""The secretary's board: overdue and escalated cases by unit, extension requests (grant
with a new due day, refuse with a reason), co-signatures waiting (a link to the sign-off
page, where the secretary co-signs), appeals to assign, and conflict-of-interest overrides.

Only for secretaries: anyone else gets 404, as for a page out of scope. The forms post
through service.apply_action with the case version; a moved case is the clear message."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.http.console import acting
from api.http.console.acting import posted
from api.http.console.render import page, text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from api.http.pages.render import form_token_ok, language_of
from cases.board import board_of, is_secretary
from cases.procedure.errors import NotFound
from cases.procedure.labels import stage_label
from cases.procedure.vocabulary import Action, Capacity
from cases.queries import CaseFilter, list_cases
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.views import CaseSummary

router = APIRouter(include_in_schema=False)
# The board's forms (assign: the appeal reviewer; their fields: action_forms).
FORMS = (Action.GRANT_EXTENSION, Action.REFUSE_EXTENSION, Action.ASSIGN)
OVERDUE_SHOWN = 200
REFERENCE = re.compile(r"QF-\d{4}-\d{5,}")  # what a done notice may name


def _missing(request: Request, staff: Person) -> HTMLResponse:
    return page(request, "signoff_missing.html", staff=staff, status_code=404)


def _by_unit(cases: list[CaseSummary]) -> list[tuple[str, list[CaseSummary]]]:
    groups: dict[str, list[CaseSummary]] = defaultdict(list)
    for case in cases:
        groups[case.unit].append(case)
    return sorted(groups.items())


def _board(request: Request, staff: Person, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The board as ``staff`` may see it (404 unless a secretary)."""
    state = app_state(request)
    if not is_secretary(uow=UnitOfWork(state.db, write=False), viewer=staff):
        return _missing(request, staff)
    overdue = list_cases(
        uow=UnitOfWork(state.db, write=False),
        viewer=staff,
        filters=CaseFilter(overdue=True),
        limit=OVERDUE_SHOWN,
    )
    board = board_of(uow=UnitOfWork(state.db, write=False), viewer=staff, policy=state.policy)
    language = language_of(request)
    context.setdefault("values", {})
    return page(
        request,
        "board.html",
        staff=staff,
        status_code=status,
        overdue=_by_unit(overdue.items),
        more_overdue=overdue.next_cursor is not None,
        board=board,
        stage_label=stage_label,
        dispositions={d.code: d.label.text(language) for d in state.policy.dispositions},
        steps={s.step: s.label.text(language) for s in state.policy.escalation if s.label},
        **context,
    )


@router.get("/console/board", response_class=HTMLResponse)
def board(request: Request, staff: StaffUser) -> HTMLResponse:
    done, reference = request.query_params.get("done"), request.query_params.get("case", "")
    notice = ""
    if done in {a.value for a in FORMS} and REFERENCE.fullmatch(reference):
        notice = text(request, f"board.done.{done}", reference=reference)
    return _board(request, staff, done=notice)


async def _act(
    request: Request, staff: Person, reference: str, action: Action, sent: FormData
) -> Response:
    """Carry out a board form's action; the board again with the message when refused."""
    given = {"capacity": Capacity.APPEAL_REVIEWER.value} if action is Action.ASSIGN else {}
    try:
        refusal = await acting.act(request, staff, reference, action, sent, given=given)
    except NotFound:
        return await run_in_threadpool(_missing, request, staff)
    if refusal is None:
        return RedirectResponse(f"/console/board?done={action}&case={reference}", status_code=303)
    on_top = reference if refusal.notice else None  # the notice names the row's case
    again = refusal.keyed(f"{reference}.")
    return await run_in_threadpool(_board, request, staff, notice_case=on_top, **again)


@router.post("/console/board/{reference}/{action}", response_class=HTMLResponse)
async def board_submit(request: Request, staff: StaffUser, reference: str, action: str) -> Response:
    db = app_state(request).db
    secretary = await run_in_threadpool(is_secretary, uow=UnitOfWork(db, write=False), viewer=staff)
    if action not in {a.value for a in FORMS} or not secretary:
        return await run_in_threadpool(_missing, request, staff)
    sent = await request.form()
    if not form_token_ok(request, posted(sent, "form_token")):
        notice = text(request, "signoff.expired")
        return await run_in_threadpool(_board, request, staff, status=403, notice=notice)
    return await _act(request, staff, reference, Action(action), sent)
