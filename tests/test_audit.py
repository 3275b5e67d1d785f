"""The audit trail catches edits, deletions and reorderings made directly in the SQLite file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from api.cli.main import app
from api.http.deps import AppState
from api.stack.services import checkpoint_audit
from cases import audit
from cases.procedure.clock import utcnow
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditChainHead, AuditCheckpoint, Person
from tests.conftest import BOTH_DATABASES
from tests.helpers import carry_to, file


def _verify(state: AppState) -> audit.VerifyReport:
    with UnitOfWork(state.db, write=False) as uow:
        return audit.verify(uow.session)


@pytest.fixture
def trail(state: AppState, people: dict[str, Person]) -> tuple[str, str]:
    first, second = file(state), file(state)
    carry_to(state, people, first, Stage.DISPOSITION)
    carry_to(state, people, second, Stage.VERIFICATION)
    checkpoint_audit(state)
    return first, second


def _sql(db_file: Path, *statements: str) -> None:
    connection = sqlite3.connect(db_file)
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


@BOTH_DATABASES
def test_untouched_trail_verifies(state: AppState, trail: tuple[str, str]) -> None:
    report = _verify(state)
    assert report.ok, report.problem
    assert report.events > 10 and report.checkpoints == 1


@BOTH_DATABASES
def test_checkpoints_chain_and_cover_only_what_moved(
    state: AppState, trail: tuple[str, str]
) -> None:
    file(state)  # a new case: its chain is the one that moved
    with UnitOfWork(state.db) as uow:
        second = audit.write_checkpoint(uow.session, at=utcnow())
        again = audit.write_checkpoint(uow.session, at=utcnow())
        uow.commit()
    with UnitOfWork(state.db, write=False) as uow:
        checkpoints = uow.session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).all()
        heads = {h.chain: h for h in uow.session.exec(select(AuditChainHead))}
    assert second is not None and again is None  # nothing moved since the second one
    assert [c.prev_hash for c in checkpoints] == [audit.GENESIS, checkpoints[0].hash]
    moved = json.loads(checkpoints[1].heads)
    assert set(moved) == {
        c for c, h in heads.items() if h.seq > json.loads(checkpoints[0].heads).get(c, [0])[0]
    }
    assert all(not h.pending_checkpoint and h.checkpointed_seq == h.seq for h in heads.values())
    assert _verify(state).ok


def _first_case_chain(db_file: Path) -> str:
    connection = sqlite3.connect(db_file)
    chain = connection.execute(
        "SELECT chain FROM audit_event WHERE chain LIKE 'case:%' ORDER BY id LIMIT 1"
    ).fetchone()
    connection.close()
    return str(chain[0])


TAMPERINGS: dict[str, Callable[[str], list[str]]] = {
    "edit event data": lambda ch: [
        f"UPDATE audit_event SET data = replace(data, 'formalism', 'other') "
        f"WHERE chain = '{ch}' AND action = 'case.accept'"
    ],
    "edit actor": lambda ch: [
        f"UPDATE audit_event SET actor_id = actor_id + 1 WHERE chain = '{ch}' AND seq = 3"
    ],
    "delete a middle event": lambda ch: [
        f"DELETE FROM audit_event WHERE chain = '{ch}' AND seq = 3"
    ],
    "delete the last event": lambda ch: [
        f"DELETE FROM audit_event WHERE chain = '{ch}' AND seq = "
        f"(SELECT max(seq) FROM audit_event WHERE chain = '{ch}')"
    ],
    "delete the last event and fix the head": lambda ch: [
        f"DELETE FROM audit_event WHERE chain = '{ch}' AND seq = "
        f"(SELECT max(seq) FROM audit_event WHERE chain = '{ch}')",
        f"UPDATE audit_chain_head SET seq = seq - 1, hash = (SELECT hash FROM audit_event "
        f"WHERE chain = '{ch}' ORDER BY seq DESC LIMIT 1) WHERE chain = '{ch}'",
    ],
    "reorder two events": lambda ch: [
        f"UPDATE audit_event SET seq = -1 WHERE chain = '{ch}' AND seq = 2",
        f"UPDATE audit_event SET seq = 2 WHERE chain = '{ch}' AND seq = 3",
        f"UPDATE audit_event SET seq = 3 WHERE chain = '{ch}' AND seq = -1",
    ],
    "swap contents of two events": lambda ch: [
        f"UPDATE audit_event SET action = CASE seq WHEN 2 THEN (SELECT action FROM audit_event "
        f"WHERE chain = '{ch}' AND seq = 3) ELSE (SELECT action FROM audit_event WHERE "
        f"chain = '{ch}' AND seq = 2) END WHERE chain = '{ch}' AND seq IN (2, 3)"
    ],
    "delete a whole case's trail": lambda ch: [
        f"DELETE FROM audit_event WHERE chain = '{ch}'",
        f"DELETE FROM audit_chain_head WHERE chain = '{ch}'",
    ],
    "edit a checkpoint": lambda ch: [
        "UPDATE audit_checkpoint SET heads = replace(heads, '\"system\"', '\"sys\"')"
    ],
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_verify_finds_tampering(
    how: str, state: AppState, db_file: Path, trail: tuple[str, str]
) -> None:
    chain = _first_case_chain(db_file)
    _sql(db_file, *TAMPERINGS[how](chain))
    report = _verify(state)
    assert not report.ok
    assert report.problem is not None


def test_cli_reports_ok_or_the_first_broken_row(
    state: AppState, db_file: Path, trail: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import get_settings

    monkeypatch.setenv("QINGFENG_DATABASE_URL", f"sqlite:///{db_file}")
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(db_file.parent))
    get_settings.cache_clear()
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and ok.output.startswith("OK:")
    chain = _first_case_chain(db_file)
    _sql(db_file, f"UPDATE audit_event SET data = '{{}}' WHERE chain = '{chain}' AND seq = 4")
    broken = runner.invoke(app, ["audit", "verify"])
    get_settings.cache_clear()
    assert broken.exit_code == 1
    assert f"chain {chain}, seq 4" in broken.output and "edited" in broken.output


def test_reads_are_on_the_trail(state: AppState, people: dict[str, Person]) -> None:
    from cases.service import read_case

    ref = file(state)
    before = _verify(state).events
    read_case(
        uow=UnitOfWork(state.db), policy=state.policy, reference=ref, viewer=people["inv.wang"]
    )
    assert _verify(state).events == before + 1


# Changes to a case's row that leave every chain intact: verify must still find them.
ROW_CHANGES: dict[str, tuple[str, str]] = {
    "decision": ("UPDATE conduct_case SET decision = 'removal' WHERE reference = '{ref}'",
                 "decision is removal, its events say warning"),
    "stage": ("UPDATE conduct_case SET stage = 'closed' WHERE reference = '{ref}'",
              "stage is closed, its events say appeal_window"),
    "version": ("UPDATE conduct_case SET version = version + 1 WHERE reference = '{ref}'",
                "version is"),
    "due time": ("UPDATE conduct_case SET due_at = '2030-01-01 10:00:00.000000' "
                 "WHERE reference = '{ref}'", "due time is 2030-01-01"),
    "an assignment": ("INSERT INTO case_party (case_id, person_id, capacity, active, since) "
                      "SELECT c.id, p.id, 'investigator', 1, '2026-01-01' FROM conduct_case c, "
                      "person p WHERE c.reference = '{ref}' AND p.handle = 'ver.liu'",
                      "ver.liu is assigned as investigator, but no event assigned them"),
}  # fmt: skip


@pytest.fixture
def decided(state: AppState, people: dict[str, Person]) -> str:
    reference = file(state)
    carry_to(state, people, reference, Stage.APPEAL_WINDOW)
    return reference


def _row_check(state: AppState) -> list[str]:
    from cases.audit_state import state_problems

    with UnitOfWork(state.db, write=False) as uow:
        return state_problems(uow.session)


def test_every_case_row_matches_its_events_after_a_lifecycle(
    state: AppState, people: dict[str, Person], decided: str, trail: tuple[str, str]
) -> None:
    closed = file(state)
    carry_to(state, people, closed, Stage.CLOSED)
    assert _row_check(state) == []


@pytest.mark.parametrize("what", list(ROW_CHANGES))
def test_verify_finds_a_row_changed_behind_its_events(
    what: str, state: AppState, db_file: Path, decided: str
) -> None:
    statement, says = ROW_CHANGES[what]
    _sql(db_file, statement.format(ref=decided))
    assert _verify(state).ok  # the chains are intact: only the row check can see it
    problems = _row_check(state)
    assert len(problems) == 1 and decided in problems[0] and says in problems[0], problems


def test_verify_names_the_missing_last_events(state: AppState, db_file: Path, decided: str) -> None:
    chain = _first_case_chain(db_file)
    connection = sqlite3.connect(db_file)
    (last,) = connection.execute(
        "SELECT max(seq) FROM audit_event WHERE chain = ?", (chain,)
    ).fetchone()
    connection.close()
    _sql(db_file, f"DELETE FROM audit_event WHERE chain = '{chain}' AND seq >= {last - 1}")
    report = _verify(state)
    assert report.problem == (
        f"chain {chain}: its last events are missing (seq {last - 1} to {last})"
    )
