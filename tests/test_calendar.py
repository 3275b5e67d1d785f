"""Working days in Asia/Shanghai: weekends and holidays off, 調(diào)休 make-up days on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from cases.calendar import add_working_days, due_after, is_working_day


def test_national_day_2026_and_its_make_up_days() -> None:
    assert not is_working_day(date(2026, 10, 1))
    assert not is_working_day(date(2026, 10, 7))
    assert is_working_day(date(2026, 9, 20))  # Sunday, worked in exchange
    assert is_working_day(date(2026, 10, 10))  # Saturday, worked in exchange
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)
    assert add_working_days(date(2026, 10, 8), -1) == date(2026, 9, 30)


def test_due_time_is_end_of_the_nth_working_day_in_shanghai() -> None:
    # Filed late on Friday 2026-11-27 (15:30 UTC is 23:30 in Shanghai): Mon, Tue, Wed.
    filed = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    due = due_after(filed, 3, time(18, 0))
    assert due == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # Wed 18:00 local
