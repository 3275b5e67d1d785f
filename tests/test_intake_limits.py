"""Intake limits (policy ``intake``): per client address and overall within an hour; beyond
them 429 problem+json with Retry-After and a message in zh-CN and en."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.deps import AppState
from api.http.throttle import RateLimit
from cases.procedure.policy import Intake
from tests.test_receipts import REPORT, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _file(client: TestClient) -> int:
    return client.post("/reports", json=REPORT).status_code


@pytest.fixture
def client(state: AppState, tokens: dict[str, str]) -> Iterator[TestClient]:
    """The app seen from one IP address, under the policy file's limits."""
    assert state.policy.intake == Intake(per_client_per_hour=5, overall_per_hour=20)
    with TestClient(create_app(state), client=("198.51.100.4", 50000)) as test_client:
        yield test_client


def test_the_sixth_report_from_one_client_within_an_hour_waits(client: TestClient) -> None:
    assert [_file(client) for _ in range(5)] == [201] * 5
    refused = client.post("/reports", json=REPORT)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    retry = int(refused.headers["Retry-After"])
    assert 3500 < retry <= 3600
    body = refused.json()
    assert body["type"] == "/problems/too-many-requests" and body["status"] == 429
    assert body["limit"] == "client" and body["retry_after"] == retry
    assert "一小时内提交的举报已达上限" in body["detail"]
    assert "Too many reports from this address" in body["detail"]


def test_another_client_files_until_the_overall_limit(
    state: AppState, tokens: dict[str, str], clock: Clock
) -> None:
    state.policy = state.policy.model_copy(
        update={"intake": Intake(per_client_per_hour=2, overall_per_hour=3)}
    )
    app = create_app(state)
    first = TestClient(app, client=("10.0.0.1", 4000))
    second = TestClient(app, client=("10.0.0.2", 4000))
    third = TestClient(app, client=("10.0.0.3", 4000))
    with first, second, third:
        app.state.intake_limit = RateLimit(per_client=2, overall=3, clock=clock)
        assert [_file(first), _file(first), _file(first)] == [201, 201, 429]
        clock.now += 60
        assert _file(second) == 201  # its own count, the third report overall
        overall = third.post("/reports", json=REPORT)
        assert overall.status_code == 429 and overall.json()["limit"] == "overall"
        assert "当前提交的举报过多" in overall.json()["detail"]
        assert int(overall.headers["Retry-After"]) == 3600 - 60
        clock.now += 3600 - 60  # the first reports leave the window
        assert _file(third) == 201 and _file(first) == 201


def test_the_policy_sets_the_limits(state: AppState, tokens: dict[str, str]) -> None:
    state.policy = state.policy.model_copy(
        update={"intake": Intake(per_client_per_hour=1, overall_per_hour=20)}
    )
    with TestClient(create_app(state), client=("203.0.113.9", 50000)) as client:
        assert [_file(client), _file(client)] == [201, 429]


def test_a_refused_report_does_not_count(client: TestClient) -> None:
    for _ in range(6):
        unknown_unit = client.post("/reports", json={**REPORT, "unit": "nowhere"})
        assert unknown_unit.status_code == 422
    assert [_file(client) for _ in range(5)] == [201] * 5
    assert _file(client) == 429


def test_a_peer_without_an_ip_address_meets_only_the_overall_limit(
    state: AppState, tokens: dict[str, str]
) -> None:
    state.policy = state.policy.model_copy(
        update={"intake": Intake(per_client_per_hour=1, overall_per_hour=3)}
    )
    with TestClient(create_app(state)) as no_address:  # its peer is "testclient"
        assert [_file(no_address) for _ in range(4)] == [201, 201, 201, 429]


def _admissions(limit: RateLimit, client: str, n: int) -> Iterator[float]:
    for _ in range(n):
        yield limit.admit(client)[0]


def test_the_window_slides(clock: Clock) -> None:
    limit = RateLimit(per_client=2, overall=10, window=3600, clock=clock)
    assert list(_admissions(limit, "a", 2)) == [0, 0]
    clock.now += 1800
    assert limit.admit("a") == (1800, "client")
    assert limit.admit("b") == (0, None)
    limit.refund("b")
    assert limit.admit("b") == (0, None) and limit.admit("b") == (0, None)
    assert limit.admit(None) == (0, None)  # no known client: counted overall only
    limit.refund(None)
    clock.now += 1800  # a's first two leave the window
    assert list(_admissions(limit, "a", 2)) == [0, 0]
