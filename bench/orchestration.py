"""Orchestration cost: intake latency with Prefect on and off, a burst of reports drained
through stage runs, and CPU per stage run in-process against `flow.serve`'s subprocesses.

    .venv/bin/python bench/orchestration.py [--intake 300] [--rounds 1] [--burst 1000]
                                            [--serve-sample 5] [--parent-runs 200]

1. `qingfeng up` with orchestration off, then on (embedded Prefect server, runner child
   running stage runs in-process): p50/p99 of POST /reports, 4 clients. Target: on <= 1.3 x off.
2. With orchestration on: a burst of N reports; time until every stage run completed, and
   CPU-seconds per stage run of our processes (the `up` process tree less the Prefect
   server's) and, separately, of the Prefect server's tree.
   Target: <= 0.2 CPU-s per run for ours (0.105 before the runner kept the engine's
   suspension watch).
3. The same flow run by `case_stage.serve()` (a subprocess per run) on a small sample:
   CPU-seconds per run of the serve process and its children, and its ratio to part 2's
   (the in-process runner stays only while alternatives cost > 3x its CPU per run).
4. The parent-run bookkeeping (bench/parent_runs.py): API calls and CPU per stage run
   dispatched under its case's run against the bare child create.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.actions import drive, free_port, process_cpu_seconds, start, stop  # noqa: E402
from bench.cpu import snapshot, spent  # noqa: E402
from bench.parent_runs import bench_parent_runs, prefect_server  # noqa: E402
from cases.demo import seed_organisation  # noqa: E402
from cases.store.db import Database, UnitOfWork  # noqa: E402
from cases.store.migrate import upgrade  # noqa: E402

REPORT = {
    "unit": "cs-su",
    "subject_handle": "2023010001",
    "subject_name": "张三",
    "summary": "学生会干部搞圈子",
    "details": "在部门内搞小圈子,排斥新成员,活动经费使用不公开。",
    "category": "cliques",
}


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children (Linux /proc)."""
    seconds = process_cpu_seconds(pid, reaped_children=True)
    assert seconds is not None, f"process {pid} is gone"
    return seconds


def prefect_server_pid(port: int) -> int | None:
    found = subprocess.run(
        ["pgrep", "-f", f"prefect server start .*--port {port}"], capture_output=True, text=True
    ).stdout.split()
    return int(found[0]) if found else None


def runner_pid(up_pid: int) -> int:
    """The `qingfeng runner` child of a `qingfeng up`."""
    found = subprocess.run(
        ["pgrep", "-P", str(up_pid), "-f", "api.cli runner"], capture_output=True, text=True
    ).stdout.split()
    assert found, "no runner child"
    return int(found[0])


def stage_runs(db_file: Path) -> dict[str, int]:
    with sqlite3.connect(db_file) as connection:
        return dict(
            connection.execute(
                "SELECT state, count(*) FROM outbox WHERE topic='stage_flow' GROUP BY state"
            ).fetchall()
        )


def unthrottled_policy(workdir: Path) -> Path:
    """The shipped policy with intake limits far above the bench's load: the bench measures
    what filing costs, not the limit that would refuse its fifth report an hour."""
    policy = yaml.safe_load((ROOT / "config" / "policy.yaml").read_text(encoding="utf-8"))
    policy["intake"] = {"per_client_per_hour": 10_000, "overall_per_hour": 1_000_000}
    path = workdir / "bench-policy.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return path


def up(workdir: Path, *, orchestration: bool) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port, prefect_port = free_port(), free_port()
    env = {
        "QINGFENG_POLICY_FILE": str(unthrottled_policy(workdir)),
        "QINGFENG_DATA_DIR": str(workdir),
        "QINGFENG_PORT": str(port),
        "QINGFENG_PREFECT_PORT": str(prefect_port),
        "QINGFENG_ORCHESTRATION": str(orchestration).lower(),
        "QINGFENG_LOG_LEVEL": "WARNING",
    }
    os.environ.pop("PREFECT_API_URL", None)
    process = start([sys.executable, "-m", "api.cli", "up", "--no-migrate"], env, port, "/readyz")
    if orchestration:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            checks = httpx.get(f"http://127.0.0.1:{port}/readyz").json()["checks"]
            if checks.get("orchestration") == "ready":
                break
            time.sleep(0.5)
    return process, env


def intake_latency(port: int, total: int) -> list[float]:
    async def request(client: httpx.AsyncClient, worker: int, n: int) -> httpx.Response:
        return await client.post(f"http://127.0.0.1:{port}/reports", json=REPORT)

    _, latencies, errors = asyncio.run(drive(4, total, 20, request))
    assert errors == 0
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def fresh(workdir: Path) -> Path:
    """A migrated database with the demo organisation in ``workdir``."""
    workdir.mkdir()
    url = f"sqlite:///{workdir / 'qingfeng.db'}"
    upgrade(url)
    db = Database(url)
    seed_organisation(UnitOfWork(db))
    db.dispose()
    return workdir


def intake_round(workdir: Path, orchestration: bool, requests: int) -> list[float]:
    """One `up` on ``workdir``; the latencies of ``requests`` reports filed."""
    process, env = up(workdir, orchestration=orchestration)
    try:
        latencies = intake_latency(int(env["QINGFENG_PORT"]), requests)
    finally:
        stop(process)
    label = "on " if orchestration else "off"
    print(
        f"   orchestration {label}: p50 {pct(latencies, 0.5):.1f} ms, "
        f"p99 {pct(latencies, 0.99):.1f} ms"
    )
    return latencies


def bench_intake(root: Path, args: argparse.Namespace) -> Path:
    """Off and on in turn (``--rounds`` of each, so the machine's drift weighs on both),
    each way on its own database; returns the one orchestration ran on."""
    print(
        f"1. POST /reports latency, 4 clients, {args.intake} requests a round, "
        f"{args.rounds} round(s) each way"
    )
    workdirs = {way: fresh(root / ("on" if way else "off")) for way in (False, True)}
    pooled: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for orchestration in (False, True):
            pooled[orchestration] += intake_round(
                workdirs[orchestration], orchestration, args.intake
            )
    p50, p99 = ({way: pct(v, q) for way, v in pooled.items()} for q in (0.5, 0.99))
    ratio = p99[True] / p99[False]
    print(
        f"   pooled: p99 off {p99[False]:.1f} ms, on {p99[True]:.1f} ms; p99 on/off = {ratio:.2f}"
        f"   target <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}   (p50 on/off = "
        f"{p50[True] / p50[False]:.2f})"
    )
    return workdirs[True]


class Burst:
    """CPU of a running `up`: our processes (its tree less the Prefect server's), the
    runner child alone, and the Prefect server's tree."""

    def __init__(self, up_pid: int, server_pid: int) -> None:
        self.up_pid, self.server_pid, self.runner = up_pid, server_pid, runner_pid(up_pid)

    def snapshots(self) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
        ours = snapshot(self.up_pid, excluding=frozenset({self.server_pid}))
        return ours, snapshot(self.runner), snapshot(self.server_pid)


def drain(db_file: Path, port: int, reports: int, window: float) -> tuple[float, float]:
    """File ``reports`` reports; seconds until filed, and until every stage run ended (or
    ``window`` seconds passed, if not 0)."""
    began = time.perf_counter()
    intake_latency(port, reports)
    filed = time.perf_counter() - began
    while set(stage_runs(db_file)) - {"done", "dead"}:  # every report so far, run
        if window and time.perf_counter() - began > window:
            break
        time.sleep(0.5)
    return filed, time.perf_counter() - began


def bench_burst(workdir: Path, args: argparse.Namespace) -> float:
    """Returns our CPU-seconds per stage run."""
    print(f"2. a burst of {args.burst} reports, drained through case-stage runs")
    db_file = workdir / "qingfeng.db"
    before = stage_runs(db_file).get("done", 0)
    process, env = up(workdir, orchestration=True)
    server = prefect_server_pid(int(env["QINGFENG_PREFECT_PORT"]))
    assert server is not None
    try:
        burst = Burst(process.pid, server)
        start_cpu = burst.snapshots()
        filed, drained = drain(db_file, int(env["QINGFENG_PORT"]), args.burst, args.window)
        ours, runner, theirs = (
            spent(a, b) for a, b in zip(start_cpu, burst.snapshots(), strict=True)
        )
        runs = stage_runs(db_file)["done"] - before
    finally:
        stop(process)
    left = sum(n for state, n in stage_runs(db_file).items() if state not in ("done", "dead"))
    print(
        f"   {args.burst} reports filed in {filed:.1f} s; {runs} stage runs completed in "
        f"{drained:.1f} s after the first report ({runs / drained:.2f} runs/s; {left} not yet)"
    )
    per_run = ours / runs
    print(
        f"   CPU-s per stage run: our processes {per_run:.3f} (runner child {runner / runs:.3f};"
        f" before, without the suspension watch: 0.105)   target <= 0.2: "
        f"{'met' if per_run <= 0.2 else 'NOT met'}"
    )
    print(
        f"   Prefect server {theirs / runs:.3f} CPU-s per stage run (before: 0.50); "
        f"together {(ours + theirs) / runs:.3f}"
    )
    return per_run


def serve_env(workdir: Path, api_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "QINGFENG_DATA_DIR": str(workdir),
    }


def run_served(workdir: Path, env: dict[str, str], sample: int) -> None:
    """``sample`` runs of `case-stage/serve-bench` for the last case filed, each waited on."""
    with sqlite3.connect(workdir / "qingfeng.db") as connection:
        case_id, seq = connection.execute(
            "SELECT case_id, max(seq) FROM audit_event WHERE case_id IS NOT NULL"
        ).fetchone()
    code = (
        "from prefect.deployments import run_deployment\n"
        f"for i in range({sample}):\n"
        "    run_deployment('case-stage/serve-bench', timeout=600, parameters="
        f"{{'case_id': {case_id}, 'stage': 'investigation', 'action_id': {seq}}})\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)


def bench_serve(workdir: Path, args: argparse.Namespace, in_process: float | None) -> None:
    print(f"3. the same flow under flow.serve (a subprocess per run), {args.serve_sample} runs")
    with prefect_server(workdir / "serve-prefect") as (_, api_url):
        env = serve_env(workdir, api_url)
        serve = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from flows.stage import case_stage; case_stage.serve(name='serve-bench', limit=1)",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(8)  # the deployment registers
            cpu0, began = tree_cpu(serve.pid), time.perf_counter()
            run_served(workdir, env, args.serve_sample)
            elapsed, cpu = time.perf_counter() - began, tree_cpu(serve.pid) - cpu0
        finally:
            serve.terminate()
            serve.wait(20)
    per_run = cpu / args.serve_sample
    print(
        f"   {args.serve_sample} runs in {elapsed:.1f} s; CPU per run (serve process + its "
        f"children) {per_run:.2f} s (before: 4.81)"
    )
    if in_process:
        ratio = per_run / in_process
        print(
            f"   flow.serve / in-process runner CPU per run = {ratio:.1f}   "
            f"in-process runner kept only if > 3: {'yes' if ratio > 3 else 'NO'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--intake", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="part 1: off/on rounds")
    parser.add_argument("--burst", type=int, default=1000, help="0 skips part 2")
    parser.add_argument(
        "--window", type=float, default=0, help="part 2: stop measuring after s (0: drained)"
    )
    parser.add_argument("--serve-sample", type=int, default=5, help="0 skips part 3")
    parser.add_argument("--parent-runs", type=int, default=200, help="0 skips part 4")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; embedded default (SQLite app, local Prefect server on SQLite)")
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as tmp:
        workdir = bench_intake(Path(tmp), args)
        in_process = bench_burst(workdir, args) if args.burst else None
        if args.serve_sample:
            bench_serve(workdir, args, in_process)
        if args.parent_runs:
            bench_parent_runs(Path(tmp), args.parent_runs)


if __name__ == "__main__":
    main()
