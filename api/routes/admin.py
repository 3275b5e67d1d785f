"""People and tokens: who am I, create and revoke personal access tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlmodel import select

from api import idempotency
from api.deps import CurrentUser, IdempotencyKey, ReadUowDep, UowDep, reject_unknown_query
from api.schemas import TokenCreated
from cases import people
from cases.access import global_roles, require_admin
from cases.models import ApiToken

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
    def handler() -> idempotency.Outcome:
        with uow:
            if handle != user.handle:
                require_admin(uow.session, user)
            public_id, token = people.create_token(uow=uow, handle=handle, name=body.name)
            uow.commit()
        return 201, TokenCreated(id=public_id, token=token).model_dump(), {}

    # A replay says which token was made but cannot show its secret: we never store it.
    return idempotency.run(
        uow=uow,
        principal=lambda _: f"person:{user.id}",
        key=key,
        handler=handler,
        print_=lambda: idempotency.fingerprint(
            "POST", f"/admin/people/{handle}/tokens", body.model_dump_json()
        ),
        store=lambda b: {**b, "token": None},
        restore=None,
    )


@router.delete("/admin/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: str, user: CurrentUser, uow: UowDep) -> Response:
    with uow:
        owner = uow.session.exec(
            select(ApiToken.person_id).where(ApiToken.public_id == token_id)
        ).first()
        if owner != user.id:
            require_admin(uow.session, user)
        people.revoke(uow=uow, public_id=token_id)
        uow.commit()
    return Response(status_code=204)
