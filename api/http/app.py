"""The FastAPI application: routers, problem+json errors, state built once at start-up."""

from __future__ import annotations

import gc
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.http import console, openapi, pages, problems, prometheus
from api.http.body_limit import BodyLimit
from api.http.deps import AppState
from api.http.routes import (
    admin,
    casefile,
    cases,
    conduct_record,
    decision_notice,
    due_date,
    evidence,
    health,
    messages,
    metrics,
    outbox,
    people,
    reporter,
    reports,
    subject_notice,
)
from api.http.security_headers import SecurityHeaders
from cases.deadlines import calendar
from cases.files import load_policy
from cases.store.db import Database
from config.settings import Settings, get_settings, secret_key

# Swagger UI and ReDoc load their scripts from here (fastapi-offline's copies), not from a
# CDN: a campus intranet may reach nothing outside. The policy keeps the pages on this
# server: ReDoc's footer would fetch its vendor's logo from a CDN (it hides it instead).
DOCS_ASSETS = "/static/docs"
DOCS_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
)

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
    app = FastAPI(
        title="qingfeng 清风",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # served by install_docs, from local assets
        redoc_url=None,
    )
    app.state.qingfeng = state or build_state(get_settings())
    install_docs(app)
    problems.install(app)
    app.add_middleware(BodyLimit)
    routers = (health, reports, reporter, cases, messages, evidence, admin, people, outbox)
    for module in (*routers, subject_notice, due_date, metrics, conduct_record, decision_notice):
        app.include_router(module.router)
    app.include_router(casefile.router)
    pages.install(app)
    console.install(app)
    prometheus.install(app)
    openapi.install(app)  # every operation's answers told (api.http.openapi)
    app.add_middleware(SecurityHeaders)  # outermost: every response the app makes
    return app


# The collector's thresholds while serving (CPython's are 700, 10, 10). Each request
# makes tens of thousands of short-lived objects, and the statement cache of every list
# shape outlives it: with the defaults a full pass over that cache came every few hundred
# requests and took 20-40 ms (bench/scale.py, 1,000,000 cases: list p99 28.3 ms against
# 22.1 ms with these). Young passes now come every 50,000 objects, full ones rarely.
SERVING_GC_THRESHOLDS = (50_000, 20, 100)


def freeze_startup_heap() -> None:
    """Before serving: leave what start-up built (modules, the policy, the calendar, the
    app) out of the collector's full passes, and collect less often. There are hundreds of
    thousands of such objects: each full pass took 160-300 ms (bench/scale.py), paid by
    whichever request set it off."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc on assets served by this app, none from a CDN."""
    assets = files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    title = app.title

    def local(page: HTMLResponse) -> HTMLResponse:
        page.headers["Content-Security-Policy"] = DOCS_POLICY
        return page

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return local(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title} - Swagger UI",
                swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return local(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title} - ReDoc",
                redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )
