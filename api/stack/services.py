"""`qingfeng up`: the services of one machine, started together and stopped together.

The API (uvicorn), the audit checkpointer, the deadline worker, the notification
dispatcher and orchestration (the Prefect server unless one is configured, the in-process
stage runner, the stage-run dispatcher and the reconciler).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
import uvicorn

from api.http.app import create_app, freeze_startup_heap
from api.http.deps import AppState
from api.stack.processes import ChildService
from cases.audit import write_checkpoint
from cases.procedure.clock import utcnow
from cases.store.db import UnitOfWork
from config import telemetry
from config.at_rest import make_private
from flows.calendar_watch import CalendarWatch
from flows.deadlines import DeadlineWorker

log = structlog.get_logger("qingfeng.stack")


@dataclass
class PeriodicService:
    """Runs ``tick`` every ``interval`` seconds on a thread until stopped."""

    name: str
    interval: float
    tick: Callable[[], None]
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a failed tick is logged and retried on the next one
                log.exception("service tick failed", service=self.name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.tick()  # one last tick so nothing done before Ctrl-C waits for the next start


def checkpoint_audit(state: AppState) -> None:
    """Append audit checkpoints until every chain that moved is recorded.

    One small batch per transaction, so staff actions wait at most one batch for the lock.
    """
    while True:
        with UnitOfWork(state.db) as uow:
            written = write_checkpoint(uow.session, at=utcnow())
            uow.commit()
        if written is None:
            return
        time.sleep(0.01)  # the write lock is not fair: let waiting staff actions in first


class Service(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


def background_services(state: AppState) -> list[Service]:
    """Everything `up` runs beside the API."""
    services: list[Service] = [
        CalendarWatch(state.db, state.policy),  # first: deadlines recomputed before firing
        PeriodicService(
            "audit-checkpoint",
            state.settings.audit_checkpoint_seconds,
            lambda: checkpoint_audit(state),
        ),
        DeadlineWorker(state.db, state.policy),
    ]
    settings = state.settings
    if settings.notifications:
        from cases.outbox import NOTIFICATION_TOPICS
        from notifications.routes import load_routes

        load_routes(settings.notifications_file)  # a broken file stops `up` here, clearly
        notifier = ChildService("notifier", settings, wakes_on=NOTIFICATION_TOPICS)
        state.components["notifications"] = lambda: notifier.status
        services.append(notifier)
    if settings.orchestration:
        from api.stack.orchestration import OrchestrationProcesses

        orchestration = OrchestrationProcesses(settings)
        state.components["orchestration"] = lambda: orchestration.status
        services.append(orchestration)
    return services


def serve(state: AppState, *, on_ready: Callable[[str], None] = lambda _: None) -> None:
    """Start every service, serve the API until Ctrl-C, then stop everything."""
    settings = state.settings
    make_private(settings)  # files left readable by an earlier umask: owner-only again
    # Before anything counts: every process of `up` writes its metrics where /metrics sums them.
    telemetry.share_between_processes(settings.data_dir / "prometheus")
    services = background_services(state)
    for service in services:
        service.start()
    config = uvicorn.Config(
        create_app(state),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        server_header=False,  # no banner naming the software (issue 18)
    )
    server = uvicorn.Server(config)
    freeze_startup_heap()
    on_ready(f"http://{settings.host}:{settings.port}")
    try:
        server.run()
    finally:
        for service in reversed(services):
            service.stop()
        state.db.dispose()
