"""A period as people write it: a year ``2026``, a quarter ``2026-Q1``, a month ``2026-03``
or days ``2026-01-01..2026-06-30`` (Asia/Shanghai days, both ends included)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from cases.metrics.events import Period
from cases.procedure.errors import InvalidInput

FORMS = "a year (2026), a quarter (2026-Q1), a month (2026-03) or days (2026-01-01..2026-06-30)"
_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAYS = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")


def _months(year: int, first: int, count: int) -> Period:
    after = date(year + (first + count - 1) // 12, (first + count - 1) % 12 + 1, 1)
    return Period(date(year, first, 1), after - timedelta(days=1))


def _days(first: str, last: str) -> Period:
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        raise InvalidInput(f"period {first}..{last}: {exc}", field="period") from exc
    if end < start:
        raise InvalidInput(f"the period ends ({end}) before it begins ({start})", field="period")
    return Period(start, end)


def parse_period(text: str) -> Period:
    """The period ``text`` names, or InvalidInput (field ``period``) saying what is wrong."""
    text = text.strip()
    if m := _YEAR.fullmatch(text):
        return _months(int(m[1]), 1, 12)
    if m := _QUARTER.fullmatch(text):
        return _months(int(m[1]), 3 * int(m[2]) - 2, 3)
    if (m := _MONTH.fullmatch(text)) and 1 <= int(m[2]) <= 12:
        return _months(int(m[1]), int(m[2]), 1)
    if m := _DAYS.fullmatch(text):
        return _days(m[1], m[2])
    raise InvalidInput(f"period {text!r} is not {FORMS}", field="period")


def period_name(period: Period) -> str:
    """The shortest of the forms above that names ``period`` (for titles and file names)."""
    first, last = period.first, period.last
    for name in (
        f"{first.year}",
        f"{first.year}-Q{(first.month + 2) // 3}",
        f"{first:%Y-%m}",
    ):
        if parse_period(name) == period:
            return name
    return f"{first}..{last}"
