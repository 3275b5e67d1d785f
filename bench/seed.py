"""Bulk-seed N intake cases straight into the tables (the service path costs ~50 ms each).

The rows are what ``cases.service.file_report`` writes: the case, its subject party, the
'filed' audit event with its chain head, the intake deadline and the outbox rows, so
the audit trail of a seeded database still verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlmodel import Session, SQLModel, col

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


@dataclass(frozen=True)
class Seeding:
    """What every seeded case shares."""

    unit_id: int
    unit_code: str
    receipt: str
    now: datetime
    due: datetime
    steps: list[tuple[str, datetime]]


def seed_intake_cases(db: Database, policy: Policy, *, count: int, unit_code: str) -> list[str]:
    """Insert ``count`` cases in intake for subjects in ``unit_code``; returns references."""
    now = utcnow()
    due = stage_due_at(policy, Stage.INTAKE, None, now)
    assert due is not None
    references: list[str] = []
    with db.writer.begin() as conn:
        unit_id = conn.execute(select(col(Unit.id)).where(col(Unit.code) == unit_code)).scalar_one()
        assert unit_id is not None
        seeding = Seeding(
            unit_id, unit_code, hash_receipt("BENC-HBEN-CHBE-NCHB"), now, due, ladder(policy, due)
        )
        start_id = (
            conn.execute(select(col(ConductCase.id)).order_by(col(ConductCase.id).desc())).scalar()
            or 0
        )
        for offset in range(0, count, CHUNK):
            first = start_id + offset + 1
            references += _insert_chunk(conn, seeding, first, min(CHUNK, count - offset))
        counter = select(ReferenceCounter).where(col(ReferenceCounter.year) == now.year)
        if conn.execute(counter).first() is None:
            conn.execute(insert(ReferenceCounter), [{"year": now.year, "last": 0}])
    # A database of this size has long been checkpointed: record the seeded heads once.
    with Session(db.writer) as session:
        write_checkpoint(session, at=now, batch=count + 1000)
        session.commit()
    return references


def _insert_people(conn: Connection, seeding: Seeding, first: int, size: int) -> list[int]:
    """One subject per case, ids in case order."""
    people = [
        {
            "handle": f"bench.stu.{first + i}",
            "name": "学生",
            "unit_id": seeding.unit_id,
            "language": "zh-CN",
            "active": True,
            "created_at": seeding.now,
        }
        for i in range(size)
    ]
    conn.execute(insert(Person), people)
    handles = [str(p["handle"]) for p in people]
    by_handle: dict[str, int] = dict(
        conn.execute(  # type: ignore[arg-type]
            select(col(Person.handle), col(Person.id)).where(col(Person.handle).in_(handles))
        ).all()
    )
    return [by_handle[handle] for handle in handles]


def _insert_chunk(conn: Connection, seeding: Seeding, first: int, size: int) -> list[str]:
    """Cases ``first`` .. ``first + size - 1`` with every row they own."""
    subjects = _insert_people(conn, seeding, first, size)
    rows: dict[type[SQLModel], list[dict[str, Any]]] = {
        model: []
        for model in (ConductCase, CaseParty, AuditEvent, AuditChainHead, Deadline, OutboxRow)
    }
    references = []
    for i in range(size):
        case_id, subject_id = first + i, subjects[i]
        reference = f"QF-{seeding.now.year}-B{case_id:07d}"
        references.append(reference)
        for model, values in _case_rows(seeding, case_id, reference, subject_id).items():
            rows[model] += values
    for model, values in rows.items():
        conn.execute(insert(model), values)
    return references


def _case_rows(
    seeding: Seeding, case_id: int, reference: str, subject_id: int
) -> dict[type[SQLModel], list[dict[str, Any]]]:
    """The rows `file_report` writes for one case, by table."""
    now = seeding.now
    event = _filed_event(case_id, seeding.unit_code, now)
    head = {"chain": event.chain, "seq": 1, "hash": event.hash}
    payload = canonical(
        {
            "case_id": case_id,
            "reference": reference,
            "stage": "intake",
            "event": "filed",
            "event_seq": 1,
        }
    )
    return {
        ConductCase: [
            _case(
                case_id, reference, seeding.unit_id, subject_id, seeding.receipt, now, seeding.due
            )
        ],
        CaseParty: [
            {
                "case_id": case_id,
                "person_id": subject_id,
                "capacity": "subject",
                "active": True,
                "since": now,
            }
        ],
        AuditEvent: [event.model_dump(exclude={"id"})],
        AuditChainHead: [{**head, "checkpointed_seq": 0, "pending_checkpoint": True}],
        Deadline: [
            {
                "case_id": case_id,
                "stage": "intake",
                "stage_entry": 1,
                "step": step,
                "due_at": when,
                "state": "pending",
            }
            for step, when in seeding.steps
        ],
        OutboxRow: [_stage_flow_row(case_id, payload, now)],
    }


def _stage_flow_row(case_id: int, payload: str, now: datetime) -> dict[str, Any]:
    return {
        "key": stage_flow_key(case_id, "intake", 1),
        "topic": "stage_flow",
        "case_id": case_id,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "available_at": now,
    }


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
