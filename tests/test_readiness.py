"""/readyz says what docs/api.md says it says: every documented state is one the code
produces (each is made to happen here), and the code produces no undocumented one."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.deps import AppState
from api.http.routes.health import DatabaseCheck, Readiness
from api.stack.processes import ChildService
from cases.store.db import Database
from tests.postgres import free_port
from tests.processes import wait_for

DOCS = Path(__file__).parent.parent / "docs"
ROW = re.compile(r"^\s*\| `(\w+)` \| (.+) \|$")


def documented() -> dict[str, set[str]]:
    """The readiness table of docs/api.md: check → its states, the words in backticks
    outside parentheses (a ``<placeholder>`` stands for a state's variable part)."""
    text = (DOCS / "api.md").read_text()
    table = text[text.index("`GET /readyz`") :]
    rows = (ROW.match(line) for line in table.splitlines())
    return {
        row[1]: set(re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", row[2])))
        for row in rows
        if row
    }


def shape(state: str) -> str:
    """A reported state as the docs write it: ``unreachable: OperationalError`` →
    ``unreachable: <error type>``."""
    for fixed, placeholder in (
        (f"{DatabaseCheck.UNREACHABLE}: ", "<error type>"),
        ("version ", "<n>"),
    ):
        if state.startswith(fixed):
            return fixed + placeholder
    return state


def readiness(state: AppState) -> tuple[int, str, dict[str, str]]:
    with TestClient(create_app(state)) as client:
        response = client.get("/readyz")
    body = response.json()
    return response.status_code, body["status"], body["checks"]


def test_every_documented_database_state_happens_and_no_other(
    state: AppState, db_file: Path
) -> None:
    seen: dict[str, set[str]] = {"database": set(), "policy": set()}
    statuses = {}

    def look(at: AppState) -> None:
        code, status, checks = readiness(at)
        statuses[status] = code
        for check in seen:
            seen[check].add(shape(checks[check]))

    look(state)
    dead = f"postgresql+psycopg://qingfeng@127.0.0.1:{free_port()}/qingfeng"  # nobody there
    unreachable = Database(dead, pool_size=1)
    look(dataclasses.replace(state, db=unreachable))
    unreachable.dispose()
    with sqlite3.connect(db_file) as connection:
        connection.execute("DROP TABLE alembic_version")
    look(state)

    assert statuses == {Readiness.READY: 200, Readiness.NOT_READY: 503}
    docs = documented()
    assert {check: docs[check] for check in seen} == seen
    assert {s.split(":")[0] for s in seen["database"]} == set(DatabaseCheck)


def test_every_documented_component_state_happens(state: AppState, tmp_path: Path) -> None:
    from flows.orchestrator import Orchestrator  # imports Prefect

    # `up` reports each child by ChildService.status; the runner child relays
    # Orchestrator.status. A real notifier child, as `up` starts it:
    child = ChildService("notifier", state.settings, wakes_on=())
    children = {child.status}
    child.start()
    try:
        assert wait_for(lambda: child.status != "stopped", 60)
        children.add(child.status)
    finally:
        child.stop()
    children.add(child.status)

    nobody = f"http://127.0.0.1:{free_port()}/api"
    orchestration = Orchestrator(state.db, state.policy, api_url=nobody, data_dir=tmp_path)
    runner = {orchestration.status}
    orchestration.start()
    try:
        assert wait_for(lambda: orchestration.status != "starting", 60)
        runner.add(orchestration.status)
    finally:
        orchestration.stop()

    docs = documented()
    assert docs["notifications"] == children == {"running", "stopped"}
    # `ready` needs a Prefect server: tests/test_service_up.py sees it from a real `up`.
    assert docs["orchestration"] == children | runner | {"ready"}
    assert set(docs) == {"database", "policy", "notifications", "orchestration"}


def test_operations_guide_names_only_documented_states() -> None:
    text = (DOCS / "operations.md").read_text()
    paragraph = text[text.index("- `/healthz`") :].split("\n- ")[0]
    docs = documented()
    known = set(docs).union(*docs.values(), {s.value for s in Readiness})
    named = {w for w in re.findall(r"`([^`]+)`", paragraph) if "/" not in w and "." not in w}
    assert named <= known, named - known
    assert {s.value for s in Readiness} <= named
