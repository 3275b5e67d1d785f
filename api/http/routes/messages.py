"""The case team's side of the messages with a case's reporter: read them, answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.http.deps import CurrentUser, PolicyDep, ReadUowDep, UowDep, reject_unknown_query
from api.http.routes.cases import Reference
from cases import messages

router = APIRouter(prefix="/cases", tags=["cases"], dependencies=[Depends(reject_unknown_query)])
_WHO: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only the case's investigators and the secretary correspond."},
    404: {"description": "No such case that you can see."},
}


class CaseMessageOut(BaseModel):
    id: int
    from_reporter: bool = Field(description="From the reporter, or from the case team.")
    author_id: int | None = Field(description="The team member who wrote (none: the reporter).")
    body: str
    sent_at: datetime


class MessageSent(BaseModel):
    id: int = Field(description="The new message's number.")


@router.get(
    "/{reference}/messages",
    response_model=list[CaseMessageOut],
    summary="The messages with the case's reporter, oldest first",
    responses=_WHO,
)
def list_messages(reference: Reference, user: CurrentUser, uow: ReadUowDep) -> list[CaseMessageOut]:
    found = messages.team_messages(uow=uow, reference=reference, viewer=user)
    return [CaseMessageOut.model_validate(m, from_attributes=True) for m in found]


@router.post(
    "/{reference}/messages",
    status_code=201,
    response_model=MessageSent,
    summary="Write to the case's reporter (they read it with the receipt code)",
    responses=_WHO,
)
def answer_reporter(
    reference: Reference,
    sent: messages.NewMessage,
    user: CurrentUser,
    uow: UowDep,
    policy: PolicyDep,
) -> MessageSent:
    number = messages.answer_reporter(
        uow=uow, policy=policy, reference=reference, author=user, message=sent
    )
    return MessageSent(id=number)
