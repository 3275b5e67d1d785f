"""Why a due time falls where it does: every calendar day counted or skipped, with its reason.

Pure: given the working-day calendar, a start moment and a rule (N working days after it,
a granted day, or a ladder step's offset from the due day), it lists each day from the
start (exclusive) to the end (inclusive) with what the calendar says of it: a working day,
a weekend, a public holiday (its name), a make-up working day (调休上班), a university
closure, a day off from the year's file; and whether its year is provisional. The reasons
follow ``WorkingCalendar._working`` step by step, and a test holds them to its answers.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays
from pydantic import BaseModel, Field

from cases.deadlines.calendar import WorkingCalendar, end_of
from cases.procedure.clock import local_date
from cases.procedure.policy import Label


def _t(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


class DayKind(StrEnum):
    WORKING = "working_day"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # a public holiday or a substituted day off: ``holiday`` names it
    MAKE_UP = "make_up_workday"  # 调休上班: a weekend day worked
    CLOSURE = "closure"  # the university is closed
    DAY_OFF = "day_off"  # listed as off in the year's calendar file, no holiday name


KIND_WORDS: dict[DayKind, Label] = {
    DayKind.WORKING: _t("工作日", "working day"),
    DayKind.WEEKEND: _t("周末", "weekend"),
    DayKind.HOLIDAY: _t("法定节假日", "public holiday"),
    DayKind.MAKE_UP: _t("调休上班", "make-up working day"),
    DayKind.CLOSURE: _t("学校闭校", "university closure"),
    DayKind.DAY_OFF: _t("校历所列休息日", "day off listed in the calendar file"),
}
PROVISIONAL_WORDS = _t(
    "该年度校历尚未确认，暂按法定节假日计算", "the year's calendar is not yet confirmed"
)


class CountRule(StrEnum):
    WORKING_DAYS = "working_days"  # the Nth working day after the start
    GRANTED_DAY = "granted_day"  # an extension: the day the secretary granted
    OFFSET = "offset"  # a ladder step: N working days from the due day (negative: before)


RULE_WORDS: dict[CountRule, Label] = {
    CountRule.WORKING_DAYS: _t("起算后第{n}个工作日", "the {n}th working day after the start"),
    CountRule.GRANTED_DAY: _t("批准延期至该日", "the day an extension granted"),
    CountRule.OFFSET: _t("期限日前后第{n}个工作日", "{n} working days from the due day"),
}


class CalendarDay(BaseModel):
    day: date = Field(description="The calendar date (Asia/Shanghai).")
    counted: bool = Field(description="Counted as a working day.")
    kind: DayKind
    holiday: Label | None = Field(None, description="The holiday's name, zh-CN and en.")
    provisional: bool = Field(description="Its year's calendar is not confirmed.")
    reason: Label = Field(description="Why it is counted or skipped, in words.")


class Count(BaseModel):
    """One count of working days: from where, by which rule, to which day, day by day."""

    start: datetime = Field(description="The moment counted from (UTC).")
    start_day: date = Field(description="Its calendar day (Asia/Shanghai); not itself counted.")
    rule: CountRule
    working_days: int = Field(description="Working days the rule counts (signed for offsets).")
    rule_words: Label
    end_day: date
    end_at: datetime = Field(description="The end of the end day (policy's end of day), UTC.")
    counted: int = Field(description="Working days among the listed days.")
    skipped: int = Field(description="Days listed but not counted.")
    provisional: bool = Field(description="The count touches a year not yet confirmed.")
    days: list[CalendarDay] = Field(description="Every day after the start day to the end day.")


@lru_cache(maxsize=64)
def _names(year: int, language: str) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year, language=language)


def _holiday(day: date) -> Label | None:
    zh, en = _names(day.year, "zh_CN").get(day), _names(day.year, "en_US").get(day)
    return _t(zh, en) if zh and en else None


def _kind(calendar: WorkingCalendar, day: date) -> tuple[DayKind, Label | None]:
    """What the calendar says of ``day``, in the order ``WorkingCalendar._working`` decides."""
    override = calendar.overrides.get(day.year)
    weekend = day.weekday() >= 5
    if override is not None:
        if day in override.closures:
            return DayKind.CLOSURE, None
        if day in override.days_off:
            name = _holiday(day)
            return (DayKind.HOLIDAY, name) if name else (DayKind.DAY_OFF, None)
        if day in override.make_up_workdays:
            return DayKind.MAKE_UP, None
        if override.confirmed:
            package = _names(day.year, "en_US")
            if day in package:
                return DayKind.HOLIDAY, _holiday(day)
            if weekend and day in getattr(package, "weekend_workdays", ()):
                return DayKind.MAKE_UP, None
            return (DayKind.WEEKEND if weekend else DayKind.WORKING), None
    name = _holiday(day)  # without a confirmed file only the statutory days are off
    if name is not None and "observed" not in name.en and not name.en.startswith("Day off"):
        return DayKind.HOLIDAY, name
    return (DayKind.WEEKEND if weekend else DayKind.WORKING), None


def explain_day(calendar: WorkingCalendar, day: date) -> CalendarDay:
    """``day`` as the calendar counts it, with the reason in words."""
    kind, name = _kind(calendar, day)
    provisional = not calendar.is_confirmed(day.year)
    words = KIND_WORDS[kind]
    if name is not None:
        words = _t(f"{words.zh_cn}：{name.zh_cn}", f"{words.en}: {name.en}")
    if provisional:
        words = _t(
            f"{words.zh_cn}（{PROVISIONAL_WORDS.zh_cn}）", f"{words.en} ({PROVISIONAL_WORDS.en})"
        )
    return CalendarDay(
        day=day,
        counted=kind in (DayKind.WORKING, DayKind.MAKE_UP),
        kind=kind,
        holiday=name,
        provisional=provisional,
        reason=words,
    )


def _days_between(calendar: WorkingCalendar, first: date, last: date) -> list[CalendarDay]:
    """Each day after ``first`` up to and including ``last`` (either order), in date order."""
    low, high = sorted((first, last))
    days, day = [], low
    while day < high:
        day += timedelta(days=1)
        days.append(explain_day(calendar, day if first <= last else day - timedelta(days=1)))
    return days


def _count(
    calendar: WorkingCalendar,
    start: datetime,
    start_day: date,
    end_day: date,
    rule: CountRule,
    n: int,
    end_of_day: time,
) -> Count:
    days = _days_between(calendar, start_day, end_day)
    counted = sum(d.counted for d in days)
    shown = n if rule is not CountRule.OFFSET else abs(n)
    words = RULE_WORDS[rule]
    return Count(
        start=start,
        start_day=start_day,
        rule=rule,
        working_days=n,
        rule_words=_t(words.zh_cn.format(n=shown), words.en.format(n=shown)),
        end_day=end_day,
        end_at=end_of(end_day, end_of_day),
        counted=counted,
        skipped=len(days) - counted,
        provisional=calendar.provisional(start_day, end_day),
        days=days,
    )


def explain_working_days(
    calendar: WorkingCalendar, *, start: datetime, working_days: int, end_of_day: time
) -> Count:
    """The count behind ``due_after(start, working_days, end_of_day)``."""
    first = local_date(start)
    due = calendar.add_working_days(first, working_days)
    return _count(calendar, start, first, due, CountRule.WORKING_DAYS, working_days, end_of_day)


def explain_granted_day(
    calendar: WorkingCalendar, *, start: datetime, due_day: date, end_of_day: time
) -> Count:
    """The days from ``start`` to a granted due day (how many working days that leaves)."""
    first = local_date(start)
    count = _count(calendar, start, first, due_day, CountRule.GRANTED_DAY, 0, end_of_day)
    return count.model_copy(update={"working_days": count.counted})


def explain_offset(
    calendar: WorkingCalendar, *, due_at: datetime, offset: int, end_of_day: time
) -> Count:
    """The count behind a ladder step ``offset`` working days from the due day."""
    due_day = local_date(due_at)
    step_day = calendar.add_working_days(due_day, offset)
    return _count(calendar, due_at, due_day, step_day, CountRule.OFFSET, offset, end_of_day)
