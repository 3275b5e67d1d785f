"""Orchestration cost: intake latency with Prefect on and off, a burst of reports drained
through stage runs, and CPU per stage run in-process against `flow.serve`'s subprocesses.

    .venv/bin/python bench/orchestration.py [--intake 300] [--burst 1000] [--serve-sample 5]

1. `qingfeng up` with orchestration off, then on (embedded Prefect server, runner child
   running stage runs in-process): p50/p99 of POST /reports, 4 clients. Target: on <= 1.1 x off.
2. With orchestration on: a burst of N reports; time until every stage run completed, and
   CPU-seconds per stage run of the `qingfeng runner` child of `up` and of the Prefect
   server (and the API process's CPU per report, beside).
   Target: <= 0.2 CPU-s per run for the runner.
3. The same flow run by `case_stage.serve()` (a subprocess per run) on a small sample:
   CPU-seconds per run of the serve process and its children.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.actions import drive, free_port, process_cpu_seconds, start, stop  # noqa: E402
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
        ["pgrep", "-P", str(up_pid), "-f", "api.cli.main runner"], capture_output=True, text=True
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


def up(workdir: Path, *, orchestration: bool) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port, prefect_port = free_port(), free_port()
    env = {
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


def bench_intake(root: Path, args: argparse.Namespace) -> Path:
    """Each way on its own fresh database; returns the one orchestration ran on."""
    print(f"1. POST /reports latency, 4 clients, {args.intake} requests each way")
    figures = {}
    for orchestration in (False, True):
        workdir = fresh(root / ("on" if orchestration else "off"))
        process, env = up(workdir, orchestration=orchestration)
        try:
            latencies = intake_latency(int(env["QINGFENG_PORT"]), args.intake)
        finally:
            stop(process)
        figures[orchestration] = (pct(latencies, 0.5), pct(latencies, 0.99))
        label = "on " if orchestration else "off"
        print(
            f"   orchestration {label}: p50 {figures[orchestration][0]:.1f} ms, "
            f"p99 {figures[orchestration][1]:.1f} ms"
        )
    ratio = figures[True][1] / figures[False][1]
    print(
        f"   p99 on/off = {ratio:.2f}   target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'}"
        f"   (p50 on/off = {figures[True][0] / figures[False][0]:.2f})"
    )
    return workdir


def bench_burst(workdir: Path, args: argparse.Namespace) -> None:
    print(f"2. a burst of {args.burst} reports, drained through case-stage runs")
    db_file = workdir / "qingfeng.db"
    before = stage_runs(db_file).get("done", 0)
    process, env = up(workdir, orchestration=True)
    server = prefect_server_pid(int(env["QINGFENG_PREFECT_PORT"]))
    assert server is not None
    runner = runner_pid(process.pid)
    try:
        api, ours, theirs = tree_cpu(process.pid), tree_cpu(runner), tree_cpu(server)
        began = time.perf_counter()
        intake_latency(int(env["QINGFENG_PORT"]), args.burst)
        filed = time.perf_counter() - began
        while set(stage_runs(db_file)) - {"done", "dead"}:  # every report so far, run
            time.sleep(0.5)
        drained = time.perf_counter() - began
        runs = stage_runs(db_file)["done"] - before
        api = tree_cpu(process.pid) - api
        ours, theirs = tree_cpu(runner) - ours, tree_cpu(server) - theirs
    finally:
        stop(process)
    print(
        f"   {args.burst} reports filed in {filed:.1f} s; all {runs} stage runs completed "
        f"{drained:.1f} s after the first report ({runs / drained:.1f} runs/s)"
    )
    per_run = ours / runs
    print(
        f"   CPU per stage run: runner (qingfeng runner process) {per_run:.3f} s, Prefect "
        f"server {theirs / runs:.3f} s, together {(ours + theirs) / runs:.3f} s   "
        f"target <= 0.2 (runner): {'met' if per_run <= 0.2 else 'NOT met'}"
    )
    print(f"   beside: the API process (intake) {api / args.burst:.3f} CPU-s per report")


def bench_serve(workdir: Path, args: argparse.Namespace) -> None:
    print(f"3. the same flow under flow.serve (a subprocess per run), {args.serve_sample} runs")
    port = free_port()
    home = workdir / "serve-prefect"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "QINGFENG_DATA_DIR": str(workdir),
    }
    home.mkdir()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "server", "start", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    serve = None
    try:
        while True:
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
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
        time.sleep(8)  # the deployment registers
        with sqlite3.connect(workdir / "qingfeng.db") as connection:
            case_id, seq = connection.execute(
                "SELECT case_id, max(seq) FROM audit_event WHERE case_id IS NOT NULL"
            ).fetchone()
        cpu0, began = tree_cpu(serve.pid), time.perf_counter()
        code = (
            "from prefect.deployments import run_deployment\n"
            f"for i in range({args.serve_sample}):\n"
            "    run_deployment('case-stage/serve-bench', timeout=600, parameters="
            f"{{'case_id': {case_id}, 'stage': 'investigation', 'action_id': {seq}}})\n"
        )
        subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True
        )
        elapsed, cpu = time.perf_counter() - began, tree_cpu(serve.pid) - cpu0
    finally:
        for process in (serve, server):
            if process:
                process.terminate()
                process.wait(20)
    print(
        f"   {args.serve_sample} runs in {elapsed:.1f} s; CPU per run (serve process + its "
        f"children) {cpu / args.serve_sample:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--intake", type=int, default=300)
    parser.add_argument("--burst", type=int, default=1000, help="0 skips part 2")
    parser.add_argument("--serve-sample", type=int, default=5, help="0 skips part 3")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; embedded default (SQLite app, local Prefect server on SQLite)")
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as tmp:
        workdir = bench_intake(Path(tmp), args)
        if args.burst:
            bench_burst(workdir, args)
        if args.serve_sample:
            bench_serve(workdir, args)


if __name__ == "__main__":
    main()
