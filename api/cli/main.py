"""The ``qingfeng`` command line (Typer): run the stack, migrate, manage people, inspect."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from datetime import time
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from api.cli.ops import notifier, runner, status
from api.cli.outbox import outbox_app
from api.cli.unit_files import UnitFileError, read_units
from api.http.app import build_state
from api.http.deps import AppState
from cases import audit, service
from cases.deadlines.calendar import (
    CalendarError,
    WorkingCalendar,
    YearState,
    add_working_days,
    end_of,
    local_date,
    working_days_between,
)
from cases.deadlines.calendar import configure as configure_calendar
from cases.demo import run_demo
from cases.files import load_policy
from cases.firing import upcoming_steps
from cases.people import directory as people
from cases.people.secrets import receipt_code
from cases.procedure.clock import utcnow
from cases.procedure.commands import COMMANDS, FileReport
from cases.procedure.errors import DomainError
from cases.procedure.policy import PolicyError
from cases.procedure.vocabulary import Action, Role
from cases.recompute import recompute_deadlines
from cases.store.db import UnitOfWork
from cases.store.migrate import upgrade
from cases.store.models import Person
from cases.subject_view import SubjectCaseView
from config.logging import configure_logging
from config.settings import get_settings
from notifications.routes import NotificationsError

app = typer.Typer(
    help="qingfeng 清风: conduct cases about student-union staff.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users = typer.Typer(help="People, roles and tokens.", no_args_is_help=True)
units = typer.Typer(help="Organisation units.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
cases_app = typer.Typer(help="Look at and act on cases.", no_args_is_help=True)
policy_app = typer.Typer(help="The case-handling policy.", no_args_is_help=True)
calendar_app = typer.Typer(help="The working-day calendar.", no_args_is_help=True)
deadlines_app = typer.Typer(
    help="Deadline steps (reminders, overdue, escalations).", no_args_is_help=True
)
for sub, name in (
    (users, "users"),
    (units, "units"),
    (audit_app, "audit"),
    (cases_app, "cases"),
    (policy_app, "policy"),
    (calendar_app, "calendar"),
    (deadlines_app, "deadlines"),
    (outbox_app, "outbox"),
):
    app.add_typer(sub, name=name)
app.command()(status)
app.command()(runner)
app.command()(notifier)

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _error(message: str) -> None:
    # Escaped: messages quote input and policy text, whose [brackets] are not markup.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def fails_cleanly(fn: F) -> F:
    """Turn domain, policy and file errors into one clear line and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            where = f" (field: {exc.field})" if exc.field else ""
            _error(f"{exc.detail}{where}")
        except (PolicyError, UnitFileError, CalendarError, NotificationsError) as exc:
            _error(str(exc))
        except ValidationError as exc:
            for e in exc.errors():
                _error(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
        raise typer.Exit(2)

    return wrapper  # type: ignore[return-value]


def _state() -> AppState:
    configure_logging(get_settings())
    return build_state(get_settings())


def _person(state: AppState, handle: str) -> Person:
    with UnitOfWork(state.db, write=False) as uow:
        person = people.person_by_handle(uow.session, handle, field="--as")
    return person


@app.command()
@fails_cleanly
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    out.print("database is at the newest schema")


@app.command()
@fails_cleanly
def up(no_migrate: Annotated[bool, typer.Option(help="Skip migrating first.")] = False) -> None:
    """Migrate and start the whole stack (API and background services) until Ctrl-C."""
    from api.stack.services import serve

    settings = get_settings()
    state = _state()  # a broken policy stops us here, before anything starts
    if not no_migrate:
        upgrade(settings.effective_database_url)

    def ready(url: str) -> None:
        prefect = os.environ.get("PREFECT_API_URL", "").removesuffix("/api")
        out.print(
            f"qingfeng is starting on {url}\n  API docs:  {url}/docs\n"
            f"  ready:     {url}/readyz\n  data:      {settings.data_dir.resolve()}"
            + (f"\n  Prefect:   {prefect} (UI; runs tagged case:<reference>)" if prefect else "")
        )

    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after shutdown
        serve(state, on_ready=ready)
    out.print("qingfeng stopped")


def _role(value: str) -> tuple[Role, str]:
    role, _, unit = value.partition("@")
    try:
        return Role(role), unit
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r}: role must be one of {', '.join(r.value for r in Role)}"
        ) from exc


@users.command("add")
@fails_cleanly
def users_add(
    handle: str,
    name: Annotated[str, typer.Option(help="Full name.")],
    unit: Annotated[str | None, typer.Option(help="Home unit code.")] = None,
    role: Annotated[list[str] | None, typer.Option(help="ROLE@UNIT, repeatable.")] = None,
    email: str | None = None,
    language: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
    token: Annotated[bool, typer.Option(help="Also create a personal access token.")] = False,
) -> None:
    """Add a person with roles (e.g. --role investigator@league)."""
    state = _state()
    grants = [_role(r) for r in role or []]
    missing = [f"{r}@?" for r, u in grants if not u]
    if missing:
        raise typer.BadParameter(f"give a unit: {', '.join(missing)}", param_hint="--role")
    _, secret = people.add_person(
        uow=UnitOfWork(state.db),
        handle=handle,
        name=name,
        unit=unit,
        roles=grants,
        email=email,
        language=language,
        with_token=token,
    )
    out.print(f"added {handle}")
    if secret:
        out.print(f"token (shown once): {secret}", highlight=False)


@users.command("token")
@fails_cleanly
def users_token(handle: str, name: Annotated[str, typer.Option()] = "cli") -> None:
    """Create a personal access token for a person."""
    public_id, token = people.create_token(uow=UnitOfWork(_state().db), handle=handle, name=name)
    out.print(f"token {public_id} (shown once): {token}", highlight=False)


@users.command("revoke")
@fails_cleanly
def users_revoke(token_id: str) -> None:
    """Revoke a token by its id (the part after 'qf_')."""
    people.revoke(uow=UnitOfWork(_state().db), public_id=token_id)
    out.print(f"revoked {token_id}")


@users.command("relate")
@fails_cleanly
def users_relate(handle: str, other: str, kind: Annotated[str, typer.Option()]) -> None:
    """Declare a relationship (roommate, relative…) that blocks assignment to each other's cases."""
    people.declare_relationship(uow=UnitOfWork(_state().db), handle=handle, other=other, kind=kind)
    out.print(f"recorded: {handle} ~ {other} ({kind})")


@units.command("import")
@fails_cleanly
def units_import(path: Path) -> None:
    """Import the org tree from CSV (code,name_zh,name_en,parent) or YAML (a list of units)."""
    specs = read_units(path)
    created = people.import_units(uow=UnitOfWork(_state().db), specs=specs)
    out.print(f"{len(specs)} units read, {created} new")


@app.command()
@fails_cleanly
def demo(cases: Annotated[int, typer.Option(min=1, max=10_000)] = 21) -> None:
    """Create a demo university: units, people in every role, cases in every stage."""
    state = _state()
    with Progress(console=out) as progress:
        task = progress.add_task("filing and handling cases", total=cases)
        result = run_demo(
            UnitOfWork(state.db),
            state.policy,
            cases=cases,
            progress=lambda _: progress.advance(task),
        )
    out.print("demo tokens (use as 'Authorization: Bearer …'):")
    for handle, token in result.tokens.items():
        out.print(f"  {handle:12} {token}", highlight=False)
    first: dict[str, str] = {}
    for reference, stage in result.references.items():
        first.setdefault(stage, reference)
    out.print("a case in each stage: " + ", ".join(f"{s}={r}" for s, r in first.items()))


@audit_app.command("verify")
@fails_cleanly
def audit_verify() -> None:
    """Check every hash chain and checkpoint; report OK or the first broken row."""
    with UnitOfWork(_state().db, write=False) as uow:
        report = audit.verify(uow.session)
    if report.ok:
        out.print(
            f"OK: {report.events} events in {report.chains} chains, "
            f"{report.checkpoints} checkpoints"
        )
        return
    err.print(f"BROKEN: {report.problem}", highlight=False)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
@fails_cleanly
def audit_checkpoint() -> None:
    """Append a checkpoint now (the running service does this on an interval)."""
    from api.stack.services import checkpoint_audit

    checkpoint_audit(_state())
    out.print("checkpoint written (if any chain moved)")


@cases_app.command("show")
@fails_cleanly
def cases_show(
    reference: str,
    as_: Annotated[str, typer.Option("--as", help="Viewer handle")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a case as a person sees it (the read is audited)."""
    state = _state()
    case = service.read_case(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        reference=reference,
        viewer=_person(state, as_),
    )
    if as_json:
        out.print_json(case.model_dump_json())
        return
    out.print(
        f"[bold]{case.reference}[/bold]  stage={case.stage}  version={case.version}  "
        f"unit={case.unit}  due={case.due_at:%Y-%m-%d %H:%M}Z"
        if case.due_at
        else f"[bold]{case.reference}[/bold]  stage={case.stage}  version={case.version}"
    )
    if isinstance(case, SubjectCaseView):  # the subject's own view: no summary, no actors
        out.print(f"allegations: {case.allegations or '-'}")
        for told in case.events:
            out.print(f"  {told.at:%Y-%m-%d %H:%M} {told.action}", highlight=False)
    else:
        out.print(f"summary: {case.summary}")
        for entry in case.timeline:
            out.print(
                f"  {entry.seq:3} {entry.at:%Y-%m-%d %H:%M} {entry.action:22} {entry.actor or '-'}",
                highlight=False,
            )
    out.print(f"allowed now: {', '.join(case.allowed_actions) or '-'}")


@cases_app.command("file")
@fails_cleanly
def cases_file(
    data: Annotated[str, typer.Option(help="The report as JSON")],
    as_: Annotated[str | None, typer.Option("--as")] = None,
) -> None:
    """File a report from the command line; prints the reference and receipt code."""
    state = _state()
    code = receipt_code()
    filed = service.file_report(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        report=FileReport.model_validate_json(data),
        reporter=_person(state, as_) if as_ else None,
        receipt_code=code,
    )
    out.print(f"{filed.reference} filed; receipt code (shown once): {code}", highlight=False)


@cases_app.command("act")
@fails_cleanly
def cases_act(
    reference: str,
    action: Action,
    as_: Annotated[str, typer.Option("--as", help="Actor handle")],
    data: Annotated[str, typer.Option(help="Command fields as JSON")] = "{}",
) -> None:
    """Carry out a staff action as a person, e.g. `cases act QF-2026-00001 accept --as inv.wang`."""
    state = _state()
    command = TypeAdapter(COMMANDS[action]).validate_python(json.loads(data))
    case = service.apply_action(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        reference=reference,
        actor=_person(state, as_),
        command=command,
    )
    out.print(
        f"{case.reference}: stage={case.stage} version={case.version}; "
        f"allowed now: {', '.join(case.allowed_actions) or '-'}"
    )


@policy_app.command("check")
@fails_cleanly
def policy_check(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Validate a policy file (default: the configured one)."""
    target = path or get_settings().policy_file
    policy = load_policy(target)
    out.print(
        f"{target}: OK (version {policy.version}, {len(policy.categories)} categories, "
        f"{len(policy.dispositions)} dispositions)"
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
    state = _state()
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
    state = _state()
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


def main() -> None:
    app(prog_name="qingfeng")


if __name__ == "__main__":
    main()
