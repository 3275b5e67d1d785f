"""The notification outbox for operators: what waits, what went, what is dead; retry."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from api.http.deps import CurrentUser, ReadUowDep, UowDep, reject_unknown_query
from api.http.schemas import MAX_ID
from notifications import admin
from notifications.admin import OutboxEntry

router = APIRouter(tags=["notifications"], dependencies=[Depends(reject_unknown_query)])


class OutboxPage(BaseModel):
    items: list[OutboxEntry]
    next_after: int | None


@router.get(
    "/outbox",
    response_model=OutboxPage,
    summary="Notification messages, e.g. the dead letters (secretary, admin)",
)
def list_outbox(
    user: CurrentUser,
    uow: ReadUowDep,
    state: Literal["pending", "sending", "done", "dead"] | None = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Last id of the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OutboxPage:
    items = admin.list_messages(uow=uow, viewer=user, state=state, after_id=after, limit=limit)
    return OutboxPage(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.post(
    "/outbox/{message_id}/retry",
    response_model=OutboxEntry,
    summary="Queue a dead message again with fresh attempts (secretary, admin)",
)
def retry_outbox(
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: CurrentUser, uow: UowDep
) -> OutboxEntry:
    return admin.retry_message(uow=uow, viewer=user, message_id=message_id)
