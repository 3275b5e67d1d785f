"""When a year's calendar is confirmed or corrected, pending deadlines that counted days in
it are counted again: a new revision, a `deadline.recomputed` event, a notice to the
assignees when the due day moved, and a provisional mark that tells the truth."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from sqlmodel import col, func, select
from typer.testing import CliRunner

from api.cli.main import app
from api.http.deps import AppState
from cases.audit import verify
from cases.deadlines import calendar
from cases.outbox import CHANNEL_SEND, DELIVERY, NOTIFICATION
from cases.procedure import commands as c
from cases.procedure.clock import local_date
from cases.recompute import Recomputed, recompute_deadlines
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Deadline, OutboxRow, Person
from config.settings import DEFAULT_CALENDAR_DIR, get_settings
from flows.calendar_watch import CalendarWatch
from notifications.expand import Expander
from notifications.render import render
from notifications.routes import Channel, Route, Routes
from tests.conftest import BOTH_DATABASES
from tests.helpers import act, file, read

# Thursday 2026-12-24, 10:00 in Shanghai. A grave case's investigation (20 working days)
# counts Dec 25–31 (5), Jan 4–8, 11–15, 18–22 (15): due Friday 2027-01-22 while 2027 has
# no file (New Year's Day off, nothing else). The `holidays` package knows no make-up day
# in January 2027, so the confirmed file below adds one (Saturday 2027-01-09, worked):
# confirmed, the count ends a day earlier, on 2027-01-21.
ACCEPTED = datetime(2026, 12, 24, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)
CONFIRMED_2027 = "year: 2027\nconfirmed: true\nmake_up_workdays: [2027-01-09]\n"
GRAVE = c.Accept(category="other", severity="grave", investigators=["inv.wang"])


@pytest.fixture
def calendar_dir(tmp_path: Path) -> Iterator[Path]:
    """A calendar directory of this test's own (2026 confirmed, as packaged)."""
    directory = tmp_path / "calendar"
    directory.mkdir()
    shutil.copy(DEFAULT_CALENDAR_DIR / "2026.yaml", directory / "2026.yaml")
    calendar.configure(directory)
    yield directory
    calendar.configure(DEFAULT_CALENDAR_DIR)


def _write(directory: Path, year: int, content: str) -> None:
    (directory / f"{year}.yaml").write_text(content, encoding="utf-8")
    calendar.configure(directory)  # the process reads it (start-up, reload)


def _investigating(state: AppState, people: dict[str, Person], command: c.Accept = GRAVE) -> str:
    reference = file(state, now=ACCEPTED)
    act(state, people, reference, "inv.wang", command, now=ACCEPTED)
    return reference


def _recompute(state: AppState, now: datetime = LATER) -> Recomputed:
    return recompute_deadlines(uow=UnitOfWork(state.db), policy=state.policy, now=now)


def _counts(state: AppState) -> tuple[int, int, int]:
    with UnitOfWork(state.db, write=False) as uow:
        s = uow.session
        return (
            s.exec(select(func.count()).select_from(AuditEvent)).one(),
            s.exec(select(func.count()).select_from(Deadline)).one(),
            s.exec(select(func.count()).select_from(OutboxRow)).one(),
        )


def _expander(state: AppState) -> Expander:
    email = Channel("email", "email")
    return Expander(state.policy, Routes({"email": email}, (Route(channel="email"),)), "https://x")


def _outbox(state: AppState, topic: str) -> list[dict[str, object]]:
    with UnitOfWork(state.db, write=False) as uow:
        rows = uow.session.exec(
            select(OutboxRow.payload).where(OutboxRow.topic == topic).order_by(col(OutboxRow.id))
        ).all()
    return [json.loads(p) for p in rows]


@BOTH_DATABASES
def test_confirming_2027_moves_a_provisional_due_day_as_a_new_revision_and_tells_assignees(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    ref = _investigating(state, people)
    before = read(state, people, ref, "sec.li")
    assert local_date(before.due_at) == date(2027, 1, 22)
    assert before.due_provisional
    assert _recompute(state).rewritten == 0  # first look: the calendar as it is, recorded

    _write(calendar_dir, 2027, CONFIRMED_2027)
    result = _recompute(state)
    assert (result.rewritten, result.moved, result.marked) == (1, 1, 0)
    assert result.changed == {2027: ("no file", "confirmed")}

    after = read(state, people, ref, "sec.li")
    assert local_date(after.due_at) == date(2027, 1, 21)
    assert not after.due_provisional
    steps = [d for d in after.deadlines if d.stage == "investigation"]
    assert {d.state for d in steps if d.revision == 0} == {"cancelled"}
    assert {d.step: local_date(d.due_at) for d in steps if d.revision == 1} == {
        "reminder": date(2027, 1, 20),
        "overdue": date(2027, 1, 21),
        "escalation_1": date(2027, 1, 25),
        "escalation_2": date(2027, 1, 28),
    }
    [event] = [e for e in after.timeline if e.action == "deadline.recomputed"]
    assert event.actor is None
    assert event.data["moved"] is True and event.data["provisional"] is False
    assert (event.data["due_on"], event.data["revision"], event.data["years"]) == (
        "2027-01-21",
        1,
        [2027],
    )
    assert event.data["previous_due_at"] == before.due_at.isoformat()
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()
        assert (case.extensions_granted, case.ladders_written) == (0, 2)
        assert verify(uow.session).ok

    [notice] = [p for p in _outbox(state, NOTIFICATION) if p["event"] == "deadline.recomputed"]
    assert notice["reference"] == ref
    expander = _expander(state)
    expander.expand(db=state.db, now=LATER)  # notification -> deliveries
    expander.expand(db=state.db, now=LATER)  # deliveries -> messages
    deliveries = [p for p in _outbox(state, DELIVERY) if p["event"] == "deadline.recomputed"]
    assert {(p["audience"], p["person_id"], p["notice"]) for p in deliveries} == {
        ("assignees", people["inv.wang"].id, "deadline_recomputed")
    }
    [message] = [p for p in _outbox(state, CHANNEL_SEND) if p["notice"] == "deadline_recomputed"]
    text = render("deadline_recomputed", "zh-CN", message["context"])  # type: ignore[arg-type]
    assert "2027-01-21" in text.subject and "2027-01-21 18:00" in text.body


@BOTH_DATABASES
def test_reloading_the_same_files_again_writes_nothing(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    _investigating(state, people)
    _write(calendar_dir, 2027, CONFIRMED_2027)
    assert _recompute(state).moved == 1
    written = _counts(state)
    again = _recompute(state)
    assert (again.changed, again.rewritten, again.marked) == ({}, 0, 0)
    assert _counts(state) == written


def test_an_unchanged_due_day_with_a_moved_step_is_a_revision_without_a_notice(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    # Filed Wednesday 2026-12-30: intake (3 working days) due Tuesday 2027-01-05 either
    # way; escalation_2 (five working days later) counts Saturday Jan 9 once it is worked.
    ref = file(state, now=datetime(2026, 12, 30, 2, 0, tzinfo=UTC))
    _recompute(state)
    _write(calendar_dir, 2027, CONFIRMED_2027)
    result = _recompute(state)
    assert (result.rewritten, result.moved) == (1, 0)
    detail = read(state, people, ref, "sec.li")
    assert local_date(detail.due_at) == date(2027, 1, 5) and not detail.due_provisional
    [event] = [e for e in detail.timeline if e.action == "deadline.recomputed"]
    assert event.data["moved"] is False
    assert list(event.data["steps"]) == ["escalation_2"]
    assert local_date(datetime.fromisoformat(event.data["steps"]["escalation_2"])) == date(
        2027, 1, 11
    )
    assert not [p for p in _outbox(state, NOTIFICATION) if p["event"] == "deadline.recomputed"]


def test_confirmation_that_moves_nothing_clears_the_mark_with_an_event_alone(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    ref = _investigating(state, people)
    _recompute(state)  # 2027 recorded as having no file
    _write(calendar_dir, 2027, "year: 2027\nconfirmed: true\n")  # January as the package has it
    rows = _counts(state)[1]
    result = _recompute(state)
    assert (result.rewritten, result.moved, result.marked) == (0, 0, 1)
    assert _counts(state)[1] == rows  # no new revision
    detail = read(state, people, ref, "sec.li")
    assert local_date(detail.due_at) == date(2027, 1, 22) and not detail.due_provisional
    [event] = [e for e in detail.timeline if e.action == "deadline.recomputed"]
    assert (event.data["moved"], event.data["steps"], event.data["revision"]) == (False, {}, 0)
    assert not [p for p in _outbox(state, NOTIFICATION) if p["event"] == "deadline.recomputed"]


def test_an_unconfirmed_file_applies_its_days_and_the_count_stays_provisional(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    ref = _investigating(state, people)
    _recompute(state)
    _write(calendar_dir, 2027, "year: 2027\nconfirmed: false\ndays_off: [2027-01-04]\n")
    result = _recompute(state)
    assert result.changed == {2027: ("no file", "provisional file")} and result.moved == 1
    detail = read(state, people, ref, "sec.li")
    assert local_date(detail.due_at) == date(2027, 1, 25)  # Monday Jan 4 off: a day later
    assert detail.due_provisional
    [event] = [e for e in detail.timeline if e.action == "deadline.recomputed"]
    assert event.data["provisional"] is True


def test_the_packages_spring_festival_moves_a_due_day_later_once_confirmed(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    # Accepted Wednesday 2027-01-27 (minor: 10 working days). Provisionally only Feb 5 and
    # Feb 8 are off: due Friday Feb 12. The package's confirmed data also gives Feb 9 and
    # Feb 10 off (observed days): due Tuesday Feb 16.
    accepted = datetime(2027, 1, 27, 2, 0, tzinfo=UTC)
    ref = file(state, now=accepted)
    minor = c.Accept(category="other", severity="minor", investigators=["inv.wang"])
    act(state, people, ref, "inv.wang", minor, now=accepted)
    assert local_date(read(state, people, ref, "sec.li").due_at) == date(2027, 2, 12)
    _write(calendar_dir, 2027, "year: 2027\nconfirmed: true\n")
    assert _recompute(state, accepted).moved == 1
    assert local_date(read(state, people, ref, "sec.li").due_at) == date(2027, 2, 16)


def test_an_extended_stage_keeps_its_granted_day_and_revisions_stay_apart_from_extensions(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    ref = _investigating(state, people)
    _recompute(state)
    _write(calendar_dir, 2027, CONFIRMED_2027)
    _recompute(state)  # revision 1: due Jan 21
    ask = c.RequestExtension(reason="证人外出", due_on=date(2027, 1, 28))
    act(state, people, ref, "inv.wang", ask, now=LATER)
    act(state, people, ref, "sec.li", c.GrantExtension(note="同意"), now=LATER)  # revision 2
    # A corrected file: Saturday Jan 30 worked too. The granted day stays; escalation_1
    # (two working days after it) moves from Monday Feb 1 to Saturday Jan 30.
    _write(calendar_dir, 2027, CONFIRMED_2027.replace("2027-01-09]", "2027-01-09, 2027-01-30]"))
    result = _recompute(state)
    assert (result.rewritten, result.moved) == (1, 0)
    detail = read(state, people, ref, "sec.li")
    assert local_date(detail.due_at) == date(2027, 1, 28)
    pending = {d.step: local_date(d.due_at) for d in detail.deadlines if d.state == "pending"}
    assert pending["escalation_1"] == date(2027, 1, 30)
    assert {d.revision for d in detail.deadlines if d.state == "pending"} == {3}
    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()
        assert (case.extensions_granted, case.ladders_written) == (1, 4)


def test_fired_steps_stay_history_and_keep_their_flags(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    from cases.firing import fire_due_steps

    ref = _investigating(state, people)
    _recompute(state)
    # Friday 2027-01-22 after 18:00: the reminder and overdue steps have fired (the case is
    # overdue); then 2027 is confirmed. Only the escalations are still to come.
    fired_at = datetime(2027, 1, 22, 11, 0, tzinfo=UTC)
    assert fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=fired_at) == 2
    _write(calendar_dir, 2027, CONFIRMED_2027)
    assert _recompute(state, fired_at).moved == 1
    detail = read(state, people, ref, "sec.li")
    investigation = [d for d in detail.deadlines if d.stage == "investigation"]
    assert {d.step for d in investigation if d.revision == 1} == {"escalation_1", "escalation_2"}
    assert {d.step: d.state for d in investigation if d.revision == 0} == {
        "reminder": "skipped",
        "overdue": "fired",
        "escalation_1": "cancelled",
        "escalation_2": "cancelled",
    }
    assert detail.overdue and local_date(detail.due_at) == date(2027, 1, 21)


def test_the_running_service_notices_a_changed_file_and_keeps_a_broken_one_out(
    state: AppState, people: dict[str, Person], calendar_dir: Path
) -> None:
    ref = _investigating(state, people)
    watch = CalendarWatch(state.db, state.policy)
    assert watch.tick() is not None  # at start: recorded
    assert watch.tick() is None  # nothing changed: nothing to do
    (calendar_dir / "2027.yaml").write_text(CONFIRMED_2027, encoding="utf-8")  # no configure
    result = watch.tick()
    assert result is not None and result.moved == 1
    assert local_date(read(state, people, ref, "sec.li").due_at) == date(2027, 1, 21)
    (calendar_dir / "2027.yaml").write_text("year: 2027\nconfirmed: [\n", encoding="utf-8")
    in_use = calendar.current()
    assert watch.tick() is None
    assert calendar.current() is in_use


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, state: AppState, calendar_dir: Path
) -> Iterator[CliRunner]:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(state.settings.data_dir))
    monkeypatch.setenv("QINGFENG_DATABASE_URL", state.db.url)
    monkeypatch.setenv("QINGFENG_CALENDAR_DIR", str(calendar_dir))
    monkeypatch.setenv("COLUMNS", "400")  # a long temporary path is not wrapped mid-word
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_calendar_reload_recomputes_then_finds_nothing_more(
    state: AppState, people: dict[str, Person], calendar_dir: Path, cli_env: CliRunner
) -> None:
    ref = _investigating(state, people)
    first = cli_env.invoke(app, ["calendar", "reload"])
    assert first.exit_code == 0, first.output
    (calendar_dir / "2027.yaml").write_text(CONFIRMED_2027, encoding="utf-8")
    second = cli_env.invoke(app, ["calendar", "reload"])
    assert second.exit_code == 0, second.output
    assert "2027  no file -> confirmed" in second.output
    assert "1 cases' pending deadline steps rewritten, 1 due days moved" in second.output
    assert local_date(read(state, people, ref, "sec.li").due_at) == date(2027, 1, 21)
    third = cli_env.invoke(app, ["calendar", "reload"])
    assert "nothing to recompute" in third.output
    (calendar_dir / "2027.yaml").write_text("year: 2027\nconfirmed: nope\n", encoding="utf-8")
    broken = cli_env.invoke(app, ["calendar", "reload"])
    assert broken.exit_code == 2
    assert "2027.yaml" in broken.output and "field confirmed" in broken.output


def test_calendar_check_tells_each_years_state(calendar_dir: Path, cli_env: CliRunner) -> None:
    (calendar_dir / "2027.yaml").write_text(
        "year: 2027\nconfirmed: false\ndays_off: [2027-01-04]\n", encoding="utf-8"
    )
    with time_machine.travel(LATER, tick=False):
        result = cli_env.invoke(app, ["calendar", "check", "--years", "3"])
    assert result.exit_code == 0, result.output
    lines = {line[:4]: line for line in result.output.splitlines() if line[:2] == "20"}
    assert lines["2026"].startswith("2026  confirmed    ") and "2026.yaml" in lines["2026"]
    assert lines["2027"].startswith("2027  provisional  ")
    assert "confirmed: false" in lines["2027"] and "1 days off" in lines["2027"]
    assert "no file: statutory holidays only" in lines["2028"]
