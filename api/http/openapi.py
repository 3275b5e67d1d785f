"""The OpenAPI document told truthfully: each operation's error answers, from its route.

FastAPI documents a success and a 422 ``HTTPValidationError`` that this app never sends
(api.http.problems answers every error as problem+json). ``install`` replaces
``app.openapi`` with a builder that walks each route's dependency tree (``route.dependant``)
and documents what those dependencies and the app's handlers can answer:

- ``current_user`` (a bearer token required): 401 with ``WWW-Authenticate``, 403;
  ``optional_user`` alone: 401 for an unknown token, and the token becomes optional;
- a path parameter: 404 (nothing of that name you may see);
- any parameter, a body, or ``reject_unknown_query``: 422 as the validation handler sends it;
- a body: 400 (unreadable), 413 (api.http.body_limit); a file: 413 and 415 (the evidence store);
- ``expected_version`` (a case action): If-Match required, 409, 412, 428, and the ETag.

``EXTRA`` and ``NEVER`` hold what cannot be derived; ``uncovered`` names every route with a
dependency the rules do not know (tests/test_openapi_truth.py fails on it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.params import File
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from starlette.routing import BaseRoute

from api.http.deps import (
    current_user,
    expected_version,
    get_policy,
    get_read_uow,
    get_state,
    get_uow,
    optional_user,
    reject_unknown_query,
)
from api.http.problems import PROBLEM

try:  # FastAPI 0.150 keeps included routers whole: their routes are seen through contexts
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover  (earlier, include_router copied each route)

    def iter_route_contexts(routes: Any) -> Iterator[Any]:  # type: ignore[misc]
        return iter(routes)


SCHEMAS = "#/components/schemas/"
Route = Any  # an APIRoute as included (fastapi.routing.RouteContext): path, dependant, ...
Operation = dict[str, Any]
Key = tuple[str, str]  # method, path


@dataclass(frozen=True)
class Answer:
    """An error answer an operation can send: its status, why, and headers always sent."""

    status: int
    description: str
    headers: dict[str, Any] = field(default_factory=dict)


def _header(description: str, **schema: Any) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "string", **schema}}


UNAUTHENTICATED = Answer(
    401,
    "No token, or one unknown, revoked, or of an inactive person.",
    {"WWW-Authenticate": _header("How to authenticate.", const="Bearer")},
)
BAD_TOKEN = Answer(
    401, "A token was sent that is unknown or revoked (send none instead).", UNAUTHENTICATED.headers
)
FORBIDDEN = Answer(403, "Your roles do not allow this (or separation of duties forbids it).")
NOT_FOUND = Answer(404, "No such thing that you may see (one answer for both).")
NOT_NOW = Answer(
    409, "Not in this stage, a guard failed (the detail says which), or a conflict of interest."
)
UNREADABLE = Answer(400, "The body could not be read (not UTF-8, or not the declared type).")
TOO_LARGE = Answer(413, "The body is too large.")
UNSUPPORTED = Answer(415, "Not a file type the evidence store takes (told by its content).")
INVALID = Answer(
    422,
    "Invalid input: `field` names the first field at fault; for request validation "
    "`errors` lists each field with its reason. Also an unknown query parameter.",
)
VERSION_CONFLICT = Answer(412, "If-Match is not the case's current (strong) ETag.")
PRECONDITION_REQUIRED = Answer(428, "If-Match is missing: send the case's ETag.")
TOO_MANY = Answer(
    429, "Too many requests: wait Retry-After seconds.", {"Retry-After": _header("Seconds.")}
)
ETAG = {"ETag": _header('The case\'s version as a strong ETag, e.g. "4".', pattern=r'^"\d+"$')}

# What each dependency can answer, in order of precedence (current_user includes
# optional_user: its 401 description wins).
BY_DEPENDENCY: dict[Callable[..., Any], tuple[Answer, ...]] = {
    current_user: (UNAUTHENTICATED, FORBIDDEN),
    optional_user: (BAD_TOKEN,),
    expected_version: (NOT_NOW, VERSION_CONFLICT, PRECONDITION_REQUIRED),
    reject_unknown_query: (INVALID,),
}
# Dependencies that answer nothing of their own (they hand over state).
NEUTRAL: frozenset[Callable[..., Any]] = frozenset({get_state, get_uow, get_read_uow, get_policy})

# By hand, what the dependency tree cannot tell: answers a service sends on its own ...
EXTRA: dict[Key, tuple[Answer, ...]] = {
    ("GET", "/cases/{reference}/decision-notice"): (
        Answer(409, "No decision stands yet (not-now)."),
    ),
    ("POST", "/reports"): (
        Answer(
            409,
            "Another anonymous caller already sent this Idempotency-Key and body "
            "(idempotency-key-taken); its answer replays only with its qf_client cookie.",
        ),
    ),
}
# ... and answers a dependency could give that the operation never does.
NEVER: dict[Key, frozenset[int]] = {
    ("GET", "/me"): frozenset({403}),
    ("GET", "/cases"): frozenset({403}),  # a list shows what you may see, never refuses
}
# Success headers the route sets itself (routes with If-Match get the ETag by rule).
SUCCESS_HEADERS: dict[Key, dict[str, Any]] = {
    ("GET", "/cases/{reference}"): ETAG,
    ("POST", "/reports"): {**ETAG, "Location": _header("The case: /cases/{reference}.")},
}
# Which answers are problem documents (a declared 503 from /readyz is not).
PROBLEM_STATUSES = frozenset({400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 429})
PROBLEM_HEADERS = {401: UNAUTHENTICATED.headers, 429: TOO_MANY.headers}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457), as api.http.problems sends it. Domain errors may add "
    "fields of their own (e.g. `limit` and `retry_after` on 429).",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<kind>, e.g. /problems/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What is wrong, for a person."},
        "instance": {"type": "string", "description": "The request's path."},
        "field": {"type": "string", "description": "The field at fault, when one is."},
        "errors": {
            "type": "array",
            "description": "Request validation only: every field at fault, with its reason.",
            "items": {"$ref": f"{SCHEMAS}ProblemField"},
        },
    },
    "additionalProperties": True,
}
PROBLEM_FIELD_SCHEMA: dict[str, Any] = {
    "title": "ProblemField",
    "type": "object",
    "required": ["field", "reason"],
    "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
}


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the truthful document (told once for each document
    FastAPI builds: again only when routes are added)."""
    plain = app.openapi
    told: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        spec = plain()  # FastAPI's cached document, rebuilt when the routes change
        if not told or spec is not told[0]:
            told[:] = [document(app, spec)]
        return told[0]

    app.openapi = openapi  # type: ignore[method-assign]


def document(app: FastAPI, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (FastAPI's document for ``app``) with every operation's answers told."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemField"] = PROBLEM_FIELD_SCHEMA
    for route, method in operations(app):
        operation = spec["paths"][route.path_format][method.lower()]
        _tell(operation, route, method)
    _link(spec)
    text = json.dumps(spec)
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"{SCHEMAS}{unused}"' not in text:
            schemas.pop(unused, None)
    return spec


def operations(app: FastAPI) -> Iterator[tuple[Route, str]]:
    """Every documented (route, method), with its router's dependencies and prefix."""
    routes: list[BaseRoute] = app.routes
    for route in iter_route_contexts(routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                yield route, method


def _tree(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _tree(sub)


def _calls(route: Route) -> set[Callable[..., Any]]:
    return {d.call for d in _tree(route.dependant) if d.call is not None} - {route.endpoint}


def _uploads(route: Route) -> bool:
    """A file in the body: a File parameter, or a multipart body the route documents."""
    files = any(
        isinstance(p.field_info, File) for d in _tree(route.dependant) for p in d.body_params
    )
    content = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
    return files or "multipart/form-data" in content


def answers(route: Route, method: str) -> dict[int, Answer]:
    """What the operation can answer besides success, derived from its route."""
    found: dict[int, Answer] = {}
    calls = _calls(route)
    derived = [a for call, given in BY_DEPENDENCY.items() if call in calls for a in given]
    every = list(_tree(route.dependant))
    if any(d.path_params for d in every):
        derived.append(NOT_FOUND)
    kinds = ("path_params", "query_params", "header_params", "cookie_params", "body_params")
    if any(getattr(d, kind) for d in every for kind in kinds):
        derived.append(INVALID)
    if any(d.body_params for d in every) or _uploads(route):
        derived += [UNREADABLE, TOO_LARGE]
    if _uploads(route):
        derived.append(UNSUPPORTED)
    for answer in (*derived, *EXTRA.get((method, route.path_format), ())):
        found.setdefault(answer.status, answer)
    for status in NEVER.get((method, route.path_format), ()):
        found.pop(status, None)
    return dict(sorted(found.items()))


def _tell(operation: Operation, route: Route, method: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for code, answer in answers(route, method).items():
        told = responses.setdefault(str(code), {"description": answer.description})
        if told.get("description") == "Validation Error":
            told["description"] = answer.description
        if answer.headers:
            told.setdefault("headers", {}).update(answer.headers)
    for status, told in responses.items():
        if status.isdigit() and int(status) in PROBLEM_STATUSES:
            told["content"] = {PROBLEM: {"schema": {"$ref": f"{SCHEMAS}Problem"}}}
            if int(status) in PROBLEM_HEADERS:
                told.setdefault("headers", {}).update(PROBLEM_HEADERS[int(status)])
    calls = _calls(route)
    if expected_version in calls:
        _require_if_match(operation)
    success = (
        ETAG if expected_version in calls else SUCCESS_HEADERS.get((method, route.path_format))
    )
    if success:
        ok = next(s for s in sorted(responses) if s.startswith("2"))
        responses[ok].setdefault("headers", {}).update(success)
    if optional_user in calls and current_user not in calls:
        operation["security"] = [{}, *operation.get("security", [])]


def _require_if_match(operation: Operation) -> None:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"] == "If-Match":
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "description": parameter["description"]}


def _link(spec: dict[str, Any]) -> None:
    """Links from where a case's reference (and ETag) is answered to what takes them: the
    filed report to each operation on its case, the case file to each action."""
    takers = [
        (op, params)
        for path, item in spec["paths"].items()
        if "{reference}" in path
        for op in item.values()
        for params in [[p["name"] for p in op.get("parameters", []) if p["in"] != "query"]]
    ]
    filed = spec["paths"]["/reports"]["post"]["responses"]["201"]
    read = spec["paths"]["/cases/{reference}"]["get"]["responses"]["200"]
    for op, params in takers:
        versioned = "If-Match" in params
        link = {"operationId": op["operationId"], "parameters": {}}
        link["parameters"]["path.reference"] = "$response.body#/reference"
        if versioned:
            link["parameters"]["header.If-Match"] = "$response.header.ETag"
        filed.setdefault("links", {})[op["operationId"]] = link
        if versioned:
            by_path = {**link, "parameters": {**link["parameters"]}}
            by_path["parameters"]["path.reference"] = "$request.path.reference"
            read.setdefault("links", {})[op["operationId"]] = by_path


def uncovered(app: FastAPI) -> list[str]:
    """Routes the rules do not cover: a dependency they do not know, or a hand entry
    naming no route (the rules must learn what a new dependency can answer)."""
    known = set(BY_DEPENDENCY) | NEUTRAL
    gaps = []
    keys = set()
    for route, method in operations(app):
        keys.add((method, route.path_format))
        for call in sorted(_calls(route) - known, key=repr):
            if not isinstance(call, SecurityBase):
                gaps.append(f"{method} {route.path_format}: depends on {call!r}")
    for key in (*EXTRA, *NEVER, *SUCCESS_HEADERS):
        if key not in keys:
            gaps.append(f"{key[0]} {key[1]}: a hand entry for no route")
    return gaps
