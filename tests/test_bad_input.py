"""Bad input is a clear 4xx naming the field, and nothing is written (issue 18, items 2 and 4).

Each row: who sends it, the request, the status and the problem+json ``field``. Every
table of the database holds as many rows after the refused request as before it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, table
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.http.body_limit import MAX_BODY, MAX_DEPTH, json_depth
from api.http.deps import AppState
from cases.deadlines import calendar
from cases.deadlines.calendar import YearNotCovered
from cases.procedure import commands as c
from cases.procedure.text import handle_problem, text_problem
from cases.store.db import UnitOfWork
from config.settings import get_settings
from tests.conftest import bearer
from tests.helpers import file

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞圈子",
    "details": "在部门内搞小圈子,排斥新成员。",
}
HUGE = 2**64  # past a 64-bit integer
REF = "{ref}"  # the test's case, filled in


@dataclass(frozen=True)
class Bad:
    label: str
    method: str
    path: str
    status: int
    field_name: str | None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    who: str | None = "inv.wang"  # whose token (None: no token)
    if_match: bool = True  # send the case's ETag


def report(**changes: Any) -> dict[str, Any]:
    return {**REPORT, **changes}


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return {"reasons": value}


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


ACCEPT = f"/cases/{REF}/accept"
ACCEPTED = {"category": "formalism", "severity": "serious", "investigators": ["inv.wang"]}
DECLINE = f"/cases/{REF}/decline"
DECLINED = {"reason": "out_of_scope", "explanation": "不属于受理范围"}
INTERVIEW = f"/cases/{REF}/record-interview"
INTERVIEWED = {"interviewee": "证人甲", "summary": "说明"}
GRANT = f"/cases/{REF}/grant-extension"

TABLE = [
    # Text: control characters, bidi controls, blank and zero-width text, lengths.
    Bad("NUL in a name", "POST", "/reports", 422, "subject_name", report(subject_name="张\x00三")),
    Bad("BEL in a summary", "POST", "/reports", 422, "summary", report(summary="搞圈子\x07")),
    Bad("C1 control", "POST", "/reports", 422, "summary", report(summary="搞\x85圈子")),
    Bad("ESC in details", "POST", "/reports", 422, "details", report(details="a\x1b[31mb")),
    Bad("a lone CR", "POST", "/reports", 422, "details", report(details="第一行\r第二行")),
    Bad(
        "newline in a name", "POST", "/reports", 422, "subject_name", report(subject_name="张\n三")
    ),
    Bad(
        "bidi override", "POST", "/reports", 422, "subject_name", report(subject_name="\u202e三张")
    ),
    Bad("bidi isolate", "POST", "/reports", 422, "details", report(details="x\u2067y\u2069")),
    Bad("zero-width only", "POST", "/reports", 422, "subject_name", report(subject_name="\u200b")),
    Bad("blank summary", "POST", "/reports", 422, "summary", report(summary="\u3000\ufeff\u2060")),
    Bad("details too long", "POST", "/reports", 422, "details", report(details="字" * 5001)),
    Bad("name too long", "POST", "/reports", 422, "subject_name", report(subject_name="张" * 201)),
    Bad("unit control", "POST", "/reports", 422, "unit", report(unit="cs-su\x00")),
    # Strict booleans.
    Bad("anonymous yes", "POST", "/reports", 422, "anonymous", report(anonymous="yes")),
    Bad("anonymous 1", "POST", "/reports", 422, "anonymous", report(anonymous=1)),
    Bad("anonymous 'true'", "POST", "/reports", 422, "anonymous", report(anonymous="true")),
    # Handles: a defined pattern, never a path.
    Bad(
        "path handle",
        "POST",
        "/reports",
        422,
        "subject_handle",
        report(subject_handle="../../etc/passwd"),
    ),
    Bad("blank handle", "POST", "/reports", 422, "subject_handle", report(subject_handle="a b")),
    Bad(
        "handle too long",
        "POST",
        "/reports",
        422,
        "subject_handle",
        report(subject_handle="a" * 65),
    ),
    Bad(
        "investigator path",
        "POST",
        ACCEPT,
        422,
        "investigators.0",
        {**ACCEPTED, "investigators": ["../x"]},
    ),
    Bad(
        "bidi explanation",
        "POST",
        DECLINE,
        422,
        "explanation",
        {**DECLINED, "explanation": "\u202d同意"},
    ),
    Bad(
        "too many reasons",
        "POST",
        f"/cases/{REF}/return-findings",
        422,
        "reasons",
        {"reasons": ["r"] * 21},
    ),
    # Dates: impossible, before the records begin, beyond the horizons.
    Bad(
        "impossible date",
        "POST",
        INTERVIEW,
        422,
        "held_on",
        {**INTERVIEWED, "held_on": "2026-13-45"},
    ),
    Bad(
        "interview tomorrow",
        "POST",
        INTERVIEW,
        422,
        "held_on",
        {**INTERVIEWED, "held_on": "2099-01-01"},
    ),
    Bad(
        "interview in 1900",
        "POST",
        INTERVIEW,
        422,
        "held_on",
        {**INTERVIEWED, "held_on": "1900-01-01"},
    ),
    Bad("extension 9999", "POST", GRANT, 422, "due_on", {"due_on": "9999-12-27"}),
    Bad(
        "extension 2099",
        "POST",
        f"/cases/{REF}/request-extension",
        422,
        "due_on",
        {"reason": "r", "due_on": "2099-06-01"},
    ),
    # Headers: If-Match and Idempotency-Key present but empty.
    Bad(
        "empty If-Match",
        "POST",
        DECLINE,
        428,
        "If-Match",
        DECLINED,
        headers={"If-Match": ""},
        if_match=False,
    ),
    Bad(
        "blank If-Match",
        "POST",
        DECLINE,
        428,
        "If-Match",
        DECLINED,
        headers={"If-Match": " "},
        if_match=False,
    ),
    Bad(
        "huge If-Match",
        "POST",
        DECLINE,
        412,
        "If-Match",
        DECLINED,
        headers={"If-Match": f'"{HUGE**2}"'},
        if_match=False,
    ),
    Bad(
        "empty Idempotency-Key",
        "POST",
        DECLINE,
        422,
        "Idempotency-Key",
        DECLINED,
        headers={"Idempotency-Key": ""},
    ),
    Bad(
        "empty key, report",
        "POST",
        "/reports",
        422,
        "Idempotency-Key",
        REPORT,
        headers={"Idempotency-Key": ""},
        who=None,
    ),
    # Bodies: nesting and size, before they are parsed.
    Bad("JSON too deep", "POST", DECLINE, 422, "body", nested(MAX_DEPTH + 1)),
    Bad(
        "JSON 10000 deep",
        "POST",
        "/reports",
        422,
        "body",
        content=b"[" * 10000 + b"]" * 10000,
        who=None,
    ),
    Bad(
        "body too large", "POST", "/reports", 413, "body", report(details="x" * MAX_BODY), who=None
    ),
    # Lists: pagination caps and integers past 64 bits.
    Bad("limit past the cap", "GET", "/cases?limit=201", 422, "limit"),
    Bad("huge cursor", "GET", f"/cases?cursor={cursor_of(f'c{HUGE}')}", 422, "cursor"),
    Bad("negative cursor", "GET", f"/cases?cursor={cursor_of('c-5')}", 422, "cursor"),
    Bad("foreign cursor", "GET", "/cases?cursor=bm9wZQ", 422, "cursor"),
    Bad("long cursor", "GET", "/cases?cursor=" + "A" * 41, 422, "cursor"),
    Bad(
        "filed_from at the end of time",
        "GET",
        "/cases?filed_from=9999-12-31T23:59:59-12:00",
        422,
        "filed_from",
    ),
    Bad(
        "filed_to at the start of time",
        "GET",
        "/cases?filed_to=0001-01-01T00:00:00%2B08:00",
        422,
        "filed_to",
    ),
    Bad("outbox after 2**64", "GET", f"/outbox?after={HUGE}", 422, "after", who="sec.li"),
    Bad("outbox limit", "GET", "/outbox?limit=501", 422, "limit", who="sec.li"),
    Bad("outbox id 2**64", "POST", f"/outbox/{HUGE}/retry", 422, "message_id", who="sec.li"),
    # People: the handle's pattern in the path, the name's text rules.
    Bad("person handle", "PATCH", "/people/a%20b", 422, "handle", {"name": "王"}, who="admin"),
    Bad(
        "person name NUL", "PATCH", "/people/inv.wang", 422, "name", {"name": "王\x00"}, who="admin"
    ),
    Bad(
        "person name blank",
        "PATCH",
        "/people/inv.wang",
        422,
        "name",
        {"name": "\u200b"},
        who="admin",
    ),
]


def row_counts(state: AppState) -> dict[str, int]:
    """Rows in every table of the database."""
    with state.db.reader.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in inspect(connection).get_table_names()
        }


def headers_for(client: TestClient, bad: Bad, reference: str, tokens: dict[str, str]) -> dict:
    """The request's headers: the token, the case's ETag (a read: an audit event), extras."""
    headers = bearer(tokens[bad.who]) if bad.who else {}
    if bad.if_match and REF in bad.path:
        headers["If-Match"] = client.get(f"/cases/{reference}", headers=headers).headers["ETag"]
    return {**headers, **bad.headers}


def send(client: TestClient, bad: Bad, path: str, headers: dict[str, str]) -> Any:
    if bad.json is not None:
        return client.request(bad.method, path, json=bad.json, headers=headers)
    if bad.content is not None:
        headers = {**headers, "Content-Type": "application/json"}
    return client.request(bad.method, path, content=bad.content, headers=headers)


@pytest.mark.parametrize("bad", TABLE, ids=[b.label for b in TABLE])
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(
    state: AppState, tokens: dict[str, str], client: TestClient, bad: Bad
) -> None:
    reference = file(state)
    headers = headers_for(client, bad, reference, tokens)
    before = row_counts(state)
    answer = send(client, bad, bad.path.replace(REF, reference), headers)
    assert answer.status_code == bad.status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == bad.field_name, answer.text
    assert row_counts(state) == before


def test_good_text_with_line_breaks_is_taken_and_crlf_reads_as_lf(
    state: AppState, tokens: dict[str, str], client: TestClient
) -> None:
    before = row_counts(state)["conduct_case"]
    filed = client.post("/reports", json=report(details="第一行\r\n第二行\t完", anonymous=False))
    assert filed.status_code == 201, filed.text
    assert row_counts(state)["conduct_case"] == before + 1
    assert c.Confirm(comment=" 好\r\n的 ").comment == "好\n的"


def test_text_rules() -> None:
    assert text_problem("张三 Zhang") is None
    assert text_problem("a\nb", multiline=True) is None
    assert text_problem("a\nb") is not None
    assert text_problem("\u200b \u200c") == "must not be blank or only invisible characters"
    assert "U+202E" in (text_problem("\u202e") or "")
    assert handle_problem("2023010001") is None and handle_problem("stu.wxm") is None
    assert handle_problem("../../etc/passwd") is not None and handle_problem(".x") is not None


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{", "b": [1, {"c": "\\"]]"}]}') == 3
    assert json_depth(b"[" * 100, limit=5) == 6


def test_the_cli_refuses_a_bad_handle_with_a_message(
    state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(state.settings.data_dir))
    monkeypatch.setenv("QINGFENG_DATABASE_URL", state.settings.effective_database_url)
    get_settings.cache_clear()
    before = row_counts(state)["person"]
    try:
        result = CliRunner().invoke(cli, ["users", "add", "../../etc/passwd", "--name", "某人"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "handle" in result.output
    assert row_counts(state)["person"] == before


def _counted_day_by_day(start: date, end: date) -> int:
    cal, count, day = calendar.current(), 0, start
    while day < end:
        day += timedelta(days=1)
        count += cal.is_working_day(day)
    return count


@pytest.mark.parametrize(
    "start,end",
    [
        (date(2026, 12, 1), date(2099, 12, 31)),
        (date(2025, 12, 30), date(2027, 1, 4)),
        (date(2026, 2, 1), date(2026, 10, 8)),
        (date(2050, 7, 14), date(2031, 3, 3)),
    ],
)
def test_far_counts_equal_the_day_by_day_count(start: date, end: date) -> None:
    counted = calendar.working_days_between(start, end)
    sign = 1 if end >= start else -1
    assert counted == sign * _counted_day_by_day(*sorted((start, end)))
    assert calendar.add_working_days(start, counted) == end or not calendar.is_working_day(end)


def test_years_without_holiday_data_are_refused() -> None:
    with pytest.raises(YearNotCovered) as refused:
        calendar.working_days_between(date(2026, 12, 1), date(2500, 1, 3))
    assert "2101" in refused.value.detail
    with pytest.raises(YearNotCovered):
        calendar.add_working_days(date(2026, 12, 1), 100_000)
    with pytest.raises(YearNotCovered):
        calendar.add_working_days(date(9999, 12, 27), 1)


def test_a_person_is_added_only_with_a_good_handle_name_and_email(state: AppState) -> None:
    from cases.people.directory import add_person
    from cases.procedure.errors import InvalidInput

    before = row_counts(state)["person"]
    for handle, name, email, named in [
        ("../../etc/passwd", "某人", None, "handle"),
        ("stu.ok", "\u202e某人", None, "name"),
        ("stu.ok", "某人", "not-an-address", "email"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            add_person(uow=UnitOfWork(state.db), handle=handle, name=name, email=email)
        assert refused.value.field == named
    assert row_counts(state)["person"] == before


def test_the_reporters_words_follow_the_same_text_rules() -> None:
    from pydantic import ValidationError

    from cases.messages import NewMessage
    from cases.reporter_side import SurveyAnswerIn

    for bad in ("\u202e反转", "\u200b\u200b", "a\x00b"):
        with pytest.raises(ValidationError):
            NewMessage(body=bad)
        with pytest.raises(ValidationError):
            SurveyAnswerIn(score=5, comment=bad)
    assert SurveyAnswerIn(score=5, comment="").comment == ""
    assert NewMessage(body="第一行\r\n第二行").body == "第一行\n第二行"


def test_a_malformed_path_is_a_422_before_the_version_check(
    client: TestClient, tokens: dict[str, str], state: AppState
) -> None:
    ref = file(state)
    staff = bearer(tokens["sec.li"])
    bad = client.post("/cases/bad/decline", json={"reason": "x"}, headers=staff)
    assert bad.status_code == 422 and bad.json()["field"] == "reference", bad.text
    well_formed = client.post(f"/cases/{ref}/decline", json={"reason": "x"}, headers=staff)
    assert well_formed.status_code == 428  # then If-Match is asked for
    huge = client.get(f"/cases/{ref}/evidence/{2**63}/file", headers=staff)
    assert huge.status_code == 422 and huge.json()["field"] == "evidence_id", huge.text
