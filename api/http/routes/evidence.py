"""Evidence files: staff who may read the case download one; each download is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api.http.deps import CurrentUser, StateDep, UowDep, reject_unknown_query
from api.http.routes.cases import Reference
from api.http.schemas import MAX_ID
from cases.evidence_files import evidence_file, evidence_store

router = APIRouter(prefix="/cases", tags=["cases"], dependencies=[Depends(reject_unknown_query)])


@router.get(
    "/{reference}/evidence/{evidence_id}/file",
    response_class=FileResponse,
    summary="Download an item of evidence's stored file (staff who may read the case)",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(
    reference: Reference,
    evidence_id: Annotated[
        int, PathParam(ge=1, le=MAX_ID, description="The item's id (its audit event's)")
    ],
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
) -> FileResponse:
    found = evidence_file(
        uow=uow,
        store=evidence_store(state.settings.data_dir),
        reference=reference,
        evidence_id=evidence_id,
        viewer=user,
    )
    return FileResponse(
        found.path,
        media_type=found.media_type,
        filename=found.filename,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
