"""The unit tree, indented, and its import from the same CSV or YAML file that
``qingfeng units import`` takes: all or nothing, an error naming the line."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.http.console.admin_base import AdminUser
from api.http.console.render import page, text
from api.http.deps import app_state
from api.http.pages.render import form_token_ok
from cases.people.directory import import_units, unit_choices
from cases.people.unit_files import UnitFileError, read_unit_file
from cases.procedure.errors import InvalidInput
from cases.store.db import UnitOfWork
from cases.store.models import Person

router = APIRouter(include_in_schema=False)
MAX_FILE = 1024 * 1024  # an org tree of thousands of units is far smaller


def _units_page(
    request: Request, staff: Person, *, status: int = 200, **context: Any
) -> HTMLResponse:
    units = unit_choices(uow=UnitOfWork(app_state(request).db, write=False))
    return page(
        request, "admin_units.html", staff=staff, status_code=status, units=units, **context
    )


@router.get("/console/admin/units", response_class=HTMLResponse)
def units(
    request: Request, staff: AdminUser, read: int | None = None, created: int | None = None
) -> HTMLResponse:
    return _units_page(request, staff, read=read, created=created)


def _import(request: Request, staff: Person, data: bytes, name: str) -> Response:
    try:
        if len(data) > MAX_FILE:
            raise UnitFileError(f"{name}: larger than {MAX_FILE // 1024} KiB")
        specs = read_unit_file(data, name=name)
        if not specs:
            raise UnitFileError(f"{name}: no units in the file")
        made = import_units(uow=UnitOfWork(app_state(request).db), specs=specs)
    except (UnitFileError, InvalidInput) as exc:
        detail = exc.detail if isinstance(exc, InvalidInput) else str(exc)
        errors = {"file": text(request, "admin.units.failed", detail=detail)}
        return _units_page(request, staff, status=422, errors=errors)
    return RedirectResponse(
        f"/console/admin/units?read={len(specs)}&created={made}", status_code=303
    )


@router.post("/console/admin/units/import", response_class=HTMLResponse)
async def units_import(request: Request, staff: AdminUser) -> Response:
    form = await request.form()
    sent = form.get("form_token")
    if not form_token_ok(request, sent if isinstance(sent, str) else None):
        notice = text(request, "account.expired")
        return await run_in_threadpool(_units_page, request, staff, status=403, notice=notice)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors = {"file": text(request, "admin.units.no_file")}
        return await run_in_threadpool(_units_page, request, staff, status=422, errors=errors)
    data = await upload.read(MAX_FILE + 1)
    name = PurePath(upload.filename.replace("\\", "/")).name
    return await run_in_threadpool(_import, request, staff, data, name)
