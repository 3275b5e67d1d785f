"""GET /cases/{reference}/due-date: why the case's due time is when it is, day by day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.http.deps import CurrentUser, PolicyDep, ReadUowDep, reject_unknown_query
from cases.due_dates import DueDateExplanation, explain_due_date

router = APIRouter(prefix="/cases", tags=["cases"], dependencies=[Depends(reject_unknown_query)])
Reference = Annotated[
    str,
    Path(pattern=r"^QF-\d{4}-[A-Z0-9]{1,12}$", description="Case reference, QF-<year>-<number>"),
]


@router.get(
    "/{reference}/due-date",
    response_model=DueDateExplanation,
    summary="The due time explained: each day from the stage's start counted or skipped, "
    "with its reason (weekend, holiday, 调休上班, closure, provisional year), and its ladder",
)
def due_date(
    reference: Reference, user: CurrentUser, uow: ReadUowDep, policy: PolicyDep
) -> DueDateExplanation:
    return explain_due_date(uow=uow, policy=policy, reference=reference, viewer=user)
