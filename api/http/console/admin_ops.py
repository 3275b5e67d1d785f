"""For operators (notifications/admin.py's OPERATORS): dead-lettered notifications, each
with a button to send it again, through the same functions as ``qingfeng outbox``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.http.console.admin_base import OperatorUser, form_of, is_admin, problem_text
from api.http.console.render import page, text
from api.http.deps import app_state
from api.http.pages.render import form_token_ok
from cases.procedure.errors import DomainError
from cases.store.db import UnitOfWork
from cases.store.models import OutboxState, Person
from notifications.admin import list_messages, retry_message

router = APIRouter(include_in_schema=False)
PAGE = 100


def _outbox_page(
    request: Request, staff: Person, *, after: int = 0, status: int = 200, **context: Any
) -> HTMLResponse:
    dead = list_messages(
        uow=UnitOfWork(app_state(request).db, write=False),
        viewer=staff,
        state=OutboxState.DEAD,
        after_id=after,
        limit=PAGE,
    )
    more = dead[-1].id if len(dead) == PAGE else None
    context.setdefault("admin", is_admin(app_state(request).db, staff))
    return page(
        request,
        "admin_outbox.html",
        staff=staff,
        status_code=status,
        dead=dead,
        more=more,
        **context,
    )


@router.get("/console/ops/outbox", response_class=HTMLResponse)
def outbox(
    request: Request, staff: OperatorUser, after: int = 0, retried: int | None = None
) -> HTMLResponse:
    return _outbox_page(request, staff, after=max(after, 0), retried=retried)


def _retry(request: Request, staff: Person, message: str) -> Response:
    try:
        if not message.isdigit():
            raise DomainError(f"no notification message {message}")
        retry_message(uow=UnitOfWork(app_state(request).db), viewer=staff, message_id=int(message))
    except DomainError as exc:  # gone, or no longer dead: someone retried it first
        notice = text(request, "outbox.not_dead", id=message, detail=problem_text(request, exc))
        return _outbox_page(request, staff, status=409, notice=notice)
    return RedirectResponse(f"/console/ops/outbox?retried={int(message)}", status_code=303)


@router.post("/console/ops/outbox/retry", response_class=HTMLResponse)
async def outbox_retry(request: Request, staff: OperatorUser) -> Response:
    form = await form_of(request)
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "account.expired")
        return await run_in_threadpool(_outbox_page, request, staff, status=403, notice=notice)
    return await run_in_threadpool(_retry, request, staff, form.get("message", "").strip())
