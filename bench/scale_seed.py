"""Bulk-write N cases with realistic timelines, cloned from ``bench/scale_templates.py``.

Every clone is a template case moved by whole weeks (so weekdays stay) plus up to an hour:
its case row, parties, audit events (payload times moved too) and deadline steps, with its
own subject, reference and audit chain (hashes computed as ``cases.audit`` does, heads and
checkpoints written, so ``qingfeng audit verify`` passes). Filing times spread evenly over
``years`` years up to now; a clone stops at the last step that is already in the past, so
recent cases are still open. Core ``insert()`` executemany, ``CHUNK`` cases a transaction.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, text
from sqlmodel import Session

from bench.scale_templates import Snapshot, Template
from cases.audit import GENESIS, case_chain, event_hash, write_checkpoint
from cases.procedure.clock import local_date, utcnow
from cases.store.db import Database
from cases.store.models import (
    AuditChainHead,
    AuditEvent,
    CaseParty,
    ConductCase,
    Deadline,
    Person,
    ReferenceCounter,
    table_of,
)

CHUNK = 5000
WEEK = timedelta(days=7)
# How cases end (%): a quarter declined at triage, most closed after the appeal window.
WEIGHTS = {
    "declined": 25.0,
    "closed": 30.0,
    "unfounded": 15.0,
    "returned": 8.0,
    "extended": 10.0,
    "appealed": 11.5,
    "stalled": 0.5,
}
UNIT_WEIGHTS = {"su": 30, "gsu": 20, "cs-su": 20, "law-su": 15, "med-su": 15}
_WHEN = re.compile(r'"(\d{4}-\d\d-\d\d)(T[0-9:.]+\+00:00)?"')


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)  # cases.audit.canonical's options, built once


def _event_hash(row: dict[str, Any], at: datetime) -> str:
    """``cases.audit.event_hash`` without a new encoder per call (checked against it)."""
    parts = [row["prev_hash"], row["chain"], row["seq"], row["case_id"], at.isoformat(),
             row["actor_id"], row["action"], row["data"]]  # fmt: skip
    return hashlib.sha256(_ENCODER.encode(parts).encode("utf-8")).hexdigest()


def _stored_sqlite(moment: datetime) -> str:
    """How SQLAlchemy's DateTime stores an aware UTC time on SQLite."""
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


class Shift:
    """How far a clone moves: whole weeks plus ``seconds``."""

    def __init__(self, weeks: int, seconds: int, sqlite: bool) -> None:
        self.weeks, self.seconds, self.sqlite = weeks, seconds, sqlite
        self.delta = weeks * WEEK + timedelta(seconds=seconds)

    def row(self, row: dict[str, Any], times: tuple[list[str], list[str]]) -> dict[str, Any]:
        """``row`` moved, its times as the database stores them (``times``: its datetime
        and its date columns)."""
        moved, delta, days = dict(row), self.delta, self.weeks * WEEK
        for key in times[0]:
            moved[key] = _stored_sqlite(row[key] + delta) if self.sqlite else row[key] + delta
        for key in times[1]:
            moved[key] = (row[key] + days).isoformat() if self.sqlite else row[key] + days
        return moved

    def text(self, data: str) -> str:
        def moved(m: re.Match[str]) -> str:
            if m.group(2):
                at = datetime.fromisoformat(m.group(1) + m.group(2)) + self.delta
                return f'"{at.isoformat()}"'
            return f'"{(date.fromisoformat(m.group(1)) + self.weeks * WEEK).isoformat()}"'

        return _WHEN.sub(moved, data) if "-" in data else data


def _times(row: dict[str, Any]) -> tuple[list[str], list[str]]:
    dts = [k for k, v in row.items() if isinstance(v, datetime)]
    return dts, [k for k, v in row.items() if isinstance(v, date) and not isinstance(v, datetime)]


@dataclass(frozen=True)
class Prepared:
    """A snapshot's rows with their time columns found once."""

    snap: Snapshot
    case: tuple[list[str], list[str]]
    parties: list[tuple[list[str], list[str]]]
    events: list[tuple[list[str], list[str]]]
    deadlines: list[tuple[list[str], list[str]]]


def _prepared(snap: Snapshot) -> Prepared:
    return Prepared(
        snap,
        _times(snap.case),
        [_times(p) for p in snap.parties],
        [_times(e) for e in snap.events],
        [_times(d) for d in snap.deadlines],
    )


class Plan:
    """Which template, moved how far and cut where, for each case in filing order."""

    def __init__(
        self, templates: list[Template], *, count: int, years: int, seed: int, sqlite: bool
    ) -> None:
        self.rng, self.sqlite = random.Random(seed), sqlite
        self.now = utcnow()
        span = years * 365.25 * 86400
        start = self.now - timedelta(seconds=span)
        self.filed = sorted(
            start + timedelta(seconds=self.rng.random() * span) for _ in range(count)
        )
        self.by_key: dict[tuple[str, str], list[Template]] = {}
        for t in templates:
            self.by_key.setdefault((t.path, t.unit), []).append(t)
        self.prepared = {id(s): _prepared(s) for t in templates for s in t.snapshots}

    def pick(self, when: datetime) -> tuple[Template, Prepared, Shift]:
        path = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        unit = self.rng.choices(list(UNIT_WEIGHTS), weights=list(UNIT_WEIGHTS.values()))[0]
        template = self.rng.choice(self.by_key[(path, unit)])
        shift = Shift(round((when - template.filed) / WEEK), self.rng.randrange(3000), self.sqlite)
        done = [s for s in template.snapshots if s.last + shift.delta <= self.now]
        if not done:  # filed in the future after rounding: a week earlier
            shift = Shift(shift.weeks - 1, shift.seconds, self.sqlite)
            done = template.snapshots[:1]
        return template, self.prepared[id(done[-1])], shift


def _events(
    prepared: Prepared, shift: Shift, case_id: int, who: dict[int, int]
) -> list[dict[str, Any]]:
    chain, prev = case_chain(case_id), GENESIS
    events = []
    for e, times in zip(prepared.snap.events, prepared.events, strict=True):
        row = shift.row(e, times)
        del row["id"]
        row |= {
            "chain": chain,
            "case_id": case_id,
            "prev_hash": prev,
            "data": shift.text(e["data"]),
        }
        row["actor_id"] = who.get(row["actor_id"], row["actor_id"])
        row["hash"] = prev = _event_hash(row, e["at"] + shift.delta)
        events.append(row)
    return events


def _case_rows(
    plan: Plan, index: int, ids: tuple[int, int], numbers: Counter[int]
) -> dict[Any, list[dict[str, Any]]]:
    """The rows of the ``index``-th case filed, with its case and subject ids."""
    case_id, person_id = ids
    template, prepared, shift = plan.pick(plan.filed[index])
    snap = prepared.snap
    filed = snap.case["filed_at"] + shift.delta
    case = shift.row(snap.case, prepared.case)
    year = local_date(filed).year
    numbers[year] += 1
    case |= {"id": case_id, "reference": f"QF-{year}-{numbers[year]:06d}", "subject_id": person_id}
    who = {template.subject_id: person_id}
    parties = []
    for p, times in zip(snap.parties, prepared.parties, strict=True):
        party = shift.row(p, times)
        del party["id"]
        party |= {"case_id": case_id, "person_id": who.get(p["person_id"], p["person_id"])}
        parties.append(party)
    events = _events(prepared, shift, case_id, who)
    head = {"chain": events[0]["chain"], "seq": events[-1]["seq"], "hash": events[-1]["hash"]}
    person = {
        "id": person_id,
        "handle": f"scale.stu.{case_id}",
        "name": "张同学",
        "unit_id": case["unit_id"],
        "language": "zh-CN",
        "active": True,
        "created_at": case["filed_at"],
    }
    deadlines = []
    for d, times in zip(snap.deadlines, prepared.deadlines, strict=True):
        step = shift.row(d, times)
        del step["id"]
        deadlines.append(step | {"case_id": case_id})
    return {
        Person: [person],
        ConductCase: [case],
        CaseParty: parties,
        AuditEvent: events,
        AuditChainHead: [head | {"checkpointed_seq": 0, "pending_checkpoint": True}],
        Deadline: deadlines,
    }


def _write_chunk(conn: Connection, rows: dict[Any, list[dict[str, Any]]], *, sqlite: bool) -> None:
    """Each table's rows in one statement: SQLite executemany of a compiled INSERT,
    PostgreSQL COPY (both with values already as the column types store them)."""
    for model in (Person, ConductCase, CaseParty, AuditEvent, AuditChainHead, Deadline):
        values = rows.get(model)
        if not values:
            continue
        keys = list(values[0])
        name = table_of(model).name
        columns = ", ".join(f'"{k}"' for k in keys)
        tuples = [tuple(r[k] for k in keys) for r in values]
        if sqlite:
            marks = ", ".join("?" for _ in keys)
            conn.exec_driver_sql(f'INSERT INTO "{name}" ({columns}) VALUES ({marks})', tuples)
        else:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f'COPY "{name}" ({columns}) FROM STDIN') as copy:
                for row in tuples:
                    copy.write_row(row)


def _check_hashes(db: Database, case_id: int) -> None:
    """The first case's events read back carry the hashes ``cases.audit`` computes."""
    with Session(db.reader) as session:
        query = select(AuditEvent).where(AuditEvent.case_id == case_id)  # type: ignore[arg-type]
        for (event,) in session.execute(query):
            if event_hash(event) != event.hash:
                raise SystemExit(f"seeded hash differs from cases.audit's: {event}")


def seed_scale(
    db: Database,
    templates: list[Template],
    *,
    count: int,
    years: int = 15,
    seed: int = 17,
    progress: Callable[[int], None] = lambda _: None,
) -> Counter[str]:
    """Write ``count`` cases (and their subjects); returns how many ended in each stage."""
    plan = Plan(templates, count=count, years=years, seed=seed, sqlite=db.is_sqlite)
    with db.writer.begin() as conn:
        first = (conn.execute(select(func.max(table_of(ConductCase).c.id))).scalar() or 0) + 1
        person_base = (conn.execute(select(func.max(table_of(Person).c.id))).scalar() or 0) + 1
    numbers: Counter[int] = Counter()
    stages: Counter[str] = Counter()
    for offset in range(0, count, CHUNK):
        rows: dict[Any, list[dict[str, Any]]] = {}
        for i in range(offset, min(count, offset + CHUNK)):
            for model, values in _case_rows(plan, i, (first + i, person_base + i), numbers).items():
                rows.setdefault(model, []).extend(values)
        stages.update(r["stage"] for r in rows[ConductCase])
        with db.writer.begin() as conn:
            _write_chunk(conn, rows, sqlite=db.is_sqlite)
        if offset == 0:
            _check_hashes(db, first)
        progress(len(rows[ConductCase]))
    with db.writer.begin() as conn:
        counters = [{"year": y, "last": n} for y, n in sorted(numbers.items())]
        conn.execute(insert(table_of(ReferenceCounter)), counters)
        if not db.is_sqlite:
            for table in ("person", "conduct_case"):
                last = f"(SELECT max(id) FROM {table})"
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})")
                )
    # A database this size has long been checkpointed: its heads, 50,000 a checkpoint.
    while True:
        with Session(db.writer) as session:
            if write_checkpoint(session, at=plan.now, batch=50_000) is None:
                break
            session.commit()
    db.checkpoint_wal()
    return stages
