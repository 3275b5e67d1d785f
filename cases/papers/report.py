"""The 述职考评 report as a PDF paper: the committee and the period in the title, every
figure with its value and definition, the stages, and each unit's 述职考评 table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cases.metrics.definitions import Kind
from cases.metrics.events import Period
from cases.metrics.exports.period import period_name
from cases.metrics.exports.tables import Table, Words, shown, tables
from cases.metrics.service import Figure, MetricsReport
from cases.papers.pdf import Paper
from cases.procedure.policy import Policy

WIDTHS = (3, 3, 6)  # figure, value, definition


def _rate(value: Mapping[str, Any]) -> str:
    return f"{shown(value['rate'], rate=True)} ({value['numerator']}/{value['denominator']})"


def value_text(figure: Figure, w: Words) -> str:
    """A figure's value in words: a rate with its fraction, stages and breakdowns listed
    (only the codes counted), '—' where there is nothing to measure."""
    value: Any = figure.value
    if value is None:
        return shown(None)
    if figure.kind is Kind.RATE:
        return _rate(value)
    if figure.kind is Kind.STAGE_RATES:
        return w("list").join(f"{w.key(s)} {_rate(r)}" for s, r in value.items())
    if figure.kind is Kind.STAGE_DAYS:
        return w("list").join(f"{w.key(s)} {shown(d)}" for s, d in value.items())
    if figure.kind is Kind.BREAKDOWN:
        counted = [f"{w.key(k)} {n}" for k, n in value.items() if n]
        return w("list").join(counted) or w("none")
    return shown(value)


def _figure_rows(figures: list[Figure], w: Words) -> list[list[str]]:
    return [[w.name(f.code), value_text(f, w), f.definition.text(w.language)] for f in figures]


def _table(paper: Paper, table: Table, w: Words) -> None:
    rows = [[shown(c, rate=n in table.rates) for n, c in enumerate(row)] for row in table.rows]
    paper.table_of(table.headers, rows, size=8.5)
    for name, meaning in table.notes:
        paper.paragraph(f"{name}{w('colon')}{meaning}", align="L")


def title(committee: str, period: Period, w: Words) -> str:
    return f"{committee}\n{w('title')} {period_name(period)}"


def report_pdf(
    report: MetricsReport, *, policy: Policy, language: str, committee: str, created: datetime
) -> bytes:
    """The report's PDF in ``language`` (zh-CN or en)."""
    w = Words(policy, language)
    period = Period(report.period_from, report.period_to)
    laid_out = {t.key: t for t in tables(report, policy=policy, language=language,
                                         committee=committee)}  # fmt: skip
    heading = title(committee, period, w)
    paper = Paper(
        title=heading.replace("\n", " "),
        footer=f"{committee} · {w('title')} {period_name(period)}",
        created=created,
    )
    paper.title_block(heading, size=16)
    paper.fields([(str(k), str(v)) for k, v in laid_out["about"].rows])
    paper.heading(w("figures"))
    headers = (w("figure"), w("value"), w("definition"))
    paper.table_of(headers, _figure_rows(report.figures, w), widths=WIDTHS, size=8.5)
    paper.heading(w("stages"))
    _table(paper, laid_out["stages"], w)
    paper.heading(w("units"))
    _table(paper, laid_out["units"], w)
    for unit in report.units:
        paper.heading(f"{unit.name.text(language)} ({unit.unit})")
        paper.table_of(headers, _figure_rows(unit.figures, w), widths=WIDTHS, size=8.5)
    return paper.to_bytes()
