"""The ``qingfeng`` command line (Typer): run the stack, migrate, manage people, inspect.

Each command group lives in its own module under ``api.cli``; this one builds the app from
them and holds the commands of the stack itself (migrate, up, demo, policy check)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from api.cli.audit import audit_app
from api.cli.backup import backup, restore, service_lock
from api.cli.calendar import calendar_app, deadlines_app
from api.cli.casefile import casefile_app
from api.cli.cases import cases_app
from api.cli.common import fails_cleanly, load_state, out
from api.cli.metrics import metrics_app
from api.cli.ops import notifier, runner, status
from api.cli.outbox import outbox_app
from api.cli.people import units_app, users_app
from api.cli.report import report
from cases.demo import run_demo
from cases.files import load_policy
from cases.store.db import UnitOfWork
from cases.store.migrate import upgrade
from config.at_rest import private_process
from config.settings import get_settings

app = typer.Typer(
    help="qingfeng 清风: conduct cases about student-union staff.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="The case-handling policy.", no_args_is_help=True)
for sub, name in (
    (users_app, "users"),
    (units_app, "units"),
    (audit_app, "audit"),
    (cases_app, "cases"),
    (policy_app, "policy"),
    (calendar_app, "calendar"),
    (deadlines_app, "deadlines"),
    (outbox_app, "outbox"),
    (casefile_app, "casefile"),
    (metrics_app, "metrics"),
):
    app.add_typer(sub, name=name)
app.command()(status)
app.command()(runner)
app.command()(notifier)
app.command()(report)
app.command()(backup)
app.command()(restore)


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
    state = load_state()  # a broken policy stops us here, before anything starts
    if not no_migrate:
        upgrade(settings.effective_database_url)

    def ready(url: str) -> None:
        prefect = os.environ.get("PREFECT_API_URL", "").removesuffix("/api")
        out.print(
            f"qingfeng is starting on {url}\n  home page: {url}/  (report form {url}/report)\n"
            f"  API docs:  {url}/docs\n  ready:     {url}/readyz\n"
            f"  data:      {settings.data_dir.resolve()}"
            + (f"\n  Prefect:   {prefect} (UI; one run per case: conduct-case)" if prefect else "")
        )

    # The lock tells `qingfeng restore` the service runs; uvicorn re-raises Ctrl-C after shutdown.
    with service_lock(settings), contextlib.suppress(KeyboardInterrupt):
        serve(state, on_ready=ready)
    out.print("qingfeng stopped")


@app.command()
@fails_cleanly
def demo(cases: Annotated[int, typer.Option(min=1, max=10_000)] = 21) -> None:
    """Create a demo university: units, people in every role, cases in every stage."""
    state = load_state()
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


def main() -> None:
    private_process()  # owner-only files from here on, in this process and its children
    app(prog_name="qingfeng")


if __name__ == "__main__":
    main()
