"""From outbox rows to Prefect runs, and back when a run went missing or failed.

The transition's transaction wrote a `stage_flow` outbox row; the dispatcher turns it into
a flow run of `case-stage` (created from the deployment, never waited on; idempotency key
``<case>:<stage>:<action>``) and never blocks the API: with Prefect away, rows wait and
are retried with backoff. The run's last task marks the row done. The reconciler looks at
rows started a while ago whose run is missing, failed, crashed or stuck, and starts them
again (a failed run is scheduled again, so one transition keeps one run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

import structlog
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import RunnerDeployment
from prefect.states import Scheduled
from sqlalchemy import func, update
from sqlmodel import col, select

from cases.clock import utcnow
from cases.db import Database, UnitOfWork
from cases.models import OutboxRow, OutboxState
from cases.outbox import STAGE_FLOW, Backoff
from flows.stage import DEPLOYMENT, case_stage, run_key

log = structlog.get_logger("qingfeng.orchestration")
MAX_ATTEMPTS = 8
RESTART = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


def deploy() -> UUID:
    """Register (or update) the `case-stage` deployment; runs are executed by our runners."""
    # Prefect's sync/async dual functions are typed as either; called here from sync code.
    deployment = cast(RunnerDeployment, case_stage.to_deployment(name=DEPLOYMENT))
    return cast(UUID, deployment.apply())


def update_row(db: Database, row: OutboxRow, **values: object) -> None:
    """Change one outbox row in its own short transaction."""
    with UnitOfWork(db) as uow:
        uow.session.execute(update(OutboxRow).where(col(OutboxRow.id) == row.id).values(**values))
        uow.commit()


BACKOFF = Backoff(first_delay=1.0, max_delay=64.0)  # Prefect away: try again soon


class StageDispatcher:
    """Starts a flow run for each pending `stage_flow` outbox row."""

    def __init__(
        self, db: Database, deployment_id: UUID, *, batch: int = 50, namespace: str = ""
    ) -> None:
        # ``namespace`` keeps two installations sharing one Prefect server (staging and
        # production, or test databases) from meeting each other's idempotency keys.
        self.db, self.deployment_id, self.batch = db, deployment_id, batch
        self.namespace = namespace

    def tick(self) -> int:
        """Start runs for due rows until none is left or Prefect is away; returns how many."""
        # One client per tick, creating runs straight from the deployment: this is what
        # run_deployment(..., timeout=0) does, less a client and a deployment read per run.
        with get_client(sync_client=True) as client:
            return self._start_due(client)

    def _start_due(self, client: SyncPrefectClient) -> int:
        started = 0
        while True:
            rows = self._due()
            for row in rows:
                payload = json.loads(row.payload)
                try:
                    run = client.create_flow_run_from_deployment(
                        self.deployment_id,
                        parameters={
                            "case_id": payload["case_id"],
                            "stage": payload["stage"],
                            "action_id": payload["event_seq"],
                        },
                        idempotency_key=self.namespace
                        + run_key(payload["case_id"], payload["stage"], payload["event_seq"]),
                        name=f"{payload['reference']} · {payload['stage']}",
                        tags=[f"case:{payload['reference']}", f"stage:{payload['stage']}"],
                    )
                except Exception as exc:  # Prefect away: keep the row, try later
                    self._postpone(row, exc)
                    return started
                if run.state_type is StateType.COMPLETED:  # the key's run already did it
                    update_row(
                        self.db,
                        row,
                        state=OutboxState.DONE,
                        external_id=str(run.id),
                        sent_at=utcnow(),
                    )
                    continue
                self._started(row, str(run.id))
                started += 1
            if len(rows) < self.batch:
                return started

    def _due(self) -> list[OutboxRow]:
        with UnitOfWork(self.db, write=False) as uow:
            return list(
                uow.session.exec(
                    select(OutboxRow)
                    .where(
                        OutboxRow.topic == STAGE_FLOW,
                        OutboxRow.state == OutboxState.PENDING,
                        col(OutboxRow.available_at) <= utcnow(),
                    )
                    .order_by(col(OutboxRow.id))
                    .limit(self.batch)
                )
            )

    def _started(self, row: OutboxRow, flow_run_id: str) -> None:
        update_row(
            self.db, row, state=OutboxState.STARTED, external_id=flow_run_id, sent_at=utcnow()
        )

    def _postpone(self, row: OutboxRow, exc: Exception) -> None:
        log.warning("Prefect unreachable; stage runs wait", error=type(exc).__name__)
        update_row(
            self.db,
            row,
            attempts=row.attempts + 1,
            available_at=utcnow() + BACKOFF.delay(row.attempts + 1),
            last_error=f"{type(exc).__name__}: {exc}"[:500],
        )


@dataclass
class Reconciler:
    """Restarts stage runs that went missing, failed, crashed or got stuck."""

    db: Database
    grace: timedelta = timedelta(seconds=30)
    stuck_after: timedelta = timedelta(minutes=5)

    def tick(self, now: datetime | None = None) -> int:
        """One pass over started rows older than the grace period; returns runs restarted."""
        now = now or utcnow()
        with UnitOfWork(self.db, write=False) as uow:
            rows = list(
                uow.session.exec(
                    select(OutboxRow).where(
                        OutboxRow.topic == STAGE_FLOW,
                        OutboxRow.state == OutboxState.STARTED,
                        col(OutboxRow.sent_at) <= now - self.grace,
                    )
                )
            )
        if not rows:
            return 0
        with get_client(sync_client=True) as client:
            runs = {
                str(run.id): run
                for run in client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        id=FlowRunFilterId(any_=[UUID(r.external_id or "") for r in rows])
                    )
                )
            }
            restarted = 0
            for row in rows:
                run = runs.get(row.external_id or "")
                if run is None:  # the server lost it: the dispatcher creates it again
                    update_row(
                        self.db,
                        row,
                        state=OutboxState.PENDING,
                        external_id=None,
                        last_error="run missing",
                    )
                    restarted += 1
                    continue
                state_type = run.state_type
                if run.state is None or state_type is None or state_type is StateType.COMPLETED:
                    # finished, but its last write was lost
                    update_row(self.db, row, state=OutboxState.DONE)
                    continue
                stuck = state_type in (StateType.RUNNING, StateType.PENDING) and (
                    run.state.timestamp is None or now - run.state.timestamp > self.stuck_after
                )
                if state_type in RESTART or stuck:
                    if row.attempts + 1 >= MAX_ATTEMPTS:
                        update_row(
                            self.db,
                            row,
                            state=OutboxState.DEAD,
                            last_error=f"run {state_type.value}",
                        )
                        continue
                    client.set_flow_run_state(run.id, Scheduled(), force=True)
                    update_row(
                        self.db,
                        row,
                        attempts=row.attempts + 1,
                        sent_at=now,
                        last_error=f"run {state_type.value}; scheduled again",
                    )
                    restarted += 1
            return restarted


@dataclass(frozen=True)
class Backlog:
    pending: int
    started: int
    done: int
    dead: int
    oldest_waiting: datetime | None


def backlog(db: Database) -> Backlog:
    """Stage runs by state, for `qingfeng status`."""
    with UnitOfWork(db, write=False) as uow:
        counts = dict(
            uow.session.exec(
                select(OutboxRow.state, func.count())
                .where(OutboxRow.topic == STAGE_FLOW)
                .group_by(col(OutboxRow.state))
            ).all()
        )
        oldest = uow.session.exec(
            select(func.min(OutboxRow.created_at)).where(
                OutboxRow.topic == STAGE_FLOW,
                col(OutboxRow.state).in_([OutboxState.PENDING, OutboxState.STARTED]),
            )
        ).one()
    return Backlog(
        counts.get(OutboxState.PENDING, 0),
        counts.get(OutboxState.STARTED, 0),
        counts.get(OutboxState.DONE, 0),
        counts.get(OutboxState.DEAD, 0),
        oldest,
    )
