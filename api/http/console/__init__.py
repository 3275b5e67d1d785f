"""The staff console: sign-in (password, OpenID Connect, CAS), sign-out, the account page,
and the pages staff work in, all behind ``StaffUser`` (api/http/console/session.py)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.http.console import (
    admin,
    board,
    case_page,
    conduct_record,
    decision_notice,
    figures,
    session,
    signin,
    signoff,
    sso,
)
from api.http.console.render import HERE


def install(app: FastAPI) -> None:
    """Mount the console's routers, its static files and its sign-in redirect on ``app``."""
    app.mount("/static/console", StaticFiles(directory=HERE / "static"), name="console-static")
    session.install(app)
    app.include_router(signin.router)
    app.include_router(sso.router)
    app.include_router(signoff.router)
    app.include_router(board.router)
    app.include_router(figures.router)
    app.include_router(admin.router)
    app.include_router(case_page.router)
    app.include_router(conduct_record.router)
    app.include_router(decision_notice.router)
