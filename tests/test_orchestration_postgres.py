"""The PostgreSQL lane of orchestration: the app's database and the Prefect server's both
on a real PostgreSQL server started by the tests; one case carried to closure."""

from __future__ import annotations

import pytest
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings

from api.deps import AppState
from cases.models import Person
from cases.vocabulary import Stage
from flows.orchestration import deploy
from flows.server import PrefectServer
from tests import postgres
from tests.helpers import carry_to, file
from tests.test_orchestration import make_due_now, orchestrate, runs_of, stage_rows

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
            deployment = deploy()
            use(FlowContext(db=state.db, policy=state.policy, case_files=Path(str(tmp_path))))
            ref = file(state)
            carry_to(state, people, ref, Stage.CLOSED)
            make_due_now(state)
            orchestrate(state, deployment)
            runs = runs_of(state, ref)
            rows = stage_rows(state, ref)
        assert len(runs) == len(rows) == 6
        assert {r.state_type for r in runs} == {StateType.COMPLETED}
        assert {r.state for r in rows} == {"done"}
    finally:
        server.stop()
