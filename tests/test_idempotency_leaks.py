"""Idempotency without leaks (#18): a key replays only for the caller that made it.

Anonymous filers are bound to the ``qf_client`` secret they hold; another caller with the
same key and body gets a 409 with neither the reference nor the code, and nothing is filed
twice. Staff keys are per token's person.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from api.http.app import create_app
from api.http.deps import AppState
from api.http.idempotency import CLIENT_COOKIE
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, IdempotencyRecord
from tests.conftest import BOTH_DATABASES, bearer

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞圈子",
    "details": "在部门内搞小圈子,排斥新成员。",
}
HELD = "a-secret-the-reporter-made-up-0001"  # a client secret chosen by the client itself


def _cases(state: AppState) -> int:
    with UnitOfWork(state.db, write=False) as uow:
        return len(uow.session.exec(select(ConductCase.id)).all())


def _other(client: TestClient, **cookies: str) -> TestClient:
    """Another caller of the same server: its own cookie jar."""
    return TestClient(client.app, cookies=cookies)


def _file(client: TestClient, key: str, body: dict[str, Any] | None = None) -> Any:
    return client.post("/reports", json=body or REPORT, headers={"Idempotency-Key": key})


@BOTH_DATABASES
def test_another_anonymous_caller_with_the_same_key_and_body_gets_neither_reference_nor_code(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    first = _file(client, "k-1")
    assert first.status_code == 201 and CLIENT_COOKIE in first.cookies
    filed = first.json()
    for stranger in (_other(client), _other(client, **{CLIENT_COOKIE: HELD})):
        taken = _file(stranger, "k-1")
        assert taken.status_code == 409, taken.text
        assert taken.headers["content-type"] == "application/problem+json"
        assert taken.json()["type"] == "/problems/idempotency-key-taken"
        assert taken.json()["field"] == "Idempotency-Key"
        assert taken.json()["instance"] == "/reports"  # a whole problem, as documented
        assert filed["reference"] not in taken.text
        assert filed["receipt_code"] not in taken.text
        assert "Idempotent-Replayed" not in taken.headers
    assert _cases(state) == 1  # nothing filed twice
    documented = client.get("/openapi.json").json()["paths"]["/reports"]["post"]["responses"]
    assert "idempotency-key-taken" in documented["409"]["description"]


def test_the_original_callers_retry_replays_the_same_answer_and_its_code_works(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    first, again = _file(client, "k-2"), _file(client, "k-2")  # the jar holds the secret
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert CLIENT_COOKIE not in again.cookies  # it sent its secret: nothing new to set
    status = client.post("/reports/status", json={"receipt_code": first.json()["receipt_code"]})
    assert status.status_code == 200 and status.json()["reference"] == first.json()["reference"]
    assert _cases(state) == 1


def test_a_client_that_sends_its_own_secret_first_survives_a_lost_first_answer(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    first = _file(_other(client, **{CLIENT_COOKIE: HELD}), "k-3")
    assert first.status_code == 201 and CLIENT_COOKIE not in first.cookies
    # The first answer never arrived; the retry is a new connection with the same secret.
    retry = _file(_other(client, **{CLIENT_COOKIE: HELD}), "k-3")
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _cases(state) == 1
    with UnitOfWork(state.db, write=False) as uow:
        kept = uow.session.exec(select(IdempotencyRecord)).one()
    # The table keeps neither the client secret nor the code.
    assert HELD not in kept.principal + kept.response_body
    assert first.json()["receipt_code"] not in kept.response_body


def test_the_same_key_with_another_body_is_another_callers_own_report(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    first = _file(client, "k-4")
    other = _file(_other(client), "k-4", {**REPORT, "summary": "别的事"})
    assert first.status_code == other.status_code == 201
    assert other.json()["reference"] != first.json()["reference"]
    assert other.json()["receipt_code"] != first.json()["receipt_code"]
    assert "Idempotent-Replayed" not in other.headers
    assert _cases(state) == 2


def test_staff_keys_are_per_token(
    client: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    def staff(who: str) -> Any:
        headers = {**bearer(tokens[who]), "Idempotency-Key": "s-1"}
        return TestClient(create_app(state)).post("/reports", json=REPORT, headers=headers)

    wang, li, wang_again = staff("inv.wang"), staff("sec.li"), staff("inv.wang")
    assert wang.status_code == li.status_code == wang_again.status_code == 201
    assert CLIENT_COOKIE not in wang.cookies  # staff are known by their token, not a cookie
    assert li.json()["reference"] != wang.json()["reference"]
    assert "Idempotent-Replayed" not in li.headers
    assert wang_again.json() == wang.json() and wang_again.headers["Idempotent-Replayed"] == "true"
    assert _cases(state) == 2
