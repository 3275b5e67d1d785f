"""A report laid out as tables, in one language: the same tables make the CSV sections, the
workbook's sheets and the PDF's tables, so every output holds the same numbers.

A rate is held as its fraction (0 to 1) with its numerator and denominator beside it; a
value with nothing to measure is None (an empty cell). Each table carries the definitions
of the figures it shows (``notes``); the table of the overall figures has them in a column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cases.metrics.definitions import UNIT_FIGURES, Kind, definition
from cases.metrics.service import Figure, MetricsReport
from cases.procedure.clock import SHANGHAI
from cases.procedure.labels import STAGES
from cases.procedure.policy import Label, Policy
from cases.procedure.vocabulary import Stage

Cell = str | int | float | None
OVERALL = "overall"  # the on-time rate over every staff stage
SCALAR = (Kind.COUNT, Kind.RATE, Kind.MEAN)


def _w(zh_cn: str, en: str) -> Label:
    return Label.model_validate({"zh-CN": zh_cn, "en": en})


# Titles (also the sheet names: at most 31 characters), headers, and the words for the
# codes a figure breaks down by that neither the policy nor the stages name.
WORDS: dict[str, Label] = {
    "about": _w("概况", "About"),
    "figures": _w("总体指标", "Figures"),
    "stages": _w("各环节", "Stages"),
    "satisfaction": _w("满意度分布", "Satisfaction"),
    "appeals": _w("申诉复查结果", "Appeal outcomes"),
    "units": _w("各单位概况", "Units"),
    "reports_by_category": _w("各单位举报类别", "Reports by category"),
    "work_style_reports": _w("各单位工作作风", "Work-style reports"),
    "substantiated_findings": _w("各单位查实问题", "Substantiated findings"),
    "final_dispositions": _w("各单位处理结果", "Final dispositions"),
    "definitions": _w("指标说明", "Definitions"),
    "title": _w("述职考评指标", "Performance figures (述职考评)"),
    "item": _w("项目", "item"),
    "content": _w("内容", "value"),
    "committee": _w("委员会", "committee"),
    "period": _w("期间", "period"),
    "to": _w("至", "to"),
    "unit": _w("单位", "unit"),
    "investigator": _w("调查人员", "investigator"),
    "as_of": _w("截至", "as of"),
    "everyone": _w("全部", "all"),
    "figure": _w("指标", "figure"),
    "code": _w("代码", "code"),
    "value": _w("值", "value"),
    "numerator": _w("分子", "numerator"),
    "denominator": _w("分母", "denominator"),
    "definition": _w("定义", "definition"),
    "computation": _w("计算方法", "computation"),
    "stage": _w("环节", "stage"),
    "score": _w("评分", "score"),
    "answers": _w("人数", "answers"),
    "outcome": _w("结果", "outcome"),
    "count": _w("数量", "count"),
    "none": _w("无", "none"),
    "list": _w("；", "; "),
    "colon": _w("：", ": "),
    OVERALL: _w("总体", "overall"),
    "uncategorised": _w("未分类", "uncategorised"),
    "overturned": _w("申诉撤销", "overturned on appeal"),
    "total": _w("合计", "total"),
    "substantiated": _w("属实", "substantiated"),
    "partly_substantiated": _w("部分属实", "partly substantiated"),
    "uphold": _w("维持", "upheld"),
    "change": _w("变更", "changed"),
    "overturn": _w("撤销", "overturned"),
}


@dataclass(frozen=True)
class Chart:
    """A bar chart of a table: its first column names the bars, ``values`` are the columns
    charted (one series each), over the table's first ``rows`` rows."""

    title: str
    values: tuple[int, ...]
    rows: int
    stacked: bool = False
    percent: bool = False


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[tuple[str, str], ...] = ()  # (figure, its definition) of the figures shown
    rates: frozenset[int] = field(default_factory=frozenset)  # columns holding rates
    chart: Chart | None = None


class Words:
    """The words of one language: titles, headers and the codes of breakdowns."""

    def __init__(self, policy: Policy, language: str) -> None:
        self.policy, self.language = policy, language

    def __call__(self, key: str) -> str:
        return WORDS[key].text(self.language)

    def name(self, code: str) -> str:
        return definition(code).name.text(self.language)

    def note(self, code: str) -> tuple[str, str]:
        return self.name(code), definition(code).definition.text(self.language)

    def key(self, code: str) -> str:
        """What a breakdown's code reads as: a category, disposition, stage, score or word."""
        policy, language = self.policy, self.language
        entry = next((c for c in policy.categories if c.code == code), None) or (
            policy.disposition(code)
        )
        if entry is not None:
            return entry.label.text(language)
        if code in {s.value for s in Stage}:
            return STAGES[Stage(code)].text(language)
        if code.isdigit():
            return code if language == "en" else f"{code}分"
        return WORDS[code].text(language) if code in WORDS else code


def values(figures: Sequence[Figure]) -> dict[str, Any]:
    return {f.code: f.value for f in figures}


def _rate(value: Any) -> tuple[Cell, Cell, Cell]:
    return value["rate"], value["numerator"], value["denominator"]


def _about(report: MetricsReport, w: Words, committee: str) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (w("committee"), committee),
        (w("period"), f"{report.period_from} {w('to')} {report.period_to}"),
        (w("unit"), report.unit or w("everyone")),
        (w("investigator"), report.investigator or w("everyone")),
        (w("as_of"), f"{report.as_of.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"),
    ]
    return Table("about", w("about"), (w("item"), w("content")), tuple(rows))


def _figures(report: MetricsReport, w: Words) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for f in report.figures:
        if f.kind not in SCALAR:
            continue
        value: Any = f.value
        value, numerator, denominator = _rate(value) if f.kind is Kind.RATE else (value, None, None)
        rows.append((w.name(f.code), f.code, value, numerator, denominator,
                     f.definition.text(w.language)))  # fmt: skip
    headers = ("figure", "code", "value", "numerator", "denominator", "definition")
    return Table("figures", w("figures"), tuple(w(h) for h in headers), tuple(rows))


def _stages(report: MetricsReport, w: Words) -> Table:
    v = values(report.figures)
    on_time, median, p90 = v["on_time_rate"], v["stage_time_median"], v["stage_time_p90"]
    stages = [s for s in on_time if s != OVERALL] + [OVERALL]
    rows = tuple(
        (w.key(s), *_rate(on_time[s]), median.get(s), p90.get(s)) for s in stages if s in on_time
    )
    codes = ("on_time_rate", "stage_time_median", "stage_time_p90")
    headers = (w("stage"), w.name(codes[0]), w("numerator"), w("denominator"),
               w.name(codes[1]), w.name(codes[2]))  # fmt: skip
    chart = Chart(w.name(codes[0]), (1,), len(rows) - 1, percent=True)
    return Table("stages", w("stages"), headers, rows, tuple(w.note(c) for c in codes),
                 frozenset({1}), chart)  # fmt: skip


def _breakdown(report: MetricsReport, w: Words, key: str, code: str, header: str) -> Table:
    counts: Mapping[str, int] = values(report.figures)[code]
    rows = tuple((w.key(k), n) for k, n in counts.items())
    chart = Chart(w.name(code), (1,), len(rows)) if rows else None
    headers = (w(header), w("count") if key == "appeals" else w("answers"))
    return Table(key, w(key), headers, rows, (w.note(code),), chart=chart)


def _units(report: MetricsReport, w: Words) -> Table:
    rows = []
    for u in report.units:
        v = values(u.figures)
        rows.append((u.name.text(w.language), u.unit, *_rate(v["completion_rate"]),
                     v["satisfaction_mean"], v["work_style_reports"].get("total"),
                     v["substantiated_findings"].get("total")))  # fmt: skip
    codes = ("completion_rate", "satisfaction_mean", "work_style_reports", "substantiated_findings")
    headers = (w("unit"), w("code"), w.name(codes[0]), w("numerator"), w("denominator"),
               *(w.name(c) for c in codes[1:]))  # fmt: skip
    return Table("units", w("units"), headers, tuple(rows), tuple(w.note(c) for c in codes),
                 frozenset({2}))  # fmt: skip


def _per_unit(report: MetricsReport, w: Words, code: str) -> Table:
    """One breakdown figure of every unit: a row per unit, a column per code."""
    keys: dict[str, None] = {}
    for u in report.units:
        keys.update(dict.fromkeys(values(u.figures)[code]))
    rows = tuple(
        (u.name.text(w.language), u.unit, *(values(u.figures)[code].get(k, 0) for k in keys))
        for u in report.units
    )
    shown = tuple(range(2, 2 + len(keys) - ("total" in keys)))
    chart = Chart(w.name(code), shown, len(rows), stacked=True) if rows and shown else None
    headers = (w("unit"), w("code"), *(w.key(k) for k in keys))
    return Table(code, w(code), headers, rows, (w.note(code),), chart=chart)


def _definitions(report: MetricsReport, w: Words) -> Table:
    seen = {f.code: f for f in report.figures}
    for u in report.units[:1]:
        seen.update({f.code: f for f in u.figures if f.code not in seen})
    rows = tuple(
        (w.name(c), c, f.definition.text(w.language), f.computation.text(w.language))
        for c, f in seen.items()
    )
    headers = (w("figure"), w("code"), w("definition"), w("computation"))
    return Table("definitions", w("definitions"), headers, rows)


def tables(report: MetricsReport, *, policy: Policy, language: str, committee: str) -> list[Table]:
    """The report's tables in ``language``: about, figures, stages, satisfaction, appeals,
    units, one table per unit breakdown (述职考评), and every figure's definition."""
    w = Words(policy, language)
    breakdowns = [code for code in UNIT_FIGURES if definition(code).kind is Kind.BREAKDOWN]
    return [
        _about(report, w, committee),
        _figures(report, w),
        _stages(report, w),
        _breakdown(report, w, "satisfaction", "satisfaction_distribution", "score"),
        _breakdown(report, w, "appeals", "appeal_outcomes", "outcome"),
        _units(report, w),
        *(_per_unit(report, w, code) for code in breakdowns),
        _definitions(report, w),
    ]


def shown(value: Cell, *, rate: bool = False) -> str:
    """A cell as text: a rate as a per cent, a number without needless decimals."""
    if value is None:
        return "—"
    if rate and isinstance(value, float | int):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{round(value, 2):g}"
    return str(value)
