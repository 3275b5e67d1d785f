"""Receipt codes: 80 random bits, forgiving input, kept only as Argon2id plus a keyed index;
the reporter's status request (POST /reports/status) and its growing delay after wrong
codes (api.http.throttle.Backoff, on a clock the tests move)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import extract_parameters
from fastapi.testclient import TestClient
from sqlmodel import select

from api.http.app import create_app
from api.http.deps import AppState
from api.http.throttle import Backoff, client_key
from cases.people import secrets as secrets_module
from cases.people.secrets import (
    RECEIPT_ALPHABET,
    check_receipt,
    hash_receipt,
    normalise_receipt,
    receipt_code,
    receipt_lookup,
)
from cases.procedure.policy import Policy
from cases.reporter_view import NO_SUCH_RECEIPT, READ_BY_REPORTER_EVENT, reporter_view
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase
from tests.conftest import bearer

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞圈子",
    "details": "在部门内搞小圈子,排斥新成员,安排工作论资排辈,本学期以来多次发生。",
}


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(state: AppState, tokens: dict[str, str]) -> Iterator[TestClient]:
    """The app seen from one IP address (the demo organisation in its database)."""
    with TestClient(create_app(state), client=("192.0.2.7", 50000)) as test_client:
        yield test_client


@pytest.fixture
def backoff(client: TestClient, clock: Clock) -> Backoff:
    """The app's receipt backoff, on the test's clock."""
    made = Backoff(clock=clock)
    client.app.state.receipt_backoff = made  # type: ignore[attr-defined]
    return made


def _file(client: TestClient) -> dict[str, Any]:
    filed = client.post("/reports", json=REPORT)
    assert filed.status_code == 201, filed.text
    return dict(filed.json())


def _status(client: TestClient, code: str) -> Any:
    return client.post("/reports/status", json={"receipt_code": code})


def test_a_code_is_80_random_bits_in_four_groups_of_four() -> None:
    codes = {receipt_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert len(RECEIPT_ALPHABET) == 32 and not set("ILOU") & set(RECEIPT_ALPHABET)
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(RECEIPT_ALPHABET)
    # Every one of the 80 bits shows: all-zero and all-one seeds give the extreme codes,
    # and flipping the last bit changes the last symbol.
    assert receipt_code(bytes(10)) == "0000-0000-0000-0000"
    assert receipt_code(b"\xff" * 10) == "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    assert receipt_code(bytes(9) + b"\x01") == "0000-0000-0000-0001"
    assert receipt_code(b"\x80" + bytes(9)) == "G000-0000-0000-0000"


def test_input_is_forgiven_case_spaces_dashes_look_alikes_and_full_width() -> None:
    assert normalise_receipt("ABCD-EFGH-JKMN-P0R1") == "ABCDEFGHJKMNP0R1"
    for typed in ("abcd efgh jkmn p0r1", " ABCDEFGHJKMNPOR1 ", "abcd-efgh-jkmn-porl",
                  "ＡＢＣＤ－ＥＦＧＨ－ＪＫＭＮ－Ｐ０Ｒ１", "abcd_efgh.jkmn-pori"):  # fmt: skip
        assert normalise_receipt(typed) == "ABCDEFGHJKMNP0R1", typed
    for malformed in ("", "ABCD-EFGH-JKMN", "ABCD-EFGH-JKMN-PQRSX", "ABCD-EFGH-JKMN-PQRU", "好"):
        assert normalise_receipt(malformed) is None, malformed


def test_the_hash_and_the_index_take_the_normalised_code() -> None:
    code = "ABCD-EFGH-JKMN-P0R1"
    stored = hash_receipt(code)
    assert stored.startswith("$argon2id$") and code not in stored
    assert check_receipt(stored, "abcd efgh jkmn pori")
    assert not check_receipt(stored, "ABCD-EFGH-JKMN-P0R2")
    assert not check_receipt(stored, "not a code") and not check_receipt(None, code)
    index = receipt_lookup(b"secret", code)
    assert len(index) == 64 and index == receipt_lookup(b"secret", "abcdefghjkmnpor1")
    assert index != receipt_lookup(b"other secret", code)
    with pytest.raises(ValueError):
        receipt_lookup(b"secret", "short")


class _CountingHasher:
    """The real Argon2 hasher, noting each hash it verifies against."""

    def __init__(self, real: Any) -> None:
        self.real, self.checked = real, []

    def verify(self, stored_hash: str, password: str) -> bool:
        self.checked.append(stored_hash)
        return bool(self.real.verify(stored_hash, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_miss_costs_an_argon2_check_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong code, no case and a malformed code each verify once against an Argon2id
    hash of the stored hashes' parameters (the same work, so a miss's time tells nothing);
    counted, not timed, so a busy machine cannot fail it."""
    stored = hash_receipt("ABCD-EFGH-JKMN-PQRS")
    counting = _CountingHasher(secrets_module._hasher)
    monkeypatch.setattr(secrets_module, "_hasher", counting)
    for stored_hash, code in [
        (stored, "ABCD-EFGH-JKMN-PQRT"),
        (None, "ABCD-EFGH-JKMN-PQRT"),
        (None, "malformed"),
    ]:
        counting.checked.clear()
        assert not check_receipt(stored_hash, code)
        [checked] = counting.checked
        assert extract_parameters(checked) == extract_parameters(stored), code


def test_the_reporter_follows_the_case_with_the_code(
    client: TestClient, state: AppState, tokens: dict[str, str], backoff: Backoff
) -> None:
    filed = _file(client)
    code = filed["receipt_code"]
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase)).one()
        assert case.receipt_lookup == receipt_lookup(state.secret, code)
        assert code not in case.receipt_hash
    seen = _status(client, code.lower().replace("-", " "))
    assert seen.status_code == 200, seen.text
    assert seen.headers["Cache-Control"] == "no-store"
    view = seen.json()
    assert view == {
        "reference": filed["reference"],
        "status": {"zh-CN": "已收到，待受理", "en": "received"},
        "filed_on": view["filed_on"],
        "due_on": None,  # policy keeps the due date from the reporter
        "closed": False,
        "outcome": None,
        "decision": None,
        "messages": [],
        "may_write": True,
        "added_evidence": [],
        "may_add_evidence": True,
        "may_rate": False,
    }
    with UnitOfWork(state.db, write=False) as uow:
        reads = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == READ_BY_REPORTER_EVENT)
        ).all()
    assert len(reads) == 1 and reads[0].actor_id is None
    assert code not in json.dumps(reads[0].model_dump(mode="json"))
    assert code.replace("-", "") not in json.dumps(reads[0].model_dump(mode="json"))
    staff = client.get(f"/cases/{filed['reference']}", headers=bearer(tokens["sec.li"]))
    assert staff.status_code == 200 and code not in staff.text


def test_wrong_and_malformed_codes_get_one_answer(
    client: TestClient, state: AppState, backoff: Backoff, clock: Clock
) -> None:
    code = _file(client)["receipt_code"]
    wrong = "0000-0000-0000-0000" if code != "0000-0000-0000-0000" else "1111-1111-1111-1111"
    answers = []
    for attempt in (wrong, "not a code", "", code + "0"):
        answer = _status(client, attempt)
        answers.append((answer.status_code, answer.headers["content-type"], answer.json()))
        clock.now += 60  # past any delay
    assert all(a == answers[0] for a in answers), answers
    status, content_type, body = answers[0]
    assert status == 404 and content_type == "application/problem+json"
    assert body["detail"] == NO_SUCH_RECEIPT and "查询码" in body["detail"]
    assert wrong not in json.dumps(body)
    with UnitOfWork(state.db, write=False) as uow:
        reads = uow.session.exec(
            select(AuditEvent).where(AuditEvent.action == READ_BY_REPORTER_EVENT)
        ).all()
    assert reads == []  # nothing was read
    assert _status(client, code).status_code == 200


def test_wrong_codes_are_slowed_with_429_and_retry_after(
    client: TestClient, backoff: Backoff, clock: Clock
) -> None:
    code = _file(client)["receipt_code"]
    assert _status(client, "0000-0000-0000-000X").status_code == 404
    assert _status(client, "0000-0000-0000-000Y").status_code == 404  # the 2nd: wait 1 s
    slowed = _status(client, code)  # even the right code waits: nothing is checked
    assert slowed.status_code == 429, slowed.text
    assert slowed.headers["Retry-After"] == "1"
    assert slowed.headers["content-type"] == "application/problem+json"
    assert "查询码错误次数过多" in slowed.json()["detail"] and "Too many" in slowed.json()["detail"]
    clock.now += 1
    assert _status(client, code).status_code == 200


def _waits(backoff: Backoff, clock: Clock, client: str, failures: int) -> Iterator[float]:
    for _ in range(failures):
        backoff.failed(client)
        yield backoff.wait(client)
        clock.now += backoff.wait(client)  # the client waits as told, then tries again


def test_the_delay_grows_to_its_cap_then_decays_after_quiet(clock: Clock) -> None:
    backoff = Backoff(clock=clock, quiet=600)
    assert backoff.wait("a") == 0
    assert list(_waits(backoff, clock, "a", 9)) == [0, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.wait("b") == 0  # another client is not slowed
    assert backoff.failures("a") == 9
    clock.now += 600  # one quiet period: the count halves
    assert backoff.failures("a") == 4 and backoff.wait("a") == 0
    backoff.failed("a")
    assert backoff.wait("a") == 8  # the 5th failure again, not the 10th
    clock.now += 3 * 600
    assert backoff.failures("a") == 0
    assert list(_waits(backoff, clock, "a", 3)) == [0, 1, 2]


def test_many_failures_a_minute_slow_everyone_a_little(clock: Clock) -> None:
    backoff = Backoff(clock=clock, overall_free=60, overall_step=0.1, overall_cap=5)
    for n in range(60):
        backoff.failed(f"client-{n}")  # one failure each: no client is slowed by its own
    assert backoff.wait("newcomer") == 0
    for n in range(60, 80):
        backoff.failed(f"client-{n}")
    assert backoff.wait("newcomer") == pytest.approx(2.0)  # 20 over the free 60
    for n in range(80, 200):
        backoff.failed(f"client-{n}")
    assert backoff.wait("newcomer") == 5  # capped, well below a client's own 30
    clock.now += 61
    assert backoff.wait("newcomer") == 0  # a quiet minute: gone


def _close_as_declined(client: TestClient, tokens: dict[str, str], reference: str) -> None:
    declined = client.post(
        f"/cases/{reference}/decline",
        json={"reason": "out_of_scope", "explanation": "不属于受理范围"},
        headers={**bearer(tokens["inv.wang"]), "If-Match": '"1"'},
    )
    assert declined.status_code == 200, declined.text


def test_after_closure_the_outcome_as_far_as_policy_allows(
    client: TestClient, state: AppState, tokens: dict[str, str], backoff: Backoff
) -> None:
    filed = _file(client)
    _close_as_declined(client, tokens, filed["reference"])
    view = _status(client, filed["receipt_code"]).json()
    assert view["closed"] and view["status"] == {"zh-CN": "已办结", "en": "closed"}
    assert view["outcome"] == {"zh-CN": "不予受理", "en": "not taken up"}
    assert view["decision"] is None and view["due_on"] is None
    silent = _policy(state.policy, outcome="none")
    seen = reporter_view(
        uow=UnitOfWork(state.db),
        policy=silent,
        secret=state.secret,
        receipt_code=filed["receipt_code"],
    )
    assert seen.closed and seen.outcome is None


def test_the_due_date_only_when_policy_tells_it(
    client: TestClient, state: AppState, backoff: Backoff
) -> None:
    code = _file(client)["receipt_code"]
    assert _status(client, code).json()["due_on"] is None
    state.policy = _policy(state.policy, due_date=True)
    due_on = _status(client, code).json()["due_on"]
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase)).one()
    assert case.due_at is not None and due_on is not None
    assert due_on >= case.filed_at.date().isoformat()


def _policy(policy: Policy, **reporter_view: Any) -> Policy:
    shown = policy.reporter_view.model_copy(update=reporter_view)
    return policy.model_copy(update={"reporter_view": shown})


def test_clients_are_ip_addresses_kept_as_keyed_digests() -> None:
    key = client_key(b"secret", "192.0.2.7")
    assert key and "192" not in key and key == client_key(b"secret", "192.0.2.7")
    assert key != client_key(b"secret", "192.0.2.8") != client_key(b"other", "192.0.2.7")
    assert client_key(b"secret", "2001:db8::1") == client_key(b"secret", "2001:DB8:0::1")
    for no_address in (None, "", "testclient", "unix:/run/qingfeng.sock"):
        assert client_key(b"secret", no_address) is None


def test_a_peer_without_an_ip_address_meets_only_the_overall_delay(clock: Clock) -> None:
    backoff = Backoff(clock=clock, overall_free=2, overall_step=1)
    for _ in range(5):
        backoff.failed(None)
    assert backoff.failures(None) == 0 and backoff.wait(None) == 3  # 3 over the free 2
