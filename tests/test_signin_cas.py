"""CAS (2.0 and 3.0) sign-in end to end, through a small CAS server of the test's own that
follows the protocol's /login and /serviceValidate exchange (apereo.github.io/cas, the CAS
Protocol 3.0 specification). The browser's hops are driven by hand."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.http.app import create_app
from api.http.console.session import SESSION_COOKIE
from api.http.deps import AppState
from cases.store.db import UnitOfWork
from cases.store.models import Person
from tests.test_signin_oidc import configured, path_of, sessions_in

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
        done = client.get(path_of(back), follow_redirects=False)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/account"
        assert f"({handle})" in client.get("/account").text
    assert cas_server.validations == [path]
    assert [s.method for s in sessions_in(state)] == ["cas"]


def test_cas_refuses_a_used_ticket_or_one_from_another_sign_in(
    state: AppState, tokens: dict[str, str], cas_server: Cas
) -> None:
    with _cas_client(state, cas_server, cas_handle_attribute="employeeNumber") as client:
        back = _cas_login(client, cas_server, "inv.wang")
        assert client.get(path_of(back), follow_redirects=False).status_code == 303
        client.cookies.clear()
        _cas_login(client, cas_server, "inv.wang")  # this browser's flow is now fresh
        again = client.get(path_of(back), follow_redirects=False)  # the old return once more
        assert again.status_code == 400
        # An attacker's ticket, issued for the attacker's own sign-in, sent to this browser.
        with _cas_client(state, cas_server) as attacker:
            theirs = _cas_login(attacker, cas_server, "sec.li")
        stolen = urlsplit(theirs).query.split("ticket=")[1]
        mine = _cas_login(client, cas_server, "inv.wang")
        planted = f"{urlsplit(mine).path}?{urlsplit(mine).query.split('&')[0]}&ticket={stolen}"
        refused = client.get(planted, follow_redirects=False)
        assert refused.status_code == 400 and SESSION_COOKIE not in client.cookies
    assert len(sessions_in(state)) == 1


def test_cas_for_no_active_person_is_a_clear_page_and_no_session(
    state: AppState, tokens: dict[str, str], cas_server: Cas
) -> None:
    with _cas_client(state, cas_server, cas_handle_attribute="employeeNumber") as client:
        back = _cas_login(client, cas_server, "nobody")
        refused = client.get(path_of(back), follow_redirects=False)
    assert refused.status_code == 403 and "nobody" in refused.text
    assert sessions_in(state) == []


def test_an_unreachable_cas_server_is_said_so(state: AppState, tokens: dict[str, str]) -> None:
    gone = Cas("http://127.0.0.1:9/cas", {}, [])  # nothing listens on the discard port
    with _cas_client(state, gone, sso_timeout_seconds=2.0) as client:
        leaving = client.get("/signin/cas", follow_redirects=False)
        query = parse_qs(urlsplit(leaving.headers["location"]).query)
        service = urlsplit(query["service"][0])
        answer = client.get(f"{service.path}?{service.query}&ticket=ST-1")
    assert answer.status_code == 502 and "暂时无法连接" in answer.text
