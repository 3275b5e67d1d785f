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

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, col, select

from cases.procedure.clock import to_utc
from cases.procedure.errors import Refusal
from cases.store.db import Database, UnitOfWork, core, insert_rows
from cases.store.figures import mark_dirty
from cases.store.models import AuditChainHead, AuditCheckpoint, AuditEvent, ConductCase, table_of

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"
REFUSED_EVENT = "action.refused"


def case_chain(case_id: int) -> str:
    return f"case:{case_id}"


def canonical(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(canonical(list(parts)).encode("utf-8")).hexdigest()


def event_hash(event: AuditEvent | dict[str, Any]) -> str:
    """The hash an event must carry, from its own fields and its chain's previous hash."""
    row = event if isinstance(event, dict) else event.model_dump()
    return _digest(
        row["prev_hash"],
        row["chain"],
        row["seq"],
        row["case_id"],
        row["at"].isoformat(),
        row["actor_id"],
        row["action"],
        row["data"],
    )


def checkpoint_hash(checkpoint: AuditCheckpoint) -> str:
    return _digest(checkpoint.prev_hash, checkpoint.at.isoformat(), checkpoint.heads)


_HEADS_FOR_UPDATE = (
    select(col(AuditChainHead.chain), col(AuditChainHead.seq), col(AuditChainHead.hash))
    .where(col(AuditChainHead.chain).in_(bindparam("chains", expanding=True)))
    .with_for_update()
)
_HEAD_FOR_UPDATE = (
    select(col(AuditChainHead.chain), col(AuditChainHead.seq), col(AuditChainHead.hash))
    .where(col(AuditChainHead.chain) == bindparam("chain"))
    .with_for_update()
)
# On the tables, not the classes: plain Core executemany, no ORM bulk machinery.
_HEADS = table_of(AuditChainHead)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"), pending_checkpoint=True)
)

_MOVED_HEADS = (
    select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.pending_checkpoint)
    .order_by(_HEADS.c.chain)
    .limit(bindparam("batch"))
    .with_for_update()
)
_MARK_CHECKPOINTED = (
    update(_HEADS)
    .where(_HEADS.c.chain.in_(bindparam("chains", expanding=True)))
    .values(checkpointed_seq=_HEADS.c.seq, pending_checkpoint=False)
)


@dataclass(frozen=True)
class Appended:
    """Where an appended event landed in its chain."""

    chain: str
    seq: int
    hash: str


@dataclass(frozen=True)
class NewEvent:
    """An event to append: which chain, what happened, when, by whom, with what data."""

    chain: str
    action: str
    at: datetime
    actor_id: int | None = None
    case_id: int | None = None
    data: dict[str, Any] | None = None


def append_event(
    session: Session,
    *,
    chain: str,
    action: str,
    at: datetime,
    actor_id: int | None = None,
    case_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Appended:
    """Append one event to ``chain`` inside the caller's transaction."""
    return append_events(session, [NewEvent(chain, action, at, actor_id, case_id, data)])[0]


def append_events(session: Session, new: list[NewEvent]) -> list[Appended]:
    """Append events in order (several may share a chain) inside the caller's transaction."""
    # Core statements, not ORM objects: this runs in every transaction, and the rows are
    # write-once, so the unit-of-work bookkeeping would be pure cost. One statement each
    # for the heads, the events and the head moves, however many events.
    chains = sorted({e.chain for e in new})
    # One chain (every staff action) skips the expanding IN, which is re-rendered per call.
    found = (
        core(session).execute(_HEAD_FOR_UPDATE, {"chain": chains[0]})
        if len(chains) == 1
        else core(session).execute(_HEADS_FOR_UPDATE, {"chains": chains})
    )
    heads = {row.chain: (row.seq, row.hash) for row in found}
    known = set(heads)
    rows: list[dict[str, Any]] = []
    for item in new:  # plain dicts: building ORM objects here cost more than the SQL
        seq, prev_hash = heads.get(item.chain, (0, GENESIS))
        row = {
            "chain": item.chain,
            "seq": seq + 1,
            "case_id": item.case_id,
            "at": to_utc(item.at),  # hashed as stored: UTC
            "actor_id": item.actor_id,
            "action": item.action,
            "data": canonical(item.data or {}),
            "prev_hash": prev_hash,
        }
        row["hash"] = event_hash(row)
        heads[item.chain] = (row["seq"], row["hash"])
        rows.append(row)
    insert_rows(session, AuditEvent, rows)
    mark_dirty(session, {r["case_id"] for r in rows if r["case_id"] is not None})
    moved = [
        {"head_chain": chain, "head_seq": seq, "head_hash": digest}
        for chain, (seq, digest) in heads.items()
        if chain in known
    ]
    if moved:
        core(session).execute(_MOVE_HEAD, moved)
    created = [
        {"chain": c, "seq": s, "hash": h, "checkpointed_seq": 0, "pending_checkpoint": True}
        for c, (s, h) in heads.items()
        if c not in known
    ]
    if created:
        insert_rows(session, AuditChainHead, created)
    return [Appended(r["chain"], r["seq"], r["hash"]) for r in rows]


def write_checkpoint(
    session: Session, *, at: datetime, batch: int = 1000
) -> AuditCheckpoint | None:
    """Record the heads of (up to ``batch``) chains that moved since the last checkpoint."""
    # Core rows, not ORM objects: a batch is up to a thousand heads, and this runs under
    # the write lock that staff actions wait on.
    moved = session.execute(_MOVED_HEADS, {"batch": batch}).all()
    if not moved:
        return None
    # Only the last hash, with LIMIT: an ORM .first() would load every checkpoint so far.
    last_hash = session.exec(
        select(AuditCheckpoint.hash).order_by(col(AuditCheckpoint.id).desc()).limit(1)
    ).first()
    checkpoint = AuditCheckpoint(
        at=at,
        heads=canonical({h.chain: [h.seq, h.hash] for h in moved}),
        prev_hash=last_hash or GENESIS,
        hash="",
    )
    checkpoint.hash = checkpoint_hash(checkpoint)
    # The rows are locked (FOR UPDATE, or SQLite's write lock), so seq is still what we read.
    session.execute(_MARK_CHECKPOINTED, {"chains": [h.chain for h in moved]})
    session.add(checkpoint)
    return checkpoint


def record_refusal(
    db: Database,
    *,
    case_id: int,
    actor_id: int | None,
    action: str,
    refusal: Refusal,
    now: datetime,
) -> None:
    """Record a refused action on the case's chain, in a transaction of its own (after the
    refused one rolled back). The true reason is kept for oversight; the answer may have
    said less."""
    with UnitOfWork(db) as uow:
        append_event(
            uow.session,
            chain=case_chain(case_id),
            case_id=case_id,
            actor_id=actor_id,
            action=REFUSED_EVENT,
            at=now,
            data={"action": action, "rule": refusal.rule, "reason": refusal.reason},
        )
        uow.commit()


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
            last = tail.seq if tail is not None else 0
            missing = f"seq {last + 1}" + (f" to {head.seq}" if head.seq > last + 1 else "")
            return f"chain {chain}: its last events are missing ({missing})"
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
