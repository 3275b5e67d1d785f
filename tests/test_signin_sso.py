"""Single sign-on end to end: OpenID Connect through a real provider the test starts
(oidc-provider-mock, wrapped so it also enforces PKCE) and CAS 2.0/3.0 through a small
CAS server of the test's own that follows the protocol's /login and /serviceValidate
exchange. The browser's hops are driven by hand: the app's redirect, the provider's
form, the provider's redirect back to the app."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

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


def _sessions(state: AppState) -> list[StaffSession]:
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


def _path(url: str) -> str:
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
    done = oidc_client.get(_path(back), follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/account"
    assert pkce.verified == [True]  # the verifier matched the challenge
    assert "王调查 (inv.wang)" in oidc_client.get("/account").text
    assert [s.method for s in _sessions(state)] == ["oidc"]


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
    assert oidc_client.get(_path(back), follow_redirects=False).status_code == 400
    assert _sessions(state) == [] and SESSION_COOKIE not in oidc_client.cookies


def test_openid_connect_refuses_an_id_token_that_does_not_verify(
    oidc_client: TestClient, state: AppState, pkce: Pkce
) -> None:
    pkce.forge = "admin"  # the provider's signature over someone else's claims
    back = _at_provider(oidc_client, "/signin/oidc", WANG.sub)
    refused = oidc_client.get(_path(back), follow_redirects=False)
    assert refused.status_code == 400 and "没有确认你的身份" in refused.text
    assert _sessions(state) == [] and SESSION_COOKIE not in oidc_client.cookies


def test_openid_connect_for_no_active_person_is_a_clear_page_and_no_session(
    oidc_client: TestClient, state: AppState
) -> None:
    back = _at_provider(oidc_client, "/signin/oidc", STRANGER.sub)
    refused = oidc_client.get(_path(back), follow_redirects=False)
    assert refused.status_code == 403
    assert "没有该账号的在职工作人员" in refused.text and "nobody" in refused.text
    with UnitOfWork(state.db) as uow:
        wang = uow.session.exec(select(Person).where(Person.handle == "inv.wang")).one()
        wang.active = False
        uow.session.add(wang)
        uow.commit()
    back = _at_provider(oidc_client, "/signin/oidc", WANG.sub)
    assert oidc_client.get(_path(back), follow_redirects=False).status_code == 403
    assert _sessions(state) == []


def test_without_settings_there_is_no_single_sign_on(client: TestClient) -> None:
    page = client.get("/signin").text
    assert "/signin/oidc" not in page and "/signin/cas" not in page
    assert client.get("/signin/oidc").status_code == 404
    assert client.get("/signin/cas").status_code == 404


# CAS: a server that follows the protocol (apereo.github.io/cas, CAS Protocol 3.0 spec).
CAS_NS = "http://www.yale.edu/tp/cas"


@dataclasses.dataclass
class Cas:
    url: str
    tickets: dict[str, tuple[str, str]]  # ticket -> (service, user); each used once
    validations: list[str]  # the validation paths called


def _cas_answer(user: str | None, *, attributes: bool) -> bytes:
    if user is None:
        inner = (
            '<cas:authenticationFailure code="INVALID_TICKET">not recognised'
            "</cas:authenticationFailure>"
        )
    else:
        extra = (
            f"<cas:attributes><cas:employeeNumber>{escape(user)}</cas:employeeNumber>"
            "<cas:displayName>someone</cas:displayName></cas:attributes>"
            if attributes
            else ""
        )
        inner = (
            f"<cas:authenticationSuccess><cas:user>uid-{escape(user)}</cas:user>{extra}"
            "</cas:authenticationSuccess>"
        )
    return f'<cas:serviceResponse xmlns:cas="{CAS_NS}">{inner}</cas:serviceResponse>'.encode()


@pytest.fixture
def cas_server() -> Iterator[Cas]:
    """/cas/login (a form; a POST sends the browser to the service with a ticket),
    /cas/serviceValidate (2.0: cas:user only) and /cas/p3/serviceValidate (3.0: with
    attributes). The service validated must be the one the ticket was issued for."""
    tickets: dict[str, tuple[str, str]] = {}
    validations: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/cas/login":
                form = b'<form method="post"><input name="username"><button>Login</button></form>'
                self._send(200, form, Content_Type="text/html")
            elif parts.path in ("/cas/serviceValidate", "/cas/p3/serviceValidate"):
                validations.append(parts.path)
                issued = tickets.pop(query.get("ticket", ""), None)
                user = issued[1] if issued and issued[0] == query.get("service") else None
                body = _cas_answer(user, attributes=parts.path.startswith("/cas/p3/"))
                self._send(200, body, Content_Type="application/xml; charset=utf-8")
            else:
                self._send(404, b"")

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            service = parse_qs(parts.query)["service"][0]
            length = int(self.headers.get("Content-Length") or 0)
            user = parse_qs(self.rfile.read(length).decode())["username"][0]
            ticket = f"ST-{secrets.token_hex(8)}"
            tickets[ticket] = (service, user)
            joiner = "&" if "?" in service else "?"
            self._send(302, b"", Location=f"{service}{joiner}ticket={ticket}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="cas", daemon=True)
    thread.start()
    yield Cas(f"http://127.0.0.1:{server.server_port}/cas", tickets, validations)
    server.shutdown()
    thread.join(10)


def _cas_client(state: AppState, cas: Cas, **settings: Any) -> TestClient:
    return TestClient(create_app(configured(state, cas_server_url=cas.url, **settings)))


def _cas_login(client: TestClient, cas: Cas, user: str, start: str = "/signin/cas") -> str:
    leaving = client.get(start, follow_redirects=False)
    assert leaving.status_code == 303, leaving.text
    login = leaving.headers["location"]
    assert login.startswith(f"{cas.url}/login?service=")
    back = httpx.post(login, data={"username": user}, follow_redirects=False)
    assert back.status_code == 302
    return str(back.headers["location"])


@pytest.mark.parametrize(
    ("version", "attribute", "path"),
    [(3, "employeeNumber", "/cas/p3/serviceValidate"), (2, "", "/cas/serviceValidate")],
)
def test_cas_signs_in_the_person_the_server_vouches_for(
    state: AppState,
    tokens: dict[str, str],
    cas_server: Cas,
    version: int,
    attribute: str,
    path: str,
) -> None:
    # CAS 3.0: the handle from an attribute; 2.0: cas:user itself (here "uid-…").
    handle = "inv.wang"
    if not attribute:
        with UnitOfWork(state.db) as uow:
            wang = uow.session.exec(select(Person).where(Person.handle == handle)).one()
            wang.handle = handle = "uid-inv.wang"
            uow.session.add(wang)
            uow.commit()
    settings = {"cas_version": version, "cas_handle_attribute": attribute}
    with _cas_client(state, cas_server, **settings) as client:
        assert 'href="/signin/cas?next=' in client.get("/signin").text
        back = _cas_login(client, cas_server, "inv.wang", start="/signin/cas?next=/account")
        assert back.startswith("http://testserver/signin/cas?state=")
        done = client.get(_path(back), follow_redirects=False)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/account"
        assert f"({handle})" in client.get("/account").text
    assert cas_server.validations == [path]
    assert [s.method for s in _sessions(state)] == ["cas"]


def test_cas_refuses_a_used_ticket_or_one_from_another_sign_in(
    state: AppState, tokens: dict[str, str], cas_server: Cas
) -> None:
    with _cas_client(state, cas_server, cas_handle_attribute="employeeNumber") as client:
        back = _cas_login(client, cas_server, "inv.wang")
        assert client.get(_path(back), follow_redirects=False).status_code == 303
        client.cookies.clear()
        _cas_login(client, cas_server, "inv.wang")  # this browser's flow is now fresh
        again = client.get(_path(back), follow_redirects=False)  # the old return once more
        assert again.status_code == 400
        # An attacker's ticket, issued for the attacker's own sign-in, sent to this browser.
        with _cas_client(state, cas_server) as attacker:
            theirs = _cas_login(attacker, cas_server, "sec.li")
        stolen = urlsplit(theirs).query.split("ticket=")[1]
        mine = _cas_login(client, cas_server, "inv.wang")
        planted = f"{urlsplit(mine).path}?{urlsplit(mine).query.split('&')[0]}&ticket={stolen}"
        refused = client.get(planted, follow_redirects=False)
        assert refused.status_code == 400 and SESSION_COOKIE not in client.cookies
    assert len(_sessions(state)) == 1


def test_cas_for_no_active_person_is_a_clear_page_and_no_session(
    state: AppState, tokens: dict[str, str], cas_server: Cas
) -> None:
    with _cas_client(state, cas_server, cas_handle_attribute="employeeNumber") as client:
        back = _cas_login(client, cas_server, "nobody")
        refused = client.get(_path(back), follow_redirects=False)
    assert refused.status_code == 403 and "nobody" in refused.text
    assert _sessions(state) == []


def test_an_unreachable_cas_server_is_said_so(state: AppState, tokens: dict[str, str]) -> None:
    gone = Cas("http://127.0.0.1:9/cas", {}, [])  # nothing listens on the discard port
    with _cas_client(state, gone, sso_timeout_seconds=2.0) as client:
        leaving = client.get("/signin/cas", follow_redirects=False)
        query = parse_qs(urlsplit(leaving.headers["location"]).query)
        service = urlsplit(query["service"][0])
        answer = client.get(f"{service.path}?{service.query}&ticket=ST-1")
    assert answer.status_code == 502 and "暂时无法连接" in answer.text
