"""The case page's companions: an item of evidence's file (the audited
``evidence_file``, as GET /cases/{ref}/evidence/{id}/file, with the session's person)
and the due date explained day by day (``explain_due_date``, as GET /cases/{ref}/due-date)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.http.console.render import page
from api.http.console.session import StaffUser
from api.http.deps import app_state
from cases.due_dates import explain_due_date
from cases.evidence_files import evidence_file, evidence_store
from cases.procedure.errors import NotFound
from cases.store.db import UnitOfWork

router = APIRouter(include_in_schema=False)


@router.get("/console/cases/{reference}/evidence/{evidence_id}/file")
async def evidence_download(
    request: Request, staff: StaffUser, reference: str, evidence_id: int
) -> Response:
    state = app_state(request)
    try:
        found = await run_in_threadpool(
            evidence_file,
            uow=UnitOfWork(state.db),
            store=evidence_store(state.settings.data_dir),
            reference=reference,
            evidence_id=evidence_id,
            viewer=staff,
        )
    except NotFound:
        return page(request, "case_missing.html", staff=staff, status_code=404)
    return FileResponse(
        found.path,
        media_type=found.media_type,
        filename=found.filename,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/console/cases/{reference}/due-date", response_class=HTMLResponse)
async def due_date(request: Request, staff: StaffUser, reference: str) -> HTMLResponse:
    state = app_state(request)
    try:
        explained = await run_in_threadpool(
            explain_due_date,
            uow=UnitOfWork(state.db, write=False),
            policy=state.policy,
            reference=reference,
            viewer=staff,
        )
    except NotFound:
        return page(request, "case_missing.html", staff=staff, status_code=404)
    return page(request, "case_due.html", staff=staff, explained=explained)
