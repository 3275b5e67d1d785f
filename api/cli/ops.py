"""Operations commands: `qingfeng status` (what background work owes) and `qingfeng runner`
(stage runs only, for scale-out hosts)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import typer
from sqlmodel import col, func, select

from api.cli.common import out
from api.stack.processes import serve_until_signalled
from cases.outbox import STAGE_FLOW
from cases.procedure.clock import utcnow
from cases.store.db import Database, UnitOfWork
from cases.store.models import Deadline, OutboxRow, OutboxState, StepState
from config.settings import get_settings

if TYPE_CHECKING:
    from flows.reconcile import Backlog


@dataclass(frozen=True)
class _Owed:
    """What the database says background work still owes."""

    overdue_steps: int
    waiting: dict[str, int]  # outbox topic (not stage runs) -> pending rows
    dead_notifications: int


def status() -> None:
    """Backlog of stage runs (Prefect), outbox and deadline steps; Prefect reachability."""
    from flows.reconcile import backlog, stuck_in_prefect

    settings = get_settings()
    db = Database(settings.effective_database_url, pool_size=2)
    runs = backlog(db)
    owed = _owed(db)
    api = os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{settings.prefect_port}/api"
    reachable = _reachable(api)
    stuck = stuck_in_prefect(db, api) if reachable else 0
    db.dispose()
    out.print(_status_text(api, reachable, runs, stuck, owed))
    if runs.dead or stuck or (not reachable and runs.pending):
        raise typer.Exit(1)  # something for an operator to look at


def _owed(db: Database) -> _Owed:
    with UnitOfWork(db, write=False) as uow:
        overdue_steps = uow.session.exec(
            select(func.count()).where(
                col(Deadline.state) == StepState.PENDING, col(Deadline.due_at) <= utcnow()
            )
        ).one()
        waiting = dict(
            uow.session.exec(
                select(OutboxRow.topic, func.count())
                .where(OutboxRow.topic != STAGE_FLOW, OutboxRow.state == OutboxState.PENDING)
                .group_by(col(OutboxRow.topic))
            ).all()
        )
        dead_notifications = uow.session.exec(
            select(func.count()).where(
                OutboxRow.topic != STAGE_FLOW, OutboxRow.state == OutboxState.DEAD
            )
        ).one()
    return _Owed(overdue_steps, waiting, dead_notifications)


def _reachable(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _status_text(api: str, reachable: bool, runs: Backlog, stuck: int, owed: _Owed) -> str:
    oldest = (
        f", oldest waiting since {runs.oldest_waiting:%Y-%m-%d %H:%M} UTC"
        if (runs.oldest_waiting)
        else ""
    )
    return (
        f"Prefect API {api}: {'reachable' if reachable else 'NOT reachable'}\n"
        f"orchestration: {'ready' if reachable else 'NOT ready (Prefect unreachable)'}\n"
        f"stage runs: {runs.pending} waiting to start, {runs.started} started, "
        f"{runs.done} done, {runs.dead} dead{oldest}\n"
        f"stage runs stuck in Prefect (done here, still running there): {stuck}\n"
        f"deadline steps due and not yet fired: {owed.overdue_steps}\n"
        "outbox waiting: "
        + (", ".join(f"{topic} {n}" for topic, n in sorted(owed.waiting.items())) or "nothing")
        + f"\nnotifications dead: {owed.dead_notifications}"
        + (" (see `qingfeng outbox list --dead`)" if owed.dead_notifications else "")
    )


def runner() -> None:
    """Run stage flows only (no API, no Prefect server): started by `up`, or a scale-out
    worker host.

    Needs PREFECT_API_URL (the shared Prefect server) and the same QINGFENG_* database
    settings as the API replicas. Runs are claimed through Prefect, so several hosts never
    run one twice. SIGUSR1 makes it dispatch at once; Ctrl-C or SIGTERM stops it after
    the runs in flight.
    """

    from cases.deadlines.calendar import configure as configure_calendar
    from cases.files import load_policy
    from config.logging import configure_logging
    from flows.orchestrator import Orchestrator
    from flows.prefect_api import CLIENT_SETTINGS

    settings = get_settings()
    configure_logging(settings)
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        out.print("[red]error:[/red] set PREFECT_API_URL to the shared Prefect server")
        raise typer.Exit(2)
    os.environ.update(CLIENT_SETTINGS)  # before Prefect reads its settings
    configure_calendar(settings.calendar_dir)
    db = Database(settings.effective_database_url, pool_size=settings.stage_runner_threads + 2)
    service = Orchestrator(
        db,
        load_policy(settings.policy_file),
        api_url=api_url,
        data_dir=settings.data_dir,
        runner_threads=settings.stage_runner_threads,
        namespace=settings.prefect_namespace,
    )
    service.start()
    serve_until_signalled(wake=service.wake, status=lambda: service.status)
    service.stop()
    db.dispose()


def notifier() -> None:
    """Send notifications only (no API): started by `up`, or a host of its own.

    Reads the same QINGFENG_* settings as the API; several notifiers may run at once
    (each message is claimed by one). SIGUSR1 wakes it at once; Ctrl-C or SIGTERM stops it
    after the batch in flight.
    """
    from cases.files import load_policy
    from config.logging import configure_logging
    from config.settings import secret_key
    from notifications.service import Dispatcher

    settings = get_settings()
    configure_logging(settings)
    db = Database(settings.effective_database_url, pool_size=4)
    dispatcher = Dispatcher.from_settings(
        db, load_policy(settings.policy_file), settings, secret_key(settings)
    )
    dispatcher.start()
    serve_until_signalled(wake=dispatcher.wake, status=lambda: "running")
    dispatcher.stop()
    db.dispose()
