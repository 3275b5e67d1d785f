"""The orchestrator of `qingfeng runner`: deploys `case-stage`, runs stage runs in its
in-process runner, and ticks the dispatcher and the periodic reconciler."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import structlog

from cases.procedure.policy import Policy
from cases.store.db import Database
from flows.context import FlowContext, use
from flows.prefect_api import wait_for_api

if TYPE_CHECKING:
    from flows.runner import InProcessRunner

log = structlog.get_logger("qingfeng.orchestration")
# Set ("1") by `up` for the runner of its embedded Prefect server: the only runner there, so
# a run Pending or Running when it starts died with its predecessor (a crash, a kill -9).
SOLE_RUNNER = "QINGFENG_SOLE_RUNNER"


class OrchestrationState(StrEnum):
    """What `qingfeng runner` reports (and /readyz shows as ``orchestration``)."""

    STARTING = "starting"
    WAITING = "waiting for the Prefect server"
    READY = "ready"


class Orchestrator:
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
        self.db, self.policy = db, policy
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
        from flows.dispatch import StageDispatcher, deploy
        from flows.reconcile import Reconciler
        from flows.runner import InProcessRunner

        while not wait_for_api(self.api_url, timeout=5):
            if self._stop.is_set():
                return
            self.status = OrchestrationState.WAITING
        deployments = deploy()
        if os.environ.get(SOLE_RUNNER) == "1":  # now, not after the reconciler's 5 minutes
            _restart_orphans(self.db, deployments.stage)
        runner = InProcessRunner(deployments.stage, threads=self.runner_threads)
        runner.start()
        self._runner = runner
        dispatcher, reconciler = (
            StageDispatcher(self.db, deployments, self.policy, namespace=self.namespace),
            Reconciler(self.db, claimant=str(deployments.stage)),
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


def _restart_orphans(db: Database, deployment: UUID) -> None:
    """Schedule again the runs a dead predecessor left Pending or Running (or settle them,
    where their work is done): as the reconciler does, with no grace and no waiting."""
    from flows.reconcile import Reconciler

    orphans = Reconciler(db, claimant=str(deployment), grace=timedelta(0), stuck_after=timedelta(0))
    try:
        orphans.tick()
    except Exception:  # the periodic reconciler repairs them later
        log.warning("cannot restart the runs of a previous runner", exc_info=True)
