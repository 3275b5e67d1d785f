"""Every error as application/problem+json (RFC 9457): type, title, status, detail, field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.http import throttle
from cases.procedure import errors

PROBLEM = "application/problem+json"

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.TooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.InvalidInput: 422,
    errors.Unauthenticated: 401,
    errors.SeparationOfDuties: 403,
    errors.Forbidden: 403,
    errors.ConflictOfInterest: 409,
    errors.IllegalAction: 409,
    errors.NotNow: 409,
    errors.GuardFailed: 409,
    errors.VersionConflict: 412,
    errors.PreconditionRequired: 428,
    errors.IdempotencyMismatch: 422,
    errors.IdempotencyKeyTaken: 409,
}


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"/problems/{kind}",
        "title": title,
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def too_many(request: Request, refused: throttle.Refused) -> JSONResponse:
    """The one 429: which limit, and when to come back (Retry-After), in zh-CN and en."""
    after = throttle.retry_after(refused.seconds)
    return problem(
        429,
        "too-many-requests",
        "Too many requests",
        throttle.BUSY[refused.limit],
        instance=request.url.path,
        headers={"Retry-After": after},
        limit=refused.limit,
        retry_after=int(after),
    )


def status_of(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _field(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] == "header":
        return (
            "-".join(p.capitalize() for p in str(loc[1]).split("-")) if len(loc) > 1 else "header"
        )
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path")
        else list(map(str, loc))
    )
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem documents."""

    @app.exception_handler(errors.DomainError)
    async def _domain(request: Request, exc: errors.DomainError) -> JSONResponse:
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(
            status,
            exc.kind,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers=headers,
            field=exc.field,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": _field(tuple(e["loc"])), "reason": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
        return problem(
            422,
            "invalid-input",
            "Invalid input",
            detail,
            instance=request.url.path,
            field=problems[0]["field"] if problems else None,
            errors=problems,
        )

    @app.exception_handler(throttle.Refused)
    async def _refused(request: Request, exc: throttle.Refused) -> JSONResponse:
        return too_many(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            "http-error",
            str(exc.detail),
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )
