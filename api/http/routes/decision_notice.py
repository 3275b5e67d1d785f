"""The decision notice (处理决定书) of a case as a PDF, for staff who may read the case."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from api.http.deps import CurrentUser, StateDep, UowDep, reject_unknown_query
from api.http.routes.cases import Reference
from cases.papers.decision_notice import decision_notice

router = APIRouter(prefix="/cases", tags=["cases"], dependencies=[Depends(reject_unknown_query)])


@router.get(
    "/{reference}/decision-notice",
    response_class=Response,
    summary="The case's decision notice in force, as a PDF (staff who may read the case)",
    description="The notice issued when the decision came to stand (处理决定书), or the "
    "review decision (申诉复查决定书) when an appeal changed it. 404 outside the caller's "
    "scope; 409 (not-now) while no decision stands. Each download is audited.",
    responses={200: {"content": {"application/pdf": {}}}},
)
def download(reference: Reference, user: CurrentUser, uow: UowDep, state: StateDep) -> Response:
    paper = decision_notice(
        uow=uow, policy=state.policy, reference=reference, viewer=user,
        committee=state.settings.committee_name,
    )  # fmt: skip
    return Response(
        paper.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{paper.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
