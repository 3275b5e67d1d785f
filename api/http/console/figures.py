"""The secretary's figures (/console/figures): a period (a year, a quarter or a month) and a
unit from the tree; the headline figures each beside its definition (cases/metrics/service
``metrics``, as GET /performance), three charts drawn as inline SVG with a table of the same
numbers under each (cases/metrics/charts ``charts``), and both as JSON to download.

For secretaries and admins: the services refuse anyone else, and the page is then the
console's 404, as the board is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from api.http.console import figures_svg
from api.http.console.render import page, text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from api.http.pages.render import language_of
from cases.metrics.charts import Charts, charts
from cases.metrics.definitions import Kind
from cases.metrics.events import Period
from cases.metrics.service import Figure, MetricsReport, metrics
from cases.people.directory import unit_choices
from cases.procedure.clock import local_date, utcnow
from cases.procedure.errors import Forbidden, InvalidInput
from cases.procedure.labels import stage_label
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import Person

router = APIRouter(include_in_schema=False)
QUARTERS = tuple(f"q{q}" for q in range(1, 5))
MONTHS = tuple(f"m{m:02d}" for m in range(1, 13))
PARTS = ("", *QUARTERS, *MONTHS)  # "": the whole year
YEARS_SHOWN = 5  # offered in the picker; any year from FIRST_YEAR may be asked for
FIRST_YEAR = 2000


@dataclass(frozen=True)
class FiguresQuery:
    """The page's query string, checked: a year before FIRST_YEAR or to come, or a part not
    offered, falls back to the default (this year, whole); the unit is the service's to check."""

    year: int
    part: str = ""
    unit: str = ""

    @classmethod
    def of(cls, request: Request, today: date) -> FiguresQuery:
        asked = request.query_params
        year = asked.get("year", "")
        part = asked.get("part", "")
        return cls(
            year=int(year)
            if year in {str(y) for y in range(FIRST_YEAR, today.year + 1)}
            else today.year,
            part=part if part in PARTS else "",
            unit=asked.get("unit", "").strip()[:40],
        )

    @property
    def period(self) -> Period:
        if not self.part:
            return Period(date(self.year, 1, 1), date(self.year, 12, 31))
        number = int(self.part[1:])
        first, months = (3 * number - 2, 3) if self.part in QUARTERS else (number, 1)
        after = first + months
        end = date(self.year + 1, 1, 1) if after > 12 else date(self.year, after, 1)
        return Period(date(self.year, first, 1), end - timedelta(days=1))

    def link(self, path: str) -> str:
        """``path`` with this query (year, part, unit)."""
        values = {"year": str(self.year), "part": self.part, "unit": self.unit}
        return f"{path}?" + urlencode({k: v for k, v in values.items() if v})

    @property
    def name(self) -> str:
        """The period and unit in a file name: 'figures-2026-q1-cs-su'."""
        return "-".join(p for p in ("figures", str(self.year), self.part, self.unit) if p)


def years(today: date, asked: int) -> list[int]:
    """The years offered, newest first (and the one asked for)."""
    return sorted({*range(today.year, today.year - YEARS_SHOWN, -1), asked}, reverse=True)


def _read(request: Request, staff: Person, asked: FiguresQuery) -> tuple[MetricsReport, Charts]:
    """The figures and the chart series, each read by its service (Forbidden, InvalidInput)."""
    state = app_state(request)
    scope: dict[str, Any] = {
        "policy": state.policy, "period": asked.period, "viewer": staff,
        "unit": asked.unit or None,
    }  # fmt: skip
    report = metrics(uow=UnitOfWork(state.db, write=False), **scope)
    return report, charts(uow=UnitOfWork(state.db, write=False), **scope)


@dataclass(frozen=True)
class Shown:
    """A headline figure as the page shows it: its value in words, and its parts."""

    code: str
    name: str
    value: str
    parts: list[tuple[str, str]]
    definition: str
    computation: str


def _rate(request: Request, value: Any) -> str:
    if not value or value.get("rate") is None:
        return text(request, "figures.no_rate", denominator=(value or {}).get("denominator", 0))
    percent = f"{round(value['rate'] * 100, 1):g}%"
    return text(
        request, "figures.rate", percent=percent,
        numerator=value["numerator"], denominator=value["denominator"],
    )  # fmt: skip


def _days(request: Request, value: Any) -> str:
    return "—" if value is None else text(request, "figures.days", days=f"{value:g}")


def _part_name(request: Request, figure: Figure, key: str) -> str:
    language = language_of(request)
    if key in Stage._value2member_map_:
        return stage_label(key, language)
    if key == "overall":
        return text(request, "figures.overall")
    if figure.code == "satisfaction_distribution":
        return text(request, "figures.score", score=key)
    return text(request, f"figures.outcome.{key}") if figure.code == "appeal_outcomes" else key


def shown(request: Request, figure: Figure) -> Shown:
    language, value = language_of(request), figure.value
    main, parts = "—", []
    if figure.kind is Kind.COUNT:
        main = str(value)
    elif figure.kind is Kind.RATE:
        main = _rate(request, value)
    elif figure.kind is Kind.MEAN:
        main = "—" if value is None else f"{round(float(value), 2):g}"  # type: ignore[arg-type]
    elif isinstance(value, dict):
        each = {Kind.STAGE_RATES: _rate, Kind.STAGE_DAYS: _days}.get(figure.kind)
        parts = [
            (_part_name(request, figure, key), each(request, v) if each else str(v))
            for key, v in value.items()
            if key != "overall"
        ]
        main = _rate(request, value.get("overall")) if figure.kind is Kind.STAGE_RATES else ""
    return Shown(
        code=figure.code, name=figure.name.text(language), value=main, parts=parts,
        definition=figure.definition.text(language),
        computation=figure.computation.text(language),
    )  # fmt: skip


def _month(request: Request, month: str) -> str:
    return text(request, f"figures.short.m{month[5:]}")


def drawn(request: Request, series: Charts) -> dict[str, figures_svg.Chart]:
    """The three charts, their labels in the page's language."""
    language = language_of(request)
    buckets = [
        f"{b.low}–{b.high}" if b.high is not None else f">{b.low - 1}" for b in series.buckets
    ]
    return {
        "entries": figures_svg.grid(
            [(stage_label(s, language), [m.entered[s] for m in series.months]) for s in Stage],
            [_month(request, m.month) for m in series.months],
            column_width=52,
        ),
        "days": figures_svg.grid(
            [(stage_label(d.stage, language), d.counts) for d in series.stage_days],
            buckets,
            label_width=104,
            column_width=50,
        ),
        "units": figures_svg.shares(
            [
                (u.name.text(language), u.on_time.rate, _rate(request, u.on_time.model_dump()))
                for u in series.units
            ]
        ),
    }


def _missing(request: Request, staff: Person) -> HTMLResponse:
    return page(request, "signoff_missing.html", staff=staff, status_code=404)


@router.get("/console/figures", response_class=HTMLResponse)
def figures(request: Request, staff: StaffUser) -> HTMLResponse:
    today = local_date(utcnow())
    asked = FiguresQuery.of(request, today)
    context: dict[str, Any] = {"report": None, "errors": {}}
    try:
        report, series = _read(request, staff, asked)
        context |= {
            "report": report, "series": series, "charts": drawn(request, series),
            "headline": [shown(request, f) for f in report.figures],
            "cut_short": report.as_of < asked.period.end,  # read before the period ended
        }  # fmt: skip
    except Forbidden:
        return _missing(request, staff)
    except InvalidInput as exc:  # the one field a person may get wrong: the unit
        context["errors"] = {exc.field or "unit": text(request, "figures.no_unit", unit=asked.unit)}
    return page(
        request, "figures.html", staff=staff, asked=asked, years=years(today, asked.year),
        parts=PARTS, units=unit_choices(uow=UnitOfWork(app_state(request).db, write=False)),
        stages=list(Stage), **context,
    )  # fmt: skip


def _download(request: Request, staff: Person, which: str) -> Response:
    asked = FiguresQuery.of(request, local_date(utcnow()))
    try:
        report, series = _read(request, staff, asked)
    except Forbidden:
        return _missing(request, staff)
    except InvalidInput:
        return figures(request, staff)
    body: BaseModel = report if which == "performance" else series
    return Response(
        body.model_dump_json(by_alias=True, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{asked.name}-{which}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/console/figures/performance.json")
def download_figures(request: Request, staff: StaffUser) -> Response:
    """The figures as GET /performance answers them, for this period and unit."""
    return _download(request, staff, "performance")


@router.get("/console/figures/charts.json")
def download_charts(request: Request, staff: StaffUser) -> Response:
    """The chart series, for this period and unit."""
    return _download(request, staff, "charts")
