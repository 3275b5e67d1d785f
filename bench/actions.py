"""Staff-action throughput and latency, against a bare FastAPI + SQLModel baseline.

    .venv/bin/python bench/actions.py [--cases 100000] [--clients 16] [--requests 4000]
                                      [--rate 50] [--open 1000]

Seeds N intake cases, starts the real service (`qingfeng up`) on a fresh SQLite file and
drives staff actions over HTTP from 16 concurrent clients (accept, record-evidence,
record-interview, record-statement, submit-findings: each with If-Match, as the API
demands). Then, in the same run, the same client load against a bare FastAPI + SQLModel
app that inserts one row per request on the same kind of database. Prints req/s and
p50/p99 for both and the ratio.

Open loop (``--open`` requests, 0: skipped): requests arrive as a Poisson process at
``--rate`` per second whether or not earlier ones have been answered, as staff do; each
latency counts from the request's arrival time, so time spent queued counts too. Target:
qingfeng's p99 at most 3x the bare app's at the same rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.seed import seed_intake_cases  # noqa: E402
from cases.demo import seed_organisation  # noqa: E402
from cases.files import load_policy  # noqa: E402
from cases.store.db import Database, UnitOfWork  # noqa: E402
from cases.store.migrate import upgrade  # noqa: E402
from config.settings import DEFAULT_POLICY_FILE  # noqa: E402

SHA = "0" * 64
STEPS: list[tuple[str, dict[str, object]]] = [
    ("accept", {"category": "formalism", "severity": "minor", "investigators": ["inv.wang"]}),
    ("record-evidence", {"description": "签到表", "sha256": SHA}),
    (
        "record-interview",
        {"interviewee": "部门成员", "summary": "情况属实", "held_on": "2026-11-20"},
    ),
    ("record-statement", {"statement": "本人陈述"}),
    (
        "submit-findings",
        {"result": "substantiated", "summary": "属实", "recommended_disposition": "criticism"},
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unthrottled_policy(workdir: Path) -> Path:
    """The policy with the per-token limit lifted: the bench drives one token from every
    client, as no person would (policy api.per_token_per_minute)."""
    policy = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    policy["api"]["per_token_per_minute"] = 1_000_000
    target = workdir / "policy.yaml"
    target.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return target


def start(
    command: list[str], env: dict[str, str], port: int, ready_path: str
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(
        f"server did not start: {process.stderr.read().decode() if process.stderr else ''}"
    )


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float | None:
    """User and system CPU seconds of ``pid`` so far (with those of its children it has
    waited for, if asked); None if it is gone (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = fields[11:15] if reaped_children else fields[11:13]
    return sum(int(tick) for tick in ticks) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    seconds = process_cpu_seconds(pid)
    assert seconds is not None, f"process {pid} is gone"
    return seconds


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(2)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


async def drive(
    clients: int,
    total: int,
    warmup: int,
    request: Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]],
) -> tuple[float, list[float], int]:
    """Run ``total`` requests from ``clients`` workers; returns (req/s, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    per_client = total // clients
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(index: int, count: int, record: bool) -> None:
            nonlocal errors
            for n in range(count):
                began = time.perf_counter()
                response = await request(client, index, n)
                if record:
                    latencies.append(time.perf_counter() - began)
                if response.status_code >= 300:
                    errors += 1
                    if errors < 3:
                        print("  error:", response.status_code, response.text[:200])

        await asyncio.gather(*(worker(i, warmup // clients, False) for i in range(clients)))
        began = time.perf_counter()
        await asyncio.gather(*(worker(i + clients, per_client, True) for i in range(clients)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies, errors


async def open_loop(
    rate: float, total: int, warmup: int, request: Request
) -> tuple[float, list[float], int]:
    """``warmup + total`` requests arriving at ``rate``/s (Poisson, a fixed seed); returns
    (achieved req/s, latencies from each arrival of the measured ones, errors)."""
    arrivals, errors, latencies = random.Random(14), 0, list[float]()
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(n: int, due: float) -> None:
            nonlocal errors
            response = await request(client, 0, n)
            if n >= warmup:
                latencies.append(time.perf_counter() - due)
            if response.status_code >= 300:
                errors += 1
                if errors < 3:
                    print("  error:", response.status_code, response.text[:200])

        tasks, due = [], time.perf_counter()
        for n in range(warmup + total):
            due += arrivals.expovariate(rate)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n, due)))
            if n == warmup:
                began = due
        await asyncio.gather(*tasks)
    return total / (due - began), latencies, errors


def summary(name: str, rate: float, latencies: list[float], errors: int) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    row = {"rate": rate, "p50": cuts[49] * 1000, "p99": cuts[98] * 1000}
    print(
        f"{name:34} {rate:8.1f} req/s   p50 {row['p50']:6.1f} ms   p99 {row['p99']:6.1f} ms"
        f"   errors {errors}"
    )
    return row


Request = Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]]
Rows = tuple[dict[str, float], dict[str, float], dict[str, float] | None]  # closed, 1, open


def staff_actions(
    port: int, token: str, references: list[str], *, block: int, lone: int
) -> Request:
    """Requests that walk cases through STEPS carrying each case's ETag: worker ``w``
    takes cases from ``w * block`` on; worker -1 (a lone client) from ``lone`` on."""
    versions: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}

    async def request(client: httpx.AsyncClient, worker: int, n: int) -> httpx.Response:
        first = lone if worker < 0 else worker * block
        reference = references[first + n // len(STEPS)]
        path, body = STEPS[n % len(STEPS)]
        return await _act(client, port, headers, versions, reference, path, body)

    return request


async def _act(
    client: httpx.AsyncClient,
    port: int,
    headers: dict[str, str],
    versions: dict[str, int],
    reference: str,
    path: str,
    body: dict[str, object],
) -> httpx.Response:
    """One staff action with the case's last ETag; a success moves the version kept."""
    response = await client.post(
        f"http://127.0.0.1:{port}/cases/{reference}/{path}",
        json=body,
        headers={**headers, "If-Match": f'"{versions.get(reference, 1)}"'},
    )
    if response.status_code == 200:
        versions[reference] = int(response.headers["ETag"].strip('"'))
    return response


def spread_actions(port: int, token: str, references: list[str], *, gap: int) -> Request:
    """For the open loop: the steps interleave (arrival ``n`` is step ``n % 5``, as mixed as
    the closed loop's), and a case's next step comes ``gap`` rounds of 5 arrivals after its
    last. Before a step's first case reaches it, that slot accepts a spare case instead."""
    versions: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    spare = iter(references[len(references) // len(STEPS) :])

    async def request(client: httpx.AsyncClient, worker: int, n: int) -> httpx.Response:
        round_, step = divmod(n, len(STEPS))
        case = round_ - step * gap
        reference = references[case] if case >= 0 else next(spare)
        path, body = STEPS[step if case >= 0 else 0]
        return await _act(client, port, headers, versions, reference, path, body)

    return request


def bench_service(workdir: Path, args: argparse.Namespace) -> Rows:
    url = f"sqlite:///{workdir / 'qingfeng.db'}"
    upgrade(url)
    db = Database(url)
    tokens = seed_organisation(UnitOfWork(db))
    began = time.perf_counter()
    references = seed_intake_cases(
        db, load_policy(DEFAULT_POLICY_FILE), count=args.cases, unit_code="cs-su"
    )
    print(f"seeded {len(references)} cases in {time.perf_counter() - began:.1f} s")
    db.dispose()
    port = free_port()
    env = {
        "QINGFENG_DATA_DIR": str(workdir),
        "QINGFENG_POLICY_FILE": str(unthrottled_policy(workdir)),
        "QINGFENG_DATABASE_URL": url,
        "QINGFENG_PORT": str(port),
        "QINGFENG_LOG_LEVEL": "WARNING",
        "QINGFENG_ORCHESTRATION": "false",  # staff actions alone; bench/orchestration.py adds it
    }
    server = start([sys.executable, "-m", "api.cli", "up", "--no-migrate"], env, port, "/readyz")
    # Each worker (warm-up and measured ones) walks its own block of cases.
    block = (args.requests + args.warmup) // args.clients // len(STEPS) + 2
    single_base = block * 2 * args.clients
    open_base = single_base + args.single // len(STEPS) + 1
    # A case's next step comes 5 s after its last (answered by then, unless the server has
    # fallen that far behind), so the open loop sees no 412 of its own making.
    gap = max(1, int(args.rate))  # rounds of 5 arrivals: 5 s at --rate
    # One case per round, then spares: at most 4 per round fill the slots not yet reached.
    spread = len(STEPS) * ((args.open + args.warmup) // len(STEPS) + 1)
    if open_base + spread > len(references):
        raise SystemExit(f"--cases must be at least {open_base + spread}")
    request = staff_actions(port, tokens["inv.wang"], references, block=block, lone=single_base)
    walk = references[open_base : open_base + spread]
    arrivals = spread_actions(port, tokens["inv.wang"], walk, gap=gap)

    try:
        return run_both("qingfeng staff actions", args, request, server.pid, arrivals)
    finally:
        stop(server)


def bench_baseline(workdir: Path, args: argparse.Namespace) -> Rows:
    port = free_port()
    env = {"BENCH_DATABASE_URL": f"sqlite:///{workdir / 'baseline.db'}"}
    server = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.baseline_app:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env,
        port,
        "/docs",
    )

    async def request(client: httpx.AsyncClient, worker: int, n: int) -> httpx.Response:
        return await client.post(
            f"http://127.0.0.1:{port}/rows",
            json={"reference": f"QF-2026-{worker:03d}{n:05d}", "payload": "签到表 " + SHA},
        )

    try:
        return run_both("baseline: FastAPI+SQLModel insert", args, request, server.pid, request)
    finally:
        stop(server)


def run_both(
    name: str,
    args: argparse.Namespace,
    request: Request,
    pid: int,
    arrivals: Request,
) -> Rows:
    """The loaded run (``--clients`` at once), one client alone (service time), then the
    open loop (``arrivals`` at ``--rate``)."""
    cpu_before = cpu_seconds(pid)
    loaded = summary(
        f"{name}, {args.clients} clients",
        *asyncio.run(drive(args.clients, args.requests, args.warmup, request)),
    )
    # Server CPU per request: steadier than wall-clock rates on a shared machine.
    loaded["cpu_ms"] = (cpu_seconds(pid) - cpu_before) / (args.requests + args.warmup) * 1000
    print(f"{'':46} server CPU {loaded['cpu_ms']:.2f} ms per request")

    async def alone(client: httpx.AsyncClient, worker: int, n: int) -> httpx.Response:
        return await request(client, -1, n)

    single = summary(f"{name}, 1 client", *asyncio.run(drive(1, args.single, 0, alone)))
    if not args.open:
        return loaded, single, None
    at_rate = asyncio.run(open_loop(args.rate, args.open, args.warmup, arrivals))
    return loaded, single, summary(f"{name}, open loop {args.rate:g}/s", *at_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--single", type=int, default=500, help="requests of the 1-client pass")
    parser.add_argument("--rate", type=float, default=50.0, help="open loop: arrivals per s")
    parser.add_argument("--open", type=int, default=1000, help="open loop: requests (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as tmp:
        workdir = Path(tmp)
        print(
            f"{os.cpu_count()} CPUs; {args.clients} concurrent clients, {args.requests} measured "
            f"requests (after {args.warmup} warm-up); then 1 client, {args.single} requests"
        )
        service, service_alone, service_open = bench_service(workdir, args)
        baseline, baseline_alone, baseline_open = bench_baseline(workdir, args)
    ratio = service["rate"] / baseline["rate"]
    print(
        f"server CPU per request: qingfeng {service['cpu_ms']:.2f} ms, baseline "
        f"{baseline['cpu_ms']:.2f} ms, ratio {baseline['cpu_ms'] / service['cpu_ms']:.2f}"
    )
    print(
        f"ratio (qingfeng / baseline req/s, {args.clients} clients): {ratio:.2f}"
        f"   target >= 0.45: {'met' if ratio >= 0.45 else 'NOT met'}"
    )
    if service_open and baseline_open:
        slower = service_open["p99"] / baseline_open["p99"]
        print(
            f"open loop at {args.rate:g} req/s: p99 qingfeng {service_open['p99']:.1f} ms, "
            f"baseline {baseline_open['p99']:.1f} ms, ratio {slower:.2f}"
            f"   target <= 3: {'met' if slower <= 3 else 'NOT met'}"
        )
    print(
        f"qingfeng p99 at {args.clients} clients {service['p99']:.1f} ms, alone "
        f"{service_alone['p99']:.1f} ms (baseline {baseline['p99']:.1f} / "
        f"{baseline_alone['p99']:.1f} ms)   target <= 50 ms: "
        f"{'met' if service['p99'] <= 50 else 'NOT met at load'}"
        f"{', met alone' if service_alone['p99'] <= 50 else ''}"
    )
    # Closed loop: with N clients each waiting for its answer, latency = N / throughput
    # (Little's law), so a p99 under 50 ms at 16 clients needs > 320 req/s from one core.
    print(
        f"Little's law at {args.clients} clients: {args.clients / service['rate'] * 1000:.0f} ms"
        f" mean latency for qingfeng, {args.clients / baseline['rate'] * 1000:.0f} ms baseline"
    )


if __name__ == "__main__":
    main()
