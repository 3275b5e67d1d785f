"""Annotated dependencies: the unit of work, the policy, the current user, If-Match."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.http import throttle
from cases.people.access import authenticate
from cases.procedure.errors import (
    InvalidInput,
    PreconditionRequired,
    Unauthenticated,
    VersionConflict,
)
from cases.procedure.policy import Policy
from cases.store.db import Database, UnitOfWork
from cases.store.models import Person
from config.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="Personal access token (qf_…)")


@dataclass
class AppState:
    settings: Settings
    policy: Policy
    db: Database
    secret: bytes
    # Background services that report how they are (shown by /readyz, never gating it).
    components: dict[str, Callable[[], str]] = field(default_factory=dict)


def app_state(request: Request) -> AppState:
    """The state built at start-up (api.http.app.create_app)."""
    state: AppState = request.app.state.qingfeng
    return state


async def get_state(request: Request) -> AppState:
    return app_state(request)


StateDep = Annotated[AppState, Depends(get_state)]


# These read the state from the request rather than through StateDep: every dependency
# node costs FastAPI a resolution pass on each request, and these are on every action.
async def get_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(app_state(request).db, write=True)


async def get_read_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(app_state(request).db, write=False)


async def get_policy(request: Request) -> Policy:
    return app_state(request).policy


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ReadUowDep = Annotated[UnitOfWork, Depends(get_read_uow)]
PolicyDep = Annotated[Policy, Depends(get_policy)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def optional_user(request: Request, state: StateDep, credentials: Credentials) -> Person | None:
    # Sync on purpose: it queries the database, so FastAPI runs it on the thread pool.
    # The dependencies that only compute are async: no thread hop for them.
    if credentials is None:
        return None
    with UnitOfWork(state.db, write=False) as uow:
        person = authenticate(uow.session, credentials.credentials)
        # Too old a token is a 401; over its per-minute limit, a 429 with Retry-After.
        throttle.token_admitted(request, uow.session, credentials.credentials)
        return person


async def current_user(user: Annotated[Person | None, Depends(optional_user)]) -> Person:
    """The authenticated caller: the one dependency that checks a token (401 without one)."""
    if user is None:
        raise Unauthenticated("send a personal access token as 'Authorization: Bearer qf_…'")
    return user


CurrentUser = Annotated[Person, Depends(current_user)]


OptionalUser = Annotated[Person | None, Depends(optional_user)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[!-~]+$",  # visible ASCII: an empty or blank key is refused, not ignored
        description="Repeat a POST safely: same key and body, one effect, same response.",
    ),
]


Reference = Annotated[
    str,
    Path(pattern=r"^QF-\d{4}-[A-Z0-9]{1,12}$", description="Case reference, QF-<year>-<number>"),
]


async def expected_version(
    reference: Reference,  # validated first: a malformed path is a 422 before If-Match is read
    if_match: Annotated[
        str | None, Header(alias="If-Match", description="The case's ETag from GET /cases/{ref}")
    ] = None,
) -> int:
    """The case version the client last saw, from If-Match (required on case actions).

    Strong comparison (RFC 9110 §13.1.1): only the exact ETag ``"<version>"`` matches; a weak
    ``W/"4"`` never does."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "send If-Match with the case's ETag (GET /cases/{reference}) so changes are not lost",
            field="If-Match",
        )
    match = _STRONG_ETAG.fullmatch(if_match.strip())
    if match is None:
        raise VersionConflict(
            f'If-Match {if_match!r} is not a (strong) ETag of this case, such as "4"',
            field="If-Match",
        )
    return int(match.group(1))


_STRONG_ETAG = re.compile(r'"(\d{1,18})"')


_KNOWN_QUERY: dict[str, frozenset[str]] = {}  # by route, built on its first request


def _known_query(route: APIRoute) -> frozenset[str]:
    if route.unique_id not in _KNOWN_QUERY:
        known, pending = set(), [route.dependant]
        while pending:  # the operation's parameters and those of its dependencies
            dependant = pending.pop()
            known |= {param.alias for param in dependant.query_params}
            pending.extend(dependant.dependencies)
        _KNOWN_QUERY[route.unique_id] = frozenset(known)
    return _KNOWN_QUERY[route.unique_id]


def reject_unknown_query(request: Request) -> None:
    """A query parameter the operation does not define is a 422, not silently ignored."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _known_query(route))
    if unknown:
        known = ", ".join(sorted(_known_query(route))) or "none"
        raise InvalidInput(
            f"unknown query parameter {unknown[0]!r}; this operation takes: {known}",
            field=unknown[0],
        )


IfMatch = Annotated[int, Depends(expected_version)]


def etag(version: int) -> str:
    return f'"{version}"'
