"""The reporter's status page: the receipt code in a form (never in a URL) opens a short
visit (a signed cookie naming the case); then where the case stands in the words policy
chooses, the messages with the case team, evidence to add while the case is open, and
the survey once it is closed. Wrong codes get one answer and a growing delay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.http import throttle
from api.http.deps import app_state
from api.http.pages.render import field_errors, form_token_ok, page, text
from api.http.pages.visits import Visit, VisitCookie
from api.http.problems import status_of
from api.http.uploads import refuse_oversized
from cases import messages, reporter_side
from cases.evidence_files import evidence_store
from cases.procedure.clock import local_text, utcnow
from cases.procedure.commands import Attachment
from cases.procedure.errors import DomainError, NotFound, TooLarge, UnsupportedMediaType
from cases.reporter_view import reporter_view
from cases.store.db import UnitOfWork

router = APIRouter(include_in_schema=False)
VISIT = VisitCookie("qf_reporter", "reporter-visit")
CASE_PAGE = "/status/case"


@router.get("/status", response_class=HTMLResponse)
def status_form(request: Request) -> HTMLResponse:
    return _code_form(request)


@router.get("/survey", response_class=HTMLResponse)
def survey_form(request: Request) -> HTMLResponse:
    """The closing mail's link: the code, then the case page at its survey."""
    return _code_form(request, then="survey")


@router.post("/status", response_class=HTMLResponse)
async def code_given(request: Request) -> Response:
    form = await request.form()
    fields = {k: str(form.get(k) or "") for k in ("receipt_code", "form_token", "then")}
    return await run_in_threadpool(_opened, request, **fields)  # Argon2 and SQL off the loop


def _opened(request: Request, receipt_code: str, form_token: str, then: str) -> Response:
    state = app_state(request)
    if not form_token_ok(request, form_token):
        return _code_form(request, then=then, error=("error.csrf", {}))
    try:
        case_id = throttle.looked_up(
            request,
            state.secret,
            lambda: reporter_side.open_receipt(
                uow=UnitOfWork(state.db, write=False), secret=state.secret,
                receipt_code=receipt_code,
            ),
        )  # fmt: skip
    except throttle.Refused as refused:
        wait: dict[str, object] = {"seconds": int(refused.seconds) + 1}
        return _code_form(request, then=then, error=("status.wait", wait), status_code=429)
    except NotFound:
        return _code_form(request, then=then, error=("status.unknown", {}), status_code=404)
    minutes = state.policy.reporter_view.session_minutes
    response = RedirectResponse(
        CASE_PAGE + ("#survey" if then == "survey" else ""), status_code=303
    )
    VISIT.open(request, response, Visit(case_id, utcnow() + timedelta(minutes=minutes)))
    return response


def _code_form(
    request: Request,
    *,
    then: str = "",
    error: tuple[str, dict[str, object]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    errors = {"receipt_code": error} if error else {}
    status_code = 422 if error and status_code == 200 else status_code
    return page(request, "status.html", status_code=status_code, errors=errors, then=then)


@router.get(CASE_PAGE, response_class=HTMLResponse)
def case_page(request: Request) -> HTMLResponse:
    done = request.query_params.get("done")
    notice = text(request, f"status.done_{done}") if done in _DONE else ""
    return _case_page(request, notice=notice)


_DONE = ("message", "evidence", "survey")


def _case_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The case as its reporter may see it now; a notice on top (an error unless 200)."""
    state, visit = app_state(request), VISIT.read(request)
    if visit is None:
        return _code_form(request, error=("status.visit_over", {}), status_code=401)
    view = reporter_view(
        uow=UnitOfWork(state.db), policy=state.policy, secret=state.secret, case_id=visit.opened
    )
    response = page(
        request, "status_view.html", status_code=status_code, view=view, when=local_text,
        max_file_mb=state.policy.evidence.max_file_mb,
        values=values or {}, errors=errors or {}, notice=notice,
        notice_is_error=status_code != 200,
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(f"{CASE_PAGE}/message", response_class=HTMLResponse)
async def message_sent(request: Request) -> Response:
    form = await request.form()
    values = {"body": str(form.get("body") or "").strip()}
    return await run_in_threadpool(
        _done, request, str(form.get("form_token") or ""), values, "message", _send
    )


def _send(request: Request, case_id: int, values: dict[str, Any]) -> None:
    state = app_state(request)
    message = messages.NewMessage.model_validate(values)
    messages.send_from_reporter(
        uow=UnitOfWork(state.db), policy=state.policy, case_id=case_id, message=message
    )


@router.post(f"{CASE_PAGE}/survey", response_class=HTMLResponse)
async def survey_answered(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("score", "comment")}
    return await run_in_threadpool(
        _done, request, str(form.get("form_token") or ""), values, "survey", _rate
    )


def _rate(request: Request, case_id: int, values: dict[str, Any]) -> None:
    answer = reporter_side.SurveyAnswerIn.model_validate(values)
    reporter_side.answer_survey(
        uow=UnitOfWork(app_state(request).db), case_id=case_id, answer=answer
    )


@router.post(f"{CASE_PAGE}/evidence", response_class=HTMLResponse)
async def evidence_added(request: Request) -> Response:
    try:
        refuse_oversized(request)  # before the body is read
    except TooLarge as exc:
        return _case_page(request, errors={"file": str(exc)}, status_code=413)
    form = await request.form()
    sent = form.get("file")
    values: dict[str, Any] = {"description": str(form.get("description") or "").strip()}
    values["file"] = sent if isinstance(sent, UploadFile) and sent.filename else None
    return await run_in_threadpool(
        _done, request, str(form.get("form_token") or ""), values, "evidence", _add
    )


def _add(request: Request, case_id: int, values: dict[str, Any]) -> None:
    state, sent = app_state(request), values["file"]
    if sent is None:
        raise ValidationError.from_exception_data(
            "evidence", [{"type": "missing", "loc": ("file",), "input": None}]
        )
    reporter_side.add_evidence(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        case_id=case_id,
        attachment=Attachment(content=sent.file, store=evidence_store(state.settings.data_dir)),
        filename=PurePath(sent.filename or "").name[:200] or None,
        description=values["description"][:200],
    )


def _done(
    request: Request,
    token: str,
    values: dict[str, Any],
    kind: str,
    act: Callable[[Request, int, dict[str, Any]], None],
) -> Response:
    """``act`` on the visit's case with the form's ``values``; then the page again, with
    what went wrong beside its field and what was written kept."""
    kept = {k: v for k, v in values.items() if isinstance(v, str)}
    visit = VISIT.read(request)
    if visit is None:
        return _code_form(request, error=("status.visit_over", {}), status_code=401)
    if not form_token_ok(request, token):
        return _case_page(request, values=kept, notice=text(request, "error.csrf"), status_code=422)
    try:
        act(request, visit.opened, values)
    except ValidationError as exc:
        return _case_page(request, values=kept, errors=field_errors(request, exc), status_code=422)
    except DomainError as exc:
        field = exc.field if exc.field in values else next(iter(values))
        errors = {field: _words(request, exc)}
        return _case_page(request, values=kept, errors=errors, status_code=status_of(exc))
    return RedirectResponse(f"{CASE_PAGE}?done={kind}#{kind}", status_code=303)


def _words(request: Request, exc: DomainError) -> str:
    """A refusal in the page's language: the known ones by name, else the service's text."""
    words: dict[type[DomainError], str] = {
        TooLarge: "status.too_large",
        UnsupportedMediaType: "status.wrong_type",
    }
    key = words.get(type(exc))
    if key is None and exc.kind == "not-now":
        key = "status.not_now"
    return text(request, key) if key else exc.detail
