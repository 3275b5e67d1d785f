"""The PostgreSQL lane of orchestration: the app's database and the Prefect server's both
on a real PostgreSQL server started by the tests; one case carried to closure."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings

from api.http.deps import AppState
from api.stack.prefect_server import PrefectServer
from cases.procedure.clock import utcnow
from cases.procedure.vocabulary import Stage
from cases.store.models import OutboxState, Person
from flows.dispatch import Deployments, StageDispatcher, deploy
from flows.reconcile import Reconciler
from tests import postgres
from tests.helpers import carry_to, file
from tests.test_orchestration import (
    case_run,
    make_due_now,
    nested_under,
    orchestrate,
    runs_of,
    stage_rows,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("state", ["postgres"], indirect=True)
def test_lifecycle_with_app_and_prefect_on_postgres(
    state: AppState,
    people: dict[str, Person],
    postgres_template: str,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from flows.context import FlowContext, use

    prefect_db = postgres.create_database(postgres_template, "prefect")
    asyncpg_url = prefect_db.replace("postgresql+psycopg://", "postgresql+asyncpg://", 1)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # put back after the test
    server = PrefectServer(Path(str(tmp_path)) / "prefect", postgres.free_port(), asyncpg_url)
    server.start()
    try:
        assert server.wait_ready(timeout=120), (
            Path(str(tmp_path)) / "prefect" / "server.log"
        ).read_text()[-2000:]
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            deployments = deploy()
            use(FlowContext(db=state.db, policy=state.policy, case_files=Path(str(tmp_path))))
            ref = file(state)
            carry_to(state, people, ref, Stage.CLOSED)
            make_due_now(state)
            orchestrate(state, deployments)
            runs = runs_of(state, ref)
            rows = stage_rows(state, ref)
        assert len(runs) == len(rows) == 6
        assert {r.state_type for r in runs} == {StateType.COMPLETED}
        assert {r.state for r in rows} == {"done"}
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            parent = case_run(state, ref)
            assert parent.state_type is StateType.COMPLETED and nested_under(parent, runs)
    finally:
        server.stop()


@pytest.mark.parametrize("state", ["postgres"], indirect=True)
def test_two_instances_with_their_own_prefect_dispatch_each_transition_once(
    state: AppState,
    people: dict[str, Person],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two `up`s over one PostgreSQL database, each with its own Prefect server: their
    dispatchers and reconcilers, at once, create one run per stage_flow row in all."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # put back after the test
    servers = [PrefectServer(tmp_path / name, postgres.free_port()) for name in ("a", "b")]
    refs = [file(state) for _ in range(24)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            assert server.wait_ready(timeout=300), (server.home / "server.log").read_text()
        deployments = []
        for server in servers:
            with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
                deployments.append(deploy())
        assert deployments[0].stage != deployments[1].stage
        together = threading.Barrier(len(servers))

        def instance(server: PrefectServer, deployments: Deployments) -> None:
            # The namespace keeps runs of one key apart, as two servers do anyway.
            dispatcher = StageDispatcher(
                state.db,
                deployments,
                state.policy,
                batch=4,
                namespace=f"{state.settings.data_dir}:",
            )
            with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
                together.wait()
                while dispatcher.tick():
                    pass
                later = utcnow() + timedelta(minutes=10)
                Reconciler(state.db, claimant=str(deployments.stage)).tick(now=later)
                dispatcher.tick()

        with ThreadPoolExecutor(len(servers)) as pool:
            for done in [
                pool.submit(instance, *pair) for pair in zip(servers, deployments, strict=True)
            ]:
                done.result()

        runs = []
        for server in servers:
            with SyncPrefectClient(server.api_url) as client:
                runs.extend(client.read_flow_runs(deployment_filter=None))
        runs = [run for run in runs if run.name not in refs]  # the cases' own runs aside
        rows = [row for ref in refs for row in stage_rows(state, ref)]
        assert len(rows) == len(refs)
        assert sorted(str(run.id) for run in runs) == sorted(r.external_id or "" for r in rows)
        assert {r.state for r in rows} == {OutboxState.STARTED}
        by = {str(d.stage) for d in deployments}
        assert {r.claimed_by for r in rows} <= by
    finally:
        for server in servers:
            server.stop()
