"""The case page's decision notice (处理决定书): the audited ``decision_notice`` PDF, as
GET /cases/{ref}/decision-notice, with the console session's person."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.http.console.render import page
from api.http.console.session import StaffUser
from api.http.deps import app_state
from cases.papers.decision_notice import decision_notice
from cases.procedure.errors import NotFound, NotNow
from cases.store.db import UnitOfWork

router = APIRouter(include_in_schema=False)


@router.get("/console/cases/{reference}/decision-notice")
async def notice_download(request: Request, staff: StaffUser, reference: str) -> Response:
    state = app_state(request)
    try:
        paper = await run_in_threadpool(
            decision_notice,
            uow=UnitOfWork(state.db),
            policy=state.policy,
            reference=reference,
            viewer=staff,
            committee=state.settings.committee_name,
        )
    except (NotFound, NotNow):  # out of scope, or no decision stands: nothing to give
        return page(request, "case_missing.html", staff=staff, status_code=404)
    return Response(
        paper.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{paper.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
