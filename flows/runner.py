"""Runs `case-stage` flow runs inside this process: no Python process per run.

`flow.serve` forks a process per run (about 1.7 CPU-seconds each on two cores); a stage
run's own work is a few milliseconds of SQL. The runner polls the Prefect API for the
deployment's scheduled runs, claims each by proposing Pending (Prefect refuses a second
claim, so several runners never run one twice) and executes it on a small thread pool
with Prefect's own engine (``run_flow``), so the run is a normal, fully tracked run.
"""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import structlog
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import SyncClientContext
from prefect.flow_engine import run_flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Pending

from config.telemetry import FLOW_RUNS_FAILED, FLOW_RUNS_STARTED
from flows.stage import case_stage

log = structlog.get_logger("qingfeng.runner")


class InProcessRunner:
    """Claims and runs the deployment's scheduled runs on ``threads`` threads."""

    def __init__(
        self,
        deployment_id: UUID,
        *,
        threads: int = 4,
        poll_seconds: float = 1.0,
    ):
        self.deployment_id, self.threads, self.poll_seconds = deployment_id, threads, poll_seconds
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="stage-run")
        self._busy = threading.Semaphore(threads)
        self._wake, self._stop = threading.Event(), threading.Event()
        # Prefect's settings live in context variables: threads carry the starter's along.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._loop,), name="stage-runner"
        )
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Look for runs now (a dispatcher just created one)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=60)  # the loop waits for the runs in flight (short)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        # One client for the loop's life, shared with the runs it starts (they inherit this
        # context): a new client per call costs connections and a CSRF round trip.
        # Heartbeats cost a second of wall time per run (a thread joined at the end); stuck
        # runs are found by the reconciler instead. Set once here, for every run: settings
        # are rebuilt from all their sources on each change, a tenth of a run's CPU.
        with (
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
            SyncClientContext.get_or_create() as context,
        ):
            client = context.client
            while not self._stop.is_set():
                try:
                    claimed = self.claim_and_submit(client)
                except Exception:  # the API is away: try again at the next poll
                    log.warning("cannot reach the Prefect API to look for runs", exc_info=True)
                    claimed = 0
                if not claimed:
                    self._wake.wait(self.poll_seconds)
                    self._wake.clear()
            # Runs in flight report their end through this client: let them finish before
            # the context closes it (else a stopping runner strands them in Running).
            self._pool.shutdown(wait=True)

    def claim_and_submit(self, client: SyncPrefectClient) -> int:
        """Claim as many scheduled runs as there are free threads; returns how many."""
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[self.deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
            limit=self.threads,
        )
        claimed = 0
        for run in runs:
            if not self._busy.acquire(blocking=False):
                break
            if client.set_flow_run_state(run.id, Pending()).status is not SetStateStatus.ACCEPT:
                self._busy.release()  # another runner took it first
                continue
            run_context = contextvars.copy_context()
            self._pool.submit(run_context.run, self._execute, run)
            claimed += 1
        return claimed

    def _execute(self, run: FlowRun) -> None:
        FLOW_RUNS_STARTED.labels(flow=case_stage.name).inc()
        failed = True
        try:
            state = run_flow(
                case_stage, flow_run=run, parameters=run.parameters, return_type="state"
            )
            failed = not isinstance(state, State) or state.is_failed() or state.is_crashed()
        except Exception:
            log.exception("stage run failed to execute", flow_run=str(run.id))
        finally:
            if failed:
                FLOW_RUNS_FAILED.labels(flow=case_stage.name).inc()
            self._busy.release()
            self._wake.set()  # a thread is free: claim the next run now, not at the next poll
