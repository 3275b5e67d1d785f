"""What the admin pages share: who may open them (admins; the outbox: operators), anyone
else a 404 like a page that does not exist; the form; a domain error as a message beside
its field, in the page's language."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.http.console.render import text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from cases.people.access import global_roles, require_admin
from cases.procedure.errors import DomainError, Forbidden
from cases.store.db import Database, UnitOfWork
from cases.store.models import Person
from notifications.admin import OPERATORS

# (field, what the service's reason says, the text shown): the first that matches.
_REASONS = (
    ("handle", "already exists", "admin.err.handle_taken"),
    ("handle", "deactivate yourself", "admin.err.self"),
    ("handle", "unknown person", "admin.err.unknown_person"),
    ("other", "unknown person", "admin.err.unknown_person"),
    ("other", "related", "admin.err.related"),
    ("role", "already holds", "admin.err.role_held"),
    ("role", "own admin", "admin.err.own_admin"),
    ("role", "holds no", "admin.err.role_not_held"),
    ("role", "unknown unit", "admin.err.unknown_unit"),
    ("unit", "unknown unit", "admin.err.unknown_unit"),
    ("email", "", "admin.err.email"),
    ("phone", "", "admin.err.phone"),
    ("name", "", "admin.err.name"),
    ("language", "", "admin.err.language"),
)


def not_found() -> HTTPException:
    """The answer to a page outside one's scope: the same 404 as a page that does not exist."""
    return HTTPException(status_code=404, detail="Not Found")


def is_admin(db: Database, person: Person) -> bool:
    """Whether ``person`` holds the admin role (access.require_admin)."""
    with UnitOfWork(db, write=False) as uow:
        try:
            require_admin(uow.session, person)
        except Forbidden:
            return False
        return True


def _is_operator(db: Database, person: Person) -> bool:
    with UnitOfWork(db, write=False) as uow:
        return bool(global_roles(uow.session, person.id or 0) & OPERATORS)


async def admin_user(request: Request, staff: StaffUser) -> Person:
    """The signed-in admin; anyone else: 404."""
    if not await run_in_threadpool(is_admin, app_state(request).db, staff):
        raise not_found()
    return staff


async def operator_user(request: Request, staff: StaffUser) -> Person:
    """The signed-in operator (notifications/admin.py's OPERATORS); anyone else: 404."""
    if not await run_in_threadpool(_is_operator, app_state(request).db, staff):
        raise not_found()
    return staff


AdminUser = Annotated[Person, Depends(admin_user)]
OperatorUser = Annotated[Person, Depends(operator_user)]


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's text fields."""
    form = await request.form()
    return {name: str(value) for name, value in form.items() if isinstance(value, str)}


def problem_text(request: Request, exc: DomainError) -> str:
    """``exc`` in the page's language (the service's own words when none is known)."""
    for field, reason, key in _REASONS:
        if exc.field == field and reason in exc.detail:
            return text(request, key)
    return text(request, "admin.err.other", detail=exc.detail)


def problem_field(exc: DomainError, fields: tuple[str, ...], default: str) -> str:
    """The form field ``exc`` is about: its own if the form has it, else ``default``."""
    return exc.field if exc.field in fields else default


def required(request: Request, form: dict[str, str], limits: dict[str, int]) -> dict[str, str]:
    """Messages for the fields of ``limits`` left empty or longer than their limit."""
    errors = {}
    for name, limit in limits.items():
        value = form.get(name, "").strip()
        if not value or len(value) > limit:
            key = "field.missing" if not value else "field.too_long"
            errors[name] = text(request, key, limit=limit)
    return errors
