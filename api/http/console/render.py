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
from cases.procedure.clock import local_text
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
    language, token = pages.language_of(request), pages.form_token(request)
    settings = app_state(request).settings
    other = "en" if language != "en" else "zh-CN"

    def t(key: str, **values: object) -> str:
        return str(_label(key).text(language)).format(**values)

    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": language,
            "other_lang": other,
            # this very page in the other language, its other query parameters kept
            "other_lang_url": f"{request.url.path}?"
            + request.url.include_query_params(lang=other).query,
            "colon": ": " if language == "en" else "：",
            "committee": settings.committee_name,
            "contact": settings.committee_contact,
            "form_token": token,
            "console": True,
            "staff": staff,
            "errors": {},
            "local_text": local_text,
            **context,
        },
        status_code=status_code,
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        pages.LANGUAGE_COOKIE, language, max_age=pages.YEAR, samesite="lax", secure=secure
    )
    response.set_cookie(pages.FORM_COOKIE, token, httponly=True, samesite="strict", secure=secure)
    response.headers["Content-Security-Policy"] = pages.PAGE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Console pages show who is signed in (and a new token once): never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response
