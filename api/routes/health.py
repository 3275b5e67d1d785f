"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import StateDep
from cases.migrate import is_current

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready to serve: database reachable and migrated, policy loaded")
def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {"policy": f"version {state.policy.version}"}
    try:
        with state.db.reader.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok" if is_current(state.db) else "schema not migrated"
    except Exception as exc:  # readiness reports, it does not crash
        checks["database"] = f"unreachable: {type(exc).__name__}"
    # Background components are reported, not required: staff actions never wait on them.
    checks.update({name: report() for name, report in state.components.items()})
    ready = checks["database"] == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
