"""Liveness and readiness (the states are listed in docs/api.md)."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.http.deps import StateDep
from cases.store.migrate import is_current

router = APIRouter(tags=["health"])


class Readiness(StrEnum):
    READY = "ready"  # 200
    NOT_READY = "not ready"  # 503


class DatabaseCheck(StrEnum):
    OK = "ok"
    NOT_MIGRATED = "schema not migrated"
    UNREACHABLE = "unreachable"  # followed by ": <error type>"


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready to serve: database reachable and migrated, policy loaded",
    responses={503: {"description": "Not ready: `checks.database` says why"}},
)
def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {"policy": f"version {state.policy.version}"}
    try:
        with state.db.reader.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = (
            DatabaseCheck.OK if is_current(state.db) else DatabaseCheck.NOT_MIGRATED
        )
    except Exception as exc:  # readiness reports, it does not crash
        checks["database"] = f"{DatabaseCheck.UNREACHABLE}: {type(exc).__name__}"
    # Background components are reported, not required: staff actions never wait on them.
    checks.update({name: report() for name, report in state.components.items()})
    ready = checks["database"] == DatabaseCheck.OK
    return JSONResponse(
        {"status": Readiness.READY if ready else Readiness.NOT_READY, "checks": checks},
        status_code=200 if ready else 503,
    )
