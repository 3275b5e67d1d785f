"""The Asia/Shanghai working-day calendar: weekends and public holidays off, 調(diào)休 days on."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from cases.clock import SHANGHAI, to_utc


@lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    # The ``holidays`` data carries the State Council schedule, make-up Saturdays included.
    return holidays.country_holidays("CN", years=year)


def is_working_day(day: date) -> bool:
    """True on a working day in mainland China (make-up weekend days included)."""
    return bool(_china(day.year).is_working_day(day))


def add_working_days(start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (negative counts backwards)."""
    step = 1 if days >= 0 else -1
    remaining, current = abs(days), start
    while remaining:
        current += timedelta(days=step)
        if is_working_day(current):
            remaining -= 1
    return current


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of a moment."""
    return to_utc(moment).astimezone(SHANGHAI).date()


def due_after(start: datetime, working_days: int, end_of_day: time) -> datetime:
    """End (``end_of_day`` local) of the Nth working day after ``start``, in UTC."""
    day = add_working_days(local_date(start), working_days)
    return to_utc(datetime.combine(day, end_of_day, tzinfo=SHANGHAI))
