"""Bulk-write N cases with realistic timelines, cloned from ``bench/scale_templates.py``.

Every clone is a template case moved by whole weeks (so weekdays stay) plus up to an hour:
its case row, parties, audit events (payload times moved too) and deadline steps, with its
own subject, reference and audit chain (hashes computed as ``cases.audit`` does, heads and
checkpoints written, so ``qingfeng audit verify`` passes), and its figure rows
(``cases.metrics.projection.rows_of`` of its events read back, as the refresher writes
them). Filing times spread evenly over ``years`` years up to now; a clone stops at the
last step that is already in the past, so recent cases are still open. Each chunk of
``CHUNK`` cases is made once and written, in one transaction each, to every database
given (SQLite executemany, PostgreSQL COPY).
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
from cases.deadlines.calendar import current
from cases.metrics.events import Event
from cases.metrics.monthly import Counts, counts_of_rows, write_counts
from cases.metrics.projection import basis, rows_of, write
from cases.metrics.reading import read_by_figures, read_case_events
from cases.metrics.timeline import Days, read_history
from cases.procedure.clock import local_date, utcnow
from cases.procedure.policy import Policy
from cases.store.db import Database
from cases.store.figures import PROJECTION, FigureBasis, FigureEvent, FigureVisit
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


def _stored_sqlite(value: Any) -> Any:
    """How SQLAlchemy stores a value on SQLite: an aware UTC time naive, in ISO form with
    a space and microseconds; a date in ISO form (PostgreSQL's COPY takes both as they are)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return value.isoformat() if isinstance(value, date) else value


class Shift:
    """How far a clone moves: whole weeks plus ``seconds``."""

    def __init__(self, weeks: int, seconds: int) -> None:
        self.weeks, self.seconds = weeks, seconds
        self.delta = weeks * WEEK + timedelta(seconds=seconds)

    def row(self, row: dict[str, Any], times: tuple[list[str], list[str]]) -> dict[str, Any]:
        """``row`` moved (``times``: its datetime and its date columns)."""
        moved, delta, days = dict(row), self.delta, self.weeks * WEEK
        for key in times[0]:
            moved[key] = row[key] + delta
        for key in times[1]:
            moved[key] = row[key] + days
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
        self, templates: list[Template], *, count: int, years: int, seed: int, policy: Policy
    ) -> None:
        self.rng = random.Random(seed)
        self.days = Days(policy, current())
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
        shift = Shift(round((when - template.filed) / WEEK), self.rng.randrange(3000))
        done = [s for s in template.snapshots if s.last + shift.delta <= self.now]
        if not done:  # filed in the future after rounding: a week earlier
            shift = Shift(shift.weeks - 1, shift.seconds)
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
        row["hash"] = prev = _event_hash(row, row["at"])
        events.append(row)
    return events


def _figure_rows(plan: Plan, events: list[dict[str, Any]], unit_id: int) -> dict[Any, Any]:
    """The projection's rows of a clone: its events read back as the figures read them."""
    read = [
        Event(e["case_id"], e["seq"], "", e["action"], e["at"], json.loads(e["data"]))
        for e in events
        if read_by_figures(e["action"])
    ]
    days = plan.days
    history = read_history(read, policy=days.policy, calendar=days.calendar, days=days)
    return rows_of(history, unit_id)


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
    } | _figure_rows(plan, events, case["unit_id"])


def _write_chunk(conn: Connection, rows: dict[Any, list[dict[str, Any]]], *, sqlite: bool) -> None:
    """Each table's rows in one statement: SQLite executemany of a compiled INSERT,
    PostgreSQL COPY (both with values already as the column types store them)."""
    for model in (Person, ConductCase, CaseParty, AuditEvent, AuditChainHead, Deadline,
                  *PROJECTION):  # fmt: skip
        values = rows.get(model)
        if not values:
            continue
        keys = list(values[0])
        name = table_of(model).name
        columns = ", ".join(f'"{k}"' for k in keys)
        if sqlite:
            tuples = [tuple(_stored_sqlite(r[k]) for k in keys) for r in values]
        else:
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


def _check_figures(db: Database, case_ids: list[int], days: Days) -> None:
    """These cases' seeded figure rows are the ones the refresher writes from their chains
    (written again in a transaction that is then rolled back)."""

    def rows(session: Session) -> list[Any]:
        found = []
        for model in PROJECTION:
            table = table_of(model)
            query = select(table).where(table.c.case_id.in_(case_ids))
            found.append(sorted(tuple(row) for row in session.execute(query)))
        return found

    with Session(db.writer) as session:
        seeded = rows(session)
        write(session, case_ids, read_case_events(session, case_ids), days)
        if rows(session) != seeded:
            raise SystemExit("seeded figure rows differ from those the refresher writes")
        session.rollback()


def _first_ids(dbs: list[Database]) -> tuple[int, int]:
    """The next case and person ids: the same in every database (each seeded alike)."""
    found = set()
    for db in dbs:
        with db.writer.begin() as conn:
            last = [conn.execute(select(func.max(table_of(m).c.id))).scalar() or 0
                    for m in (ConductCase, Person)]  # fmt: skip
        found.add((last[0] + 1, last[1] + 1))
    if len(found) != 1:
        raise SystemExit(f"the databases differ before seeding: next ids {found}")
    return found.pop()


def _finish(
    db: Database, numbers: Counter[int], monthly: Counts, days: Days, now: datetime
) -> None:
    """Reference counters, sequences, the figure rows' monthly sums, checkpoints;
    PostgreSQL's statistics and visibility map as autovacuum would leave them (the
    figures' index-only scans read it)."""
    with Session(db.writer) as session:
        write_counts(session, Counts(), monthly)
        # The rows were counted by this policy and calendar (else the first report would
        # write every case again).
        session.add(FigureBasis(id=1, digest=basis(days.policy, days.calendar), counted_at=now))
        session.commit()
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
            if write_checkpoint(session, at=now, batch=50_000) is None:
                break
            session.commit()
    db.checkpoint_wal()
    if not db.is_sqlite:
        with db.writer.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")


def seed_scale(
    dbs: list[Database],
    templates: list[Template],
    *,
    policy: Policy,
    count: int,
    years: int = 15,
    seed: int = 17,
    progress: Callable[[int], None] = lambda _: None,
) -> Counter[str]:
    """Write the same ``count`` cases (and their subjects) to each of ``dbs``; returns
    how many ended in each stage."""
    plan = Plan(templates, count=count, years=years, seed=seed, policy=policy)
    first, person_base = _first_ids(dbs)
    numbers: Counter[int] = Counter()
    stages: Counter[str] = Counter()
    monthly = Counts()  # the figure rows' monthly sums, written once at the end
    for offset in range(0, count, CHUNK):
        rows: dict[Any, list[dict[str, Any]]] = {}
        for i in range(offset, min(count, offset + CHUNK)):
            for model, values in _case_rows(plan, i, (first + i, person_base + i), numbers).items():
                rows.setdefault(model, []).extend(values)
        stages.update(r["stage"] for r in rows[ConductCase])
        chunk = counts_of_rows(rows[FigureEvent], rows[FigureVisit])
        monthly.events.update(chunk.events)
        monthly.left.update(chunk.left)
        for db in dbs:
            with db.writer.begin() as conn:
                _write_chunk(conn, rows, sqlite=db.is_sqlite)
            if offset == 0:
                _check_hashes(db, first)
                _check_figures(db, list(range(first, first + 200)), plan.days)
        progress(len(rows[ConductCase]))
    for db in dbs:
        _finish(db, numbers, monthly, plan.days, plan.now)
    return stages
