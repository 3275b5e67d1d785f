"""The Asia/Shanghai working-day calendar: weekends and public holidays off, 调休 days on.

Data: the ``holidays`` package (China, with the State Council's substituted days off and
make-up working days) and one override file per year in ``config/calendar/``. A year is
in one of three states (``YearState``): *confirmed* (``confirmed: true``: the package's
data plus the file's days off, make-up days and university closures), *provisional file*
(``confirmed: false``: the statutory holidays plus the file's days) or *no file* (the
statutory holidays alone: no substituted days, no make-up days). A due time whose count
touches a year that is not confirmed is *provisional*.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import holidays
import yaml
from holidays.countries.china import China
from pydantic import Field, ValidationError

from cases.procedure.clock import SHANGHAI, local_date, to_utc
from cases.procedure.errors import InvalidInput
from cases.procedure.strict import StrictModel
from config.settings import DEFAULT_CALENDAR_DIR


class CalendarError(Exception):
    """An override file cannot be used; the message names the file, the field and why."""


# The years the calendar has data for: the package's Chinese holidays (lunar dates).
FIRST_YEAR: int = China.start_year
LAST_YEAR: int = China.end_year


class YearNotCovered(InvalidInput):
    """A count reaches a year the calendar has no holiday data for (a 422, not a guess)."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the working-day calendar covers {FIRST_YEAR} to {LAST_YEAR}; {year} is outside it"
        )
        self.year = year


class YearState(StrEnum):
    CONFIRMED = "confirmed"  # a file with confirmed: true
    PROVISIONAL_FILE = "provisional file"  # a file with confirmed: false: its days apply
    NO_FILE = "no file"  # statutory holidays only


class YearOverride(StrictModel):
    year: int
    confirmed: bool
    days_off: list[date] = Field(default_factory=list)
    make_up_workdays: list[date] = Field(default_factory=list)
    closures: list[date] = Field(default_factory=list)


@lru_cache(maxsize=256)
def _package(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year)


@lru_cache(maxsize=256)
def _statutory(year: int) -> frozenset[date]:
    # Without the year's official notice only the statutory days are certain: the
    # package's substituted ("Day off …") and weekend-shifted ("observed") days are not.
    return frozenset(
        day
        for day, name in _package(year).items()
        if day.year == year and "observed" not in name and not name.startswith("Day off")
    )


@dataclass(eq=False)  # compared by identity: a reloaded calendar is a new object
class WorkingCalendar:
    overrides: dict[int, YearOverride] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)
    directory: Path | None = None
    # Answers of this calendar only: a reload builds a new calendar, so nothing stale.
    _answers: dict[date, bool] = field(default_factory=dict, repr=False)
    _exceptions: dict[int, tuple[list[date], list[date]]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dir(cls, directory: Path) -> WorkingCalendar:
        """Load every ``<year>.yaml`` in ``directory``; CalendarError names a bad file."""
        calendar = cls(directory=directory)
        for path in sorted(directory.glob("*.yaml")) if directory.exists() else []:
            override = _read(path)
            calendar.overrides[override.year] = override
            calendar.sources[override.year] = str(path)
        return calendar

    def state(self, year: int) -> YearState:
        override = self.overrides.get(year)
        if override is None:
            return YearState.NO_FILE
        return YearState.CONFIRMED if override.confirmed else YearState.PROVISIONAL_FILE

    def is_confirmed(self, year: int) -> bool:
        return self.state(year) is YearState.CONFIRMED

    def is_working_day(self, day: date) -> bool:
        """True on a working day in mainland China (make-up weekend days included)."""
        answer = self._answers.get(day)
        if answer is None:
            answer = self._answers[day] = self._working(day)
        return answer

    def _working(self, day: date) -> bool:
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise YearNotCovered(day.year)
        override = self.overrides.get(day.year)
        if override is not None:  # confirmed or not, the days a file lists apply
            if day in override.closures or day in override.days_off:
                return False
            if day in override.make_up_workdays:
                return True
            if override.confirmed:
                return bool(_package(day.year).is_working_day(day))
        return day.weekday() < 5 and day not in _statutory(day.year)

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (negative counts backwards)."""
        step = 1 if days >= 0 else -1
        remaining, current = abs(days), start
        if remaining and not FIRST_YEAR <= start.year <= LAST_YEAR:
            raise YearNotCovered(start.year)
        while remaining:  # whole years at a time while the count goes past them
            ahead = current + timedelta(days=step)
            edge = date(ahead.year, 12, 31) if step > 0 else date(ahead.year, 1, 1)
            span = self.count(*sorted((ahead, edge)))
            if span >= remaining:
                break
            remaining, current = remaining - span, edge
        while remaining:  # then day by day, within one year
            current += timedelta(days=step)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def count(self, first: date, last: date) -> int:
        """Working days from ``first`` to ``last``, both included (0 if ``last`` is before):
        the weekdays, less the weekdays off, plus the weekend days worked."""
        total = 0
        for year in range(first.year, last.year + 1):
            low, high = max(first, date(year, 1, 1)), min(last, date(year, 12, 31))
            off, worked = self._exceptions_of(year)
            total += _weekdays(low, high) - _within(off, low, high) + _within(worked, low, high)
        return max(total, 0)

    def _exceptions_of(self, year: int) -> tuple[list[date], list[date]]:
        """The year's weekdays off and weekend days worked, each sorted."""
        if year not in self._exceptions:
            if not FIRST_YEAR <= year <= LAST_YEAR:
                raise YearNotCovered(year)
            if year in self.overrides:  # the file's and the package's days: ask each day
                days = [date(year, 1, 1) + timedelta(days=n) for n in range(_days_in(year))]
                off = [d for d in days if d.weekday() < 5 and not self.is_working_day(d)]
                worked = [d for d in days if d.weekday() >= 5 and self.is_working_day(d)]
            else:  # no file: the statutory holidays on weekdays, no make-up days
                off, worked = sorted(d for d in _statutory(year) if d.weekday() < 5), []
            self._exceptions[year] = (off, worked)
        return self._exceptions[year]

    def provisional(self, first: date, last: date) -> bool:
        """True when the days from ``first`` to ``last`` touch a year not confirmed."""
        low, high = sorted((first.year, last.year))
        return not all(self.is_confirmed(year) for year in range(low, high + 1))

    def describe(self, year: int) -> dict[str, Any]:
        """The year's state and how it differs from Monday to Friday: the weekdays off and
        the weekend days worked (what a count of working days depends on)."""
        day, end = date(year, 1, 1), date(year + 1, 1, 1)
        off: list[str] = []
        worked: list[str] = []
        while day < end:
            if self.is_working_day(day) != (day.weekday() < 5):
                (off if day.weekday() < 5 else worked).append(day.isoformat())
            day += timedelta(days=1)
        return {"state": self.state(year).value, "days_off": off, "workdays": worked}

    def same_files(self, other: WorkingCalendar) -> bool:
        """True when ``other`` was read from the same file contents."""
        return self.overrides == other.overrides


def _days_in(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _weekdays(first: date, last: date) -> int:
    """Mondays to Fridays from ``first`` to ``last``, both included (0 if none)."""
    if last < first:
        return 0
    weeks, rest = divmod((last - first).days + 1, 7)
    start = first.weekday()
    return weeks * 5 + sum((start + n) % 7 < 5 for n in range(rest))


def _within(days: list[date], first: date, last: date) -> int:
    """How many of the sorted ``days`` fall from ``first`` to ``last``."""
    return bisect_right(days, last) - bisect_left(days, first)


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
    listed = {*override.days_off, *override.closures} & {*override.make_up_workdays}
    if listed:
        both = min(listed)
        raise CalendarError(f"{path}: field make_up_workdays: {both} is also listed as a day off")
    return override


_current: list[WorkingCalendar] = []


def configure(directory: Path) -> WorkingCalendar:
    """Use the override files in ``directory`` from now on (start-up, reload, tests)."""
    _current[:] = [WorkingCalendar.from_dir(directory)]
    return _current[0]


def current() -> WorkingCalendar:
    """The calendar in use (the packaged override files unless configured)."""
    return _current[0] if _current else configure(DEFAULT_CALENDAR_DIR)


def reread() -> WorkingCalendar | None:
    """Read the calendar's directory again and use it if its files changed (returns it),
    else None. CalendarError names a bad file; the calendar in use then stays."""
    using = current()
    fresh = WorkingCalendar.from_dir(using.directory or DEFAULT_CALENDAR_DIR)
    if fresh.same_files(using):
        return None
    _current[:] = [fresh]
    return fresh


def is_working_day(day: date) -> bool:
    return current().is_working_day(day)


def add_working_days(start: date, days: int) -> date:
    return current().add_working_days(start, days)


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
    return current().count(start + timedelta(days=1), end) if end > start else 0


def provisional(start: datetime, end: datetime | None) -> bool:
    """True when counting from ``start`` to ``end`` touches a year not yet confirmed."""
    if end is None:
        return False
    return current().provisional(local_date(start), local_date(end))
