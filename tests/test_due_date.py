"""Every due date explained: each day from the start counted or skipped, with its reason,
checked against counts made by hand from the State Council's notice and the test's own
calendar files (not against the code that counts); the API answers it in scope only."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api.http.deps import AppState
from cases.deadlines.calendar import WorkingCalendar, current, due_after
from cases.deadlines.explain import (
    CalendarDay,
    DayKind,
    explain_day,
    explain_granted_day,
    explain_offset,
    explain_working_days,
)
from cases.procedure.clock import SHANGHAI
from cases.store.models import Person
from tests.conftest import bearer
from tests.helpers import file, read

W, END, OFF, HOL, MAKE, CLOSED = (
    DayKind.WORKING,
    DayKind.WEEKEND,
    DayKind.DAY_OFF,
    DayKind.HOLIDAY,
    DayKind.MAKE_UP,
    DayKind.CLOSURE,
)
SIX_PM = time(18, 0)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(UTC)


def _listed(count_days: list[CalendarDay]) -> list[tuple[str, bool, DayKind, str | None]]:
    return [
        (d.day.isoformat(), d.counted, d.kind, d.holiday.zh_cn if d.holiday else None)
        for d in count_days
    ]


def _calendar(tmp_path: Path, **years: str) -> WorkingCalendar:
    for year, body in years.items():
        (tmp_path / f"{year.removeprefix('y')}.yaml").write_text(body, encoding="utf-8")
    return WorkingCalendar.from_dir(tmp_path)


# 国务院办公厅通知（2026）：国庆节 10月1日至7日放假调休，9月20日（周日）、10月10日（周六）上班。
GOLDEN_WEEK = [
    ("2026-09-30", True, W, None),
    ("2026-10-01", False, HOL, "国庆节"),
    ("2026-10-02", False, HOL, "国庆节"),
    ("2026-10-03", False, HOL, "国庆节"),
    ("2026-10-04", False, END, None),
    ("2026-10-05", False, HOL, "国庆节（补假）"),
    ("2026-10-06", False, HOL, "休息日（由 2026-09-20 调休）"),
    ("2026-10-07", False, HOL, "休息日（由 2026-10-10 调休）"),
    ("2026-10-08", True, W, None),
    ("2026-10-09", True, W, None),
    ("2026-10-10", True, MAKE, None),
    ("2026-10-11", False, END, None),
    ("2026-10-12", True, W, None),
]


def test_five_working_days_over_golden_week_with_its_make_up_day_and_a_weekend() -> None:
    start = _at(date(2026, 9, 29))
    count = explain_working_days(current(), start=start, working_days=5, end_of_day=SIX_PM)
    assert _listed(count.days) == GOLDEN_WEEK
    assert (count.start_day, count.end_day) == (date(2026, 9, 29), date(2026, 10, 12))
    assert (count.counted, count.skipped, count.provisional) == (5, 8, False)
    assert count.end_at == due_after(start, 5, SIX_PM) == _at(date(2026, 10, 12), 18)
    assert count.rule_words.text("zh-CN") == "起算后第5个工作日"
    by_day = {d.day.isoformat(): d for d in count.days}
    assert by_day["2026-10-10"].reason.model_dump(by_alias=True) == {
        "zh-CN": "调休上班",
        "en": "make-up working day",
    }
    assert by_day["2026-10-01"].reason.text("en") == "public holiday: National Day"
    assert by_day["2026-10-04"].reason.text("zh-CN") == "周末"


def test_a_university_closure_is_skipped_by_name_of_its_reason(tmp_path: Path) -> None:
    calendar = _calendar(tmp_path, y2026="year: 2026\nconfirmed: true\nclosures: [2026-03-10]\n")
    count = explain_working_days(
        calendar, start=_at(date(2026, 3, 6)), working_days=3, end_of_day=SIX_PM
    )
    assert _listed(count.days) == [
        ("2026-03-07", False, END, None),
        ("2026-03-08", False, END, None),
        ("2026-03-09", True, W, None),
        ("2026-03-10", False, CLOSED, None),
        ("2026-03-11", True, W, None),
        ("2026-03-12", True, W, None),
    ]
    assert count.days[3].reason.text("zh-CN") == "学校闭校"


def test_a_count_into_a_year_not_confirmed_is_marked_provisional_day_by_day(
    tmp_path: Path,
) -> None:
    calendar = _calendar(
        tmp_path,
        y2026="year: 2026\nconfirmed: true\n",
        y2027="year: 2027\nconfirmed: false\ndays_off: [2027-01-05]\n",
    )
    count = explain_working_days(
        calendar, start=_at(date(2026, 12, 30)), working_days=3, end_of_day=SIX_PM
    )
    # 2027 without its notice: New Year's Day (statutory) off, the file's day off, no more.
    assert _listed(count.days) == [
        ("2026-12-31", True, W, None),
        ("2027-01-01", False, HOL, "元旦"),
        ("2027-01-02", False, END, None),
        ("2027-01-03", False, END, None),
        ("2027-01-04", True, W, None),
        ("2027-01-05", False, OFF, None),
        ("2027-01-06", True, W, None),
    ]
    assert [d.provisional for d in count.days] == [False] + [True] * 6
    assert count.provisional
    assert count.days[1].reason.text("zh-CN") == (
        "法定节假日：元旦（该年度校历尚未确认，暂按法定节假日计算）"
    )


def test_every_reason_agrees_with_the_calendars_own_answer(tmp_path: Path) -> None:
    files = _calendar(
        tmp_path,
        y2026="year: 2026\nconfirmed: true\nclosures: [2026-03-10]\ndays_off: [2026-06-22]\n"
        "make_up_workdays: [2026-06-27]\n",
        y2027="year: 2027\nconfirmed: false\nmake_up_workdays: [2027-02-06]\n",
    )
    for calendar in (current(), files):
        day = date(2026, 1, 1)
        while day < date(2029, 1, 1):
            assert explain_day(calendar, day).counted == calendar.is_working_day(day), day
            day += timedelta(days=1)


def test_a_granted_day_and_the_ladders_offsets_are_explained() -> None:
    calendar = current()
    granted = explain_granted_day(
        calendar, start=_at(date(2026, 9, 29)), due_day=date(2026, 10, 12), end_of_day=SIX_PM
    )
    assert _listed(granted.days) == GOLDEN_WEEK and granted.working_days == 5
    before = explain_offset(
        calendar, due_at=_at(date(2026, 10, 8), 18), offset=-1, end_of_day=SIX_PM
    )
    assert before.end_day == date(2026, 9, 30)  # the working day before, over the holiday
    assert [d.day.isoformat() for d in before.days] == [d[0] for d in GOLDEN_WEEK[:8]]
    assert before.counted == 1


def test_the_api_explains_a_cases_due_date_and_its_ladder_in_scope_only(
    client: TestClient, state: AppState, people: dict[str, Person], tokens: dict[str, str]
) -> None:
    filed = _at(date(2026, 9, 29))
    reference = file(state, now=filed)
    answer = client.get(f"/cases/{reference}/due-date", headers=bearer(tokens["inv.wang"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["stage"] == "intake" and body["agrees"] is True
    due = body["due"]
    assert due["rule"] == "working_days" and due["working_days"] == 3  # intake: 3 days
    assert [(d["day"], d["counted"]) for d in due["days"]] == [
        (day, counted) for day, counted, _, _ in GOLDEN_WEEK[:10]
    ]
    assert due["days"][1]["holiday"] == {"zh-CN": "国庆节", "en": "National Day"}
    stored = read(state, people, reference, "inv.wang")
    assert datetime.fromisoformat(body["due_at"]) == stored.due_at
    rows = {d.step: d.due_at for d in stored.deadlines}
    ladder = {s["step"]: datetime.fromisoformat(s["count"]["end_at"]) for s in body["ladder"]}
    assert ladder == rows  # each step's count ends where its deadline row is
    escalation = next(s for s in body["ladder"] if s["step"] == "escalation_1")["count"]
    assert [(d["day"], d["kind"]) for d in escalation["days"]] == [
        ("2026-10-10", "make_up_workday"),
        ("2026-10-11", "weekend"),
        ("2026-10-12", "working_day"),
    ]
    outside = client.get(f"/cases/{reference}/due-date", headers=bearer(tokens["adv.law-su"]))
    assert outside.status_code == 404
    assert outside.headers["content-type"] == "application/problem+json"
    assert outside.json()["field"] == "reference"
    unknown = client.get("/cases/QF-2026-999999/due-date", headers=bearer(tokens["inv.wang"]))
    assert unknown.status_code == 404
    assert client.get(f"/cases/{reference}/due-date").status_code == 401
