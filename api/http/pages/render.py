"""Rendering the people's pages: the language, the templates, the form token.

A page's language is the one asked for with ``?lang=`` (then remembered in a cookie), else
the cookie's, else zh-CN. Forms carry a token that must equal the ``qf_form`` cookie
(double submit): another site cannot post a report in a visitor's name.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.http.deps import app_state
from api.http.pages.texts import TEXTS
from cases.procedure.labels import LANGUAGES
from cases.procedure.policy import Label

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
LANGUAGE_COOKIE, FORM_COOKIE = "qf_lang", "qf_form"
YEAR = 365 * 24 * 3600
# The pages load nothing from elsewhere and run no inline script.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def language_of(request: Request) -> str:
    """The page's language: asked for, remembered, or zh-CN."""
    asked = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return asked if asked in LANGUAGES else LANGUAGES[0]


def text(request: Request, key: str, **values: object) -> str:
    """The text ``key`` in the page's language, with ``values`` filled in."""
    return TEXTS[key].text(language_of(request)).format(**values)


def field_errors(request: Request, exc: ValidationError) -> dict[str, str]:
    """Each invalid form field's message, in the page's language."""
    errors: dict[str, str] = {}
    for problem in exc.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "details"
        kind = problem["type"]
        if kind in ("missing", "string_too_short"):
            errors[field] = text(request, "field.missing")
        elif kind == "string_too_long":
            limit = (problem.get("ctx") or {}).get("max_length", "")
            errors[field] = text(request, "field.too_long", limit=limit)
        else:
            errors.setdefault(field, text(request, "field.invalid"))
    return errors


def form_token(request: Request) -> str:
    """The visitor's form token (a new one when they have none)."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def form_token_ok(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(FORM_COOKIE)
    return bool(cookie and sent and secrets.compare_digest(cookie, sent))


def _with_lang(request: Request, language: str) -> str:
    return str(request.url.include_query_params(lang=language).query)


def page(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` rendered in the page's language, with the committee's settings."""
    return render(request, templates, TEXTS.__getitem__, template, status_code, context)


def render(
    request: Request,
    environment: Jinja2Templates,
    words: Callable[[str], Label],
    template: str,
    status_code: int,
    context: dict[str, Any],
) -> HTMLResponse:
    """``template`` from ``environment`` in the page's language (``words`` gives a key's
    text), with the committee's settings, the form token and the pages' headers."""
    language, token = language_of(request), form_token(request)
    other = "en" if language != "en" else "zh-CN"
    settings = app_state(request).settings

    def t(key: str, **values: object) -> str:
        return words(key).text(language).format(**values)

    response = environment.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": language,
            "other_lang": other,
            # this page in the other language, its query kept (relative: the path, which
            # may hold a link's token, is never written into the page)
            "other_lang_url": f"?{_with_lang(request, other)}",
            "colon": ": " if language == "en" else "：",
            "committee": settings.committee_name,
            "contact": settings.committee_contact,
            "form_token": token,
            **context,
        },
        status_code=status_code,
    )
    secure = request.url.scheme == "https"
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=YEAR, samesite="lax", secure=secure)
    response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", secure=secure)
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
