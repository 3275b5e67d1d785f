"""A person's contact details: staff add or correct them (PATCH /people/{handle})."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import CurrentUser, UowDep, reject_unknown_query
from cases.people.contacts import EMAIL_MAX, ContactChanges, update_person
from cases.procedure.text import HANDLE_PATTERN, HANDLE_RULE, Name

router = APIRouter(tags=["people"], dependencies=[Depends(reject_unknown_query)])


class PersonChanges(BaseModel):
    """Only the fields sent change; "" clears email or phone."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Annotated[str | None, Field(max_length=EMAIL_MAX)] = None
    phone: Annotated[str | None, Field(max_length=40)] = None
    language: Annotated[str | None, Field(description="zh-CN or en", max_length=8)] = None


class PersonContacts(BaseModel):
    handle: str
    name: str
    email: str | None
    phone: str | None
    language: str


@router.patch(
    "/people/{handle}",
    response_model=PersonContacts,
    summary="Add or correct a person's contact details (admin; staff for their cases' people)",
)
def update_contacts(
    handle: Annotated[str, Path(pattern=HANDLE_PATTERN, description=HANDLE_RULE)],
    body: PersonChanges,
    user: CurrentUser,
    uow: UowDep,
) -> PersonContacts:
    person = update_person(
        uow=uow, by=user, handle=handle, changes=ContactChanges(**body.model_dump())
    )
    return PersonContacts.model_validate(person, from_attributes=True)
