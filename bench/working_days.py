"""Working-day arithmetic: counted day by day (the old way) against the year-at-a-time count.

    .venv/bin/python bench/working_days.py

For due days a year, ten years and to the calendar's last year (2100) ahead: the time of
``working_days_between`` from today and of ``add_working_days`` back to the same day, on a
fresh calendar (nothing cached) and again (cached), next to the day-by-day loop; the
answers must be equal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cases.deadlines.calendar import LAST_YEAR, WorkingCalendar  # noqa: E402
from config.settings import DEFAULT_CALENDAR_DIR  # noqa: E402


def day_by_day(calendar: WorkingCalendar, start: date, end: date) -> int:
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += calendar.is_working_day(day)
    return count


def timed(work: Callable[[], int]) -> tuple[float, int]:
    began = time.perf_counter()
    answer = work()
    return time.perf_counter() - began, answer


def row(today: date, end: date) -> str:
    """One due day: the naive and the new count (fresh, then cached), and the way back."""
    naive_s, naive = timed(
        lambda: day_by_day(WorkingCalendar.from_dir(DEFAULT_CALENDAR_DIR), today, end)
    )
    fresh = WorkingCalendar.from_dir(DEFAULT_CALENDAR_DIR)
    new_s, new = timed(lambda: fresh.count(today + timedelta(days=1), end))
    cached_s, _ = timed(lambda: fresh.count(today + timedelta(days=1), end))
    began = time.perf_counter()
    back = fresh.add_working_days(today, new)
    add_s = time.perf_counter() - began
    assert naive == new, (naive, new)
    assert back <= end and fresh.count(back + timedelta(days=1), end) == 0, back
    return (
        f"{end.isoformat():>10}  {naive_s * 1000:7.1f}ms  {new_s * 1000:7.1f}ms"
        f"  {cached_s * 1000:9.2f}ms  {add_s * 1000:7.2f}ms"
    )


def main() -> None:
    today = date(2026, 12, 1)
    print(f"{'due day':>10}  {'naive':>9}  {'new':>9}  {'new, cached':>11}  {'add':>9}")
    for end in (date(2027, 12, 1), date(2036, 12, 1), date(LAST_YEAR, 12, 31)):
        print(row(today, end))


if __name__ == "__main__":
    main()
