"""Staff sign-in to the console: passwords (Argon2id), sessions (cookie flags, expiry,
sign-out ends them server-side), CSRF on every form, the growing delay after wrong
passwords, safe ``next``, the account page's tokens, and the CLI's ``users password``.
Single sign-on: tests/test_signin_sso.py."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.http.app import create_app
from api.http.console.session import SESSION_COOKIE, safe_next
from api.http.deps import AppState
from api.http.throttle import Backoff
from cases.people.sessions import set_password
from cases.procedure.clock import utcnow
from cases.store.db import UnitOfWork
from cases.store.models import ApiToken, Person
from cases.store.staff_sessions import StaffPassword, StaffSession
from tests.test_receipts import Clock

PASSWORD = "correct horse battery"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@pytest.fixture
def client(state: AppState, tokens: dict[str, str]) -> Iterator[TestClient]:
    """The app seen from one IP address; inv.wang has a console password."""
    set_password(uow=UnitOfWork(state.db), handle="inv.wang", password=PASSWORD)
    with TestClient(create_app(state), client=("192.0.2.7", 50000)) as test_client:
        yield test_client


def form_token(client: TestClient, path: str = "/signin") -> str:
    """The double-submit token of the form at ``path`` (its cookie is now set)."""
    shown = client.get(path)
    assert shown.status_code == 200, shown.text
    found = FORM_TOKEN.search(shown.text)
    assert found, shown.text
    return found.group(1)


def sign_in(
    client: TestClient, handle: str = "inv.wang", password: str = PASSWORD, next_path: str = ""
) -> str:
    """Sign in with a password; the session token from the cookie."""
    answer = client.post(
        "/signin",
        data={
            "handle": handle,
            "password": password,
            "next": next_path,
            "form_token": form_token(client),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return str(client.cookies[SESSION_COOKIE])


def _sessions(state: AppState) -> list[StaffSession]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(uow.session.exec(select(StaffSession)))


def test_a_password_opens_a_session_kept_only_as_its_hash(
    client: TestClient, state: AppState
) -> None:
    assert client.get("/console", follow_redirects=False).headers["location"] == (
        "/signin?next=/console"
    )
    token = form_token(client)
    answer = client.post(
        "/signin",
        data={"handle": "inv.wang", "password": PASSWORD, "next": "", "form_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookie = answer.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    home = client.get("/console")
    assert home.status_code == 200
    assert "王调查" in home.text and "我的待办" in home.text  # the inbox
    (session,) = _sessions(state)
    secret = client.cookies[SESSION_COOKIE]
    assert session.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert session.method == "password" and session.ended_at is None
    with UnitOfWork(state.db, write=False) as uow:
        stored = uow.session.exec(select(StaffPassword)).one()
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash


def test_the_session_cookie_is_secure_over_https(state: AppState, tokens: dict[str, str]) -> None:
    set_password(uow=UnitOfWork(state.db), handle="inv.wang", password=PASSWORD)
    with TestClient(create_app(state), base_url="https://testserver") as tls:
        answer = tls.post(
            "/signin",
            data={"handle": "inv.wang", "password": PASSWORD, "form_token": form_token(tls)},
            follow_redirects=False,
        )
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


def test_wrong_passwords_and_unknown_handles_get_the_same_answer(client: TestClient) -> None:
    for handle, password in (("inv.wang", "not the password"), ("nobody", PASSWORD)):
        answer = client.post(
            "/signin",
            data={"handle": handle, "password": password, "form_token": form_token(client)},
        )
        assert answer.status_code == 401
        assert "用户名或密码不正确" in answer.text
        assert SESSION_COOKIE not in client.cookies


@pytest.fixture
def clock(client: TestClient) -> Clock:
    """The sign-in delays (per client, per account) on a clock the test moves."""
    moved = Clock()
    client.app.state.signin_backoff = Backoff(clock=moved)  # type: ignore[attr-defined]
    client.app.state.signin_account_backoff = Backoff(  # type: ignore[attr-defined]
        clock=moved, overall_free=10**9
    )
    return moved


def _attempt(client: TestClient, password: str, handle: str = "inv.wang") -> int:
    data = {"handle": handle, "password": password, "form_token": form_token(client)}
    return client.post("/signin", data=data, follow_redirects=False).status_code


def test_wrong_passwords_slow_the_next_attempt_even_a_right_one(
    client: TestClient, clock: Clock
) -> None:
    assert [_attempt(client, "wrong password 1"), _attempt(client, "wrong password 2")] == [
        401,
        401,
    ]
    waiting = client.post(
        "/signin",
        data={"handle": "inv.wang", "password": PASSWORD, "form_token": form_token(client)},
        follow_redirects=False,
    )
    assert waiting.status_code == 429  # the password is not even checked
    assert waiting.headers["retry-after"] == "1"
    assert "1 秒后再试" in waiting.text
    assert _attempt(client, "wrong password 3") == 429  # nor counted
    clock.now += 1
    assert _attempt(client, "wrong password 3") == 401
    assert _attempt(client, PASSWORD) == 429
    clock.now += 2  # the third failure: two seconds
    assert _attempt(client, PASSWORD) == 303


def test_the_delay_follows_the_account_from_another_address(
    client: TestClient, clock: Clock, state: AppState
) -> None:
    assert _attempt(client, "wrong password 1") == 401
    assert _attempt(client, "wrong password 2") == 401
    with TestClient(client.app, client=("198.51.100.9", 50000)) as elsewhere:
        assert _attempt(elsewhere, PASSWORD) == 429  # the same account, another address
        assert _attempt(elsewhere, "whatever it is", handle="ver.liu") == 401  # not others'
    clock.now += 1
    assert _attempt(client, PASSWORD) == 303


def test_every_form_refuses_a_post_without_its_token(client: TestClient, state: AppState) -> None:
    refused = client.post("/signin", data={"handle": "inv.wang", "password": PASSWORD})
    assert refused.status_code == 403 and SESSION_COOKIE not in client.cookies
    forged = {"handle": "inv.wang", "password": PASSWORD, "form_token": "forged"}
    form_token(client)  # the visitor has a cookie, the forger does not know it
    assert client.post("/signin", data=forged).status_code == 403
    sign_in(client)
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 403
    assert client.post("/account/tokens/revoke", data={"token": "x"}).status_code == 403
    assert client.post("/signout", data={}).status_code == 403
    with UnitOfWork(state.db, write=False) as uow:
        assert uow.session.exec(select(ApiToken).where(ApiToken.name == "x")).first() is None
    assert [s.ended_at for s in _sessions(state)] == [None]  # still signed in
    assert client.get("/console").status_code == 200


def test_sign_out_ends_the_session_on_the_server(client: TestClient, state: AppState) -> None:
    stolen = sign_in(client)
    answer = client.post(
        "/signout", data={"form_token": form_token(client, "/console")}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/signin?bye"
    assert SESSION_COOKIE not in client.cookies
    assert "你已退出登录" in client.get(answer.headers["location"]).text
    (session,) = _sessions(state)
    assert session.ended_at is not None
    client.cookies.set(SESSION_COOKIE, stolen)  # a copy of the cookie opens nothing now
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_sessions_expire_when_idle_and_when_old(client: TestClient, state: AppState) -> None:
    with time_machine.travel(utcnow(), tick=False) as traveller:
        sign_in(client)
        traveller.shift(timedelta(minutes=59))
        assert client.get("/console", follow_redirects=False).status_code == 200
        traveller.shift(timedelta(minutes=59))  # seen 59 minutes ago: still live
        assert client.get("/console", follow_redirects=False).status_code == 200
        traveller.shift(timedelta(minutes=61))  # idle past the hour
        gone = client.get("/account", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"] == "/signin?next=/account"
        client.cookies.clear()
        sign_in(client)
        for _ in range(13):  # in use every 55 minutes, for 11 h 55 min
            traveller.shift(timedelta(minutes=55))
            assert client.get("/console", follow_redirects=False).status_code == 200
        traveller.shift(timedelta(minutes=6))  # 12 hours after sign-in: over, however used
        assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_new_password_ends_open_sessions(client: TestClient, state: AppState) -> None:
    sign_in(client)
    set_password(uow=UnitOfWork(state.db), handle="inv.wang", password="another long secret")
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert _attempt(client, PASSWORD) == 401
    assert _attempt(client, "another long secret") == 303


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/account", "/account"),
        ("/console?sort=due", "/console?sort=due"),
        ("", "/console"),
        ("https://evil.example/", "/console"),
        ("//evil.example/", "/console"),
        ("/\\evil.example", "/console"),
        ("javascript:alert(1)", "/console"),
        ("/x\r\nSet-Cookie: a=b", "/console"),
    ],
)
def test_after_sign_in_only_paths_of_this_site(asked: str, goes: str) -> None:
    assert safe_next(asked) == goes


def test_sign_in_returns_to_the_page_asked_for_never_offsite(client: TestClient) -> None:
    data = {"handle": "inv.wang", "password": PASSWORD, "next": "https://evil.example/"}
    answer = client.post(
        "/signin", data={**data, "form_token": form_token(client)}, follow_redirects=False
    )
    assert answer.headers["location"] == "/console"
    client.cookies.clear()
    sign_in(client, next_path="/account")
    assert client.get("/signin?next=/account", follow_redirects=False).headers["location"] == (
        "/account"
    )


def test_the_account_page_creates_a_token_shown_once_and_revokes_it(
    client: TestClient, state: AppState
) -> None:
    sign_in(client)
    page = client.get("/account")
    assert "cli" in page.text  # the token the demo organisation made
    made = client.post(
        "/account/tokens", data={"name": "导出脚本", "form_token": form_token(client, "/account")}
    )
    assert made.status_code == 201
    token = re.search(r'id="new-token">(qf_[^<]+)<', made.text)
    assert token, made.text
    secret = token.group(1)
    assert client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in client.get("/account").text  # shown once
    public_id = secret.split("_")[1]
    revoked = client.post(
        "/account/tokens/revoke",
        data={"token": public_id, "form_token": form_token(client, "/account")},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert f"令牌 {public_id} 已吊销" in client.get(revoked.headers["location"]).text
    assert client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_token_of_someone_else_is_not_revoked_from_the_account_page(
    client: TestClient, state: AppState
) -> None:
    with UnitOfWork(state.db, write=False) as uow:
        wang = uow.session.exec(select(Person).where(Person.handle == "inv.wang")).one()
        theirs = uow.session.exec(select(ApiToken).where(ApiToken.person_id != wang.id)).first()
    assert theirs is not None
    sign_in(client)
    refused = client.post(
        "/account/tokens/revoke",
        data={"token": theirs.public_id, "form_token": form_token(client, "/account")},
    )
    assert refused.status_code == 404 and "你没有这个令牌" in refused.text
    with UnitOfWork(state.db, write=False) as uow:
        again = uow.session.get(ApiToken, theirs.id)
    assert again is not None and again.revoked_at is None


def test_a_token_needs_a_name(client: TestClient) -> None:
    sign_in(client)
    answer = client.post(
        "/account/tokens", data={"name": " ", "form_token": form_token(client, "/account")}
    )
    assert answer.status_code == 422
    assert 'id="e-name"' in answer.text and "请填写此项" in answer.text


def test_the_cli_sets_a_password_from_stdin_or_refuses_a_short_one(
    state: AppState, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QINGFENG_DATABASE_URL", state.db.url)
    from config.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    try:
        short = runner.invoke(cli, ["users", "password", "ver.liu", "--stdin"], input="short\n")
        assert short.exit_code == 2 and "10 to 1024 characters" in short.output
        done = runner.invoke(cli, ["users", "password", "ver.liu", "--stdin"], input=PASSWORD)
        assert done.exit_code == 0, done.output
        prompted = runner.invoke(
            cli, ["users", "password", "ver.liu"], input=f"{PASSWORD}x\n{PASSWORD}x\n"
        )
        assert prompted.exit_code == 0, prompted.output
        unknown = runner.invoke(cli, ["users", "password", "nobody", "--stdin"], input=PASSWORD)
        assert unknown.exit_code == 2 and "unknown person 'nobody'" in unknown.output
    finally:
        get_settings.cache_clear()
    with TestClient(create_app(state)) as fresh:
        assert _attempt(fresh, f"{PASSWORD}x", handle="ver.liu") == 303
