"""The `case-stage` flow: one short run per transition or deadline step of a case.

It does the stage's automated work as small tasks over the database (which holds the
case's state; the run holds none): the notifications of the event, the case file at
closure, and the case's timeline as the artifact `case-<reference>`. (Triage is not
here: it runs when the report is filed, before anyone may accept.) Every task is
idempotent, so a run started twice, or re-run after a crash, changes nothing the second
time. Retries are for I/O (database, Prefect API) only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging.loggers import PrefectLogAdapter

from cases import stage_work
from cases.outbox import stage_flow_key
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from flows.context import current

DEPLOYMENT = "case-stage"
P = ParamSpec("P")
R = TypeVar("R")


def io_task(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task over I/O (database, Prefect API): retried twice; never cached across runs."""
    return task(name=name, retries=2, retry_delay_seconds=[1.0, 5.0], cache_policy=NO_CACHE)


def run_key(case_id: int, stage: str, action_id: int) -> str:
    """The idempotency key of a stage run: its outbox key without the 'flow:' prefix."""
    return stage_flow_key(case_id, stage, action_id).removeprefix("flow:")


@io_task("prepare-notifications")
def prepare_notifications(case_id: int, stage: str, action_id: int) -> int:
    context = current()
    return stage_work.prepare_notifications(
        uow=UnitOfWork(context.db),
        policy=context.policy,
        case_id=case_id,
        stage=Stage(stage),
        event_seq=action_id,
    )


@io_task("build-case-file")
def build_case_file(case_id: int) -> str:
    context = current()
    _, digest = stage_work.build_case_file(
        uow=UnitOfWork(context.db), case_id=case_id, directory=context.case_files
    )
    return digest


@io_task("publish-timeline")
def publish_timeline(case_id: int) -> str:
    context = current()
    reference, markdown = stage_work.timeline_markdown(
        uow=UnitOfWork(context.db), policy=context.policy, case_id=case_id
    )
    create_markdown_artifact(
        key=artifact_key(reference), markdown=markdown, description=f"Timeline of {reference}"
    )
    return reference


def artifact_key(reference: str) -> str:
    """`case-<reference>`; Prefect keys are lower-case letters, digits and dashes."""
    return f"case-{reference.lower()}"


@flow(name=DEPLOYMENT, log_prints=False, persist_result=False)
def case_stage(case_id: int, stage: str, action_id: int) -> dict[str, Any]:
    """The automated work of one transition (or deadline step) of one case."""
    from prefect.runtime import flow_run

    done: dict[str, Any] = {"stage": stage}
    done["notifications"] = prepare_notifications(case_id, stage, action_id)
    if stage == Stage.CLOSED:
        done["case_file_sha256"] = build_case_file(case_id)
    done["reference"] = publish_timeline(case_id)
    # The run's record in our database: the reconciler leaves done rows alone.
    stage_work.finish_stage_run(
        uow=UnitOfWork(current().db),
        key=stage_flow_key(case_id, stage, action_id),
        flow_run_id=flow_run.get_id(),
    )
    say(f"{flow_run.get_name()}: " + ", ".join(_said(done)))
    return done


def _said(done: dict[str, Any]) -> list[str]:
    said = [f"{done['notifications']} notice(s) prepared"]
    if "case_file_sha256" in done:
        said.append(f"case file built (sha256 {done['case_file_sha256'][:12]}…)")
    return [*said, "timeline published"]


# Prefect's own lines ("Beginning flow run…") stay below PREFECT_LOGGING_LEVEL; this
# logger, under the one whose handler sends to the API, says what each run did.
_LINE = logging.getLogger("prefect.flow_runs.qingfeng")
_LINE.setLevel(logging.INFO)


def say(line: str) -> None:
    """One line in the current run's log (in the Prefect UI)."""
    adapter = get_run_logger()
    PrefectLogAdapter(_LINE, getattr(adapter, "extra", {})).info(line)
