"""The scale-out set-up run for real (tests/scaleout.py: deploy/compose.yaml's topology as
processes): the crash test's load sent through nginx while one API replica, one Prefect
API server and one `qingfeng runner` host are SIGKILLed, at seeded random moments
(QINGFENG_CRASH_SEED, or a fresh seed, printed), and not started again: the survivors
carry on. Afterwards nothing is lost or doubled: every 2xx is its case's event once,
every transition and fired step has one stage run (completed, one per key in Prefect),
every message reached its receiver once by key, `audit verify` passes. The figures are
printed (docs/scale-out.md quotes a run)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psutil
import pytest

from cases.demo import seed_organisation
from cases.procedure.labels import DEADLINE_EVENT
from cases.store.db import Database, UnitOfWork
from tests import aftermath
from tests.processes import PATIENCE, wait_for
from tests.receivers import Mailbox, Received
from tests.scaleout import Process, Topology, topology
from tests.test_crash import (
    CASES,
    Load,
    _all_gone,
    _environment,
    _receivers,
    _run_catching,
    _survivors,
)

pytestmark = [pytest.mark.slow, pytest.mark.lane]

KILLED = ("api replica", "prefect api server", "stage runner")
# A run in flight on a killed runner host is scheduled again by the reconciler once it is
# stuck (5 minutes) and the next pass comes (30 s): the backstop covers that.
SETTLE = 10 * 60.0


@dataclass
class Kill:
    what: str
    name: str
    after_answers: int
    at: float  # seconds since the load began
    recovered: float | None = None  # seconds from the kill to the next 2xx seen through nginx


def test_scale_out_under_load_loses_and_doubles_nothing_when_one_of_each_dies(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("QINGFENG_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nscale-out test seed: QINGFENG_CRASH_SEED={seed}")
    with _receivers() as (smtp_port, mailbox, hooks, hook_url):
        started = time.monotonic()
        with topology(tmp_path, _environment(tmp_path, smtp_port, hook_url)) as top:
            startup = time.monotonic() - started
            print(f"topology up in {startup:.0f} s:")
            for name, command, port in top.table():
                print(f"  {name:18} {port!s:>6}  {command}")
            db = Database(top.database_url, pool_size=2)
            load = Load(top.api_url, seed_organisation(UnitOfWork(db)))
            db.dispose()
            began = time.monotonic()
            kills = _kill_under_load(load, top, random.Random(seed))
            loaded = time.monotonic() - began
            alive = partial(_survivors_answer, top)
            url = top.database_url
            assert wait_for(lambda: alive() and aftermath.settled(url), SETTLE), (
                aftermath.backlog(url),
                top.tails(),
            )
            settled = time.monotonic() - began
            messages = aftermath.messages(url)
            assert wait_for(lambda: len(mailbox.mails) + len(hooks) >= messages, PATIENCE)
            _check(top, load, mailbox, hooks)
            _figures(top, load, kills, loaded, settled)


def _kill_under_load(load: Load, top: Topology, rng: random.Random) -> list[Kill]:
    """The load from start to end through nginx, with one of each of KILLED SIGKILLed
    after a random count of answers each (in a random order); returns the kills. This
    thread only counts answers and kills (it keeps up with the load): what each kill
    left behind is looked at once the load is done."""
    moments = sorted(rng.sample(range(3, load.total - 4), len(KILLED)))
    order = rng.sample(KILLED, len(KILLED))
    print(f"kills: {list(zip(order, moments, strict=True))} (answers of {load.total})")
    worker = threading.Thread(target=_run_catching, args=(load,), daemon=True)
    began = time.monotonic()
    worker.start()
    seen: list[float] = []  # when this thread saw each answer, since the load began
    kills: list[tuple[Kill, list[psutil.Process]]] = []
    for moment, what in [*zip(moments, order, strict=True), (load.total, "")]:
        while len(seen) < moment:
            while not load.progress.acquire(timeout=1):
                assert worker.is_alive(), load.refused
                assert all(p.running() for p in _expected_alive(top)), top.tails()
            seen.append(time.monotonic() - began)
        if what:
            before = len(load.answered)
            assert before < load.total, "the load ended before the kill"
            kills.append(_kill(what, top, rng, before, time.monotonic() - began))
    assert wait_for(lambda: not worker.is_alive(), 4 * PATIENCE), load.refused
    assert not load.refused and len(load.answered) == load.total, load.refused
    for kill, had in kills:  # no process of a victim is left (a replica's children too)
        assert wait_for(partial(_all_gone, had), PATIENCE / 2), _survivors(had)
        kill.recovered = min(t for t in seen[kill.after_answers :] if t >= kill.at) - kill.at
    return [kill for kill, _ in kills]


def _expected_alive(top: Topology) -> list[Process]:
    return [p for p in top.processes if p.killed_at is None]


def _kill(
    what: str, top: Topology, rng: random.Random, answers: int, at: float
) -> tuple[Kill, list[psutil.Process]]:
    """SIGKILL of one of ``what``; returns the kill and the processes the victim had."""
    pool = {
        KILLED[0]: top.replicas,
        KILLED[1]: top.prefect_servers,
        KILLED[2]: top.runners,
    }[what]
    victim = rng.choice(pool)
    tree = psutil.Process(victim.pid)
    had = [tree, *tree.children(recursive=True)]
    print(f"{at:6.1f} s: kill -9 of {victim.name} ({len(had)} processes) after {answers}")
    # A replica's `up` alone, as a crash does: its children must die with it (they are
    # killed by the kernel's parent-death signal). A Prefect server: its whole group.
    victim.kill(group=what == KILLED[1])
    victim.killed_at = at
    return Kill(what, victim.name, answers, at), had


def _survivors_answer(top: Topology) -> bool:
    assert all(p.running() for p in _expected_alive(top)), top.tails()
    return True


def _check(top: Topology, load: Load, mailbox: Mailbox, hooks: list[Received]) -> None:
    aftermath.check_chains(top.database_url, load.answered, CASES)
    aftermath.check_deadlines(top.database_url)
    _check_stage_runs(top)
    aftermath.check_messages(top.database_url, mailbox, hooks)
    verified = subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", "verify"],
        env={**top.env, "QINGFENG_DATA_DIR": str(top.base / "migrate")},
        capture_output=True,
    )
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


def _check_stage_runs(top: Topology) -> None:
    """Every transition (a stage entered: stage_entry counts them, filing the first) and
    every fired step has one stage_flow row, naming the event it carries on, started once
    in Prefect: one completed run per idempotency key, the row's run, and no stage run in
    Prefect beyond them."""
    url = top.database_url
    rows: dict[str, str | None] = {}
    per_case: Counter[int] = Counter()
    events = {
        (case_id, seq): (action, json.loads(data))
        for case_id, seq, action, data in aftermath.rows(
            url, "SELECT case_id, seq, action, data FROM audit_event WHERE case_id IS NOT NULL"
        )
    }
    for key, run, payload in aftermath.rows(
        url, "SELECT key, external_id, payload FROM outbox WHERE topic = 'stage_flow'"
    ):
        rows[key.removeprefix("flow:")] = run
        _, case_id, stage, seq = key.split(":")
        action, data = events[(int(case_id), int(seq))]  # the event it carries on
        assert data["stage"] == stage, (key, action, data)
        if not json.loads(payload)["event"].startswith(DEADLINE_EVENT):
            assert action.startswith("case."), (key, action)
            per_case[int(case_id)] += 1
    # Filing enters the first stage: a case's stage entries are its transitions.
    entered = dict(aftermath.rows(url, "SELECT id, stage_entry FROM conduct_case"))
    assert per_case == Counter(entered), (per_case, entered)
    assert rows and None not in rows.values()
    runs = aftermath.rows(
        top.prefect_database_url,
        "SELECT flow_run.idempotency_key, flow_run.id, flow_run.state_type FROM flow_run"
        " JOIN flow ON flow.id = flow_run.flow_id WHERE flow.name = 'case-stage'",
    )
    per_key = Counter(key for key, _, _ in runs)
    assert set(per_key) == set(rows) and set(per_key.values()) == {1}, per_key
    for key, run_id, state in runs:
        assert (str(uuid.UUID(str(run_id))), str(state)) == (rows[key], "COMPLETED"), key


def _figures(top: Topology, load: Load, kills: list[Kill], loaded: float, settled: float) -> None:
    """What the runbook quotes: requests, cases, transitions, kills, recovery, errors."""
    url = top.database_url
    [(transitions,)] = aftermath.rows(url, "SELECT sum(stage_entry) FROM conduct_case")
    [(runs,)] = aftermath.rows(url, "SELECT count(*) FROM outbox WHERE topic = 'stage_flow'")
    [(events,)] = aftermath.rows(url, "SELECT count(*) FROM audit_event")
    [(fired,)] = aftermath.rows(
        url, "SELECT count(*) FROM deadline WHERE state IN ('fired', 'skipped')"
    )
    messages = aftermath.messages(top.database_url)
    errors = Counter(reason for _, reason in load.failed)
    replays = sum(a.replayed for a in load.answered)
    print(
        f"figures: {len(load.answered)} requests answered 2xx ({replays} replays) over"
        f" {len(load.answered) + len(load.failed)} tries; {CASES} cases; {events} audit events;"
        f" {transitions} transitions + {fired} deadline steps = {runs} stage runs, each"
        f" one completed Prefect run; {messages} messages, each delivered once"
    )
    print(f"errors seen by the client through nginx: {dict(errors) or 'none'}")
    for kill in kills:
        recovered = f"{kill.recovered:.1f} s" if kill.recovered is not None else "-"
        print(
            f"killed {kill.what} {kill.name} at {kill.at:.1f} s (after {kill.after_answers}"
            f" answers); next 2xx {recovered} later"
        )
    print(f"stage runs claimed more than once (a killed host's, run again): {_rerun(top)}")
    print(f"load done in {loaded:.1f} s; everything settled {settled:.1f} s after it began")
    print("answered by:", _upstreams(top))


def _rerun(top: Topology) -> int:
    """Stage runs that went Pending more than once: claimed by a host that then died (or
    whose claim's answer was lost with a Prefect server), scheduled again and run."""
    [(count,)] = aftermath.rows(
        top.prefect_database_url,
        "SELECT count(*) FROM (SELECT flow_run_id FROM flow_run_state"
        " JOIN flow_run ON flow_run.id = flow_run_state.flow_run_id"
        " JOIN flow ON flow.id = flow_run.flow_id WHERE flow.name = 'case-stage'"
        " AND flow_run_state.type = 'PENDING' GROUP BY flow_run_id HAVING count(*) > 1) AS twice",
    )
    return int(count)


def _upstreams(top: Topology) -> str:
    """The proxy's access log: POSTs per upstream and status (a killed replica's request
    shows as 502), the slowest, and for each 5xx how long until the next 2xx."""
    names = {f"127.0.0.1:{port}": name for name, port in top.ports.items()}
    counted: Counter[str] = Counter()
    posts = []
    for line in (top.others[-1].log.parent / "access.log").read_text().splitlines():
        at, took, method, _uri, status, upstream = line.split(" ", 5)
        if method == "POST":
            last = upstream.split(", ")[-1]
            counted[f"{names.get(last, last)} {status}"] += 1
            posts.append((float(at), float(took), int(status)))
    gaps = [
        min((t for t, _, s in posts if t > at and s < 300), default=at) - at
        for at, _, status in posts
        if status >= 500
    ]
    slowest = max((took for _, took, _ in posts), default=0.0)
    return (
        f"{dict(sorted(counted.items()))}; slowest POST {slowest:.2f} s;"
        f" from each 5xx to the next 2xx: {', '.join(f'{g:.1f} s' for g in gaps) or '-'}"
    )
