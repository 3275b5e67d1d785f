"""The secretary's figures page (/console/figures) and the chart series behind it
(cases/metrics/charts.py), from a small history whose answers are worked out by hand
below; the series agree with the figures on test_metrics' larger history; the page shows
the same numbers in its charts and tables; others get the console's 404."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import select

from api.http.deps import AppState
from cases.deadlines.calendar import current
from cases.metrics.charts import (
    DAY_BUCKETS,
    Charts,
    DayBucket,
    bucket_of,
    charts,
    distributions,
    entries,
    unit_rates,
)
from cases.metrics.compute import Window, histories
from cases.metrics.events import Period, Scope
from cases.metrics.reading import read_events
from cases.metrics.service import metrics
from cases.procedure import commands as c
from cases.procedure.errors import Forbidden
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Person
from tests.test_console_board import Console, _clients
from tests.test_metrics import LATER, MARCH, History, at, build

QUARTER = "/console/figures?year=2026&part=q1"

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))


@pytest.fixture
def console(state: AppState, tokens: dict[str, str]) -> Iterator[Console]:
    """A signed-in console client for a demo staff member (one browser each)."""
    with _clients(state) as make:
        yield make


def small(state: AppState, people: dict[str, Person]) -> History:
    """Four cases in the first quarter of 2026 (all days below are working days).

    P (cs-su): filed 12 Jan, accepted 13 Jan (intake 1 day, due 15 Jan), findings 20 Jan
    (investigation 5: 14-16, 19, 20), confirmed 22 Jan (verification 2), signed off 22 Jan
    (disposition 0): in its appeal window since. Q (law-su): filed 2 Mar, accepted 9 Mar
    (intake 5 days, due 5 Mar: late), findings 30 Mar (investigation 15, due 23 Mar: late),
    in verification at the quarter's end (due in April: not counted). R (cs-su): filed and
    declined 16 Mar (intake 0). S (cs-su): filed 25 Mar, still in intake, due 30 Mar: late.
    """
    h = History(state, people)
    h.file("P", at(1, 12))
    h.accept("P", "inv.wang", "other", "minor", at(1, 13))
    h.findings("P", "inv.wang", "substantiated", at(1, 20))
    h.verify("P", at(1, 22))
    h.decide("P", "inv.wang", "talk_education", "cs-su", at(1, 22))
    h.file("Q", at(3, 2), unit="law-su")
    h.accept("Q", "inv.zhao", "formalism", "minor", at(3, 9))
    h.findings("Q", "inv.zhao", "partly_substantiated", at(3, 30))
    h.file("R", at(3, 16))
    h.act("R", "inv.wang", c.Decline(reason="out_of_scope", explanation="不属于"), at(3, 16))
    h.file("S", at(3, 25))
    return h


def read(state: AppState, viewer: Person, period: Period = Q1, **scope: str) -> Charts:
    return charts(
        uow=UnitOfWork(state.db, write=False), policy=state.policy, period=period,
        viewer=viewer, now=LATER, **scope,
    )  # fmt: skip


def _entered(**counts: int) -> dict[Stage, int]:
    return {stage: counts.get(stage.value, 0) for stage in Stage}


def test_the_series_of_the_quarter_are_the_hand_worked_answers(
    state: AppState, people: dict[str, Person]
) -> None:
    small(state, people)
    got = read(state, people["sec.li"])
    assert [m.month for m in got.months] == ["2026-01", "2026-02", "2026-03"]
    assert [m.entered for m in got.months] == [
        _entered(intake=1, investigation=1, verification=1, disposition=1, appeal_window=1),
        _entered(),
        _entered(intake=3, investigation=1, verification=1, closed=1),
    ]
    assert [(b.low, b.high) for b in got.buckets] == list(DAY_BUCKETS)
    days = {d.stage: (d.counts, d.stays) for d in got.stage_days}
    assert days == {
        Stage.INTAKE: ([2, 0, 1, 0, 0, 0], 3),  # P 1, R 0, Q 5
        Stage.INVESTIGATION: ([0, 0, 1, 0, 1, 0], 2),  # P 5, Q 15
        Stage.VERIFICATION: ([0, 1, 0, 0, 0, 0], 1),  # P 2
        Stage.DISPOSITION: ([1, 0, 0, 0, 0, 0], 1),  # P 0
        Stage.APPEAL_REVIEW: ([0] * 6, 0),
    }
    # cs-su: P's four stages and R's intake on time, S late; law-su: Q late twice.
    assert [(u.unit, u.on_time.numerator, u.on_time.denominator) for u in got.units] == [
        ("cs-su", 5, 6),
        ("law-su", 0, 2),
    ]
    assert got.units[1].on_time.rate == 0.0 and got.units[1].name.en == "Law School Student Union"
    march = read(state, people["sec.li"], MARCH, unit="law-su")
    assert [m.month for m in march.months] == ["2026-03"]
    assert march.months[0].entered == _entered(intake=1, investigation=1, verification=1)
    assert [u.unit for u in march.units] == ["law-su"]


def test_a_case_closed_before_the_period_is_not_read_but_its_unit_is_named(
    state: AppState, people: dict[str, Person]
) -> None:
    """March read with only the cases not closed before it is March read from every
    event; T (med-su, declined in January) is not read, yet med-su keeps its line."""
    h = small(state, people)
    h.file("T", at(1, 5), unit="med-su")
    h.act("T", "inv.wang", c.Decline(reason="out_of_scope", explanation="不属于"), at(1, 6))
    got = read(state, people["sec.li"], MARCH)
    with UnitOfWork(state.db, write=False) as uow:
        scope, window = Scope(None, None), Window(MARCH.start, MARCH.end)
        t_id = uow.session.exec(
            select(ConductCase.id).where(ConductCase.reference == h.refs["T"])
        ).one()
        every = read_events(uow.session, scope, MARCH.end)
        kept = read_events(uow.session, scope, MARCH.end, open_since=MARCH.start)
        cases = histories(every, policy=state.policy, calendar=current(), before=MARCH.end)
        expected = Charts(
            period_from=MARCH.first, period_to=MARCH.last, as_of=MARCH.end, unit=None,
            investigator=None, months=entries(cases, window),
            buckets=[DayBucket(low=low, high=high) for low, high in DAY_BUCKETS],
            stage_days=distributions(cases, window), units=unit_rates(uow.session, cases, window),
        )  # fmt: skip
    closed_early = {e.case_id for e in every} - {e.case_id for e in kept}
    assert closed_early == {t_id}
    assert got == expected
    assert [u.unit for u in got.units] == ["cs-su", "law-su", "med-su"]
    assert got.units[2].on_time.denominator == 0


def test_buckets_meet_without_gaps() -> None:
    assert [bucket_of(d) for d in (0, 1, 2, 3, 4, 5, 6, 10, 11, 20, 21, 400)] == [
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5,
    ]  # fmt: skip


def test_the_series_agree_with_the_figures(state: AppState, people: dict[str, Person]) -> None:
    """On test_metrics' twelve cases: intake entries are the reports received, the stays
    per stage those the median is taken of, the units' on-time marks the overall rate's."""
    build(state, people)
    got = read(state, people["sec.li"], MARCH)
    report = metrics(
        uow=UnitOfWork(state.db, write=False), policy=state.policy, period=MARCH,
        viewer=people["sec.li"], now=LATER,
    )  # fmt: skip
    values: dict[str, Any] = {f.code: f.value for f in report.figures}
    assert sum(m.entered[Stage.INTAKE] for m in got.months) == values["reports_received"]
    overall = values["on_time_rate"]["overall"]
    assert sum(u.on_time.numerator for u in got.units) == overall["numerator"]
    assert sum(u.on_time.denominator for u in got.units) == overall["denominator"]
    for stage_days in got.stage_days:
        median = values["stage_time_median"][stage_days.stage.value]
        assert (stage_days.stays == 0) == (median is None)


def test_only_secretaries_and_admins_read_the_series(
    state: AppState, people: dict[str, Person]
) -> None:
    for who in ("inv.wang", "ver.liu", "adv.cs-su"):
        with pytest.raises(Forbidden):
            read(state, people[who])
    assert read(state, people["admin"]).units == []


def _cells(html: str, row: str) -> list[str]:
    """The cells of the table row with id ``row`` (its header cell first)."""
    found = re.search(rf'<tr id="{row}">(.*?)</tr>', html, re.S)
    assert found, row
    return [c.strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)]


def _chart_values(html: str, chart: str) -> list[str]:
    found = re.search(rf'<svg id="chart-{chart}".*?</svg>', html, re.S)
    assert found, chart
    return re.findall(r'class="value">([^<]*)<', found.group(0))


def test_the_page_shows_the_series_and_the_figures(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    small(state, people)
    with time_machine.travel(LATER, tick=False):
        secretary = console("sec.li")
        answer = secretary.get(QUARTER)
        assert answer.status_code == 200, answer.text
        html = answer.text
        english = secretary.get(f"{QUARTER}&lang=en").text
    assert 'href="/console/figures"' in html  # the nav offers the page
    entries = {s: _cells(html, f"entries-{s.value}")[1:] for s in Stage}
    assert entries[Stage.INTAKE] == ["1", "0", "3"]
    assert entries[Stage.CLOSED] == ["0", "0", "1"]
    assert entries[Stage.APPEAL_WINDOW] == ["1", "0", "0"]
    # The chart writes the table's numbers, row by row.
    assert _chart_values(html, "entries") == [v for s in Stage for v in entries[s]]
    assert _cells(html, "days-intake") == ["受理", "2", "0", "1", "0", "0", "0", "3"]
    assert _cells(html, "days-investigation")[1:] == ["0", "0", "1", "0", "1", "0", "2"]
    assert _chart_values(html, "days")[:6] == ["2", "0", "1", "0", "0", "0"]
    assert _cells(html, "units-cs-su") == ["计算机学院学生会", "83.3%（5/6）"]
    assert _cells(html, "units-law-su") == ["法学院学生会", "0%（0/2）"]
    assert _chart_values(html, "units") == ["83.3%（5/6）", "0%（0/2）"]
    received = re.search(r'id="figure-reports_received">(.*?)</li>', html, re.S)
    assert received and '<p class="value">4</p>' in received.group(1)
    assert "期间内收到的举报数。" in received.group(1)  # beside its definition
    assert "2026-01-01 至 2026-03-31" in html
    assert "Cases entering each stage, per month" in english
    assert _cells(english, "units-law-su") == ["Law School Student Union", "0% (0/2)"]
    assert "Reports filed in the period." in english
    assert _cells(english, "days-intake")[0] == "intake"


def test_the_page_for_a_unit_and_a_wrong_unit(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    small(state, people)
    with time_machine.travel(LATER, tick=False):
        secretary = console("sec.li")
        law = secretary.get(f"{QUARTER}&unit=law-su").text
        wrong = secretary.get(f"{QUARTER}&unit=nowhere")
        month = secretary.get("/console/figures?year=2026&part=m03").text
        default = secretary.get("/console/figures?year=1999&part=q9")
    assert _cells(law, "entries-intake")[1:] == ["0", "0", "1"]
    assert 'id="units-cs-su"' not in law and "法学院学生会及其下属单位" in law
    assert wrong.status_code == 200 and 'id="e-unit"' in wrong.text
    assert "没有代码为 nowhere 的单位。" in wrong.text and 'id="chart-entries"' not in wrong.text
    assert _cells(month, "entries-intake")[1:] == ["3"] and "2026-03-01 至 2026-03-31" in month
    assert "2026-01-01 至 2026-12-31" in default.text  # not offered: this year, whole


def test_the_downloads_are_the_services_answers(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    small(state, people)
    with time_machine.travel(LATER, tick=False):
        secretary = console("sec.li")
        figures = secretary.get(QUARTER.replace("figures?", "figures/performance.json?"))
        series = secretary.get(QUARTER.replace("figures?", "figures/charts.json?") + "&unit=cs-su")
        report = metrics(
            uow=UnitOfWork(state.db, write=False), policy=state.policy, period=Q1,
            viewer=people["sec.li"],
        )  # fmt: skip
        own = read(state, people["sec.li"], unit="cs-su")
    assert figures.status_code == 200 and figures.headers["content-type"] == "application/json"
    disposition = figures.headers["content-disposition"]
    assert disposition == 'attachment; filename="figures-2026-q1-performance.json"'
    assert figures.json() == json.loads(report.model_dump_json(by_alias=True))
    assert figures.json()["figures"][0]["definition"]["zh-CN"]
    assert series.json() == json.loads(own.model_dump_json(by_alias=True))
    assert series.json()["units"][0]["on_time"] == {
        "numerator": 5, "denominator": 6, "rate": 5 / 6,
    }  # fmt: skip


def test_others_get_the_consoles_404(
    state: AppState, people: dict[str, Person], console: Console
) -> None:
    small(state, people)
    with time_machine.travel(LATER, tick=False):
        admin = console("admin")
        assert admin.get(QUARTER).status_code == 200
        for handle in ("inv.wang", "ver.liu", "adv.cs-su"):
            client = console(handle)
            for path in (
                QUARTER,
                "/console/figures/performance.json",
                "/console/figures/charts.json",
            ):
                answer = client.get(path)
                assert answer.status_code == 404, (handle, path)
                assert "没有你可以查看的这个案件或页面。" in answer.text
            assert 'href="/console/figures"' not in client.get("/console").text
        outsider = TestClient(admin.app)
        signed_out = outsider.get(QUARTER, follow_redirects=False)
        assert signed_out.status_code in (302, 303, 307)
