"""A closed case's file (案卷) as a signed zip: for the roles policy allows; audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.http.deps import CurrentUser, StateDep, UowDep, reject_unknown_query
from api.http.routes.cases import Reference
from cases.papers.casefile import export_casefile

router = APIRouter(prefix="/cases", tags=["cases"], dependencies=[Depends(reject_unknown_query)])


@router.get(
    "/{reference}/casefile",
    response_class=Response,
    summary="Export a closed case's file: PDF, evidence, audit segment, signed manifest",
    responses={
        200: {"content": {"application/zip": {}}},
        403: {"description": "Your roles may not export case files (policy papers.casefile_roles)"},
        409: {"description": "The case is not closed"},
    },
)
def casefile(reference: Reference, user: CurrentUser, uow: UowDep, state: StateDep) -> Response:
    archive = export_casefile(
        uow=uow,
        policy=state.policy,
        actor=user,
        reference=reference,
        data_dir=state.settings.data_dir,
        committee=state.settings.committee_name,
    )
    return Response(
        archive,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{reference}-casefile.zip"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
