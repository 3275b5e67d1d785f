"""People and tokens: who am I, create and revoke personal access tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from api.http import idempotency
from api.http.deps import CurrentUser, IdempotencyKey, ReadUowDep, UowDep, reject_unknown_query
from api.http.schemas import TokenCreated
from cases.people import directory as people
from cases.people.access import global_roles

router = APIRouter(tags=["people"], dependencies=[Depends(reject_unknown_query)])


class Me(BaseModel):
    handle: str
    name: str
    roles: list[str]


class NewToken(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = (
        Field(description="What the token is for, e.g. 'laptop'.")
    )


@router.get("/me", response_model=Me, summary="The person behind the token")
def me(user: CurrentUser, uow: ReadUowDep) -> Me:
    assert user.id is not None
    with uow:
        roles = global_roles(uow.session, user.id)
    return Me(handle=user.handle, name=user.name, roles=sorted(roles))


@router.post(
    "/admin/people/{handle}/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Create a personal access token (admin, or for yourself)",
)
def create_token(
    handle: str, body: NewToken, user: CurrentUser, uow: UowDep, key: IdempotencyKey = None
) -> JSONResponse:
    # A replay says which token was made but cannot show its secret: we never store it.
    return idempotency.call(
        db=uow.db,
        principal=f"person:{user.id}",
        key=key,
        print_=lambda: idempotency.fingerprint(
            "POST", f"/admin/people/{handle}/tokens", body.model_dump_json()
        ),
        service=lambda remember: people.create_token(
            uow=uow, handle=handle, name=body.name, by=user, remember=remember
        ),
        respond=lambda made: (201, TokenCreated(id=made[0], token=made[1]).model_dump(), {}),
        store=lambda b: {**b, "token": None},
    )


@router.delete("/admin/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: str, user: CurrentUser, uow: UowDep) -> Response:
    people.revoke(uow=uow, public_id=token_id, by=user)
    return Response(status_code=204)
