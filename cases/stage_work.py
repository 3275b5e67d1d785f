"""The automated work of a stage, as service functions the `case-stage` flow's tasks call.

Each is one transaction and idempotent: run twice for the same event, it changes nothing
the second time (conditional updates, outbox keys checked before insert). Automation does
not move the case's version, so staff ETags stay valid while a flow runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.notices import prepare_deliveries
from cases.procedure.clock import local_text, utcnow
from cases.procedure.labels import event_label, stage_label
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, OutboxRow, OutboxState, Person, Unit
from cases.views import HIDDEN_FROM_TIMELINE, detail_of


def _case(uow: UnitOfWork, case_id: int) -> ConductCase:
    case = uow.session.get(ConductCase, case_id)
    if case is None:
        raise LookupError(f"no case with id {case_id}")
    return case


def _record(session: Session, case_id: int, action: str, data: dict[str, object]) -> None:
    """An automation event on the case's audit chain (no actor: the stage flow did it)."""
    append_event(
        session, chain=case_chain(case_id), case_id=case_id, action=action, at=utcnow(), data=data
    )


def prepare_notifications(
    *, uow: UnitOfWork, policy: Policy, case_id: int, stage: Stage, event_seq: int
) -> int:
    """Write one delivery row per recipient of the event (which led to ``stage``)."""
    with uow:
        session = uow.session
        case = _case(uow, case_id)
        event = session.exec(
            select(AuditEvent).where(
                AuditEvent.chain == case_chain(case_id), AuditEvent.seq == event_seq
            )
        ).one()
        written = prepare_deliveries(
            session,
            case,
            policy,
            stage=stage,
            event=event.action.removeprefix("case."),
            event_seq=event_seq,
            event_data=json.loads(event.data),
            now=utcnow(),
        )
        uow.commit()
        return written


def build_case_file(*, uow: UnitOfWork, case_id: int, directory: Path) -> tuple[Path, str]:
    """Write the closed case's file (JSON, owner-only) and record its SHA-256 once."""
    with uow:
        session = uow.session
        case = _case(uow, case_id)
        unit = session.get(Unit, case.unit_id)
        assert unit is not None
        # The committee's own copy: what staff see, without the audit of reads.
        keeper = Person(handle="committee", name="committee", created_at=utcnow())
        detail = detail_of(session, case, unit, viewer=keeper, allowed=[])
        body = detail.model_dump_json(indent=2, exclude={"allowed_actions"}).encode()
        digest = hashlib.sha256(body).hexdigest()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{case.reference}.json"
        path.touch(mode=0o600)
        path.write_bytes(body)
        if case.case_file_sha256 != digest:
            session.execute(
                update(ConductCase)
                .where(col(ConductCase.id) == case_id)
                .values(case_file_sha256=digest)
            )
            _record(session, case_id, "case_file.built", {"sha256": digest})
        uow.commit()
        return path, digest


def timeline_markdown(*, uow: UnitOfWork, policy: Policy, case_id: int) -> tuple[str, str]:
    """The case's reference and its timeline for the Prefect artifact, in zh-CN with en
    beside it (actions and times only, no people)."""
    with uow:
        case = _case(uow, case_id)
        events = uow.session.exec(
            select(AuditEvent.seq, AuditEvent.at, AuditEvent.action)
            .where(
                AuditEvent.chain == case_chain(case_id),
                col(AuditEvent.action).notin_(HIDDEN_FROM_TIMELINE),
            )
            .order_by(col(AuditEvent.seq))
        ).all()
    rows = "\n".join(
        f"| {seq} | {local_text(at)} | {event_label(action, 'zh-CN', policy)} "
        f"| {event_label(action, 'en', policy)} |"
        for seq, at, action in events
    )
    due = local_text(case.due_at) if case.due_at else "—"
    stage = f"{stage_label(case.stage, 'zh-CN')}（{stage_label(case.stage, 'en')}）"
    overdue = "，已逾期（overdue）" if case.overdue else ""
    return case.reference, (
        f"# {case.reference}\n\n阶段 Stage：**{stage}**，版本 version {case.version}，"
        f"期限 due {due}{overdue}\n\n"
        "| # | 时间 Time (Asia/Shanghai) | 事项 | Event |\n|---|---|---|---|\n"
        f"{rows}\n"
    )


def finish_stage_run(*, uow: UnitOfWork, key: str, flow_run_id: str | None) -> bool:
    """Mark the stage_flow outbox row done; False when it already was."""
    with uow:
        moved = uow.session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.key) == key, col(OutboxRow.state) != OutboxState.DONE)
            .values(state=OutboxState.DONE, sent_at=utcnow(), external_id=flow_run_id)
        ).rowcount  # type: ignore[attr-defined]
        uow.commit()
        return bool(moved)
