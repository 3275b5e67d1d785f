"""Each case is one flow run in Prefect: `conduct-case`, named by its reference.

A case lasts weeks and waits on people, so its parent run is not a process that sleeps:
it is the case's record in Prefect, created when the report is filed and kept in step by
the dispatcher from the database (the truth). Its state follows the case: Running, named
for the stage (Overdue or Escalated once the ladder fires), Completed when the case
closes. Every stage run and every fired deadline step is created as its subflow run
(through a task run in the parent, as Prefect links subflows), so the Prefect UI shows one
row per case with "Hide subflows" and the case's whole history beneath it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from prefect import Task, flow
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import StateType
from prefect.states import Completed, State

from cases.outbox import CaseStatus
from cases.procedure.labels import DEADLINE_EVENT, stage_label
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage

CASE_DEPLOYMENT = "conduct-case"
OVERDUE, ESCALATED = "Overdue", "Escalated"


@flow(name=CASE_DEPLOYMENT, persist_result=False)
def conduct_case(case_id: int, reference: str) -> None:
    """The parent run of one case. It is a record the dispatcher keeps, never executed:
    its stage runs do the work."""
    raise RuntimeError(f"{reference}: a conduct-case run is kept by the dispatcher, not run")


def _stage_run_placeholder() -> None:
    """Stands for a stage run inside its case's run (Prefect links a subflow to a task)."""


STAGE_RUN_TASK = Task(name="stage-run", fn=_stage_run_placeholder)


def parent_state(status: CaseStatus, policy: Policy) -> State[Any]:
    """The state the case's run should be in now."""
    stage = stage_label(status.stage, "en")
    if status.stage == Stage.CLOSED:
        return Completed(message="the case is closed")
    if not status.overdue:
        return State(type=StateType.RUNNING, name=stage.capitalize())
    step = next((s for s in policy.escalation if s.step == status.escalation), None)
    escalated = step is not None and step.offset_working_days > 0
    return State(
        type=StateType.RUNNING,
        name=ESCALATED if escalated else OVERDUE,
        message=f"{stage}: {status.escalation or 'overdue'}",
    )


def run_label(payload: Mapping[str, Any]) -> str:
    """What a stage run is: its stage, and the ladder step when a deadline fired it."""
    event = str(payload.get("event", ""))
    if event.startswith(DEADLINE_EVENT):
        return f"{payload['stage']} · {event.removeprefix(DEADLINE_EVENT)}"
    return str(payload["stage"])


class CaseRuns:
    """Finds or creates each case's run and keeps its state; remembers what it set, so a
    case's next stage run costs no extra call unless its state changes."""

    MEMORY = 10_000  # cases remembered; a forgotten one costs one idempotent create

    def __init__(self, deployment_id: UUID, policy: Policy, *, namespace: str = "") -> None:
        self.deployment_id, self.policy, self.namespace = deployment_id, policy, namespace
        self._known: dict[int, tuple[UUID, tuple[StateType, str]]] = {}

    def parent_of(self, client: SyncPrefectClient, status: CaseStatus) -> UUID:
        """The case's run, created at its first stage run, in the state the case is in."""
        wanted = parent_state(status, self.policy)
        known = self._known.get(status.case_id)
        if known is None:
            run = client.create_flow_run_from_deployment(
                self.deployment_id,
                parameters={"case_id": status.case_id, "reference": status.reference},
                name=status.reference,
                tags=[f"case:{status.reference}"],
                idempotency_key=f"{self.namespace}case:{status.case_id}",
                state=wanted,
            )
            shown = (run.state.type, run.state.name or "") if run.state else None
            known = (run.id, shown or (StateType.SCHEDULED, ""))
        run_id, shown = known
        if shown != (wanted.type, wanted.name):
            client.set_flow_run_state(run_id, wanted, force=True)
        if len(self._known) >= self.MEMORY:
            self._known.clear()
        self._known[status.case_id] = (run_id, (wanted.type, wanted.name or ""))
        return run_id

    def nest(self, client: SyncPrefectClient, parent: UUID, key: str, label: str) -> UUID:
        """The task run in ``parent`` that a stage run hangs from (idempotent by ``key``)."""
        task_run = client.create_task_run(
            STAGE_RUN_TASK, flow_run_id=parent, dynamic_key=key, name=label, state=Completed()
        )
        return task_run.id

    def forget(self) -> None:
        """Prefect went away: what it showed may be gone; ask it again next time."""
        self._known.clear()
