"""OpenID Connect sign-in end to end, through a real provider the test starts
(oidc-provider-mock, wrapped so it also enforces PKCE). The browser's hops are driven by
hand: the app's redirect, the provider's form, the provider's redirect back to the app.
CAS: tests/test_signin_cas.py."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import pytest
import werkzeug.serving
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import select

from api.http.app import create_app
from api.http.console.session import SESSION_COOKIE
from api.http.deps import AppState
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.store.staff_sessions import StaffSession

# The provider's own use of Authlib's older server interfaces, reported from its thread.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib")

WANG = oidc_provider_mock.User(
    sub="0d5e-wang", claims={"preferred_username": "inv.wang", "name": "王调查"}
)
STRANGER = oidc_provider_mock.User(sub="0d5e-x", claims={"preferred_username": "nobody"})


def _serve(app: Callable[..., Iterable[bytes]]) -> Iterator[str]:
    server = werkzeug.serving.make_server("localhost", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="oidc", daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}"
    server.shutdown()
    thread.join(10)


@dataclasses.dataclass
class Pkce:
    """What the provider saw of PKCE: each challenge asked for, each verifier checked."""

    challenges: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    verified: list[bool] = dataclasses.field(default_factory=list)
    forge: str | None = None  # rewrite the ID token's handle, keeping the old signature


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(app: Any, environ: dict[str, Any], start_response: Any, handle: str) -> list[bytes]:
    """The token answer with the ID token's preferred_username changed to ``handle``."""
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[..., None]:
        captured.update(status=status, headers=headers)
        return lambda _data: None

    token = json.loads(b"".join(app(environ, capture)))
    head, payload, signature = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["preferred_username"] = handle
    token["id_token"] = ".".join([head, _b64(json.dumps(claims).encode()), signature])
    body = json.dumps(token).encode()
    headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
    start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
    return [body]


def enforcing_pkce(app: Any, seen: Pkce) -> Callable[..., Iterable[bytes]]:
    """The provider, refusing a token request whose code_verifier does not hash to the
    code_challenge of the latest authorization (S256), as RFC 7636 has servers do."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/oauth2/authorize":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            seen.challenges.append(
                (query.get("code_challenge", [""])[0], query.get("code_challenge_method", [""])[0])
            )
        if path == "/oauth2/token":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = BytesIO(body)
            verifier = parse_qs(body.decode()).get("code_verifier", [""])[0]
            expected = _b64(hashlib.sha256(verifier.encode()).digest())
            ok = bool(seen.challenges) and seen.challenges[-1] == (expected, "S256")
            seen.verified.append(ok)
            if not ok:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant"}']
            if seen.forge:
                return _forged(app, environ, start_response, seen.forge)
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return wrapped


@pytest.fixture
def pkce() -> Pkce:
    return Pkce()


@pytest.fixture
def provider(pkce: Pkce) -> Iterator[str]:
    """A real OpenID provider on loopback that insists on a nonce and on PKCE."""
    app = oidc_provider_mock.app(require_nonce=True, user_claims=[WANG, STRANGER])
    yield from _serve(enforcing_pkce(app, pkce))


def configured(state: AppState, **settings: Any) -> AppState:
    return dataclasses.replace(state, settings=state.settings.model_copy(update=settings))


@pytest.fixture
def oidc_client(state: AppState, tokens: dict[str, str], provider: str) -> Iterator[TestClient]:
    sso = configured(
        state, oidc_issuer=provider, oidc_client_id="qingfeng", oidc_client_secret=SecretStr("s")
    )
    with TestClient(create_app(sso)) as client:
        yield client


def sessions_in(state: AppState) -> list[StaffSession]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(uow.session.exec(select(StaffSession)))


def _at_provider(client: TestClient, start: str, sub: str) -> str:
    """Follow the app to the provider, pick ``sub`` on its form: where it sends us back."""
    leaving = client.get(start, follow_redirects=False)
    assert leaving.status_code == 303, leaving.text
    authorize = leaving.headers["location"]
    back = httpx.post(authorize, data={"sub": sub}, follow_redirects=False)
    assert back.status_code == 302, back.text
    return str(back.headers["location"])


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_openid_connect_signs_in_the_person_with_that_handle(
    oidc_client: TestClient, state: AppState, provider: str, pkce: Pkce
) -> None:
    assert 'href="/signin/oidc?next=' in oidc_client.get("/signin").text  # the button
    leaving = oidc_client.get("/signin/oidc?next=/account", follow_redirects=False)
    authorize = urlsplit(leaving.headers["location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == provider
    asked = parse_qs(authorize.query)
    assert asked["response_type"] == ["code"] and asked["scope"] == ["openid profile"]
    assert asked["state"][0] and asked["nonce"][0]
    assert asked["code_challenge_method"] == ["S256"]
    assert "SameSite=lax" in leaving.headers["set-cookie"]  # the flow survives the return
    back = _at_provider(oidc_client, "/signin/oidc?next=/account", WANG.sub)
    assert back.startswith("http://testserver/signin/oidc/callback?")
    done = oidc_client.get(path_of(back), follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/account"
    assert pkce.verified == [True]  # the verifier matched the challenge
    assert "王调查 (inv.wang)" in oidc_client.get("/account").text
    assert [s.method for s in sessions_in(state)] == ["oidc"]


def test_openid_connect_refuses_a_return_with_another_state(
    oidc_client: TestClient, state: AppState
) -> None:
    back = _at_provider(oidc_client, "/signin/oidc", WANG.sub)
    parts = urlsplit(back)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = oidc_client.get(
        parts.path, params={**query, "state": "not-the-state"}, follow_redirects=False
    )
    assert forged.status_code == 400 and "没有确认你的身份" in forged.text
    oidc_client.cookies.delete("qf_sso", path="/signin")
    # Someone else's return (its code and state) in a browser that did not start it.
    assert oidc_client.get(path_of(back), follow_redirects=False).status_code == 400
    assert sessions_in(state) == [] and SESSION_COOKIE not in oidc_client.cookies


def test_openid_connect_refuses_an_id_token_that_does_not_verify(
    oidc_client: TestClient, state: AppState, pkce: Pkce
) -> None:
    pkce.forge = "admin"  # the provider's signature over someone else's claims
    back = _at_provider(oidc_client, "/signin/oidc", WANG.sub)
    refused = oidc_client.get(path_of(back), follow_redirects=False)
    assert refused.status_code == 400 and "没有确认你的身份" in refused.text
    assert sessions_in(state) == [] and SESSION_COOKIE not in oidc_client.cookies


def test_openid_connect_for_no_active_person_is_a_clear_page_and_no_session(
    oidc_client: TestClient, state: AppState
) -> None:
    back = _at_provider(oidc_client, "/signin/oidc", STRANGER.sub)
    refused = oidc_client.get(path_of(back), follow_redirects=False)
    assert refused.status_code == 403
    assert "没有该账号的在职工作人员" in refused.text and "nobody" in refused.text
    with UnitOfWork(state.db) as uow:
        wang = uow.session.exec(select(Person).where(Person.handle == "inv.wang")).one()
        wang.active = False
        uow.session.add(wang)
        uow.commit()
    back = _at_provider(oidc_client, "/signin/oidc", WANG.sub)
    assert oidc_client.get(path_of(back), follow_redirects=False).status_code == 403
    assert sessions_in(state) == []


def test_without_settings_there_is_no_single_sign_on(client: TestClient) -> None:
    page = client.get("/signin").text
    assert "/signin/oidc" not in page and "/signin/cas" not in page
    assert client.get("/signin/oidc").status_code == 404
    assert client.get("/signin/cas").status_code == 404
