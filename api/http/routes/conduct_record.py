"""A person's conduct record before appointing them (严格选拔): POST /conduct-records.

A POST, not a GET: the student number and the purpose travel in the body, never in a URL
(access logs, proxies), and each lookup is written to the audit trail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.http.deps import CurrentUser, PolicyDep, UowDep, reject_unknown_query
from cases.conduct_record import ConductRecord, ConductRecordQuery, look_up_conduct_record

router = APIRouter(tags=["people"], dependencies=[Depends(reject_unknown_query)])
_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only the roles the policy names (conduct_record.roles) may look up."},
    422: {"description": "No person identifier or no purpose (or too long): `field` names it."},
}


@router.post(
    "/conduct-records",
    response_model=ConductRecord,
    summary="A person's conduct record: decided cases and dispositions in the policy period",
    responses=_ANSWERS,
)
def look_up(
    body: ConductRecordQuery, user: CurrentUser, uow: UowDep, policy: PolicyDep
) -> ConductRecord:
    return look_up_conduct_record(
        uow=uow, policy=policy, actor=user, person=body.person, purpose=body.purpose
    )
