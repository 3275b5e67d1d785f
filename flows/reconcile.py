"""Repairs what a crash or an outage left between our database and Prefect.

Looks at stage_flow rows started a while ago whose run is missing, failed, crashed or
stuck, and starts them again (a failed run is scheduled again, so one transition keeps
one run); settles runs left Running in Prefect whose row is done (the run died between
its last task and its final state). Each instance reconciles the rows its own
deployment dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Completed, Scheduled
from sqlalchemy import func, true
from sqlmodel import col, select

from cases.outbox import STAGE_FLOW
from cases.procedure.clock import utcnow
from cases.store.db import Database, UnitOfWork
from cases.store.models import OutboxRow, OutboxState
from flows.dispatch import update_row
from flows.stage import case_stage

log = structlog.get_logger("qingfeng.orchestration")
MAX_ATTEMPTS = 8
RESTART = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


@dataclass
class Reconciler:
    """Repairs what a crash left between our database and Prefect: restarts stage runs
    that went missing, failed, crashed or got stuck, and settles runs whose work is done
    (their row says so) but whose end never reached Prefect (they died in between)."""

    db: Database
    claimant: str | None = None  # the deployment whose rows these are; None: all rows
    grace: timedelta = timedelta(seconds=30)
    stuck_after: timedelta = timedelta(minutes=5)

    def tick(self, now: datetime | None = None) -> int:
        """One pass over rows started before the grace period; returns runs restarted."""
        now = now or utcnow()
        rows = self._started_rows(now)
        with get_client(sync_client=True) as client:
            restarted = self._restart(client, rows, now) if rows else 0
            for run in self.stuck_in_prefect(client, now):
                client.set_flow_run_state(run.id, Completed(message="settled"), force=True)
                log.info("settled a stage run whose end was lost", flow_run=str(run.id))
        return restarted

    def stuck_in_prefect(self, client: SyncPrefectClient, now: datetime) -> list[FlowRun]:
        """Runs still Pending or Running in Prefect (since before the grace period) whose
        row is done here: their work finished, their final state was lost."""
        runs = [
            run
            for run in client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[case_stage.name])),
                deployment_filter=self._deployment_filter(),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING])
                    )
                ),
                limit=200,
            )
            if run.state and run.state.timestamp and now - run.state.timestamp > self.grace
        ]
        if not runs:
            return []
        with UnitOfWork(self.db, write=False) as uow:
            done = set(
                uow.session.exec(
                    select(OutboxRow.external_id).where(
                        OutboxRow.topic == STAGE_FLOW,
                        OutboxRow.state == OutboxState.DONE,
                        col(OutboxRow.external_id).in_([str(run.id) for run in runs]),
                    )
                )
            )
        return [run for run in runs if str(run.id) in done]

    def _deployment_filter(self) -> DeploymentFilter | None:
        if self.claimant is None:
            return None
        return DeploymentFilter(id=DeploymentFilterId(any_=[UUID(self.claimant)]))

    def _started_rows(self, now: datetime) -> list[OutboxRow]:
        mine = (
            col(OutboxRow.claimed_by).is_(None) | (col(OutboxRow.claimed_by) == self.claimant)
            if self.claimant is not None
            else true()
        )
        with UnitOfWork(self.db, write=False) as uow:
            return list(
                uow.session.exec(
                    select(OutboxRow).where(
                        OutboxRow.topic == STAGE_FLOW,
                        OutboxRow.state == OutboxState.STARTED,
                        col(OutboxRow.sent_at) <= now - self.grace,
                        mine,
                    )
                )
            )

    def _restart(self, client: SyncPrefectClient, rows: list[OutboxRow], now: datetime) -> int:
        ids = [UUID(r.external_id or "") for r in rows]
        found = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        runs = {str(run.id): run for run in found}
        restarted = 0
        for row in rows:
            run = runs.get(row.external_id or "")
            if run is None:  # the server lost it: the dispatcher creates it again
                update_row(
                    self.db,
                    row,
                    state=OutboxState.PENDING,
                    external_id=None,
                    claimed_by=None,
                    last_error="run missing",
                )
                restarted += 1
                continue
            state_type = run.state_type
            if run.state is None or state_type is None or state_type is StateType.COMPLETED:
                update_row(self.db, row, state=OutboxState.DONE)  # its last write was lost
                continue
            stuck = state_type in (StateType.RUNNING, StateType.PENDING) and (
                run.state.timestamp is None or now - run.state.timestamp > self.stuck_after
            )
            if state_type in RESTART or stuck:
                restarted += self._schedule_again(client, row, run, now)
        return restarted

    def _schedule_again(
        self, client: SyncPrefectClient, row: OutboxRow, run: FlowRun, now: datetime
    ) -> int:
        state = run.state_type.value if run.state_type else "unknown"
        if row.attempts + 1 >= MAX_ATTEMPTS:
            update_row(self.db, row, state=OutboxState.DEAD, last_error=f"run {state}")
            return 0
        client.set_flow_run_state(run.id, Scheduled(), force=True)
        update_row(
            self.db,
            row,
            attempts=row.attempts + 1,
            sent_at=now,
            last_error=f"run {state}; scheduled again",
        )
        return 1


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
                col(OutboxRow.state).in_(
                    [OutboxState.PENDING, OutboxState.SENDING, OutboxState.STARTED]
                ),
            )
        ).one()
    return Backlog(
        counts.get(OutboxState.PENDING, 0) + counts.get(OutboxState.SENDING, 0),
        counts.get(OutboxState.STARTED, 0),
        counts.get(OutboxState.DONE, 0),
        counts.get(OutboxState.DEAD, 0),
        oldest,
    )


def stuck_in_prefect(db: Database, api_url: str, *, now: datetime | None = None) -> int:
    """How many stage runs Prefect still shows running though their work is done here
    (for `qingfeng status`; the reconciler settles them)."""
    with SyncPrefectClient(api_url) as client:
        return len(Reconciler(db).stuck_in_prefect(client, now or utcnow()))
