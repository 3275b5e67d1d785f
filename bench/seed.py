"""Bulk-seed N intake cases straight into the tables (the service path costs ~50 ms each).

The rows are what ``cases.service.file_report`` writes: the case, its subject party, the
'filed' audit event with its chain head, the intake deadline and the outbox rows, so
the audit trail of a seeded database still verifies.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlmodel import Session, col

from cases.audit import GENESIS, canonical, case_chain, event_hash, write_checkpoint
from cases.deadlines.steps import ladder, stage_due_at
from cases.outbox import stage_flow_key
from cases.people.secrets import hash_receipt
from cases.procedure.clock import utcnow
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage
from cases.store.db import Database
from cases.store.models import (
    AuditChainHead,
    AuditEvent,
    CaseParty,
    ConductCase,
    Deadline,
    OutboxRow,
    Person,
    ReferenceCounter,
    Unit,
)

CHUNK = 5000


def seed_intake_cases(db: Database, policy: Policy, *, count: int, unit_code: str) -> list[str]:
    """Insert ``count`` cases in intake for subjects in ``unit_code``; returns references."""
    now = utcnow()
    receipt = hash_receipt("BENC-HBEN-CHBE-NCHB")
    due = stage_due_at(policy, Stage.INTAKE, None, now)
    assert due is not None
    steps = ladder(policy, due)
    references: list[str] = []
    with db.writer.begin() as conn:
        unit_id = conn.execute(select(col(Unit.id)).where(col(Unit.code) == unit_code)).scalar_one()
        start_id = (
            conn.execute(select(ConductCase.id).order_by(ConductCase.id.desc())).scalar() or 0
        )  # type: ignore[union-attr]
        year = now.year
        for offset in range(0, count, CHUNK):
            size = min(CHUNK, count - offset)
            first = start_id + offset + 1
            people = [
                {
                    "handle": f"bench.stu.{first + i}",
                    "name": "学生",
                    "unit_id": unit_id,
                    "language": "zh-CN",
                    "active": True,
                    "created_at": now,
                }
                for i in range(size)
            ]
            conn.execute(insert(Person), people)
            person_ids = conn.execute(
                select(Person.id, Person.handle).where(
                    Person.handle.in_([p["handle"] for p in people])
                )  # type: ignore[attr-defined]
            ).all()
            by_handle = {h: i for i, h in person_ids}
            cases, parties, events, heads, deadlines, outbox = [], [], [], [], [], []
            for i in range(size):
                case_id = first + i
                reference = f"QF-{year}-B{case_id:07d}"
                references.append(reference)
                cases.append(
                    _case(
                        case_id,
                        reference,
                        unit_id,
                        by_handle[people[i]["handle"]],
                        receipt,
                        now,
                        due,
                    )
                )
                parties.append(
                    {
                        "case_id": case_id,
                        "person_id": by_handle[people[i]["handle"]],
                        "capacity": "subject",
                        "active": True,
                        "since": now,
                    }
                )
                event = _filed_event(case_id, unit_code, now)
                events.append(event.model_dump(exclude={"id"}))
                heads.append(
                    {
                        "chain": event.chain,
                        "seq": 1,
                        "hash": event.hash,
                        "checkpointed_seq": 0,
                        "pending_checkpoint": True,
                    }
                )
                deadlines.extend(
                    {
                        "case_id": case_id,
                        "stage": "intake",
                        "stage_entry": 1,
                        "step": step,
                        "due_at": when,
                        "state": "pending",
                    }
                    for step, when in steps
                )
                payload = canonical(
                    {
                        "case_id": case_id,
                        "reference": reference,
                        "stage": "intake",
                        "event": "filed",
                        "event_seq": 1,
                    }
                )
                for key, topic in ((stage_flow_key(case_id, "intake", 1), "stage_flow"),):
                    outbox.append(
                        {
                            "key": key,
                            "topic": topic,
                            "case_id": case_id,
                            "payload": payload,
                            "state": "pending",
                            "attempts": 0,
                            "created_at": now,
                            "available_at": now,
                        }
                    )
            for model, rows in (
                (ConductCase, cases),
                (CaseParty, parties),
                (AuditEvent, events),
                (AuditChainHead, heads),
                (Deadline, deadlines),
                (OutboxRow, outbox),
            ):
                conn.execute(insert(model), rows)
        if (
            conn.execute(select(ReferenceCounter).where(ReferenceCounter.year == year)).first()
            is None
        ):  # type: ignore[arg-type]
            conn.execute(insert(ReferenceCounter), [{"year": year, "last": 0}])
    # A database of this size has long been checkpointed: record the seeded heads once.
    with Session(db.writer) as session:
        write_checkpoint(session, at=now, batch=count + 1000)
        session.commit()
    return references


def _case(
    case_id: int,
    reference: str,
    unit_id: int,
    subject_id: int,
    receipt: str,
    now: datetime,
    due: datetime | None,
) -> dict[str, object]:
    return {
        "id": case_id,
        "reference": reference,
        "version": 1,
        "stage": "intake",
        "stage_entry": 1,
        "stage_entered_at": now,
        "due_at": due,
        "unit_id": unit_id,
        "subject_id": subject_id,
        "anonymous": True,
        "receipt_hash": receipt,
        "summary": "基准测试案件",
        "details": "bench",
        "filed_at": now,
        "statement_state": "pending",
        "returns_count": 0,
    }


def _filed_event(case_id: int, unit_code: str, now: datetime) -> AuditEvent:
    event = AuditEvent(
        chain=case_chain(case_id),
        seq=1,
        case_id=case_id,
        at=now,
        actor_id=None,
        action="case.filed",
        data=canonical({"unit": unit_code, "anonymous": True}),
        prev_hash=GENESIS,
        hash="",
    )
    event.hash = event_hash(event)
    return event
