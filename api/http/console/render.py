"""Rendering console pages: the people's pages' look (their base.html, language choice,
form token and headers) with the console's texts and navigation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from api.http.console.texts import TEXTS
from api.http.deps import app_state
from api.http.pages import render as pages
from api.http.pages.texts import TEXTS as PAGE_TEXTS
from cases.people.access import roles_held
from cases.procedure.clock import local_text
from cases.store.db import UnitOfWork
from cases.store.models import Person

HERE = Path(__file__).parent
# Console templates first; base.html (and its macros) from the people's pages.
templates = Jinja2Templates(
    env=Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(HERE / "templates"), FileSystemLoader(pages.HERE / "templates")]
        ),
        autoescape=True,
    )
)


def text(request: Request, key: str, **values: object) -> str:
    """The console text ``key`` in the page's language, with ``values`` filled in."""
    return _label(key).text(pages.language_of(request)).format(**values)


def _label(key: str) -> Any:
    return TEXTS.get(key) or PAGE_TEXTS[key]


def page(
    request: Request,
    template: str,
    *,
    staff: Person | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered as a console page (``staff``: who is signed in, for the nav)."""
    held = roles_held(uow=UnitOfWork(app_state(request).db, write=False), person=staff)
    console: dict[str, Any] = {"console": True, "staff": staff, "staff_roles": held, "errors": {}}
    response = pages.render(
        request, templates, _label, template, status_code,
        {**console, "local_text": local_text, **context},
    )  # fmt: skip
    # Console pages show who is signed in (and a new token once): never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response
