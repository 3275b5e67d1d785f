"""`qingfeng calendar` and `qingfeng deadlines`: working days and the steps they time."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import fails_cleanly, load_state, out
from cases.deadlines.calendar import (
    WorkingCalendar,
    YearState,
    add_working_days,
    end_of,
    local_date,
    working_days_between,
)
from cases.deadlines.calendar import configure as configure_calendar
from cases.firing import upcoming_steps
from cases.procedure.clock import utcnow
from cases.recompute import recompute_deadlines
from cases.store.db import UnitOfWork
from config.settings import get_settings

calendar_app = typer.Typer(help="The working-day calendar.", no_args_is_help=True)
deadlines_app = typer.Typer(
    help="Deadline steps (reminders, overdue, escalations).", no_args_is_help=True
)


@calendar_app.command("check")
@fails_cleanly
def calendar_check(
    years: Annotated[int, typer.Option(help="How many years from this one to list.")] = 3,
) -> None:
    """Validate the override files and say what each year's working days rest on."""
    settings = get_settings()
    calendar = configure_calendar(settings.calendar_dir)
    this_year = utcnow().year
    for year in sorted({*calendar.overrides, *range(this_year, this_year + years)}):
        out.print(
            _year_line(calendar, year, settings.calendar_dir), highlight=False, soft_wrap=True
        )


def _year_line(calendar: WorkingCalendar, year: int, directory: Path) -> str:
    override, state = calendar.overrides.get(year), calendar.state(year)
    if override is None:
        return (
            f"{year}  provisional  no file: statutory holidays only, no substituted days off "
            f"or make-up days (add {directory}/{year}.yaml with confirmed: true)"
        )
    days = (
        f"{len(override.days_off)} days off, {len(override.make_up_workdays)} make-up days, "
        f"{len(override.closures)} closures"
    )
    if state is YearState.CONFIRMED:
        return f"{year}  confirmed    {calendar.sources[year]} (the package's data, +{days})"
    return (
        f"{year}  provisional  {calendar.sources[year]} says confirmed: false: statutory "
        f"holidays and its {days} (set confirmed: true once the schedule is official)"
    )


@calendar_app.command("reload")
@fails_cleanly
def calendar_reload() -> None:
    """Read the override files again and recompute the pending deadlines that counted days
    in a year whose calendar changed (the running service also does this by itself)."""
    state = load_state()
    result = recompute_deadlines(uow=UnitOfWork(state.db), policy=state.policy)
    if not result.changed:
        out.print("no year's calendar changed since it was last applied: nothing to recompute")
        return
    for year, (before, now) in result.changed.items():
        change = f"{now}, its days changed" if before == now else f"{before or 'unknown'} -> {now}"
        out.print(f"{year}  {change}", highlight=False)
    out.print(
        f"{result.rewritten} cases' pending deadline steps rewritten, {result.moved} due days "
        f"moved (their assignees are told), {result.marked} provisional marks changed",
        highlight=False,
        soft_wrap=True,
    )


@deadlines_app.command("upcoming")
@fails_cleanly
def deadlines_upcoming(
    days: Annotated[int, typer.Option(min=0, max=60, help="Working days ahead.")] = 5,
) -> None:
    """Pending reminder, overdue and escalation steps due within N working days."""
    state = load_state()
    today = local_date(utcnow())
    until = end_of(add_working_days(today, days), time.max)
    steps = upcoming_steps(uow=UnitOfWork(state.db, write=False), until=until)
    if not steps:
        out.print(f"nothing due within {days} working days")
    for reference, step in steps:
        left = working_days_between(today, local_date(step.due_at))
        out.print(
            f"{step.due_at:%Y-%m-%d %H:%M}Z  {left:+3d} wd  {reference}  "
            f"{step.stage:14} {step.step}",
            highlight=False,
        )
