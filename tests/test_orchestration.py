"""Every transition runs as one `case-stage` flow run on the real Prefect engine.

One session-scoped `prefect_test_harness` (a real Prefect server on a temporary SQLite
database); the runs are created by the dispatcher and executed by the in-process runner,
exactly as in `qingfeng up`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterTags,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.context import SyncClientContext
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Pending, Running
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import update
from sqlmodel import col, func, select

from api.http.deps import AppState
from cases import stage_work
from cases.firing import fire_due_steps
from cases.outbox import DELIVERY, STAGE_FLOW
from cases.procedure.clock import utcnow
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, OutboxRow, Person
from flows.context import FlowContext, use
from flows.dispatch import Deployments, StageDispatcher, deploy
from flows.reconcile import Reconciler, backlog, stuck_in_prefect
from flows.runner import InProcessRunner
from flows.stage import artifact_key
from tests.helpers import carry_to, file
from tests.processes import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def deployments() -> Iterator[Deployments]:
    with prefect_test_harness(server_startup_timeout=300):  # a backstop
        url = PREFECT_API_URL.value()
        before = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url  # for threads that start without our context
        try:
            yield deploy()
        finally:
            if before is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = before


@pytest.fixture
def flows_on(state: AppState, tmp_path: object, deployments: Deployments) -> AppState:
    from pathlib import Path

    use(FlowContext(db=state.db, policy=state.policy, case_files=Path(str(tmp_path)) / "files"))
    return state


def dispatcher_for(state: AppState, deployments: Deployments) -> StageDispatcher:
    # Each test has its own database (case ids start at 1 again) but the Prefect server
    # is shared: a namespace per database keeps their idempotency keys apart.
    return StageDispatcher(
        state.db, deployments, state.policy, namespace=f"{state.settings.data_dir}:"
    )


def orchestrate(state: AppState, deployments: Deployments, *, timeout: float = 600) -> None:
    """Dispatch and run until every stage run of the database is done (``timeout``: a
    backstop)."""
    dispatcher = dispatcher_for(state, deployments)
    runner = InProcessRunner(deployments.stage, threads=2, poll_seconds=0.2)
    runner.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dispatcher.tick():
                runner.wake()
            left = backlog(state.db)
            if left.pending == left.started == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"stage runs still open after {timeout} s: {backlog(state.db)}")
    finally:
        runner.stop()


def make_due_now(state: AppState) -> None:
    with UnitOfWork(state.db) as uow:
        uow.session.execute(update(OutboxRow).values(available_at=utcnow()))
        uow.commit()


def tagged(state: AppState, reference: str, *, top_level: bool = False) -> list[FlowRun]:
    """The runs tagged with the case (of this test's database: references repeat across);
    ``top_level``: only those that are not subflows (the UI's "Hide subflows")."""
    parentless = FlowRunFilterParentTaskRunId(is_null_=True) if top_level else None
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[f"case:{reference}"]),
                parent_task_run_id=parentless,
            )
        )
    ours = f"{state.settings.data_dir}:"
    return [r for r in runs if (r.idempotency_key or "").startswith(ours)]


def runs_of(state: AppState, reference: str) -> list[FlowRun]:
    """The case's stage runs."""
    return [r for r in tagged(state, reference) if r.name != reference]


def case_run(state: AppState, reference: str) -> FlowRun:
    """The case's own run (`conduct-case`), the only one that is not a subflow."""
    [run] = tagged(state, reference, top_level=True)
    assert run.name == reference and f"case:{reference}" in run.tags
    return run


def our_lines(run: FlowRun) -> list[str]:
    """What our stage flow logged for ``run`` (not Prefect's own lines)."""
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    return [log.message for log in logs if log.name == "prefect.flow_runs.qingfeng"]


def nested_under(parent: FlowRun, runs: list[FlowRun]) -> bool:
    """Whether every run is a subflow of ``parent`` (through a task run in it)."""
    with get_client(sync_client=True) as client:
        return all(
            run.parent_task_run_id is not None
            and client.read_task_run(run.parent_task_run_id).flow_run_id == parent.id
            for run in runs
        )


def stage_rows(state: AppState, reference: str) -> list[OutboxRow]:
    with UnitOfWork(state.db, write=False) as uow:
        return list(
            uow.session.exec(
                select(OutboxRow)
                .join(ConductCase, col(ConductCase.id) == OutboxRow.case_id)
                .where(ConductCase.reference == reference, OutboxRow.topic == STAGE_FLOW)
                .order_by(col(OutboxRow.id))  # written in transition order; PostgreSQL
            )  # returns updated rows in any order without it
        )


def filed_and_dispatched(state: AppState, deployments: Deployments) -> tuple[str, OutboxRow, UUID]:
    """A new report whose intake run the dispatcher has created (not yet run): its
    reference, its stage_flow row and the run's id."""
    ref = file(state)
    dispatcher_for(state, deployments).tick()
    [row] = stage_rows(state, ref)
    return ref, row, UUID(row.external_id or "")


def claimed_and_running(run_id: UUID) -> None:
    """The run as a runner leaves it once it has claimed and started it."""
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Pending())
        client.set_flow_run_state(run_id, Running())


def count(state: AppState, *where: object) -> int:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(func.count()).select_from(OutboxRow).where(*where)).one()  # type: ignore[arg-type]


def test_a_lifecycle_is_one_completed_run_per_transition(
    flows_on: AppState, people: dict[str, Person], deployments: Deployments
) -> None:
    state = flows_on
    ref = file(state)
    carry_to(state, people, ref, Stage.CLOSED)  # its close is done 40 days ahead: come back
    make_due_now(state)
    orchestrate(state, deployments)

    rows = stage_rows(state, ref)
    runs = runs_of(state, ref)
    stages = [json.loads(r.payload)["stage"] for r in rows]
    assert stages[0] == "intake" and stages[-1] == "closed" and len(rows) == 6
    assert len(runs) == len(rows)  # exactly one run per transition
    assert {r.state_type for r in runs} == {StateType.COMPLETED}
    assert sorted(r.name for r in runs) == sorted(f"{ref} · {s}" for s in stages)
    assert {str(r.id) for r in runs} == {r.external_id for r in rows}
    assert {r.state for r in rows} == {"done"}

    # The stage work happened: triage recorded, deliveries prepared, the case file built.
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()
        actions = list(
            uow.session.exec(select(AuditEvent.action).where(AuditEvent.chain == f"case:{case.id}"))
        )
    assert case.missing_information is not None and case.case_file_sha256
    assert actions.count("triage.checked") == 1 and actions.count("case_file.built") == 1
    assert count(state, OutboxRow.topic == DELIVERY, OutboxRow.case_id == case.id) > 0

    # The artifact holds the whole timeline, up to the case file.
    with get_client(sync_client=True) as client:
        [artifact] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(ref)]))
        )
    assert f"# {ref}" in str(artifact.data) and "case_file.built" in str(artifact.data)

    # Dispatching a transition again (say, its row was reset) makes no second run.
    with UnitOfWork(state.db) as uow:
        uow.session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == rows[0].id)
            .values(state="pending", available_at=utcnow())  # due now, not when its lease ends
        )
        uow.commit()
    orchestrate(state, deployments)
    assert len(runs_of(state, ref)) == len(rows)


def test_a_case_is_one_run_in_prefect_whose_state_follows_the_case(
    flows_on: AppState, people: dict[str, Person], deployments: Deployments
) -> None:
    state = flows_on
    ref = file(state)
    orchestrate(state, deployments)
    parent = case_run(state, ref)
    assert parent.state_type is StateType.RUNNING and parent.state_name == "Intake"
    assert parent.deployment_id == deployments.case

    carry_to(state, people, ref, Stage.INVESTIGATION)
    orchestrate(state, deployments)
    assert case_run(state, ref).state_name == "Investigation"

    # The ladder fires: overdue at the due time, escalated two working days on.
    with UnitOfWork(state.db, write=False) as uow:
        due = uow.session.exec(select(ConductCase.due_at).where(ConductCase.reference == ref)).one()
    assert due is not None
    fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=due + timedelta(minutes=1))
    make_due_now(state)  # fired "later": their rows are due then
    orchestrate(state, deployments)
    overdue = case_run(state, ref)
    assert overdue.state_type is StateType.RUNNING and overdue.state_name == "Overdue"
    assert overdue.id == parent.id  # the same run, in a new state
    fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=due + timedelta(days=30))
    make_due_now(state)
    orchestrate(state, deployments)
    assert case_run(state, ref).state_name == "Escalated"

    carry_to(state, people, ref, Stage.CLOSED)
    make_due_now(state)
    orchestrate(state, deployments)
    closed = case_run(state, ref)
    assert closed.id == parent.id and closed.state_type is StateType.COMPLETED

    # Every stage run and fired step is a subflow of it, each named for what it is.
    children = runs_of(state, ref)
    assert len(children) == len(stage_rows(state, ref)) and nested_under(parent, children)
    names = {run.name for run in children}
    for step in ("overdue", "escalation_1", "escalation_2"):  # the late reminder is skipped
        assert f"{ref} · investigation · {step}" in names
    assert {f"{ref} · intake", f"{ref} · investigation", f"{ref} · closed"} <= names
    # Each run says in its log, once, what it did (sent in batches: wait for it).
    first = children[0]
    assert wait_for(lambda: len(our_lines(first)) > 0, 60)
    [line] = our_lines(first)
    assert line.startswith(f"{first.name}: ") and line.endswith("timeline published")


def test_a_runner_killed_mid_run_is_recovered_without_doubling(
    flows_on: AppState, people: dict[str, Person], deployments: Deployments
) -> None:
    state = flows_on
    ref, row, run_id = filed_and_dispatched(state, deployments)
    # A runner claims the run, does part of its work, and dies before finishing.
    claimed_and_running(run_id)
    payload = json.loads(row.payload)
    half_done = stage_work.prepare_notifications(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        case_id=payload["case_id"],
        stage=Stage.INTAKE,
        event_seq=payload["event_seq"],
    )
    assert half_done > 0

    reconciler = Reconciler(state.db)  # stuck after 5 minutes
    assert reconciler.tick() == 0  # too early to call it stuck
    assert reconciler.tick(now=utcnow() + timedelta(minutes=10)) == 1  # scheduled again
    orchestrate(state, deployments)

    [run] = runs_of(state, ref)
    assert run.id == run_id and run.state_type is StateType.COMPLETED
    assert nested_under(case_run(state, ref), [run])  # still the case's one run, and its child
    deliveries = count(state, OutboxRow.topic == DELIVERY, OutboxRow.case_id == payload["case_id"])
    assert deliveries == half_done  # nothing sent twice
    assert reconciler.tick(now=utcnow() + timedelta(minutes=20)) == 0


@contextmanager
def counting_connections() -> Iterator[tuple[str, list[object]]]:
    """A Prefect API address that refuses work: it counts the connections made to it and
    closes each at once."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[object] = []

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener was closed: done
            while True:
                connection, peer = listener.accept()
                connections.append(peer)
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api", connections
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(30)


def test_prefect_down_reports_still_accepted_then_all_orchestrated(
    flows_on: AppState,
    client: TestClient,
    tokens: dict[str, str],
    deployments: Deployments,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = flows_on
    report = {
        "unit": "cs-su",
        "subject_handle": "stu.down",
        "subject_name": "某同学",
        "summary": "干部作风问题",
        "details": "在学生会活动中多次以权谋私,要求干事为其个人事务跑腿。",
    }
    refs = []
    with counting_connections() as (prefect, connections), monkeypatch.context() as env:
        env.setenv("PREFECT_API_URL", prefect)  # for threads that start without our context
        with temporary_settings(updates={PREFECT_API_URL: prefect}):
            for _ in range(20):
                response = client.post("/reports", json=report)
                assert response.status_code == 201, response.text
                refs.append(response.json()["reference"])
    assert connections == []  # nobody waited on Prefect: filing never asked it anything
    dead = "http://127.0.0.1:9/api"  # nothing listens there
    with temporary_settings(updates={PREFECT_API_URL: dead}):
        assert dispatcher_for(state, deployments).tick() == 0  # Prefect away: rows wait
    left = backlog(state.db)
    assert left.pending >= 20 and left.started == 0
    with UnitOfWork(state.db, write=False) as uow:
        waiting = list(
            uow.session.exec(
                select(OutboxRow)
                .where(OutboxRow.topic == STAGE_FLOW, OutboxRow.state == "pending")
                .order_by(col(OutboxRow.id))
            )
        )
    # The first row failed and waits with backoff; the rest were not tried in vain.
    assert waiting[0].attempts == 1 and "ConnectError" in (waiting[0].last_error or "")
    assert waiting[0].available_at > utcnow()
    assert {w.attempts for w in waiting[1:]} == {0}

    make_due_now(state)  # Prefect is back; the backoff has passed
    orchestrate(state, deployments)
    # One client for the 60 reads below (each new client costs a TLS context and a CSRF
    # round trip): the helpers' get_client finds it in the context.
    with SyncClientContext.get_or_create():
        for ref in refs:  # each case's run was created once Prefect was back, its run under it
            [run] = runs_of(state, ref)
            assert run.state_type is StateType.COMPLETED
            parent = case_run(state, ref)
            assert parent.state_name == "Intake" and nested_under(parent, [run])


def test_a_run_that_died_after_its_work_is_settled_and_reported(
    flows_on: AppState, people: dict[str, Person], deployments: Deployments
) -> None:
    from prefect.settings import PREFECT_API_URL

    state = flows_on
    ref, row, run_id = filed_and_dispatched(state, deployments)
    # A runner runs it to its last task (which marks the row done) and dies before the
    # engine reports Completed: Prefect shows it Running for good.
    claimed_and_running(run_id)
    stage_work.finish_stage_run(uow=UnitOfWork(state.db), key=row.key, flow_run_id=str(run_id))
    assert backlog(state.db).done == 1
    api, later = PREFECT_API_URL.value(), utcnow() + timedelta(minutes=1)
    assert stuck_in_prefect(state.db, api) == 0  # within the grace period: it may finish
    assert stuck_in_prefect(state.db, api, now=later) == 1  # `qingfeng status` reports it

    assert Reconciler(state.db).tick(now=later) == 0  # settled, not restarted
    [run] = runs_of(state, ref)
    assert run.id == run_id and run.state_type is StateType.COMPLETED
    assert stuck_in_prefect(state.db, api, now=later) == 0
