"""Working days in Asia/Shanghai: weekends and holidays off, 调休 make-up days on, and
years without a confirmed official schedule computed but marked provisional."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from cases.deadlines import calendar
from cases.deadlines.calendar import (
    CalendarError,
    WorkingCalendar,
    YearState,
    add_working_days,
    due_after,
    is_working_day,
    provisional,
)
from config.settings import DEFAULT_CALENDAR_DIR, get_settings


@pytest.fixture(autouse=True)
def packaged_calendar() -> Iterator[None]:
    calendar.configure(DEFAULT_CALENDAR_DIR)
    yield
    calendar.configure(DEFAULT_CALENDAR_DIR)


def test_national_day_2026_and_its_make_up_days() -> None:
    assert [is_working_day(date(2026, 10, d)) for d in range(1, 11)] == [
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        True,  # 8th Thu … 10th Sat
    ]
    assert is_working_day(date(2026, 9, 20))  # Sunday, worked in exchange
    assert is_working_day(date(2026, 10, 10))  # Saturday, worked in exchange
    assert not is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)
    assert add_working_days(date(2026, 10, 8), -1) == date(2026, 9, 30)


def test_spring_festival_2027_is_statutory_only_and_provisional() -> None:
    assert not calendar.current().is_confirmed(2027)
    assert not is_working_day(date(2027, 2, 5))  # New Year's Eve (statutory)
    assert not is_working_day(date(2027, 2, 8))  # third day (statutory)
    assert is_working_day(date(2027, 2, 9))  # no official extension known yet
    assert add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 9)
    filed = datetime(2027, 2, 4, 2, tzinfo=UTC)
    assert provisional(filed, due_after(filed, 1, time(18)))


def test_twenty_working_days_from_2026_12_20() -> None:
    start = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)  # Sunday morning in Shanghai
    due = due_after(start, 20, time(18, 0))
    # Dec 21–25, 28–31 (9); 1 Jan 2027 is New Year's Day; Jan 4–8, 11–15 (19); Jan 18.
    assert due == datetime(2027, 1, 18, 10, 0, tzinfo=UTC)
    assert provisional(start, due)  # it runs into 2027, not yet confirmed
    assert not provisional(start, due_after(start, 5, time(18, 0)))  # stays in 2026


def test_due_time_is_end_of_the_nth_working_day_in_shanghai() -> None:
    filed = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # Friday 23:30 in Shanghai
    assert due_after(filed, 3, time(18, 0)) == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_override_file_confirms_a_year_and_adds_closures(tmp_path: Path) -> None:
    (tmp_path / "2027.yaml").write_text(
        "year: 2027\nconfirmed: true\nmake_up_workdays: [2027-02-20]\nclosures: [2027-03-01]\n",
        encoding="utf-8",
    )
    confirmed = WorkingCalendar.from_dir(tmp_path)
    assert confirmed.is_confirmed(2027)
    assert confirmed.is_working_day(date(2027, 2, 20))  # a Saturday, worked
    assert not confirmed.is_working_day(date(2027, 3, 1))  # a Monday, campus closed
    assert not confirmed.is_working_day(date(2027, 2, 9))  # the package's observed day now counts


def test_an_unconfirmed_file_still_applies_its_days_and_stays_provisional(tmp_path: Path) -> None:
    (tmp_path / "2027.yaml").write_text(
        "year: 2027\nconfirmed: false\ndays_off: [2027-01-04]\nmake_up_workdays: [2027-01-09]\n"
        "closures: [2027-03-01]\n",
        encoding="utf-8",
    )
    draft = calendar.configure(tmp_path)
    assert draft.state(2027) is YearState.PROVISIONAL_FILE and not draft.is_confirmed(2027)
    assert not is_working_day(date(2027, 1, 4))  # a Monday the file gives off
    assert is_working_day(date(2027, 1, 9))  # a Saturday the file makes worked
    assert not is_working_day(date(2027, 3, 1))  # a closure
    assert is_working_day(date(2027, 2, 9))  # still statutory only: the package's guess is not
    filed = datetime(2027, 1, 5, 2, tzinfo=UTC)
    assert provisional(filed, due_after(filed, 3, time(18)))


def test_reading_changed_files_gives_fresh_answers(tmp_path: Path) -> None:
    first = calendar.configure(tmp_path)
    assert first.state(2027) is YearState.NO_FILE
    assert is_working_day(date(2027, 1, 4))  # asked once: remembered by this calendar
    assert calendar.reread() is None  # nothing changed
    (tmp_path / "2027.yaml").write_text(
        "year: 2027\nconfirmed: true\ndays_off: [2027-01-04]\n", encoding="utf-8"
    )
    fresh = calendar.reread()
    assert fresh is not None and calendar.current() is fresh
    assert not is_working_day(date(2027, 1, 4))
    assert first.is_working_day(date(2027, 1, 4))  # the old calendar keeps its own answers
    (tmp_path / "2027.yaml").write_text("year: 2027\nconfirmed: [\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"2027\.yaml"):
        calendar.reread()
    assert calendar.current() is fresh  # a broken file is not used


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("year: 2027\nconfirmed: yes-ish\n", "field confirmed"),
        ("year: 2026\nconfirmed: true\n", "does not match the file name"),
        ("year: 2027\nconfirmed: true\nclosures: [2028-01-03]\n", "is not in 2027"),
        ("year: 2027\nconfirmed: [\n", "2027.yaml:3: not valid YAML"),
        (
            "year: 2027\nconfirmed: true\ndays_off: [2027-01-09]\nmake_up_workdays: [2027-01-09]\n",
            "field make_up_workdays: 2027-01-09 is also listed as a day off",
        ),
    ],
)
def test_bad_override_file_is_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "2027.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        WorkingCalendar.from_dir(tmp_path)


def test_calendar_check_lists_confirmed_and_provisional_years(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["calendar", "check", "--years", "2"])
    finally:
        get_settings.cache_clear()
    lines = result.output.splitlines()
    assert result.exit_code == 0
    assert any(line.startswith("2026  confirmed") for line in lines)
    assert any(line.startswith("2027  provisional") for line in lines)
