"""The parent-run bookkeeping's cost: stage runs dispatched under their case's run
(`CaseRuns.parent_of` + `nest` + the child's create) against the bare child create only,
on one Prefect server, same N. Counts API calls and CPU-seconds (this process, and the
server's process tree) per dispatched run.

    .venv/bin/python bench/parent_runs.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.actions import free_port  # noqa: E402
from bench.cpu import snapshot, spent  # noqa: E402
from cases.outbox import CaseStatus  # noqa: E402
from cases.procedure.vocabulary import Stage  # noqa: E402

Figures = dict[str, float]


@contextmanager
def prefect_server(home: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A Prefect server of its own (SQLite under ``home``); yields it and its API URL."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    prefect = str(Path(sys.executable).with_name("prefect"))
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield server, api_url
    finally:
        server.terminate()
        server.wait(30)


def status(case_id: int) -> CaseStatus:
    return CaseStatus(
        case_id=case_id,
        reference=f"QF-BENCH-{case_id:06d}",
        stage=Stage.INVESTIGATION,
        overdue=False,
        escalation=None,
    )


def measure(server_pid: int, client: Any, runs: int, one: Callable[[int], None]) -> Figures:
    """API calls, our CPU-s and the server's CPU-s per run of ``one`` over ``runs`` runs."""
    calls = [0]
    client._client.event_hooks["request"].append(
        lambda _request: calls.__setitem__(0, calls[0] + 1)
    )
    server0, ours0, began = snapshot(server_pid), time.process_time(), time.perf_counter()
    for n in range(runs):
        one(n)
    ours, wall = time.process_time() - ours0, time.perf_counter() - began
    time.sleep(1.0)  # the server's log/event work after the last answer
    theirs = spent(server0, snapshot(server_pid))
    client._client.event_hooks["request"].pop()
    return {
        "calls": calls[0] / runs,
        "ours": ours / runs,
        "server": theirs / runs,
        "ms": wall / runs * 1000,
    }


def ways(client: Any, stage_id: Any, case_runs: Any) -> dict[str, Callable[[int], None]]:
    """The ways a stage run is created, each for run ``n`` (fresh idempotency keys)."""
    from flows.case_flow import run_label

    def child(case_id: int, action_id: int, parent_task: Any = None) -> None:
        reference = status(case_id).reference
        client.create_flow_run_from_deployment(
            stage_id,
            parameters={"case_id": case_id, "stage": "investigation", "action_id": action_id},
            idempotency_key=f"bench:{case_id}:investigation:{action_id}",
            name=f"{reference} · investigation",
            tags=[f"case:{reference}", "stage:investigation"],
            parent_task_run_id=parent_task,
        )

    def nested(case_id: int, action_id: int) -> None:
        parent = case_runs.parent_of(client, status(case_id))
        key = f"{case_id}:investigation:{action_id}"
        label = run_label({"stage": "investigation", "event": "accepted"})
        child(case_id, action_id, case_runs.nest(client, parent, key, label))

    return {
        "bare child create": lambda n: child(100_000 + n, 2),
        "nested, new case": lambda n: nested(200_000 + n, 2),  # creates the case's run
        "nested, known case": lambda n: nested(200_000 + n, 3),  # its run remembered
    }


def one_way(workdir: Path, name: str, runs: int) -> Figures:
    """``runs`` stage runs created the way ``name`` against a fresh Prefect server of its own
    (the runs are never executed: a backlog of Scheduled runs costs the server's loop
    services more each minute, so the ways must not share one)."""
    with prefect_server(workdir / name.replace(" ", "-").replace(",", "")) as (server, api_url):
        os.environ.update(
            {
                "PREFECT_API_URL": api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_LOGGING_LEVEL": "WARNING",
            }
        )
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from cases.files import load_policy
        from config.settings import DEFAULT_POLICY_FILE
        from flows.case_flow import CaseRuns
        from flows.dispatch import deploy

        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            deployments = deploy()
            case_runs = CaseRuns(deployments.case, load_policy(DEFAULT_POLICY_FILE), namespace="b:")
            return _measure_way(
                server, get_client(sync_client=True), deployments, case_runs, name, runs
            )


def _measure_way(
    server: subprocess.Popen[bytes],
    client: Any,
    deployments: Any,
    case_runs: Any,
    name: str,
    runs: int,
) -> Figures:
    with client:
        chosen = ways(client, deployments.stage, case_runs)
        chosen["bare child create"](-1)  # warm: connection, CSRF, first-call imports
        if name == "nested, known case":
            for n in range(runs):  # the cases' runs exist and are remembered
                chosen["nested, new case"](n)
        return measure(server.pid, client, runs, chosen[name])


def bench_parent_runs(workdir: Path, runs: int) -> dict[str, Figures]:
    """Each way, ``runs`` times, each on a fresh Prefect server; prints the table."""
    print(f"4. parent-run bookkeeping: {runs} stage runs each way, a fresh Prefect server each")
    names = ("bare child create", "nested, new case", "nested, known case")
    figures = {name: one_way(workdir, name, runs) for name in names}
    report(figures)
    return figures


def report(figures: dict[str, Figures]) -> None:
    bare = figures["bare child create"]
    for name, f in figures.items():
        print(
            f"   {name:19} {f['calls']:.1f} API calls, {f['ms']:.1f} ms, CPU-s per run: "
            f"ours {f['ours']:.4f}, server {f['server']:.4f}   x bare: calls "
            f"{f['calls'] / bare['calls']:.2f}, ours {f['ours'] / bare['ours']:.2f}, "
            f"server {f['server'] / bare['server']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as tmp:
        bench_parent_runs(Path(tmp), args.runs)


if __name__ == "__main__":
    main()
