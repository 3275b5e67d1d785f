"""Orchestration as one service of `qingfeng up`: the Prefect server (unless an external
one is configured), the `case-stage` deployment, the in-process runner, the dispatcher
(woken after each commit that wrote a stage_flow row) and the periodic reconciler."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from cases import signals
from cases.db import Database
from cases.outbox import STAGE_FLOW, WRITTEN
from cases.policy import Policy
from flows.context import FlowContext, use
from flows.server import PrefectServer

if TYPE_CHECKING:
    from flows.runner import InProcessRunner

log = structlog.get_logger("qingfeng.orchestration")


class Orchestration:
    """Starts in the background so the API is up at once; ``status`` says how far it got."""

    def __init__(
        self,
        db: Database,
        policy: Policy,
        *,
        data_dir: Path,
        prefect_port: int,
        prefect_database_url: str | None = None,
        runner_threads: int = 2,
        namespace: str = "",
        dispatch_seconds: float = 2.0,
        reconcile_seconds: float = 30.0,
    ) -> None:
        self.db = db
        use(FlowContext(db=db, policy=policy, case_files=data_dir / "case-files"))
        self.server = PrefectServer(data_dir / "prefect", prefect_port, prefect_database_url)
        self.runner_threads, self.namespace = runner_threads, namespace
        self.dispatch_seconds, self.reconcile_seconds = dispatch_seconds, reconcile_seconds
        self.status = "starting"
        self._stop, self._dispatch_now = threading.Event(), threading.Event()
        self._threads: list[threading.Thread] = []
        self._unlisten = signals.listen(WRITTEN, self._on_outbox)
        self._runner: InProcessRunner | None = None

    @property
    def ui_url(self) -> str:
        return self.server.api_url.removesuffix("/api")

    def start(self) -> None:
        self.server.start()
        self._spawn(self._run, "orchestration")

    def stop(self) -> None:
        self._stop.set()
        self._dispatch_now.set()
        self._unlisten()
        for thread in self._threads:
            thread.join(timeout=15)
        if self._runner is not None:
            self._runner.stop()
        self.server.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _on_outbox(self, topics: set[str]) -> None:
        if STAGE_FLOW in topics:
            self._dispatch_now.set()

    def _run(self) -> None:
        # Imported here: Prefect reads PREFECT_API_URL when first used, set by server.start.
        from config.background import lower_thread_priority
        from flows.orchestration import Reconciler, StageDispatcher, deploy
        from flows.runner import InProcessRunner

        lower_thread_priority()
        while not self.server.wait_ready(timeout=5):
            if self._stop.is_set():
                return
            self.status = "waiting for the Prefect server"
        deployment_id = deploy()
        runner = InProcessRunner(deployment_id, threads=self.runner_threads)
        runner.start()
        self._runner = runner
        dispatcher, reconciler = (
            StageDispatcher(self.db, deployment_id, namespace=self.namespace),
            Reconciler(self.db),
        )
        self.status = "ready"
        log.info("orchestration ready", prefect=self.ui_url)
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
