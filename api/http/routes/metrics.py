"""GET /performance: the figures the committee is judged by (述职考评), each with its definition."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.http.deps import CurrentUser, PolicyDep, ReadUowDep, reject_unknown_query
from cases.metrics.events import Period
from cases.metrics.exports.period import parse_period
from cases.metrics.service import MetricsReport, metrics
from cases.procedure.clock import local_date, utcnow
from cases.procedure.errors import InvalidInput

router = APIRouter(tags=["performance"], dependencies=[Depends(reject_unknown_query)])


def _period(named: str | None, first: date | None, last: date | None) -> Period:
    if named is not None:
        if first or last:
            raise InvalidInput("give either 'period' or 'from'/'to', not both", field="period")
        return parse_period(named)
    last = last or local_date(utcnow())
    first = first or date(last.year, 1, 1)
    if last < first:
        raise InvalidInput(f"the period ends ({last}) before it begins ({first})", field="to")
    return Period(first, last)


@router.get(
    "/performance",
    response_model=MetricsReport,
    summary="Figures for a period and a scope (the committee, a unit with the units under it, "
    "one investigator), each with its definition in zh-CN and en; secretaries and admins, "
    "or an investigator for their own",
)
def read_metrics(
    user: CurrentUser,
    uow: ReadUowDep,
    policy: PolicyDep,
    period: Annotated[
        str | None,
        Query(
            max_length=40,
            description="A year (2026), a quarter (2026-Q1), a month (2026-03) or days "
            "(2026-01-01..2026-06-30), as `qingfeng report --period` takes; or from/to",
        ),
    ] = None,
    first: Annotated[
        date | None,
        Query(alias="from", description="First day (Asia/Shanghai); default: 1 January of 'to'"),
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="Last day (Asia/Shanghai); default: today")
    ] = None,
    unit: Annotated[str | None, Query(description="Unit code; includes units under it")] = None,
    investigator: Annotated[str | None, Query(description="Handle of an investigator")] = None,
) -> MetricsReport:
    return metrics(
        uow=uow,
        policy=policy,
        period=_period(period, first, last),
        viewer=user,
        unit=unit,
        investigator=investigator,
    )
