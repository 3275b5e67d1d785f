"""The reporter's status page: the receipt code in a form (never in a URL), then where the
case stands in the words policy chooses. Wrong codes get one answer and a growing delay."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from api.http import throttle
from api.http.deps import app_state
from api.http.pages.render import form_token_ok, page
from cases.procedure.errors import NotFound
from cases.reporter_view import reporter_view
from cases.store.db import UnitOfWork

router = APIRouter(include_in_schema=False)


@router.get("/status", response_class=HTMLResponse)
def status_form(request: Request) -> HTMLResponse:
    return page(request, "status.html", errors={}, values={})


@router.post("/status", response_class=HTMLResponse)
def status_shown(
    request: Request, receipt_code: str = Form(""), form_token: str = Form("")
) -> HTMLResponse:
    state = app_state(request)
    if not form_token_ok(request, form_token):
        return _again(request, "error.csrf")
    try:
        view = throttle.looked_up(
            request,
            state.secret,
            lambda: reporter_view(
                uow=UnitOfWork(state.db),
                policy=state.policy,
                secret=state.secret,
                receipt_code=receipt_code,
            ),
        )
    except throttle.Refused as refused:
        seconds = int(refused.seconds) + 1
        return _again(request, "status.wait", status_code=429, seconds=seconds)
    except NotFound:
        return _again(request, "status.unknown", status_code=404)
    shown = page(request, "status_view.html", view=view)
    shown.headers["Cache-Control"] = "no-store"
    return shown


def _again(
    request: Request, message: str, *, status_code: int = 422, **values: object
) -> HTMLResponse:
    return page(
        request,
        "status.html",
        status_code=status_code,
        errors={"receipt_code": (message, values)},
        values={},
    )
