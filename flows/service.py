"""Orchestration as services: ``Orchestration`` does the work (the `case-stage` deployment,
the in-process runner, the dispatcher and the periodic reconciler) in `qingfeng runner`;
``OrchestrationService`` is what `qingfeng up` runs: the Prefect server (unless an
external one is configured) and that runner, each a supervised child process (see
config/children.py), reported ready only while Prefect answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from cases.db import Database
from cases.outbox import STAGE_FLOW
from cases.policy import Policy
from config.children import ChildService
from config.settings import Settings
from flows.context import FlowContext, use
from flows.server import CLIENT_SETTINGS, PrefectServer, wait_for_api

if TYPE_CHECKING:
    from flows.runner import InProcessRunner

log = structlog.get_logger("qingfeng.orchestration")


class OrchestrationState(StrEnum):
    """What `qingfeng runner` reports (and /readyz shows as ``orchestration``)."""

    STARTING = "starting"
    WAITING = "waiting for the Prefect server"
    READY = "ready"


class OrchestrationService:
    """`up`'s orchestration. The runner is a child process, not threads of the API's: its
    CPU work would hold the API's interpreter lock and delay staff requests (intake p99
    1.8x with it in-process, measured by bench/orchestration.py)."""

    def __init__(self, settings: Settings) -> None:
        self.server = PrefectServer(
            settings.data_dir / "prefect", settings.prefect_port, settings.prefect_database_url
        )
        self.runner = ChildService(
            "runner",
            settings,
            wakes_on={STAGE_FLOW},
            env={
                **CLIENT_SETTINGS,
                "PREFECT_API_URL": self.server.api_url,
            },
        )

    @property
    def status(self) -> str:
        """The runner's report, unless Prefect does not answer now (asked each time: a
        killed server must not be reported ready until its replacement answers)."""
        status = self.runner.status
        if status == OrchestrationState.READY and not self.server.reachable():
            return OrchestrationState.WAITING
        return status

    def start(self) -> None:
        self.server.start()
        self.runner.start()  # it waits for the server itself

    def stop(self) -> None:
        self.runner.stop()  # first: its runs in flight report their end to the server
        self.server.stop()


class Orchestration:
    """Stage runs of PREFECT_API_URL's server; ``status`` says how far start-up got."""

    def __init__(
        self,
        db: Database,
        policy: Policy,
        *,
        api_url: str,
        data_dir: Path,
        runner_threads: int = 2,
        namespace: str = "",
        dispatch_seconds: float = 2.0,
        reconcile_seconds: float = 30.0,
    ) -> None:
        self.db = db
        use(FlowContext(db=db, policy=policy, case_files=data_dir / "case-files"))
        self.api_url = api_url
        self.runner_threads, self.namespace = runner_threads, namespace
        self.dispatch_seconds, self.reconcile_seconds = dispatch_seconds, reconcile_seconds
        self.status: str = OrchestrationState.STARTING
        self._stop, self._dispatch_now = threading.Event(), threading.Event()
        self._threads: list[threading.Thread] = []
        self._runner: InProcessRunner | None = None

    def start(self) -> None:
        self._spawn(self._run, "orchestration")

    def wake(self) -> None:
        """Dispatch now: another process (`up`, by SIGUSR1) wrote stage_flow rows."""
        self._dispatch_now.set()

    def stop(self) -> None:
        self._stop.set()
        self._dispatch_now.set()
        for thread in self._threads:
            thread.join(timeout=15)
        if self._runner is not None:
            self._runner.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run(self) -> None:
        # Imported here: Prefect reads its settings (set by `qingfeng runner`) when first used.
        from config.background import lower_thread_priority
        from flows.orchestration import Reconciler, StageDispatcher, deploy
        from flows.runner import InProcessRunner

        lower_thread_priority()
        while not wait_for_api(self.api_url, timeout=5):
            if self._stop.is_set():
                return
            self.status = OrchestrationState.WAITING
        deployment_id = deploy()
        runner = InProcessRunner(deployment_id, threads=self.runner_threads)
        runner.start()
        self._runner = runner
        dispatcher, reconciler = (
            StageDispatcher(self.db, deployment_id, namespace=self.namespace),
            Reconciler(self.db, claimant=str(deployment_id)),
        )
        self.status = OrchestrationState.READY
        log.info("orchestration ready", prefect=self.api_url)
        next_reconcile = 0.0
        while not self._stop.is_set():
            try:
                if dispatcher.tick():
                    runner.wake()
                if time.monotonic() >= next_reconcile:
                    reconciler.tick()
                    next_reconcile = time.monotonic() + self.reconcile_seconds
            except Exception:
                log.warning("orchestration tick failed; retrying", exc_info=True)
            self._dispatch_now.wait(self.dispatch_seconds)
            self._dispatch_now.clear()
