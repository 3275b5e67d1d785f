"""The tamper-evident audit trail: one hash chain per case, a global checkpoint chain over them.

An event's hash covers the previous hash of its chain and a canonical serialisation of the
event, so editing, deleting or reordering rows breaks a chain. Chains are per case, so
appending never waits on unrelated cases; the checkpoint chain records chain heads on an
interval, so deleting the tail of a chain (or a whole case) is found too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlmodel import Session, col, select

from cases.models import AuditChainHead, AuditCheckpoint, AuditEvent, ConductCase

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


def case_chain(case_id: int) -> str:
    return f"case:{case_id}"


def canonical(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(canonical(list(parts)).encode("utf-8")).hexdigest()


def event_hash(event: AuditEvent) -> str:
    """The hash an event must carry, from its own fields and its chain's previous hash."""
    return _digest(
        event.prev_hash,
        event.chain,
        event.seq,
        event.case_id,
        event.at.isoformat(),
        event.actor_id,
        event.action,
        event.data,
    )


def checkpoint_hash(checkpoint: AuditCheckpoint) -> str:
    return _digest(checkpoint.prev_hash, checkpoint.at.isoformat(), checkpoint.heads)


_HEAD_FOR_UPDATE = (
    select(col(AuditChainHead.seq), col(AuditChainHead.hash))
    .where(col(AuditChainHead.chain) == bindparam("chain"))
    .with_for_update()
)
_INSERT_EVENT = insert(AuditEvent)
_INSERT_HEAD = insert(AuditChainHead)
_MOVE_HEAD = update(AuditChainHead).where(col(AuditChainHead.chain) == bindparam("head_chain"))


def append_event(
    session: Session,
    *,
    chain: str,
    action: str,
    at: datetime,
    actor_id: int | None = None,
    case_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to ``chain`` inside the caller's transaction."""
    # Core statements, not ORM objects: this runs in every transaction, and the rows are
    # write-once, so the unit-of-work bookkeeping would be pure cost.
    head = session.execute(_HEAD_FOR_UPDATE, {"chain": chain}).first()
    seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    event = AuditEvent(
        chain=chain,
        seq=seq + 1,
        case_id=case_id,
        at=at,
        actor_id=actor_id,
        action=action,
        data=canonical(data or {}),
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(event)
    session.execute(_INSERT_EVENT, event.model_dump(exclude={"id"}))
    moved = {"seq": event.seq, "hash": event.hash, "pending_checkpoint": True}
    if head:
        session.execute(_MOVE_HEAD, {"head_chain": chain, **moved})
    else:
        session.execute(_INSERT_HEAD, {"chain": chain, "checkpointed_seq": 0, **moved})
    return event


def write_checkpoint(
    session: Session, *, at: datetime, batch: int = 1000
) -> AuditCheckpoint | None:
    """Record the heads of (up to ``batch``) chains that moved since the last checkpoint."""
    moved = session.exec(
        select(AuditChainHead)
        .where(col(AuditChainHead.pending_checkpoint))
        .order_by(col(AuditChainHead.chain))
        .limit(batch)
        .with_for_update()
    ).all()
    if not moved:
        return None
    last = session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc())).first()
    checkpoint = AuditCheckpoint(
        at=at,
        heads=canonical({h.chain: [h.seq, h.hash] for h in moved}),
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    checkpoint.hash = checkpoint_hash(checkpoint)
    for head in moved:
        head.checkpointed_seq, head.pending_checkpoint = head.seq, False
        session.add(head)
    session.add(checkpoint)
    return checkpoint


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events: int
    chains: int
    checkpoints: int
    problem: str | None = None


def _events(session: Session) -> Iterator[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.chain), col(AuditEvent.seq))
    yield from session.exec(query.execution_options(yield_per=5000))


def _first_chain_break(session: Session, tails: dict[str, AuditEvent]) -> tuple[str | None, int]:
    count, chain, prev_hash, expected_seq = 0, None, GENESIS, 1
    for event in _events(session):
        count += 1
        if event.chain != chain:
            chain, prev_hash, expected_seq = event.chain, GENESIS, 1
        where = f"audit_event id {event.id} (chain {event.chain}, seq {event.seq})"
        if event.seq != expected_seq:
            return f"{where}: expected seq {expected_seq}; an event is missing", count
        if event.prev_hash != prev_hash:
            return f"{where}: does not follow the previous event of its chain", count
        if event_hash(event) != event.hash:
            return f"{where}: content does not match its hash (edited)", count
        prev_hash, expected_seq = event.hash, expected_seq + 1
        tails[event.chain] = event
    return None, count


def _first_head_break(session: Session, tails: dict[str, AuditEvent]) -> str | None:
    heads = {h.chain: h for h in session.exec(select(AuditChainHead))}
    for chain, head in sorted(heads.items()):
        tail = tails.get(chain)
        if head.seq and (tail is None or tail.seq != head.seq or tail.hash != head.hash):
            return f"chain {chain}: its last events are missing (head is seq {head.seq})"
    for chain in sorted(set(tails) - set(heads)):
        return f"chain {chain}: has no head record"
    case_ids = session.exec(select(ConductCase.id)).all()
    for case_id in case_ids:
        if case_id is not None and case_chain(case_id) not in heads:
            return f"conduct_case id {case_id}: has no audit chain"
    return None


def _first_checkpoint_break(session: Session) -> tuple[str | None, int]:
    prev_hash, count = GENESIS, 0
    for checkpoint in session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id))):
        count += 1
        where = f"audit_checkpoint id {checkpoint.id}"
        if checkpoint.prev_hash != prev_hash or checkpoint_hash(checkpoint) != checkpoint.hash:
            return f"{where}: checkpoint chain broken (edited, deleted or reordered)", count
        prev_hash = checkpoint.hash
        for chain, (seq, digest) in json.loads(checkpoint.heads).items():
            event = session.exec(
                select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq == seq)
            ).first()
            if event is None or event.hash != digest:
                return (
                    f"{where}: records chain {chain} at seq {seq}, which is gone or changed",
                    count,
                )
    return None, count


def verify(session: Session) -> VerifyReport:
    """Check every chain, the chain heads and the checkpoint chain; name the first break."""
    tails: dict[str, AuditEvent] = {}
    problem, events = _first_chain_break(session, tails)
    problem = problem or _first_head_break(session, tails)
    checkpoint_problem, checkpoints = _first_checkpoint_break(session)
    problem = problem or checkpoint_problem
    chains = session.exec(select(func.count()).select_from(AuditChainHead)).one()
    return VerifyReport(problem is None, events, int(chains), checkpoints, problem)
