"""Of two concurrent identical actions exactly one succeeds; nothing is half-written."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from api.http.app import create_app
from api.http.deps import AppState
from cases.procedure import commands as c
from cases.procedure.errors import DomainError, VersionConflict
from cases.service import apply_action
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.views import CaseState
from tests.conftest import BOTH_DATABASES, bearer
from tests.helpers import act, file, read
from tests.postgres import free_port
from tests.processes import PATIENCE, wait_for

post = partial(httpx.post, timeout=PATIENCE)


@BOTH_DATABASES
def test_two_identical_actions_at_once_one_wins(state: AppState, people: dict[str, Person]) -> None:
    for _ in range(5):
        ref = file(state)
        barrier = threading.Barrier(2)
        accept = c.Accept(category="other", severity="minor", investigators=["inv.wang"])

        def attempt(
            ref: str = ref, barrier: threading.Barrier = barrier, accept: c.Accept = accept
        ) -> str:
            barrier.wait()
            try:
                act(state, people, ref, "inv.wang", accept, expected_version=1)
                return "ok"
            except VersionConflict:
                return "conflict"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(lambda _: attempt(), range(2)))
        assert outcomes == ["conflict", "ok"]
        with UnitOfWork(state.db, write=False) as uow:
            from sqlmodel import select

            from cases.store.models import AuditEvent, ConductCase, Deadline

            case = uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()
            accepts = uow.session.exec(
                select(AuditEvent).where(
                    AuditEvent.case_id == case.id, AuditEvent.action == "case.accept"
                )
            ).all()
            deadlines = uow.session.exec(
                select(Deadline).where(
                    Deadline.case_id == case.id, Deadline.stage == "investigation"
                )
            ).all()
        ladder = [step.step for step in state.policy.escalation]
        assert case.version == 2 and len(accepts) == 1
        assert sorted(d.step for d in deadlines) == sorted(ladder)  # one ladder, not two


@BOTH_DATABASES
def test_failed_action_writes_nothing(state: AppState, people: dict[str, Person]) -> None:
    ref = file(state)
    bad = c.Accept(category="other", severity="minor", investigators=["inv.wang", "nobody"])
    with pytest.raises(DomainError):
        act(state, people, ref, "inv.wang", bad)
    detail = act(
        state,
        people,
        ref,
        "inv.wang",
        c.Accept(category="other", severity="minor", investigators=["inv.wang"]),
    )
    parties = read(state, people, ref, "inv.wang").parties
    assert detail.version == 2
    assert [p.person for p in parties if p.capacity == "investigator"] == ["inv.wang"]


@pytest.fixture
def live_url(state: AppState) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, PATIENCE), "the test server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def _accept_url(live_url: str) -> str:
    """File a report over HTTP; the URL that accepts it."""
    report = {"unit": "cs-su", "subject_handle": "2023", "subject_name": "甲", "summary": "s"}
    filed = post(f"{live_url}/reports", json={**report, "details": "d"}).json()
    return f"{live_url}/cases/{filed['reference']}/accept"


@BOTH_DATABASES
def test_concurrent_requests_over_http(live_url: str, tokens: dict[str, str]) -> None:
    """Real HTTP, real SQLite file: 8 identical requests racing, one 200 and seven 412."""
    url = _accept_url(live_url)
    body = {"category": "other", "severity": "minor", "investigators": ["inv.wang"]}
    headers = {**bearer(tokens["inv.wang"]), "If-Match": '"1"'}
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(
            pool.map(lambda _: post(url, json=body, headers=headers).status_code, range(8))
        )
    assert codes == [200] + [412] * 7


@BOTH_DATABASES
def test_racing_requests_with_one_key_get_one_answer(live_url: str, tokens: dict[str, str]) -> None:
    """8 identical keyed requests at once: one effect, and every caller gets its answer."""
    url = _accept_url(live_url)
    body = {"category": "other", "severity": "minor", "investigators": ["inv.wang"]}
    headers = {**bearer(tokens["inv.wang"]), "If-Match": '"1"', "Idempotency-Key": "race-1"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(url, json=body, headers=headers), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.text for a in answers}) == 1  # the same answer, version 2
    assert sum(a.headers.get("Idempotent-Replayed") != "true" for a in answers) == 1


@BOTH_DATABASES
def test_the_service_writes_the_idempotency_record_in_its_own_transaction(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = file(state)
    accept = c.Accept(category="other", severity="minor", investigators=["inv.wang"])

    def remember(session: Session, case: CaseState) -> None:
        assert case.version == 2
        raise RuntimeError("the record could not be written")

    with pytest.raises(RuntimeError):
        apply_action(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            reference=ref,
            actor=people["inv.wang"],
            command=accept,
            remember=remember,
        )
    assert read(state, people, ref, "inv.wang").version == 1  # the action went with it
    seen: list[int] = []
    done = apply_action(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        reference=ref,
        actor=people["inv.wang"],
        command=accept,
        remember=lambda session, case: seen.append(case.version),
    )
    assert seen == [done.version] == [2]
