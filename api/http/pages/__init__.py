"""The pages people use: server-rendered (Jinja2), zh-CN by default with an en switch,
usable on a phone and without JavaScript."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.http.pages import public, status, subject
from api.http.pages.render import HERE
from api.http.procedure import routes as procedure


def install(app: FastAPI) -> None:
    """Mount the pages' routers and their static files on ``app``."""
    app.mount("/static/pages", StaticFiles(directory=HERE / "static"), name="pages-static")
    app.include_router(public.router)
    app.include_router(subject.router)
    app.include_router(status.router)
    app.include_router(procedure.router)
