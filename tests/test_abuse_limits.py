"""Abuse limits on the API (issue 18): a request limit per personal access token (a 429
problem+json with Retry-After, in zh-CN and en) and tokens that expire with age (401).
The intake limits, receipt-code and notice-code delays and sign-in delays have their tests
in test_intake_limits.py, test_receipts.py, test_subject_notices.py and test_signin.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.deps import AppState
from api.http.throttle import RateLimit
from cases.procedure.clock import utcnow
from tests.conftest import bearer


@pytest.fixture
def app(state: AppState) -> FastAPI:
    return create_app(state)


@pytest.fixture
def api(app: FastAPI, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def _me(api: TestClient, token: str) -> int:
    return api.get("/me", headers=bearer(token)).status_code


def test_a_token_over_its_limit_a_minute_waits_with_429_and_retry_after(
    app: FastAPI, api: TestClient, tokens: dict[str, str]
) -> None:
    with time_machine.travel(utcnow(), tick=False) as traveller:
        app.state.token_limit = RateLimit(per_client=3, overall=sys.maxsize, window=60.0)
        assert [_me(api, tokens["inv.wang"]) for _ in range(3)] == [200] * 3
        refused = api.get("/me", headers=bearer(tokens["inv.wang"]))
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["Retry-After"] == "60"
        body = refused.json()
        assert body["status"] == 429 and body["type"] == "/problems/too-many-requests"
        assert body["limit"] == "token" and body["retry_after"] == 60  # as the intake's 429
        assert "此令牌一分钟内的请求已达上限" in body["detail"]
        assert "Too many requests with this token" in body["detail"]
        assert _me(api, tokens["ver.liu"]) == 200  # another token counts apart
        traveller.shift(timedelta(seconds=30))
        assert _me(api, tokens["inv.wang"]) == 429
        assert api.get("/me", headers=bearer(tokens["inv.wang"])).headers["Retry-After"] == "30"
        traveller.shift(timedelta(seconds=30))  # the window slid past the first three
        assert _me(api, tokens["inv.wang"]) == 200


def test_the_default_limit_is_the_policys(
    api: TestClient, tokens: dict[str, str], state: AppState
) -> None:
    with time_machine.travel(utcnow(), tick=False):
        limit = state.policy.api.per_token_per_minute
        sent = [_me(api, tokens["inv.wang"]) for _ in range(limit + 1)]
    assert sent[:limit] == [200] * limit and sent[limit] == 429


def test_an_unknown_token_is_not_counted_against_anyone(
    app: FastAPI, api: TestClient, tokens: dict[str, str]
) -> None:
    with time_machine.travel(utcnow(), tick=False):
        app.state.token_limit = RateLimit(per_client=1, overall=sys.maxsize, window=60.0)
        assert _me(api, "qf_nothing_here") == 401
        assert _me(api, tokens["inv.wang"]) == 200


def test_a_token_expires_when_older_than_the_limit(
    api: TestClient, tokens: dict[str, str], state: AppState
) -> None:
    made = utcnow()
    days = state.policy.api.token_max_age_days
    with time_machine.travel(made + timedelta(days=days, hours=-1), tick=False):
        assert _me(api, tokens["inv.wang"]) == 200
    with time_machine.travel(made + timedelta(days=days, hours=1), tick=False):
        expired = api.get("/me", headers=bearer(tokens["inv.wang"]))
        assert expired.status_code == 401, expired.text
        assert expired.headers["content-type"] == "application/problem+json"
        assert expired.headers["WWW-Authenticate"] == "Bearer"
        assert f"older than {days} days" in expired.json()["detail"]
        assert "/account" in expired.json()["detail"]
        # Where a token is optional (/metrics), an expired one is refused all the same.
        assert api.get("/metrics", headers=bearer(tokens["inv.wang"])).status_code == 401


def test_a_revoked_token_is_refused_at_once(api: TestClient, tokens: dict[str, str]) -> None:
    token_id = tokens["inv.wang"].split("_")[1]
    assert (
        api.delete(f"/admin/tokens/{token_id}", headers=bearer(tokens["admin"])).status_code == 204
    )
    assert _me(api, tokens["inv.wang"]) == 401
