"""Declared relationships (listed and added: they keep people off each other's cases)
and every API token (listed, revoked)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.http.console.admin_base import AdminUser, form_of, problem_field, problem_text, required
from api.http.console.render import page, text
from api.http.deps import app_state
from api.http.pages.render import form_token_ok
from cases.people.directory import declare_relationship, related, revoke
from cases.people.directory import person_by_handle as _person
from cases.people.roster import list_relationships, list_tokens
from cases.procedure.errors import DomainError, InvalidInput
from cases.store.db import UnitOfWork
from cases.store.models import Person

router = APIRouter(include_in_schema=False)
KIND_MAX = 40  # Relationship.kind
HANDLE_MAX = 64


def _relationships_page(
    request: Request, staff: Person, *, status: int = 200, **context: Any
) -> HTMLResponse:
    listed = list_relationships(uow=UnitOfWork(app_state(request).db, write=False), viewer=staff)
    return page(
        request,
        "admin_relationships.html",
        staff=staff,
        status_code=status,
        relationships=listed,
        **context,
    )


@router.get("/console/admin/relationships", response_class=HTMLResponse)
def relationships(request: Request, staff: AdminUser, added: str | None = None) -> HTMLResponse:
    return _relationships_page(request, staff, added=added is not None)


def _not_yet_related(uow: UnitOfWork, handle: str, other: str) -> None:
    """InvalidInput when the two are one person or already have a declared relationship
    (the table keeps one per pair: a second would fail at the database)."""
    if handle == other:
        raise InvalidInput("a person is not related to themselves", field="other")
    with uow:
        a = _person(uow.session, handle, field="handle")
        b = _person(uow.session, other, field="other")
        if a.id is not None and related(uow.session, a.id, [b.id]):
            raise InvalidInput(f"{handle} and {other} are already related", field="other")


def _declare(request: Request, staff: Person, form: dict[str, str]) -> Response:
    limits = {"handle": HANDLE_MAX, "other": HANDLE_MAX, "kind": KIND_MAX}
    errors = required(request, form, limits)
    handle, other, kind = (form.get(k, "").strip() for k in limits)
    db = app_state(request).db
    try:
        if not errors:
            _not_yet_related(UnitOfWork(db, write=False), handle, other)
            declare_relationship(uow=UnitOfWork(db), handle=handle, other=other, kind=kind)
    except DomainError as exc:
        errors = {problem_field(exc, tuple(limits), "other"): problem_text(request, exc)}
    if errors:
        return _relationships_page(request, staff, status=422, errors=errors, values=form)
    return RedirectResponse("/console/admin/relationships?added", status_code=303)


@router.post("/console/admin/relationships", response_class=HTMLResponse)
async def relationship_add(request: Request, staff: AdminUser) -> Response:
    form = await form_of(request)
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "account.expired")
        return await run_in_threadpool(
            _relationships_page, request, staff, status=403, notice=notice, values=form
        )
    return await run_in_threadpool(_declare, request, staff, form)


def _tokens_page(
    request: Request, staff: Person, *, status: int = 200, **context: Any
) -> HTMLResponse:
    tokens = list_tokens(uow=UnitOfWork(app_state(request).db, write=False), viewer=staff)
    return page(
        request, "admin_tokens.html", staff=staff, status_code=status, tokens=tokens, **context
    )


@router.get("/console/admin/tokens", response_class=HTMLResponse)
def tokens(request: Request, staff: AdminUser, revoked: str = "") -> HTMLResponse:
    return _tokens_page(request, staff, revoked=revoked)


def _revoke(request: Request, staff: Person, public_id: str) -> Response:
    try:
        revoke(uow=UnitOfWork(app_state(request).db), public_id=public_id, by=staff)
    except DomainError:
        notice = text(request, "account.no_token")
        return _tokens_page(request, staff, status=404, notice=notice)
    return RedirectResponse(f"/console/admin/tokens?revoked={public_id}", status_code=303)


@router.post("/console/admin/tokens/revoke", response_class=HTMLResponse)
async def token_revoke(request: Request, staff: AdminUser) -> Response:
    form = await form_of(request)
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "account.expired")
        return await run_in_threadpool(_tokens_page, request, staff, status=403, notice=notice)
    return await run_in_threadpool(_revoke, request, staff, form.get("token", ""))
