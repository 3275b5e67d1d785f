"""The figures' projection: written in the events' transaction, refreshed from the chains,
and summed to exactly what ``compute`` reads from every raw event, for any window."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
from alembic import command
from sqlalchemy import delete, func, select, text
from typer.testing import CliRunner

from api.cli.main import app
from api.http.deps import AppState
from cases.audit import append_event, case_chain
from cases.deadlines.calendar import current
from cases.metrics import projection
from cases.metrics.compute import Window, compute
from cases.metrics.events import Period, Scope
from cases.metrics.reading import read_events
from cases.metrics.service import unit_paths
from cases.metrics.summed import summed
from cases.procedure import commands as c
from cases.procedure.clock import SHANGHAI, to_utc
from cases.procedure.errors import DomainError
from cases.procedure.policy import StageDeadline
from cases.store.db import UnitOfWork
from cases.store.figures import MONTHLY, PROJECTION, FigureDirty, FigureVisit
from cases.store.migrate import alembic_config
from cases.store.models import ConductCase, Person, Unit, table_of
from config.settings import get_settings
from tests.conftest import BOTH_DATABASES
from tests.helpers import act, file
from tests.processes import PATIENCE, wait_for
from tests.test_metrics import LATER, build

FIRSTS = [date(2026, 2, 1), date(2026, 3, 1), date(2026, 3, 4), date(2026, 3, 9), date(2026, 3, 20)]
LASTS = [date(2026, 3, 4), date(2026, 3, 10), date(2026, 3, 25), date(2026, 4, 30)]
# "Now" cut inside the periods: events after the cut must not count. The cuts fall
# between two events of one day, exactly at one (9 March, 10:00: that event is not read),
# and between C's extension (granted 19 March, due 27 March) and its first due time.
CUTS = ((3, 9, 10), (3, 10, 12), (3, 20, 18), (3, 24, 12))
NOWS = [LATER, *(to_utc(datetime(2026, m, d, h, tzinfo=SHANGHAI)) for m, d, h in CUTS)]


def _scopes(state: AppState) -> list[Scope]:
    with UnitOfWork(state.db, write=False) as uow:
        paths = {u.code: u.path for u in uow.session.scalars(select(Unit))}
    return [Scope(), Scope(paths["su"]), Scope(paths["cs-su"]), Scope(paths["law-su"])]


def _both(state: AppState, period: Period, scope: Scope, now: datetime) -> tuple[object, object]:
    as_of = min(period.end, now)
    with UnitOfWork(state.db, write=False) as uow:
        session = uow.session
        units = unit_paths(session, scope, as_of)
        events = read_events(session, scope, as_of)
        got = summed(
            session, policy=state.policy, window=Window(period.start, as_of), scope=scope,
            units=units,
        )  # fmt: skip
    expected = compute(
        events, policy=state.policy, calendar=current(), period=period, scope=scope,
        now=as_of, units=units,
    )  # fmt: skip
    return got, expected


def _refresh(state: AppState) -> int:
    return projection.refresh(db=state.db, policy=state.policy, calendar=current())


def _count(state: AppState, model: type) -> int:
    with UnitOfWork(state.db, write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


@BOTH_DATABASES
def test_summed_figures_equal_those_computed_from_every_event(
    state: AppState, people: dict[str, Person]
) -> None:
    build(state, people)
    assert _refresh(state) == 12  # every case of the history, once
    compared = 0
    for first in FIRSTS:
        for last in (day for day in LASTS if day >= first):
            for scope in _scopes(state):
                for now in NOWS:
                    got, expected = _both(state, Period(first, last), scope, now)
                    assert got == expected, (first, last, scope, now)
                    compared += 1
    assert compared == 4 * len(NOWS) * sum(1 for f in FIRSTS for d in LASTS if d >= f)


def test_an_action_marks_its_case_in_its_own_transaction(
    state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state, unit="cs-su", subject="stu.p", now=LATER)
    with UnitOfWork(state.db, write=False) as uow:
        case_id = uow.session.scalar(
            select(ConductCase.id).where(ConductCase.reference == reference)
        )
    assert projection.pending(state.db) == 1 and _refresh(state) == 1
    assert projection.pending(state.db) == 0 and _count(state, FigureVisit) == 1
    with pytest.raises(RuntimeError), UnitOfWork(state.db) as uow:  # rolled back: unmarked
        append_event(uow.session, chain=case_chain(case_id), case_id=case_id,
                     action="case.accept", at=LATER, data={})  # fmt: skip
        raise RuntimeError("the action failed after its event")
    assert projection.pending(state.db) == 0
    with pytest.raises(DomainError):  # refused: the refusal is on the chain, rows unchanged
        act(state, people, reference, "inv.wang", c.Confirm(), now=LATER)
    assert projection.pending(state.db) == 1 and _refresh(state) == 1
    assert _count(state, FigureVisit) == 1
    accept = c.Accept(category="other", severity="minor", investigators=["inv.wang"])
    act(state, people, reference, "inv.wang", accept, now=LATER)
    with UnitOfWork(state.db, write=False) as uow:
        assert list(uow.session.scalars(select(FigureDirty.case_id))) == [case_id]
    assert _refresh(state) == 1 and _count(state, FigureVisit) == 2  # intake left, investigation


def test_a_change_of_deadlines_writes_every_case_again(
    state: AppState, people: dict[str, Person]
) -> None:
    build(state, people)
    _refresh(state)
    march = Period(date(2026, 3, 1), date(2026, 3, 31))
    before, _ = _both(state, march, Scope(), LATER)
    short = StageDeadline(working_days=1)  # every stage due the next working day
    deadlines = state.policy.deadlines.model_copy(
        update={"investigation": short, "verification": short, "disposition": short}
    )
    state.policy = state.policy.model_copy(update={"deadlines": deadlines})
    assert _refresh(state) == 12
    got, expected = _both(state, march, Scope(), LATER)
    assert got == expected
    assert got.values["on_time_rate"] != before.values["on_time_rate"]  # type: ignore[attr-defined]


def test_rebuild_writes_the_rows_again_from_the_chains(
    state: AppState, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    build(state, people)
    _refresh(state)
    period = Period(date(2026, 3, 1), date(2026, 3, 31))
    before, _ = _both(state, period, Scope(), LATER)
    with UnitOfWork(state.db) as uow:  # the rows lost (a bad hand edit, say)
        for model in reversed(PROJECTION):
            uow.session.execute(delete(model))
        uow.commit()
    lost, _ = _both(state, period, Scope(), LATER)
    assert lost != before
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(state.settings.data_dir))
    monkeypatch.setenv("QINGFENG_DATABASE_URL", state.db.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["metrics", "rebuild"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "figure rows written again for 12 cases" in result.output
    again, expected = _both(state, period, Scope(), LATER)
    assert again == before == expected


def _monthly(state: AppState) -> list[list[tuple[object, ...]]]:
    with UnitOfWork(state.db, write=False) as uow:
        return [
            sorted(map(tuple, uow.session.execute(select(table_of(model))))) for model in MONTHLY
        ]


@BOTH_DATABASES
def test_the_monthly_sums_are_those_of_the_rows(state: AppState, people: dict[str, Person]) -> None:
    """Kept by every refresh (rows written, then written again with a new deadlines
    policy), they are what migration 0019 sums from the rows in SQL."""
    build(state, people)
    _refresh(state)
    kept = _monthly(state)
    assert kept[0] and kept[1]
    state.db.dispose()
    command.downgrade(alembic_config(state.db.url), "0018")
    command.upgrade(alembic_config(state.db.url), "head")
    assert _monthly(state) == kept
    short = StageDeadline(working_days=1)
    deadlines = state.policy.deadlines.model_copy(update={"investigation": short})
    state.policy = state.policy.model_copy(update={"deadlines": deadlines})
    assert _refresh(state) == 12
    moved = _monthly(state)
    assert moved != kept
    command.downgrade(alembic_config(state.db.url), "0018")
    command.upgrade(alembic_config(state.db.url), "head")
    assert _monthly(state) == moved


@BOTH_DATABASES
def test_a_month_is_shanghai_s(state: AppState, people: dict[str, Person]) -> None:
    """Filed and declined on 1 April before 08:00 Shanghai (still 31 March in UTC): April's
    in the sums, as in the figures (and as migration 0019 sums it too)."""
    first_hours = [to_utc(datetime(2026, 4, 1, h, tzinfo=SHANGHAI)) for h in (2, 3)]
    reference = file(state, now=first_hours[0])
    decline = c.Decline(reason="out_of_scope", explanation="不属于")
    act(state, people, reference, "inv.wang", decline, now=first_hours[1])
    _refresh(state)
    [events, left] = _monthly(state)
    assert {row[0] for row in events} == {"2026-04"} and {row[0] for row in left} == {"2026-04"}
    state.db.dispose()
    command.downgrade(alembic_config(state.db.url), "0018")
    command.upgrade(alembic_config(state.db.url), "head")
    assert _monthly(state) == [events, left]
    declined = {}
    for month in (3, 4):
        period = Period(date(2026, month, 1), date(2026, month, 30))
        got, expected = _both(state, period, Scope(), LATER)
        assert got == expected
        declined[month] = got.values["reports_declined"]  # type: ignore[attr-defined]
    assert declined == {3: 0, 4: 1}


@pytest.mark.parametrize("state", ["sqlite"], indirect=True)
def test_a_report_on_fresh_rows_takes_no_write_lock(
    state: AppState, people: dict[str, Person]
) -> None:
    """Nothing marked: the refresh before a report only reads, so a writer holding SQLite's
    lock (a long import, say) does not hold up the report, nor the report it."""
    build(state, people)
    _refresh(state)
    with state.db.writer.connect() as writer:
        held = writer.begin()  # BEGIN IMMEDIATE: the write lock (and the one writer connection)
        try:
            assert _refresh(state) == 0
            march = Period(date(2026, 3, 1), date(2026, 3, 31))
            got, expected = _both(state, march, Scope(), LATER)
        finally:
            held.rollback()
    assert got == expected


@pytest.mark.parametrize("state", ["postgres"], indirect=True)
def test_a_refresh_waits_for_an_append_still_in_flight(
    state: AppState, people: dict[str, Person]
) -> None:
    """PostgreSQL: a case already marked, appended to by a transaction not yet committed
    while a refresh takes its mark. The refresh waits for it and reads its event; without
    the lock it would write the case without it and leave no mark."""
    reference = file(state, unit="cs-su", subject="stu.q", now=LATER)
    with UnitOfWork(state.db, write=False) as uow:
        case_id = uow.session.scalar(
            select(ConductCase.id).where(ConductCase.reference == reference)
        )
    assert case_id is not None and projection.pending(state.db) == 1
    refreshed: list[int] = []
    with UnitOfWork(state.db) as uow:
        append_event(uow.session, chain=case_chain(case_id), case_id=case_id,
                     action="case.accept", at=LATER, data={"category": "other"})  # fmt: skip
        uow.session.flush()
        worker = threading.Thread(target=lambda: refreshed.append(_refresh(state)))
        worker.start()
        assert wait_for(lambda: not worker.is_alive() or _waiting_on_a_lock(state))
        uow.commit()
    worker.join(timeout=PATIENCE)
    assert refreshed and _count(state, FigureVisit) + projection.pending(state.db) >= 2


def _waiting_on_a_lock(state: AppState) -> bool:
    with UnitOfWork(state.db, write=False) as uow:
        waiting = uow.session.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        ).scalar()
    return bool(waiting)
