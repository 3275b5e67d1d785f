"""The growing delay after wrong passwords: per client (its address, as the receipt
codes' delay counts it) and per account (the handle tried, from anywhere), each a
``Backoff`` of its own kept on the app (``signin_backoff``, ``signin_account_backoff``)."""

from __future__ import annotations

import hashlib

from fastapi import Request

from api.http.deps import app_state
from api.http.throttle import Backoff, attached, peer_key


def _client(request: Request) -> Backoff:
    return attached(request.app.state, "signin_backoff", Backoff)


def _account(request: Request) -> Backoff:
    # Overall slowing is the client counter's: one busy account need not slow the rest.
    return attached(
        request.app.state, "signin_account_backoff", lambda: Backoff(overall_free=10**9)
    )


def _account_key(request: Request, handle: str) -> str:
    secret = app_state(request).secret
    return hashlib.blake2b(handle.casefold().encode(), key=secret[:64], digest_size=12).hexdigest()


def wait(request: Request, handle: str) -> float:
    """Seconds before this client may try a password for ``handle`` (0: now)."""
    client = peer_key(request, app_state(request).secret)
    return max(_client(request).wait(client), _account(request).wait(_account_key(request, handle)))


def failed(request: Request, handle: str) -> None:
    """Count a wrong password by this client for ``handle``."""
    _client(request).failed(peer_key(request, app_state(request).secret))
    _account(request).failed(_account_key(request, handle))
