"""The console's session: the cookie, and ``StaffUser``, the dependency of every console
page, which sends a visitor without a live session to /signin (and back afterwards).

    @router.get("/console/cases")
    def my_cases(request: Request, staff: StaffUser) -> HTMLResponse: ...

The cookie holds a random token (the database keeps its SHA-256 only): HttpOnly,
SameSite=Lax (the OIDC and CAS returns are cross-site top-level GETs, which a Strict
cookie would not survive), Secure when the request came over https. Sessions end on
sign-out, on a new password, after ``session_idle_minutes`` unused and
``session_max_hours`` after sign-in (config/settings.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from api.http.deps import app_state
from cases.people.sessions import SessionLimits, session_person
from cases.store.db import UnitOfWork
from cases.store.models import Person
from config.settings import Settings

SESSION_COOKIE = "qf_staff"
HOME = "/console"  # where a sign-in leads when no (safe) page was asked for


class SignInRequired(Exception):
    """No live session: the visitor is sent to /signin, then back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in first")
        self.next_path = next_path


def limits(settings: Settings) -> SessionLimits:
    """The session limits the settings give."""
    return SessionLimits(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
    )


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site (no scheme, host, '//' or backslash),
    else the console's home: a sign-in never sends anyone elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return HOME
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return HOME
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else HOME


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def optional_staff(request: Request) -> Person | None:
    """The person of the request's live session, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    state = app_state(request)
    return await run_in_threadpool(
        session_person, uow=UnitOfWork(state.db), token=token, limits=limits(state.settings)
    )


async def staff_user(
    request: Request, person: Annotated[Person | None, Depends(optional_staff)]
) -> Person:
    """The signed-in staff member; without a live session, SignInRequired (→ /signin)."""
    if person is None:
        raise SignInRequired(_here(request))
    return person


StaffUser = Annotated[Person, Depends(staff_user)]
OptionalStaff = Annotated[Person | None, Depends(optional_staff)]


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Give the browser its session token (lives at most as long as the session may)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(app_state(request).settings.session_max_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def install(app: FastAPI) -> None:
    """Send SignInRequired to /signin?next=…, dropping a dead session's cookie."""

    async def to_signin(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        target = f"/signin?next={quote(exc.next_path, safe='/')}"
        response = RedirectResponse(target, status_code=303)
        if request.cookies.get(SESSION_COOKIE):
            clear_session_cookie(request, response)
        return response

    app.add_exception_handler(SignInRequired, to_signin)
