"""People: the list with search, adding a person, a person's page to correct contact
details (``update_person``, as ``qingfeng users update`` and PATCH /people/{handle}),
grant or revoke a role, and deactivate."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.http.console.admin_base import (
    AdminUser,
    form_of,
    not_found,
    problem_field,
    problem_text,
    required,
)
from api.http.console.render import page, text
from api.http.deps import app_state
from api.http.pages.render import form_token_ok, language_of
from cases.people.contacts import NAME_MAX, ContactChanges, update_person
from cases.people.directory import add_person, unit_choices
from cases.people.grants import GRANTABLE, deactivate_person, grant_role, revoke_role
from cases.people.roster import list_people, person_entry
from cases.procedure.errors import DomainError, InvalidInput, NotFound
from cases.procedure.labels import LANGUAGES
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork
from cases.store.models import Person

router = APIRouter(include_in_schema=False)
HANDLE_MAX = 64
CONTACT_FIELDS = ("name", "email", "phone", "language")
DONE = frozenset({"added", "updated", "granted", "revoked", "deactivated"})


def _read(request: Request) -> UnitOfWork:
    return UnitOfWork(app_state(request).db, write=False)


def _choices(request: Request) -> dict[str, Any]:
    """The options of the unit, role and language selects, in the page's language."""
    english = language_of(request) == "en"
    units = [
        (u.code, "\u3000" * u.depth + f"{u.name_en if english else u.name_zh} ({u.code})")
        for u in unit_choices(uow=_read(request))
    ]
    roles = [(r.value, text(request, f"admin.role.{r.value}")) for r in GRANTABLE]
    languages = [(code, text(request, f"admin.language.{code}")) for code in LANGUAGES]
    return {"unit_options": units, "role_options": roles, "language_options": languages}


def _people_page(
    request: Request, staff: Person, *, q: str = "", status: int = 200, **context: Any
) -> HTMLResponse:
    people = list_people(uow=_read(request), viewer=staff, search=q)
    return page(
        request,
        "admin_people.html",
        staff=staff,
        status_code=status,
        people=people,
        q=q,
        **_choices(request),
        **context,
    )


@router.get("/console/admin/people", response_class=HTMLResponse)
def people(request: Request, staff: AdminUser, q: str = "", done: str = "") -> HTMLResponse:
    return _people_page(request, staff, q=q[:100], done=done if done in DONE else "")


def _add(request: Request, staff: Person, form: dict[str, str]) -> Response:
    handle, unit, role = (form.get(k, "").strip() for k in ("handle", "unit", "role"))
    errors = required(request, form, {"handle": HANDLE_MAX, "name": NAME_MAX})
    if role and role not in {r.value for r in GRANTABLE}:
        errors["role"] = text(request, "field.invalid")
    elif role and not unit:
        errors["unit"] = text(request, "admin.people.role_needs_unit")
    try:
        if errors:
            return _people_page(request, staff, status=422, errors=errors, values=form)
        given = ContactChanges(
            name=form.get("name"), email=form.get("email"), language=form.get("language")
        ).given()
        add_person(
            uow=UnitOfWork(app_state(request).db),
            handle=handle,
            name=given["name"],
            unit=unit or None,
            roles=[(Role(role), unit)] if role else [],
            email=given.get("email") or None,
            language=given.get("language") or "zh-CN",
        )
    except DomainError as exc:
        fields = ("handle", "name", "email", "language", "unit", "role")
        errors = {problem_field(exc, fields, "handle"): problem_text(request, exc)}
        return _people_page(request, staff, status=422, errors=errors, values=form)
    return RedirectResponse(_person_url(handle, "added"), status_code=303)


@router.post("/console/admin/people", response_class=HTMLResponse)
async def people_add(request: Request, staff: AdminUser) -> Response:
    form = await form_of(request)
    if not form_token_ok(request, form.get("form_token")):
        notice = text(request, "account.expired")
        return await run_in_threadpool(
            _people_page, request, staff, status=403, notice=notice, values=form
        )
    return await run_in_threadpool(_add, request, staff, form)


def _person_url(handle: str, done: str) -> str:
    return f"/console/admin/people/{quote(handle, safe='')}?done={done}"


def _person_page(
    request: Request, staff: Person, handle: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    try:
        person = person_entry(uow=_read(request), viewer=staff, handle=handle)
    except NotFound:
        raise not_found() from None
    values = context.pop("values", None) or {f: getattr(person, f) or "" for f in CONTACT_FIELDS}
    return page(
        request,
        "admin_person.html",
        staff=staff,
        status_code=status,
        person=person,
        values=values,
        **_choices(request),
        **context,
    )


@router.get("/console/admin/people/{handle}", response_class=HTMLResponse)
def person(request: Request, staff: AdminUser, handle: str, done: str = "") -> HTMLResponse:
    return _person_page(request, staff, handle, done=done if done in DONE else "")


def _act(
    request: Request, staff: Person, handle: str, form: dict[str, str], action: str
) -> Response:
    """Carry out ``action`` on ``handle``; its error beside the field of the form it came from."""
    db = app_state(request).db
    try:
        if action == "updated":
            changes = ContactChanges(**{f: form.get(f, "") for f in CONTACT_FIELDS})
            update_person(uow=UnitOfWork(db), by=staff, handle=handle, changes=changes)
        elif action in ("granted", "revoked"):
            role, unit = form.get("role", ""), form.get("unit", "")
            if role not in {r.value for r in GRANTABLE}:
                raise InvalidInput("not a role an admin grants", field="role")
            change = grant_role if action == "granted" else revoke_role
            change(uow=UnitOfWork(db), by=staff, handle=handle, role=Role(role), unit=unit)
        else:
            deactivate_person(uow=UnitOfWork(db), by=staff, handle=handle)
    except NotFound as exc:
        if exc.field == "handle":  # no such person (update_person's answer): the page's 404
            raise not_found() from None
        return _person_failed(request, staff, handle, form, action, exc)
    except DomainError as exc:
        return _person_failed(request, staff, handle, form, action, exc)
    return RedirectResponse(_person_url(handle, action), status_code=303)


def _person_failed(
    request: Request,
    staff: Person,
    handle: str,
    form: dict[str, str],
    action: str,
    exc: DomainError,
) -> HTMLResponse:
    own = {"updated": CONTACT_FIELDS, "granted": ("role", "unit"), "revoked": ("revoke",)}
    fields = own.get(action, ("deactivate",))
    field = problem_field(exc, fields, fields[0] if action != "updated" else "name")
    errors = {field: problem_text(request, exc)}
    kept = {"values": form} if action == "updated" else {"grant": form}
    return _person_page(request, staff, handle, status=422, errors=errors, **kept)


def _post(action: str) -> Any:
    async def submit(request: Request, staff: AdminUser, handle: str) -> Response:
        form = await form_of(request)
        if not form_token_ok(request, form.get("form_token")):
            notice = text(request, "account.expired")
            return await run_in_threadpool(
                _person_page, request, staff, handle, status=403, notice=notice
            )
        return await run_in_threadpool(_act, request, staff, handle, form, action)

    submit.__name__ = f"person_{action}"
    return submit


for _path, _action in (
    ("contacts", "updated"),
    ("roles", "granted"),
    ("roles/revoke", "revoked"),
    ("deactivate", "deactivated"),
):
    router.add_api_route(
        f"/console/admin/people/{{handle}}/{_path}",
        _post(_action),
        methods=["POST"],
        response_class=HTMLResponse,
    )
