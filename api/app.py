"""The FastAPI application: routers, problem+json errors, state built once at start-up."""

from __future__ import annotations

from fastapi import FastAPI

from api import problems
from api.deps import AppState
from api.routes import admin, cases, health, outbox, reports
from cases import calendar
from cases.db import Database
from cases.policy import load_policy
from config.settings import Settings, get_settings, secret_key

DESCRIPTION = """
qingfeng (清风) carries misconduct reports about student-union staff through intake,
investigation, verification, disposition, appeal and closure.

Authenticate with a personal access token: `Authorization: Bearer qf_…`.
Every case action needs `If-Match` with the case's ETag; every POST accepts
`Idempotency-Key`. Errors are `application/problem+json` (RFC 9457).
"""


def build_state(settings: Settings) -> AppState:
    """Load and validate everything the app needs; a broken policy or calendar raises."""
    policy = load_policy(settings.policy_file)
    calendar.configure(settings.calendar_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url, pool_size=settings.db_pool_size)
    return AppState(settings=settings, policy=policy, db=db, secret=secret_key(settings))


def create_app(state: AppState | None = None) -> FastAPI:
    """The ASGI app; ``state`` defaults to one built from the environment's settings."""
    app = FastAPI(title="qingfeng 清风", version="0.1.0", description=DESCRIPTION)
    app.state.qingfeng = state or build_state(get_settings())
    problems.install(app)
    for module in (health, reports, cases, admin, outbox):
        app.include_router(module.router)
    return app
