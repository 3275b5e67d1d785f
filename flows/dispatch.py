"""From outbox rows to Prefect runs: each `stage_flow` row becomes a subflow run of
`case-stage` under its case's `conduct-case` run (see flows/case_flow.py).

The transition's transaction wrote the row; the dispatcher claims it, brings the case's
run to the state the case is in, and creates the stage run from its deployment (never
waited on; idempotency key ``<case>:<stage>:<action>``). It never blocks the API: with
Prefect away, rows wait and are retried with backoff. The run's last task marks the row
done; flows/reconcile.py repairs what a crash left. Each row is claimed by the deployment
(so the Prefect server) that dispatches it: two instances over one database never both
run a transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from uuid import UUID

import structlog
from prefect import Flow
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments.runner import RunnerDeployment
from sqlalchemy import update
from sqlmodel import col

from cases.outbox import Backoff, CaseStatus, Claimed, case_statuses, claim_stage_runs
from cases.procedure.clock import utcnow
from cases.procedure.policy import Policy
from cases.store.db import Database, UnitOfWork
from cases.store.models import OutboxRow, OutboxState
from flows.case_flow import CASE_DEPLOYMENT, CaseRuns, conduct_case, run_label
from flows.stage import DEPLOYMENT, case_stage, run_key

log = structlog.get_logger("qingfeng.orchestration")


@dataclass(frozen=True)
class Deployments:
    """Our two deployments on one Prefect server: stage runs (executed by our runners) and
    the cases' runs (records, never executed)."""

    stage: UUID
    case: UUID


def deploy() -> Deployments:
    """Register (or update) the `case-stage` and `conduct-case` deployments."""
    return Deployments(_apply(case_stage, DEPLOYMENT), _apply(conduct_case, CASE_DEPLOYMENT))


def _apply(flow: Flow[Any, Any], name: str) -> UUID:
    # Prefect's sync/async dual functions are typed as either; called here from sync code.
    deployment = cast(RunnerDeployment, flow.to_deployment(name=name))
    return cast(UUID, deployment.apply())


def update_row(db: Database, row: OutboxRow, **values: object) -> None:
    """Change one outbox row in its own short transaction."""
    with UnitOfWork(db) as uow:
        uow.session.execute(update(OutboxRow).where(col(OutboxRow.id) == row.id).values(**values))
        uow.commit()


BACKOFF = Backoff(first_delay=1.0, max_delay=64.0)  # Prefect away: try again soon
LEASE = timedelta(minutes=2)  # a dispatcher creates a run in well under this


class StageDispatcher:
    """Starts a flow run for each pending `stage_flow` outbox row it claims.

    Rows are claimed for the stage deployment (``claimed_by``) before their run is created:
    two instances over one database, each with its own Prefect server, never both create
    a row's run, and each reconciles only the rows it dispatched (see
    cases.outbox.claim_stage_runs). Runners sharing one Prefect server share its
    deployment, so they share the claim, and Prefect's idempotency keys keep them apart.
    """

    def __init__(
        self,
        db: Database,
        deployments: Deployments,
        policy: Policy,
        *,
        batch: int = 50,
        namespace: str = "",
    ) -> None:
        # ``namespace`` keeps two installations sharing one Prefect server (staging and
        # production, or test databases) from meeting each other's idempotency keys.
        self.db, self.deployment_id, self.batch = db, deployments.stage, batch
        self.namespace, self.claimant = namespace, str(deployments.stage)
        self.cases = CaseRuns(deployments.case, policy, namespace=namespace)

    def tick(self) -> int:
        """Start runs for due rows until none is left or Prefect is away; returns how many."""
        # One client per tick, creating runs straight from the deployment: this is what
        # run_deployment(..., timeout=0) does, less a client and a deployment read per run.
        with get_client(sync_client=True) as client:
            return self._start_due(client)

    def _start_due(self, client: SyncPrefectClient) -> int:
        started = 0
        while True:
            rows, statuses = self._claim()
            for index, row in enumerate(rows):
                try:
                    run = self._create(client, row.payload, statuses[row.payload["case_id"]])
                except Exception as exc:  # Prefect away: keep the rows, try later
                    self.cases.forget()
                    self._postpone(rows[index:], exc)
                    return started
                completed = run.state_type is StateType.COMPLETED  # the key's run did it
                state = OutboxState.DONE if completed else OutboxState.STARTED
                self._started(row.id, str(run.id), state)
                started += not completed
            if len(rows) < self.batch:
                return started

    def _create(
        self, client: SyncPrefectClient, payload: dict[str, Any], status: CaseStatus
    ) -> FlowRun:
        """The row's stage run, nested in its case's run (brought to the case's state)."""
        key = run_key(payload["case_id"], payload["stage"], payload["event_seq"])
        label = run_label(payload)
        parent = self.cases.parent_of(client, status)
        return client.create_flow_run_from_deployment(
            self.deployment_id,
            parameters={
                "case_id": payload["case_id"],
                "stage": payload["stage"],
                "action_id": payload["event_seq"],
            },
            idempotency_key=self.namespace + key,
            name=f"{payload['reference']} · {label}",
            tags=[f"case:{payload['reference']}", f"stage:{payload['stage']}"],
            parent_task_run_id=self.cases.nest(client, parent, key, label),
        )

    def _claim(self) -> tuple[list[Claimed], dict[int, CaseStatus]]:
        """Due rows, claimed, with the current status of their cases."""
        now = utcnow()
        with UnitOfWork(self.db) as uow:
            rows = claim_stage_runs(
                uow.session,
                claimant=self.claimant,
                now=now,
                lease_until=now + LEASE,
                batch=self.batch,
                sqlite=self.db.is_sqlite,
            )
            statuses = case_statuses(uow.session, {row.payload["case_id"] for row in rows})
            uow.commit()
        return rows, statuses

    def _started(self, row_id: int, flow_run_id: str, state: OutboxState) -> None:
        # Only while still ours and sending: a fast run may have marked it done already.
        with UnitOfWork(self.db) as uow:
            uow.session.execute(
                update(OutboxRow)
                .where(
                    col(OutboxRow.id) == row_id,
                    col(OutboxRow.state) == OutboxState.SENDING,
                    col(OutboxRow.claimed_by) == self.claimant,
                )
                .values(state=state, external_id=flow_run_id, sent_at=utcnow())
            )
            uow.commit()

    def _postpone(self, rows: list[Claimed], exc: Exception) -> None:
        """The row that failed waits with backoff; the rest, not tried, are due again now.
        All are released: any instance may take them next time."""
        log.warning("Prefect unreachable; stage runs wait", error=type(exc).__name__)
        failed, now = rows[0], utcnow()
        with UnitOfWork(self.db) as uow:
            for row in rows:
                values: dict[str, object] = {"available_at": now}
                if row is failed:
                    values = {
                        "attempts": row.attempts + 1,
                        "available_at": now + BACKOFF.delay(row.attempts + 1),
                        "last_error": f"{type(exc).__name__}: {exc}"[:500],
                    }
                uow.session.execute(
                    update(OutboxRow)
                    .where(col(OutboxRow.id) == row.id, col(OutboxRow.claimed_by) == self.claimant)
                    .values(state=OutboxState.PENDING, claimed_by=None, **values)
                )
            uow.commit()
