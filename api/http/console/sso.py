"""Single sign-on pages: /signin/oidc (→ the provider → /signin/oidc/callback) and
/signin/cas (→ the CAS server → /signin/cas?state=…&ticket=…).

Between leaving and coming back, what must be checked on return (OIDC's state, nonce and
PKCE verifier; the CAS return's state; where to go next) waits in a short-lived cookie
sealed with the server secret (``qf_sso``: encrypted, authenticated, ten minutes). The
CAS service URL carries that state, so a ticket issued to someone else's sign-in (a
login CSRF) does not validate here. An identity with no active person: a clear page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.http.console import cas, oidc
from api.http.console.render import page
from api.http.console.session import safe_next, set_session_cookie
from api.http.deps import app_state
from cases.people.sessions import SignInMethod, sign_in_with_identity
from cases.procedure.errors import Unauthenticated
from cases.store.db import UnitOfWork

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "qf_sso"
FLOW_SECONDS = 600
# What a failed exchange may raise besides httpx's errors: the provider's refusal, an ID
# token that does not verify, an answer that is not what the protocol says.
_FAILED = (*oidc.REFUSED, cas.CasRefused, ValueError, KeyError)


def _fernet(secret: bytes) -> Fernet:
    key = hmac.new(secret, b"qingfeng sign-in flow v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _leave(request: Request, target: str, flow: dict[str, str]) -> Response:
    """Redirect to ``target`` (the provider), keeping ``flow`` sealed in a cookie."""
    sealed = _fernet(app_state(request).secret).encrypt(json.dumps(flow).encode()).decode()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        sealed,
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level return to us
        secure=request.url.scheme == "https",
        path="/signin",
    )
    return response


def _flow(request: Request, kind: str) -> dict[str, str] | None:
    """The sealed flow of this browser's sign-in of ``kind``, if fresh and unaltered."""
    sealed = request.cookies.get(FLOW_COOKIE, "")
    try:
        opened = _fernet(app_state(request).secret).decrypt(sealed.encode(), ttl=FLOW_SECONDS)
        flow: dict[str, str] = json.loads(opened)
    except (InvalidToken, ValueError):
        return None
    return flow if flow.get("kind") == kind else None


def _state_ok(flow: dict[str, str] | None, sent: str | None) -> bool:
    return bool(flow and sent and secrets.compare_digest(flow.get("state", ""), sent))


def _failed(request: Request, key: str, status_code: int, **values: Any) -> HTMLResponse:
    response = page(request, "sso_failed.html", status_code=status_code, key=key, **values)
    response.delete_cookie(FLOW_COOKIE, path="/signin")
    return response


async def _signed_in(
    request: Request, flow: dict[str, str], handle: str, method: SignInMethod
) -> Response:
    """A session for the active person ``handle``, or the page saying there is none."""
    db = app_state(request).db
    try:
        token = await run_in_threadpool(
            sign_in_with_identity, uow=UnitOfWork(db), handle=handle, method=method
        )
    except Unauthenticated:
        return _failed(request, "sso.unknown", 403, handle=handle)
    response = RedirectResponse(safe_next(flow.get("next")), status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(FLOW_COOKIE, path="/signin")
    return response


@router.get("/signin/oidc", name="oidc_signin")
async def oidc_signin(request: Request, next: str | None = None) -> Response:
    if not oidc.enabled(app_state(request).settings):
        return _failed(request, "sso.failed", 404)
    redirect_uri = str(request.url_for("oidc_callback"))
    try:
        made = await oidc.authorization(request, redirect_uri)
    except (httpx.HTTPError, RuntimeError, *_FAILED):  # RuntimeError: discovery incomplete
        return _failed(request, "sso.unavailable", 502)
    flow = {
        "kind": "oidc",
        "state": made["state"],
        "nonce": made["nonce"],
        "verifier": made["code_verifier"],
        "next": safe_next(next),
    }
    return _leave(request, made["url"], flow)


@router.get("/signin/oidc/callback", name="oidc_callback")
async def oidc_callback(
    request: Request, state: str | None = None, code: str | None = None
) -> Response:
    settings = app_state(request).settings
    flow = _flow(request, "oidc")
    if not oidc.enabled(settings) or flow is None or not _state_ok(flow, state) or not code:
        return _failed(request, "sso.failed", 400)  # also: the provider's "error" answer
    try:
        claims = await oidc.verified_claims(
            request,
            redirect_uri=str(request.url_for("oidc_callback")),
            code=code,
            code_verifier=flow["verifier"],
            nonce=flow["nonce"],
        )
    except httpx.HTTPError:
        return _failed(request, "sso.unavailable", 502)
    except _FAILED:
        return _failed(request, "sso.failed", 400)
    handle = str(claims.get(settings.oidc_handle_claim) or "").strip()
    if not handle:
        return _failed(request, "sso.failed", 400)
    return await _signed_in(request, flow, handle, SignInMethod.OIDC)


@router.get("/signin/cas", name="cas_signin")
async def cas_signin(
    request: Request,
    next: str | None = None,
    state: str | None = None,
    ticket: str | None = None,
) -> Response:
    settings = app_state(request).settings
    if not cas.enabled(settings):
        return _failed(request, "sso.failed", 404)
    if ticket is None:  # leaving for the CAS server
        fresh = {"kind": "cas", "state": secrets.token_urlsafe(16), "next": safe_next(next)}
        service = str(request.url_for("cas_signin").include_query_params(state=fresh["state"]))
        return _leave(request, cas.login_url(settings, service), fresh)
    flow = _flow(request, "cas")
    if flow is None or not _state_ok(flow, state):
        return _failed(request, "sso.failed", 400)
    service = str(request.url_for("cas_signin").include_query_params(state=flow["state"]))
    try:
        handle = await cas.validated_handle(settings, service=service, ticket=ticket)
    except httpx.HTTPError:
        return _failed(request, "sso.unavailable", 502)
    except cas.CasRefused:
        return _failed(request, "sso.failed", 400)
    return await _signed_in(request, flow, handle, SignInMethod.CAS)
