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
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.http.console.render import page, text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from api.http.pages.render import form_token_ok, language_of
from cases.board import board_of, is_secretary
from cases.procedure import commands as c
from cases.procedure.errors import DomainError, NotFound, VersionConflict
from cases.procedure.labels import stage_label
from cases.procedure.vocabulary import Action, Capacity
from cases.queries import CaseFilter, list_cases
from cases.service import apply_action
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.views import CaseSummary

router = APIRouter(include_in_schema=False)
# The board's forms: the action and the fields its command reads from the form.
FORMS: dict[Action, tuple[str, ...]] = {
    Action.GRANT_EXTENSION: ("due_on", "note"),
    Action.REFUSE_EXTENSION: ("reason",),
    Action.ASSIGN: ("person", "override_reason"),
}
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


def _command(action: Action, form: dict[str, str]) -> c.Command:
    """The action's command from its row's form (ValidationError for a bad field)."""
    given = {name: form.get(name, "").strip() or None for name in FORMS[action]}
    if action is Action.ASSIGN:
        given["capacity"] = Capacity.APPEAL_REVIEWER
        given["person"] = given["person"] or ""
    if action is Action.REFUSE_EXTENSION:
        given["reason"] = given["reason"] or ""
    return c.COMMANDS[action].model_validate(given)


def _invalid(request: Request, error: ValidationError) -> tuple[str, str]:
    """The field a validation error names and its message."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    kind = first["type"]
    if kind == "string_too_long":
        return name, text(request, "field.too_long", limit=first.get("ctx", {}).get("max_length"))
    missing = "missing" in kind or "short" in kind
    return name, text(request, "field.missing" if missing else "field.invalid")


def _act(
    request: Request, staff: Person, reference: str, action: Action, form: dict[str, str]
) -> Response:
    """Carry out a board form's action; the board again with the message when refused."""
    state = app_state(request)
    values = {f"{reference}.{name}": form.get(name, "") for name in FORMS[action]}

    def again(status: int, **context: Any) -> HTMLResponse:
        return _board(request, staff, status=status, values=values, **context)

    try:
        command = _command(action, form)
    except ValidationError as invalid:
        name, message = _invalid(request, invalid)
        return again(422, errors={f"{reference}.{name}": message})
    version = int(form["version"]) if form.get("version", "").isdigit() else 0
    try:
        apply_action(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            reference=reference,
            actor=staff,
            command=command,
            expected_version=version,
        )
    except NotFound:
        return _missing(request, staff)
    except VersionConflict:
        return again(409, notice=text(request, "signoff.moved"), notice_case=reference)
    except DomainError as refused:
        if refused.field in FORMS[action]:
            return again(422, errors={f"{reference}.{refused.field}": refused.detail})
        return again(422, notice=refused.detail, notice_case=reference)
    return RedirectResponse(f"/console/board?done={action}&case={reference}", status_code=303)


@router.post("/console/board/{reference}/{action}", response_class=HTMLResponse)
async def board_submit(request: Request, staff: StaffUser, reference: str, action: str) -> Response:
    db = app_state(request).db
    secretary = await run_in_threadpool(is_secretary, uow=UnitOfWork(db, write=False), viewer=staff)
    if action not in {a.value for a in FORMS} or not secretary:
        return await run_in_threadpool(_missing, request, staff)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "signoff.expired")
        return await run_in_threadpool(_board, request, staff, status=403, notice=notice)
    return await run_in_threadpool(_act, request, staff, reference, Action(action), form)
