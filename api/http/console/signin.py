"""Password sign-in, sign-out and the account page with the person's API tokens (the
console's home, the inbox: inbox.py). Every form carries the pages' double-submit token
(api/http/pages/render.py)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.http import throttle
from api.http.console import attempts, cas, oidc
from api.http.console.render import page, text
from api.http.console.session import (
    SESSION_COOKIE,
    OptionalStaff,
    StaffUser,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from api.http.deps import app_state
from api.http.pages.render import form_token_ok, language_of
from cases.people.directory import create_token, revoke
from cases.people.sessions import end_session, sign_in_with_password, tokens_of
from cases.procedure.errors import DomainError, Unauthenticated
from cases.store.db import UnitOfWork
from cases.store.models import Person

router = APIRouter(include_in_schema=False)
MAX_TOKEN_NAME = 80


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(value) for name, value in form.items() if isinstance(value, str)}


def _signin_page(
    request: Request, *, next_path: str, handle: str = "", notice: str = "", status: int = 200
) -> HTMLResponse:
    settings = app_state(request).settings
    language = language_of(request)
    buttons = []
    if oidc.enabled(settings):
        name = settings.oidc_name_en if language == "en" else settings.oidc_name_zh
        buttons.append(("/signin/oidc", name))
    if cas.enabled(settings):
        name = settings.cas_name_en if language == "en" else settings.cas_name_zh
        buttons.append(("/signin/cas", name))
    return page(
        request,
        "signin.html",
        status_code=status,
        next_path=next_path,
        handle=handle,
        notice=notice,
        sso=buttons,
    )


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, staff: OptionalStaff, next: str | None = None) -> Response:
    if staff is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    bye = request.query_params.get("bye") is not None
    notice = text(request, "signin.signed_out") if bye else ""
    return _signin_page(request, next_path=safe_next(next), notice=notice)


@router.post("/signin", response_class=HTMLResponse)
async def signin_submit(request: Request) -> Response:
    form = await _form(request)
    handle, password = form.get("handle", "").strip()[:64], form.get("password", "")
    next_path = safe_next(form.get("next"))
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "signin.expired")
        return _signin_page(request, next_path=next_path, handle=handle, notice=notice, status=403)
    wait = attempts.wait(request, handle)
    if wait > 0:
        notice = text(request, "signin.wait", seconds=math.ceil(wait))
        refused = _signin_page(
            request, next_path=next_path, handle=handle, notice=notice, status=429
        )
        refused.headers["Retry-After"] = throttle.retry_after(wait)
        return refused
    db = app_state(request).db
    try:
        _, token = await run_in_threadpool(
            sign_in_with_password, uow=UnitOfWork(db), handle=handle, password=password
        )
    except Unauthenticated:
        attempts.failed(request, handle)
        notice = text(request, "signin.wrong")
        return _signin_page(request, next_path=next_path, handle=handle, notice=notice, status=401)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # a new session replaces the one this browser had
        await run_in_threadpool(end_session, uow=UnitOfWork(db), token=previous)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/signout", response_class=HTMLResponse)
async def signout(request: Request) -> Response:
    form = await _form(request)
    if not form_token_ok(request, form.get("form_token")):
        return page(request, "signout.html", status_code=403)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        db = app_state(request).db
        await run_in_threadpool(end_session, uow=UnitOfWork(db), token=token)
    response = RedirectResponse("/signin?bye", status_code=303)
    clear_session_cookie(request, response)
    return response


def _account(request: Request, staff: Person, *, status: int = 200, **context: Any) -> HTMLResponse:
    tokens = tokens_of(uow=UnitOfWork(app_state(request).db, write=False), person=staff)
    return page(request, "account.html", staff=staff, status_code=status, tokens=tokens, **context)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, staff: StaffUser, revoked: str | None = None) -> HTMLResponse:
    return _account(request, staff, revoked=revoked)


@router.post("/account/tokens", response_class=HTMLResponse)
async def token_create(request: Request, staff: StaffUser) -> HTMLResponse:
    form = await _form(request)
    name = form.get("name", "").strip()
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "account.expired")
        return await run_in_threadpool(
            _account, request, staff, status=403, notice=notice, name=name
        )
    if not name or len(name) > MAX_TOKEN_NAME:
        key = "field.missing" if not name else "field.too_long"
        errors = {"name": text(request, key, limit=MAX_TOKEN_NAME)}
        return await run_in_threadpool(
            _account, request, staff, status=422, errors=errors, name=name
        )
    db = app_state(request).db
    public_id, token = await run_in_threadpool(
        create_token, uow=UnitOfWork(db), handle=staff.handle, name=name, by=staff
    )
    return await run_in_threadpool(
        _account, request, staff, status=201, new_token=token, new_id=public_id
    )


@router.post("/account/tokens/revoke", response_class=HTMLResponse)
async def token_revoke(request: Request, staff: StaffUser) -> Response:
    form = await _form(request)
    public_id = form.get("token", "")
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "account.expired")
        return await run_in_threadpool(_account, request, staff, status=403, notice=notice)
    try:
        db = app_state(request).db
        await run_in_threadpool(revoke, uow=UnitOfWork(db), public_id=public_id, by=staff)
    except DomainError:  # not theirs, or no such token: the list shows what is theirs
        notice = text(request, "account.no_token")
        return await run_in_threadpool(_account, request, staff, status=404, notice=notice)
    return RedirectResponse(f"/account?revoked={public_id}", status_code=303)
