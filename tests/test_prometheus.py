"""GET /metrics: requests by route template, actions, deadline steps and their lateness,
the outbox's backlog and dead letters, and the sum over `up`'s processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from api.http.app import create_app
from api.http.deps import AppState
from cases.firing import fire_due_steps
from cases.outbox import CHANNEL_SEND, STAGE_FLOW, NewOutboxRow, enqueue_all
from cases.procedure import commands as c
from cases.store.db import UnitOfWork
from cases.store.models import OutboxRow, OutboxState, Person
from config import telemetry
from tests.conftest import BOTH_DATABASES, bearer
from tests.helpers import act, file
from tests.processes import PATIENCE

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
ACCEPTED = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)
ACCEPT = c.Accept(category="other", severity="minor", investigators=["inv.wang"])


def scrape(client: TestClient, token: str) -> Samples:
    response = client.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_never_by_path(
    client: TestClient, tokens: dict[str, str]
) -> None:
    admin, ref = tokens["admin"], file_via(client)
    before = scrape(client, admin)
    for _ in range(2):
        shown = client.get(f"/cases/{ref}", headers=bearer(tokens["inv.wang"]))
        assert shown.status_code == 200
    assert client.get("/no/such/QF-page").status_code == 404
    after = scrape(client, admin)
    route = {"method": "GET", "route": "/cases/{reference}", "status": "200"}
    counted = "qingfeng_http_requests_total"
    assert value(after, counted, **route) - value(before, counted, **route) == 2
    missing = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, counted, **missing) - value(before, counted, **missing) == 1
    timed = {"method": "GET", "route": "/cases/{reference}"}
    duration = "qingfeng_http_request_duration_seconds_count"
    assert value(after, duration, **timed) - value(before, duration, **timed) == 2
    held = {v for _, labels in after for _, v in labels}
    assert not any(ref in v or "QF-" in v or tokens["inv.wang"] in v for v in held)


def test_a_committed_action_is_counted_a_refused_one_is_not(
    client: TestClient, tokens: dict[str, str]
) -> None:
    admin, ref = tokens["admin"], file_via(client)
    before = value(scrape(client, admin), "qingfeng_actions_total", action="accept")
    headers = {**bearer(tokens["inv.wang"]), "If-Match": '"1"'}
    accept = {"category": "cliques", "severity": "minor", "investigators": ["inv.wang"]}
    wrong = client.post(
        f"/cases/{ref}/accept", json={**accept, "category": "nope"}, headers=headers
    )
    assert wrong.status_code == 422
    assert value(scrape(client, admin), "qingfeng_actions_total", action="accept") == before
    assert client.post(f"/cases/{ref}/accept", json=accept, headers=headers).status_code == 200
    assert value(scrape(client, admin), "qingfeng_actions_total", action="accept") == before + 1


def test_fired_steps_are_counted_with_how_late_they_fired(
    state: AppState, people: dict[str, Person], client: TestClient, tokens: dict[str, str]
) -> None:
    ref = file(state, now=ACCEPTED)
    act(state, people, ref, "inv.wang", ACCEPT, now=ACCEPTED)
    reminder = datetime(2026, 10, 15, 10, 0, tzinfo=UTC)  # investigation's reminder is due
    before = scrape(client, tokens["admin"])
    with time_machine.travel(reminder + timedelta(minutes=2), tick=False):
        now = datetime.now(UTC)
        assert fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=now) == 1
    after = scrape(client, tokens["admin"])
    step = {"stage": "investigation", "step": "reminder"}
    fired = "qingfeng_deadline_steps_fired_total"
    assert value(after, fired, **step) - value(before, fired, **step) == 1
    late, stage = "qingfeng_deadline_step_lateness_seconds", {"stage": "investigation"}
    assert value(after, f"{late}_sum", **stage) - value(before, f"{late}_sum", **stage) == 120
    # 120 s is above the 60 s bucket's bound and within the 300 s one
    in_60 = value(after, f"{late}_bucket", le="60.0", **stage)
    in_300 = value(after, f"{late}_bucket", le="300.0", **stage)
    assert in_60 == value(before, f"{late}_bucket", le="60.0", **stage)
    assert in_300 == value(before, f"{late}_bucket", le="300.0", **stage) + 1


@BOTH_DATABASES
def test_outbox_backlog_and_dead_letters_match_the_rows(
    state: AppState, client: TestClient, tokens: dict[str, str]
) -> None:
    rows = {  # key: (topic, channel, state)
        **{f"m{i}": (CHANNEL_SEND, "email", OutboxState.PENDING) for i in range(3)},
        "m3": (CHANNEL_SEND, "email", OutboxState.SENDING),
        "m4": (CHANNEL_SEND, "email", OutboxState.DONE),
        "m5": (CHANNEL_SEND, "wecom", OutboxState.DEAD),
        "m6": (CHANNEL_SEND, "wecom", OutboxState.DEAD),
        "f1": (STAGE_FLOW, None, OutboxState.STARTED),
        "f2": (STAGE_FLOW, None, OutboxState.DEAD),
    }
    with UnitOfWork(state.db) as uow:
        enqueue_all(
            uow.session,
            [
                NewOutboxRow(key, topic, {"channel": channel} if channel else {"case_id": 1})
                for key, (topic, channel, _) in rows.items()
            ],
            now=ACCEPTED,
        )
        for key, (_, _, row_state) in rows.items():
            row = uow.session.exec(select(OutboxRow).where(OutboxRow.key == key)).one()
            row.state = row_state
        uow.commit()
    samples = scrape(client, tokens["admin"])
    gauges = {
        (name, dict(labels)["topic"], dict(labels)["channel"]): count
        for (name, labels), count in samples.items()
        if name.startswith("qingfeng_outbox_")
    }
    assert gauges == {
        ("qingfeng_outbox_backlog", CHANNEL_SEND, "email"): 4,
        ("qingfeng_outbox_dead_letters", CHANNEL_SEND, "wecom"): 2,
        ("qingfeng_outbox_backlog", STAGE_FLOW, ""): 1,
        ("qingfeng_outbox_dead_letters", STAGE_FLOW, ""): 1,
    }


def test_only_an_admin_or_this_machine_may_scrape(
    state: AppState, client: TestClient, tokens: dict[str, str]
) -> None:
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert client.get("/metrics", headers=bearer(tokens["sec.li"])).status_code == 403
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
    with TestClient(create_app(state), client=("127.0.0.1", 40000)) as local:
        assert "qingfeng_http_requests_total" in local.get("/metrics").text
        relayed = local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status_code == 401  # a proxy on this machine relays others


def test_the_processes_of_up_are_summed(
    tmp_path: Path, client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process like `up` shares a directory after its imports, as `up` does, and starts
    a child like the runner; /metrics adds up the values both wrote."""
    shared = tmp_path / "prometheus"
    child = "from config import telemetry; telemetry.ACTIONS.labels(action='accept').inc(2)"
    parent = (
        "import subprocess, sys; from pathlib import Path; from config import telemetry\n"
        f"telemetry.share_between_processes(Path({str(shared)!r}))\n"
        "telemetry.ACTIONS.labels(action='accept').inc()\n"
        f"subprocess.run([sys.executable, '-c', {child!r}], check=True)\n"
    )
    subprocess.run([sys.executable, "-c", parent], check=True, timeout=PATIENCE)
    monkeypatch.setenv(telemetry.MULTIPROC_ENV, str(shared))
    samples = scrape(client, tokens["admin"])
    assert value(samples, "qingfeng_actions_total", action="accept") == 3
    assert len(list(shared.glob("counter_*.db"))) == 2  # one file per process


def file_via(client: TestClient) -> str:
    report = {
        "unit": "cs-su",
        "subject_handle": "stu.90001",
        "subject_name": "张同学",
        "summary": "反映问题",
        "details": "详细情况",
        "anonymous": True,
    }
    response = client.post("/reports", json=report)
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])
