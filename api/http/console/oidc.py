"""OpenID Connect sign-in through Authlib: the authorization code flow with PKCE (S256),
``state`` and ``nonce`` checked, the ID token's signature (the provider's JWKS), issuer,
audience, expiry and nonce verified by Authlib before its claims are read.

Off unless ``oidc_issuer`` is set. The provider's discovery document is read once per
process (its keys again when a token names an unknown key)."""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import Request
from joserfc.errors import JoseError

from api.http.deps import app_state
from api.http.throttle import attached
from config.settings import Settings

with warnings.catch_warnings():
    # Authlib 1.9 warns that httpx (this project's HTTP client) is to give way to httpx2;
    # it still uses httpx, and says so at import.
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

__all__ = ["REFUSED", "OAuthError", "authorization", "client", "enabled", "verified_claims"]
# What a refused exchange raises: the provider's error answer, or an ID token that does not
# verify (joserfc's errors: signature, claims).
REFUSED = (OAuthError, JoseError)


def enabled(settings: Settings) -> bool:
    """Whether OpenID Connect sign-in is configured."""
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def client(request: Request) -> StarletteOAuth2App:
    """The app's OpenID Connect client (made on first use)."""
    settings = app_state(request).settings

    def make() -> StarletteOAuth2App:
        registry = OAuth()
        made: StarletteOAuth2App = registry.register(
            name="campus",
            server_metadata_url=settings.oidc_issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value() or None,
            client_kwargs={
                "scope": settings.oidc_scopes,
                "code_challenge_method": "S256",
                "timeout": settings.sso_timeout_seconds,
            },
        )
        return made

    return attached(request.app.state, "oidc_client", make)


async def authorization(request: Request, redirect_uri: str) -> dict[str, Any]:
    """Where to send the browser: ``url``, and the ``state``, ``nonce`` and
    ``code_verifier`` to keep until it comes back."""
    made: dict[str, Any] = await client(request).create_authorization_url(redirect_uri)
    if not made.get("nonce"):
        raise OAuthError(description="the scopes must include 'openid'")
    return made


async def verified_claims(
    request: Request, *, redirect_uri: str, code: str, code_verifier: str, nonce: str
) -> dict[str, Any]:
    """The claims of the ID token the code is exchanged for, once verified; OAuthError
    (or one of Authlib's JOSE errors) when anything does not check out."""
    oidc = client(request)
    token = await oidc.fetch_access_token(
        redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
    )
    if "id_token" not in token:
        raise OAuthError(description="the provider sent no ID token")
    claims = await oidc.parse_id_token(token, nonce=nonce)
    return dict(claims)
