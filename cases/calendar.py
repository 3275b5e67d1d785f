"""The Asia/Shanghai working-day calendar: weekends and public holidays off, 调休 days on.

Data: the ``holidays`` package (China, with the State Council's substituted days off and
make-up working days), confirmed per year by an override file in ``config/calendar/``
(which may add days off, make-up days and university closures). A year without a
confirmed file still computes, from the statutory holidays alone (no substituted days,
no make-up days), and everything that counts days in it is *provisional*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from cases.clock import SHANGHAI, to_utc

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "config" / "calendar"


class CalendarError(Exception):
    """An override file cannot be used; the message names the file, the field and why."""


class YearOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    year: int
    confirmed: bool
    days_off: list[date] = []
    make_up_workdays: list[date] = []
    closures: list[date] = []


@lru_cache(maxsize=64)
def _package(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year)


def _statutory(year: int) -> frozenset[date]:
    # Without the year's official notice only the statutory days are certain: the
    # package's substituted ("Day off …") and weekend-shifted ("observed") days are not.
    return frozenset(
        day
        for day, name in _package(year).items()
        if day.year == year and "observed" not in name and not name.startswith("Day off")
    )


@dataclass
class WorkingCalendar:
    overrides: dict[int, YearOverride] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)

    @classmethod
    def from_dir(cls, directory: Path) -> WorkingCalendar:
        """Load every ``<year>.yaml`` in ``directory``; CalendarError names a bad file."""
        calendar = cls()
        for path in sorted(directory.glob("*.yaml")) if directory.exists() else []:
            override = _read(path)
            calendar.overrides[override.year] = override
            calendar.sources[override.year] = str(path)
        return calendar

    def is_confirmed(self, year: int) -> bool:
        override = self.overrides.get(year)
        return bool(override and override.confirmed)

    @lru_cache(maxsize=4096)  # noqa: B019  (one long-lived calendar per process)
    def is_working_day(self, day: date) -> bool:
        """True on a working day in mainland China (make-up weekend days included)."""
        override = self.overrides.get(day.year)
        if override and day in override.closures:
            return False
        if self.is_confirmed(day.year):
            assert override is not None
            if day in override.make_up_workdays:
                return True
            if day in override.days_off:
                return False
            return bool(_package(day.year).is_working_day(day))
        return day.weekday() < 5 and day not in _statutory(day.year)

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (negative counts backwards)."""
        step = 1 if days >= 0 else -1
        remaining, current = abs(days), start
        while remaining:
            current += timedelta(days=step)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def __hash__(self) -> int:
        return id(self)


def _read(path: Path) -> YearOverride:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise CalendarError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        override = YearOverride.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CalendarError(f"{path}: field {field_name}: {first['msg']}") from exc
    if path.stem != str(override.year):
        raise CalendarError(f"{path}: field year: {override.year} does not match the file name")
    stray = [
        d
        for d in (*override.days_off, *override.make_up_workdays, *override.closures)
        if d.year != override.year
    ]
    if stray:
        raise CalendarError(f"{path}: {stray[0]} is not in {override.year}")
    return override


_current: list[WorkingCalendar] = []


def configure(directory: Path) -> WorkingCalendar:
    """Use the override files in ``directory`` from now on (start-up, tests)."""
    _current[:] = [WorkingCalendar.from_dir(directory)]
    return _current[0]


def current() -> WorkingCalendar:
    """The calendar in use (the packaged override files unless configured)."""
    return _current[0] if _current else configure(DEFAULT_DIR)


def is_working_day(day: date) -> bool:
    return current().is_working_day(day)


def add_working_days(start: date, days: int) -> date:
    return current().add_working_days(start, days)


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of a moment."""
    return to_utc(moment).astimezone(SHANGHAI).date()


def end_of(day: date, end_of_day: time) -> datetime:
    """``end_of_day`` (Asia/Shanghai) on ``day``, in UTC."""
    return to_utc(datetime.combine(day, end_of_day, tzinfo=SHANGHAI))


def due_after(start: datetime, working_days: int, end_of_day: time) -> datetime:
    """End (``end_of_day`` local) of the Nth working day after ``start``, in UTC."""
    return end_of(add_working_days(local_date(start), working_days), end_of_day)


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (negative if ``end`` is before)."""
    if end < start:
        return -working_days_between(end, start)
    calendar, count, day = current(), 0, start
    while day < end:
        day += timedelta(days=1)
        count += calendar.is_working_day(day)
    return count


def provisional(start: datetime, end: datetime | None) -> bool:
    """True when counting from ``start`` to ``end`` crosses a year not yet confirmed."""
    if end is None:
        return False
    first, last = local_date(start).year, local_date(end).year
    return not all(current().is_confirmed(year) for year in range(first, last + 1))
