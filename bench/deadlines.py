"""Deadline firing: tick cost against open cases, a burst due at one instant, the naive design.

    .venv/bin/python bench/deadlines.py [--small 1000] [--large 100000] [--burst 10000]

(a) One worker tick with nothing due (claim + next wake-up query) on a database with 1,000
    and with 100,000 open cases (4 pending steps each): the tick must be O(due), not O(open).
(b) 10,000 steps due at the same instant, fired by the real DeadlineWorker (APScheduler
    wake-up, batches, audit event + outbox row + case flags per step): time until all are
    committed, and each step's lateness (commit seen minus due time) p50/p99.
(c) The naive design in the same run: one APScheduler job per deadline in a
    SQLAlchemyJobStore (SQLite) with a no-op function; time until the last one ran.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seed import seed_intake_cases  # noqa: E402
from cases.demo import seed_organisation  # noqa: E402
from cases.files import load_policy  # noqa: E402
from cases.firing import fire_due_steps, next_pending_due  # noqa: E402
from cases.procedure.policy import Policy  # noqa: E402
from cases.store.db import Database, UnitOfWork  # noqa: E402
from cases.store.migrate import upgrade  # noqa: E402
from cases.store.models import AuditEvent, Deadline, OutboxRow  # noqa: E402
from config.settings import DEFAULT_POLICY_FILE  # noqa: E402
from flows.deadlines import DeadlineWorker  # noqa: E402

POLICY = load_policy(DEFAULT_POLICY_FILE)


def seeded(workdir: Path, name: str, cases: int) -> Database:
    url = f"sqlite:///{workdir / name}"
    upgrade(url)
    db = Database(url)
    seed_organisation(UnitOfWork(db))
    began = time.perf_counter()
    seed_intake_cases(db, POLICY, count=cases, unit_code="cs-su")
    print(f"  seeded {cases:,} open cases in {time.perf_counter() - began:.1f} s ({name})")
    return db


def tick_cost(db: Database, policy: Policy, ticks: int) -> float:
    """Median seconds of one idle tick: what DeadlineWorker.run does when nothing is due."""
    now = datetime.now(UTC)
    samples = []
    for _ in range(ticks):
        began = time.perf_counter()
        assert fire_due_steps(uow=UnitOfWork(db), policy=policy, now=now) == 0
        assert next_pending_due(uow=UnitOfWork(db, write=False)) is not None
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def bench_tick(workdir: Path, args: argparse.Namespace) -> None:
    print("(a) one idle tick (nothing due)")
    small = seeded(workdir, "small.db", args.small)
    large = seeded(workdir, "large.db", args.large)
    for db in (small, large):  # warm both caches the same way
        tick_cost(db, POLICY, 20)
    # Interleave rounds so that machine noise hits both sides alike.
    small_t, large_t = [], []
    for _ in range(5):
        small_t.append(tick_cost(small, POLICY, args.ticks))
        large_t.append(tick_cost(large, POLICY, args.ticks))
    s, big = statistics.median(small_t), statistics.median(large_t)
    ratio = big / s
    print(f"  tick at {args.small:>7,} open cases: {s * 1000:.3f} ms (median)")
    print(f"  tick at {args.large:>7,} open cases: {big * 1000:.3f} ms (median)")
    print(
        f"  ratio large/small: {ratio:.2f}   target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}"
    )
    small.dispose()
    large.dispose()


def watch_firing(
    db: Database, due: datetime, total: int
) -> tuple[dict[datetime, float], dict[datetime, int]]:
    """Poll until ``total`` steps fired; each batch's claim time -> seconds after ``due``
    its commit was seen, and the count of each batch."""
    seen: dict[datetime, float] = {}
    while True:
        with db.reader.connect() as conn:
            rows = conn.execute(
                select(col(Deadline.fired_at), func.count())
                .where(col(Deadline.state) == "fired")
                .group_by(col(Deadline.fired_at))
            ).all()
        now = datetime.now(UTC)
        counts: dict[datetime, int] = {}
        for fired_at, count in rows:
            assert fired_at is not None  # only fired steps were selected
            seen.setdefault(fired_at, (now - due).total_seconds())
            counts[fired_at] = count
        if sum(counts.values()) >= total:
            return seen, counts
        time.sleep(0.02)  # the poll shares the 2 cores with the worker


def fired_records(db: Database) -> tuple[int, int]:
    """Audit events and stage_flow outbox rows written for fired steps."""
    with db.reader.connect() as conn:
        events = conn.execute(
            select(func.count()).where(col(AuditEvent.action) == "deadline.overdue")
        ).scalar_one()
        outbox = conn.execute(
            select(func.count()).where(
                col(OutboxRow.topic) == "stage_flow",
                col(OutboxRow.payload).contains('"deadline.'),
            )
        ).scalar_one()
    return events, outbox


def bench_burst(workdir: Path, args: argparse.Namespace) -> float:
    print(f"(b) {args.burst:,} steps due at the same instant, real DeadlineWorker")
    db = seeded(workdir, "burst.db", args.burst)
    due = datetime.now(UTC) + timedelta(seconds=3)
    with db.writer.begin() as conn:  # one step per case falls due at `due`
        conn.execute(update(Deadline).where(col(Deadline.step) == "overdue").values(due_at=due))
    worker = DeadlineWorker(db, POLICY, safety_seconds=3600, batch=args.batch)
    worker.start()  # nothing due yet: it schedules one wake-up at `due`
    seen, counts = watch_firing(db, due, args.burst)
    worker.stop()
    done_at = max(seen.values())
    lateness = sorted(seen[at] for at, n in counts.items() for _ in range(n))
    events, outbox = fired_records(db)
    p50 = lateness[len(lateness) // 2]
    p99 = lateness[int(len(lateness) * 0.99) - 1]
    print(
        f"  fired {len(lateness):,} steps in {len(counts)} batches; audit events {events:,}, "
        f"outbox rows {outbox:,}"
    )
    print(f"  all fired and committed {done_at:.2f} s after the due instant")
    print(
        f"  lateness p50 {p50:.2f} s, p99 {p99:.2f} s   target all within 2 s: "
        f"{'met' if done_at <= 2 else 'NOT met'}"
    )
    assert events == outbox == args.burst, "every fired step has its audit event and outbox row"
    db.dispose()
    return done_at


def noop() -> None:
    """The naive design's job: does nothing, so only the scheduler's cost is measured."""


class Ran:
    """Listens to the scheduler: when each job ran; set once ``total`` ran or missed."""

    def __init__(self, total: int) -> None:
        self.total, self.ran, self.missed = total, list[float](), 0
        self.finished = threading.Event()

    def executed(self, event: object) -> None:
        self.ran.append(time.perf_counter())
        self._check()

    def miss(self, event: object) -> None:
        self.missed += 1
        self._check()

    def _check(self) -> None:
        if len(self.ran) + self.missed >= self.total:
            self.finished.set()


def seconds_per_add(scheduler: Any, sample: int) -> float:
    """Time ``sample`` adds of a job due far ahead (then removed)."""
    began = time.perf_counter()
    for i in range(sample):
        scheduler.add_job(
            noop, "date", run_date=datetime.now(UTC) + timedelta(days=1), id=f"probe-{i}"
        )
    per_add = (time.perf_counter() - began) / sample
    for i in range(sample):
        scheduler.remove_job(f"probe-{i}")
    return per_add


def bench_naive(workdir: Path, args: argparse.Namespace) -> float:
    from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    print(f"(c) naive: {args.burst:,} APScheduler jobs (SQLAlchemyJobStore, SQLite), one each")
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{workdir / 'jobs.db'}")},
        timezone="UTC",
    )
    ran = Ran(args.burst)
    scheduler.add_listener(ran.executed, EVENT_JOB_EXECUTED)
    scheduler.add_listener(ran.miss, EVENT_JOB_MISSED)
    scheduler.start(paused=True)
    # Every job is due at one instant, placed after the time all the adds take (a job's
    # trigger is pickled into the store, so it cannot be moved after adding): time a
    # sample, extrapolate with a margin, then add the rest.
    per_add = seconds_per_add(scheduler, min(500, args.burst))
    due = datetime.now(UTC) + timedelta(seconds=per_add * args.burst * 1.5 + 3)
    began = time.perf_counter()
    for i in range(args.burst):
        scheduler.add_job(noop, "date", run_date=due, id=f"deadline-{i}", misfire_grace_time=None)
    print(f"  adding the jobs took {time.perf_counter() - began:.1f} s")
    late = (datetime.now(UTC) - due).total_seconds()
    if late > 0:
        print(f"  (the adds ran {late:.1f} s past the due instant; the figure below includes it)")
    due_perf = time.perf_counter() + (due - datetime.now(UTC)).total_seconds()
    scheduler.resume()
    ran.finished.wait(timeout=600)
    scheduler.shutdown(wait=False)
    last = max(ran.ran) - due_perf if ran.ran else float("nan")
    print(
        f"  last of {len(ran.ran):,} jobs ran {last:.2f} s after the due instant "
        f"({ran.missed} missed)"
    )
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="steps per firing transaction")
    parser.add_argument("--ticks", type=int, default=100, help="ticks per timing round")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, SQLite (the embedded default)")
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as tmp:
        workdir = Path(tmp)
        bench_tick(workdir, args)
        ours = bench_burst(workdir, args)
        naive = bench_naive(workdir, args)
    print(
        f"burst of {args.burst:,}: qingfeng {ours:.2f} s, naive {naive:.2f} s; "
        f"naive/qingfeng = {naive / ours:.1f}x"
    )


if __name__ == "__main__":
    main()
