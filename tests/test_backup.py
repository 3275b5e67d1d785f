"""`qingfeng backup` and `qingfeng restore`, round trip under load, on SQLite and PostgreSQL.

A thread files reports and acts on them through the service functions while `backup`
runs. The restored database passes `audit verify`; its cases are those of the backup's
moment, each one whole (its row, events and outbox rows from the same transactions); what
was filed after it is absent. The Prefect side: the restored outbox still holds every
stage run the backed-up changes owe, pending, so the dispatcher and the reconciler
(flows/reconcile.py) create them again on the Prefect server.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from pathlib import Path

import pytest
import time_machine
import typer
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner

from api.cli.backup import service_lock
from api.cli.main import app
from api.http.deps import AppState
from cases.outbox import STAGE_FLOW
from cases.procedure.clock import utcnow
from cases.store import backup as store
from cases.store.db import Database, UnitOfWork
from cases.store.models import ConductCase, OutboxRow, Person
from config.settings import Settings, get_settings
from flows.dispatch import LEASE, Deployments
from flows.reconcile import Reconciler
from tests import postgres
from tests.conftest import BOTH_DATABASES
from tests.helpers import PATH, act, file
from tests.processes import wait_for
from tests.test_orchestration import (  # the one Prefect server of the session
    deployments,  # noqa: F401 - a fixture
    dispatcher_for,
    runs_of,
    tagged,
)

runner = CliRunner()
_restores = count(1)


@dataclass
class Writer:
    """Files reports and carries each along PATH, recording every committed state with a
    tick of one counter the test shares (so "before the backup" is exact)."""

    state: AppState
    people: dict[str, Person]
    ticks: Iterator[int]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    # reference -> [(tick, stage, version)], and the tick at which its filing began
    history: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)
    began: dict[str, int] = field(default_factory=dict)
    error: BaseException | None = None

    def tick(self) -> int:
        with self.lock:
            return next(self.ticks)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                began = self.tick()
                reference = file(self.state)
                self.began[reference] = began
                self.history[reference] = [(self.tick(), "intake", 1)]
                for handle, command, _ in PATH[:7]:
                    after = act(self.state, self.people, reference, handle, command)
                    self.history[reference].append((self.tick(), after.stage, after.version))
        except BaseException as exc:  # reported by the test
            self.error = exc


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The CLI's settings from the environment; the API port one nobody serves."""
    monkeypatch.setenv("QINGFENG_PORT", str(postgres.free_port()))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def use_database(monkeypatch: pytest.MonkeyPatch, data_dir: Path, url: str | None) -> None:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(data_dir))
    if url is None:
        monkeypatch.delenv("QINGFENG_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("QINGFENG_DATABASE_URL", url)
    get_settings.cache_clear()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def fresh_target(state: AppState, tmp_path: Path, request: pytest.FixtureRequest) -> str | None:
    """Where to restore: a new SQLite data directory (None: its default file), or a new,
    empty database on the same PostgreSQL server."""
    if state.db.is_sqlite:
        return None
    server = request.getfixturevalue("postgres_template")
    return postgres.create_database(server, f"restored{next(_restores)}")


def cases_of(url: str) -> dict[str, tuple[str, int]]:
    db = Database(url, pool_size=2)
    try:
        with UnitOfWork(db, write=False) as uow:
            rows = uow.session.exec(
                select(ConductCase.reference, ConductCase.stage, ConductCase.version)
            )
            return {reference: (stage, version) for reference, stage, version in rows}
    finally:
        db.dispose()


def stage_rows(url: str) -> dict[str, tuple[str, int]]:
    """Each stage_flow row: its key -> (state, the case event it follows)."""
    db = Database(url, pool_size=2)
    try:
        with UnitOfWork(db, write=False) as uow:
            rows = uow.session.exec(select(OutboxRow).where(OutboxRow.topic == STAGE_FLOW))
            return {r.key: (r.state, json.loads(r.payload)["event_seq"]) for r in rows}
    finally:
        db.dispose()


def last_seqs(url: str) -> dict[int, int]:
    """Each case id -> the seq of its last audit event."""
    db = Database(url, pool_size=2)
    try:
        with db.reader.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT case_id, MAX(seq) FROM audit_event"
                    " WHERE case_id IS NOT NULL GROUP BY case_id"
                )
            )
            return {int(case_id): int(seq) for case_id, seq in found}
    finally:
        db.dispose()


def backup_under_load(
    state: AppState, people: dict[str, Person], out: Path
) -> tuple[Writer, int, int]:
    """Back up through the CLI while the writer works: (writer, tick before, tick after)."""
    writer = Writer(state, people, count(1))
    thread = threading.Thread(target=writer.run, name="writer")
    thread.start()
    try:
        assert wait_for(lambda: len(writer.history) >= 3 or writer.error is not None, 120)
        start = writer.tick()
        code, output = cli("backup", "--out", str(out))
        end = writer.tick()
        assert code == 0, output
        assert "backed up" in output
        filed_after = len([r for r, began in writer.began.items() if began > end])
        assert wait_for(
            lambda: (
                len([r for r, b in writer.began.items() if b > end]) > filed_after + 1
                or writer.error is not None
            ),
            120,
        )
    finally:
        writer.stop.set()
        thread.join()
    assert writer.error is None, writer.error
    return writer, start, end


def assert_cases_of_the_moment(
    writer: Writer, start: int, end: int, restored: dict[str, tuple[str, int]]
) -> None:
    for reference, history in writer.history.items():
        before = [(stage, version) for tick, stage, version in history if tick < start]
        after = [version for tick, _, version in history if tick > end]
        if writer.began[reference] > end:
            assert reference not in restored, f"{reference} was filed after the backup"
            continue
        if before:
            assert reference in restored, f"{reference} was filed before the backup"
        if reference not in restored:
            continue  # filed while the backup ran: in it or not, both fine
        stage, version = restored[reference]
        assert (stage, version) in [(s, v) for _, s, v in history]  # a state it was in
        if before:
            assert version >= before[-1][1]
        if after:
            assert version < after[0]
    assert set(restored) <= set(writer.history)


@BOTH_DATABASES
def test_a_backup_under_load_restores_the_cases_of_its_moment(
    state: AppState,
    people: dict[str, Person],
    tmp_path: Path,
    cli_env: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    use_database(cli_env, state.settings.data_dir, state.db.url)
    out = tmp_path / "qingfeng.backup"
    writer, start, end = backup_under_load(state, people, out)
    source = state.db.url

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    target = fresh_target(state, tmp_path, request)
    use_database(cli_env, fresh, target)
    code, output = cli("restore", str(out), "--yes")
    assert code == 0, output
    assert "audit verify: OK" in output
    restored_url = target or f"sqlite:///{fresh / 'qingfeng.db'}"
    restored = cases_of(restored_url)
    assert_cases_of_the_moment(writer, start, end, restored)
    assert cases_of(source).keys() > restored.keys()  # the source went on

    # The outbox is whole: every stage run the restored changes owe, and none they don't,
    # waiting (nothing here dispatched them) for the dispatcher on the new Prefect side.
    seqs = last_seqs(restored_url)
    owed = {
        key: (row_state, seq)
        for key, (row_state, seq) in stage_rows(source).items()
        if int(key.split(":")[1]) in seqs and seq <= seqs[int(key.split(":")[1])]
    }
    assert stage_rows(restored_url) == owed
    assert owed and {row_state for row_state, _ in owed.values()} == {"pending"}


def test_restore_refuses_while_the_service_runs(
    state: AppState, tokens: dict[str, str], tmp_path: Path, cli_env: pytest.MonkeyPatch
) -> None:
    use_database(cli_env, state.settings.data_dir, state.db.url)
    out = tmp_path / "b.qfb"
    assert cli("backup", "--out", str(out))[0] == 0
    settings = Settings(data_dir=state.settings.data_dir, database_url=state.db.url)
    with service_lock(settings):
        code, output = cli("restore", str(out), "--yes")
        with pytest.raises(typer.Exit), service_lock(settings):
            pass  # a second `up` on the same data stops before it starts anything
    assert code == 2
    assert f"{out}: not restored: the service is running" in " ".join(output.split())
    # A child of `up` reporting its status (this process: alive) counts as running too.
    run = state.settings.data_dir / "run"
    (run / "notifier.status").write_text(f"{os.getpid()} ready\n")
    code, output = cli("restore", str(out), "--yes")
    assert code == 2 and "qingfeng notifier" in output
    (run / "notifier.status").unlink()
    code, output = cli("restore", str(out), "--yes")
    assert code == 0 and "audit verify: OK" in output


def test_a_damaged_or_foreign_file_is_refused_by_name(
    state: AppState, tokens: dict[str, str], tmp_path: Path, cli_env: pytest.MonkeyPatch
) -> None:
    use_database(cli_env, state.settings.data_dir, state.db.url)
    good = tmp_path / "good.qfb"
    assert cli("backup", "--out", str(good))[0] == 0
    header, manifest, payload = good.read_bytes().split(b"\n", 2)

    damaged = tmp_path / "damaged.qfb"
    damaged.write_bytes(header + b"\n" + manifest + b"\n" + payload[:-1] + b"x")
    newer = tmp_path / "newer.qfb"
    fields = json.loads(manifest) | {"revision": "9999"}
    newer.write_bytes(header + b"\n" + json.dumps(fields).encode() + b"\n" + payload)
    plain = tmp_path / "plain.db"
    plain.write_bytes(payload)
    for path, reason in (
        (damaged, "damaged: its sha256 differs"),
        (newer, "made by a newer qingfeng (schema 9999; this one knows up to"),
        (plain, "not a qingfeng backup"),
        (tmp_path / "missing.qfb", "no such file"),
    ):
        code, output = cli("restore", str(path), "--yes")
        assert code == 2, output
        assert f"{path}: {reason}" in " ".join(output.split())
    # Nothing was replaced: the database is the one we backed up, whole.
    assert not (state.settings.data_dir / "qingfeng.db.before-restore").exists()
    assert cli("audit", "verify")[0] == 0


def test_the_postgresql_password_travels_in_the_environment() -> None:
    conninfo, env = store.libpq("postgresql+psycopg://qf:s3cret@db.example:5433/qingfeng")
    assert conninfo == "postgresql://qf@db.example:5433/qingfeng"
    assert env["PGPASSWORD"] == "s3cret"


@pytest.mark.slow
def test_after_a_restore_the_reconciler_rebuilds_the_prefect_side(
    state: AppState,
    people: dict[str, Person],
    tmp_path: Path,
    cli_env: pytest.MonkeyPatch,
    deployments: Deployments,  # noqa: F811 - the fixture imported above
    request: pytest.FixtureRequest,
) -> None:
    """Runs were created in Prefect, then Prefect's database is lost (its runs deleted):
    after restoring ours, the reconciler finds the runs missing and the dispatcher creates
    them again."""
    references = [file(state) for _ in range(2)]
    assert dispatcher_for(state, deployments).tick() == 2
    started = stage_rows(state.db.url)
    assert {row_state for row_state, _ in started.values()} == {"started"}
    use_database(cli_env, state.settings.data_dir, state.db.url)
    out = tmp_path / "b.qfb"
    assert cli("backup", "--out", str(out))[0] == 0
    lost = set()
    with get_client(sync_client=True) as client:
        for reference in references:
            for run in tagged(state, reference):
                client.delete_flow_run(run.id)
                lost.add(str(run.id))
    assert lost

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    target = fresh_target(state, tmp_path, request)
    use_database(cli_env, fresh, target)
    code, output = cli("restore", str(out), "--yes")
    assert code == 0 and "audit verify: OK" in output, output
    settings = Settings(data_dir=fresh, database_url=target or f"sqlite:///{fresh / 'qingfeng.db'}")
    restored = AppState(
        settings=settings,
        policy=state.policy,
        db=Database(settings.effective_database_url),
        secret=state.secret,
    )
    try:
        assert stage_rows(restored.db.url) == started
        later = utcnow() + timedelta(minutes=1)
        assert Reconciler(restored.db).tick(now=later) == 2  # both runs missing
        assert {s for s, _ in stage_rows(restored.db.url).values()} == {"pending"}
        # The dispatcher creates them again (running them is test_orchestration's part),
        # once the first dispatch's lease (kept in available_at) has run out.
        with time_machine.travel(later + LEASE, tick=True):
            assert dispatcher_for(restored, deployments).tick() == 2
        again = stage_rows(restored.db.url)
        assert {s for s, _ in again.values()} == {"started"}
        for reference in references:
            [run] = runs_of(restored, reference)
            assert run.state_type is StateType.SCHEDULED
            assert str(run.id) not in lost
    finally:
        restored.db.dispose()
