"""The case list, the year's 述职 report and the API's memory at 1,000,000 cases.

    .venv/bin/python bench/scale.py [--cases 1000000] [--small 10000] [--db sqlite|postgres|both]
                                    [--requests 400] [--workdir DIR]

For each database and size: writes the cases (``bench/scale_seed.py``: cloned service
timelines over 15 years), starts the API alone under uvicorn (a subprocess), then
- the filtered case list: ``--requests`` GET /cases of varied filters and pages, one
  client, after a warm-up: p99 (target at 1M: at most 1.5x the small figure and <= 50 ms);
- a year's report for the whole committee: GET /performance for last calendar year, the
  median of 3 (target <= 1 s at 1M);
- the API process's resident memory after both (target <= 300 MB).
Prints each figure at both sizes, their ratio, the target and whether it is met. The
databases live in a temporary directory (or ``--workdir``), never in the repository.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.actions import free_port, stop  # noqa: E402
from bench.scale_seed import seed_scale  # noqa: E402
from bench.scale_templates import Template, build_templates  # noqa: E402
from cases.deadlines.calendar import current  # noqa: E402
from cases.demo import seed_organisation  # noqa: E402
from cases.files import load_policy  # noqa: E402
from cases.metrics import projection  # noqa: E402
from cases.people.directory import create_token  # noqa: E402
from cases.store.db import Database, UnitOfWork  # noqa: E402
from cases.store.migrate import upgrade  # noqa: E402
from config.settings import DEFAULT_POLICY_FILE  # noqa: E402
from tests import postgres  # noqa: E402

console = Console()
STAGES = ["intake", "investigation", "verification", "disposition", "appeal_window", "closed"]
UNITS = ["league", "su", "gsu", "cs-su", "law-su", "med-su"]
CATEGORIES = ["formalism", "school_rules", "public_order", "cliques", "self_serving", "other"]


def list_queries(rng: random.Random, count: int) -> list[dict[str, str]]:
    """Varied filters as staff use them: a stage, a unit, a category, an assignee, a
    month filed, overdue, due soon; one to three at a time."""
    this_year = date.today().year
    choices = [
        lambda: {"stage": rng.choice(STAGES)},
        lambda: {"unit": rng.choice(UNITS)},
        lambda: {"category": rng.choice(CATEGORIES)},
        lambda: {"severity": rng.choice(["minor", "serious", "grave"])},
        lambda: {"assignee": rng.choice(["inv.wang", "inv.zhao", "ver.liu"])},
        lambda: _month(rng, this_year),
        lambda: {"overdue": "true"},
        lambda: {"due_within": str(rng.choice([3, 5, 10]))},
    ]
    queries: list[dict[str, str]] = [{}]
    while len(queries) < count:
        query: dict[str, str] = {}
        for pick in rng.sample(choices, rng.choice([1, 1, 2, 2, 3])):
            query |= pick()
        queries.append(query)
    return queries


def _month(rng: random.Random, this_year: int) -> dict[str, str]:
    year, month = rng.randrange(this_year - 14, this_year + 1), rng.randrange(1, 12)
    return {"filed_from": f"{year}-{month:02d}-01", "filed_to": f"{year}-{month + 1:02d}-01"}


@contextmanager
def api(url: str, workdir: Path) -> Iterator[tuple[int, int]]:
    """The API alone (uvicorn, one process) on ``url``: yields (port, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(workdir),
        "QINGFENG_DATABASE_URL": url,
        "QINGFENG_LOG_LEVEL": "WARNING",
        "QINGFENG_ORCHESTRATION": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "api.http.app:create_app", "--factory",
               "--port", str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code < 500:
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                error = process.stderr.read() if process.stderr else b""
                raise SystemExit(f"the API did not start: {error!r}") from None
            time.sleep(0.2)
    try:
        yield port, process.pid
    finally:
        stop(process)


def measure(
    url: str, workdir: Path, token: str, requests: int, reports: int = 3, year: int | None = None
) -> dict[str, float]:
    """List p99 (ms), report median (ms) and the API's peak RSS (MB) on one database."""
    figures: dict[str, float] = {}
    with api(url, workdir) as (port, pid), httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
        timeout=900,
    ) as client:  # fmt: skip
        rss = psutil.Process(pid)
        queries = list_queries(random.Random(7), requests)
        cursors: list[str] = []
        timings = []
        for n, query in enumerate(queries[:40] + queries):
            if cursors and n % 4 == 3:  # every fourth request: the next page of an earlier one
                query = {"cursor": cursors.pop()}
            began = time.perf_counter()
            response = client.get("/cases", params=query)
            took = time.perf_counter() - began
            if response.status_code != 200:
                raise SystemExit(f"GET /cases {query}: {response.status_code} {response.text}")
            if response.json().get("next_cursor") and "cursor" not in query:
                cursors.append(response.json()["next_cursor"])
            if n >= 40:
                timings.append(took * 1000)
        pings = []
        for _ in range(100):  # the floor: a request that reads nothing, on this machine now
            began = time.perf_counter()
            client.get("/healthz")
            pings.append((time.perf_counter() - began) * 1000)
        figures["ping_p99"] = statistics.quantiles(pings, n=100)[98]
        figures["list_p50"] = statistics.median(timings)
        figures["list_p99"] = statistics.quantiles(timings, n=100)[98]
        figures["rss_list"] = rss.memory_info().rss / 2**20
        year = year or date.today().year - 1
        report = []
        for _ in range(reports):
            began = time.perf_counter()
            response = client.get("/performance", params={"from": f"{year}-01-01",
                                                          "to": f"{year}-12-31"})  # fmt: skip
            report.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET /performance: {response.status_code} {response.text}")
        figures["report_ms"] = statistics.median(report)
        figures["rss"] = max(figures["rss_list"], rss.memory_info().rss / 2**20)
    return figures


def populate(url: str, templates: list[Template], count: int, years: int) -> str:
    """Schema, organisation and ``count`` cases at ``url``; returns a secretary's token."""
    upgrade(url)
    db = Database(url)
    tokens = seed_organisation(UnitOfWork(db))
    columns = [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress("[progress.description]{task.description}", *columns, console=console) as bar:
        task = bar.add_task(f"{count:,} cases", total=count)
        stages = seed_scale(
            db, templates, count=count, years=years, progress=lambda n: bar.advance(task, n)
        )
    console.print("  stages:", dict(sorted(stages.items())))
    db.dispose()
    return tokens["sec.li"]


def figure_rows(url: str) -> float:
    """Write the figures' projection of every case (seeded rows bypass the service, so
    none is written yet); the seconds it took (``qingfeng metrics rebuild``)."""
    db, began = Database(url), time.perf_counter()
    columns = [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress("[progress.description]{task.description}", *columns, console=console) as bar:
        task = bar.add_task("figure rows", total=None)
        projection.rebuild(
            db=db, policy=load_policy(DEFAULT_POLICY_FILE), calendar=current(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    db.dispose()
    return time.perf_counter() - began


def run(name: str, urls: dict[int, str], workdir: Path, args: argparse.Namespace,
        templates: list[Template]) -> dict[int, dict[str, float]]:  # fmt: skip
    """Write every size first, then measure each (so both run the same code)."""
    tokens = {}
    for size, url in urls.items():
        if args.reuse:  # written by an earlier run: a new token for the secretary
            db = Database(url)
            tokens[size] = create_token(uow=UnitOfWork(db), handle="sec.li", name="scale")[1]
            with db.reader.connect() as conn:
                held = conn.exec_driver_sql("SELECT count(*), max(filed_at) FROM conduct_case")
                console.print(f"  {url}: cases, last filed:", held.one())
            db.dispose()
            continue
        console.print(f"[bold]{name}, {size:,} cases[/bold]")
        began = time.perf_counter()
        tokens[size] = populate(url, templates, size, args.years)
        console.print(f"  written in {time.perf_counter() - began:.0f} s")
    found = {}
    for size, url in urls.items():
        upgrade(url)  # a migration added since the cases were written
        rebuilt = figure_rows(url)
        found[size] = measure(url, workdir, tokens[size], args.requests, args.reports, args.year)
        found[size]["rebuild_s"] = rebuilt
        console.print(f"  {name}, {size:,}:", {k: round(v, 1) for k, v in found[size].items()})
    return found


def table(
    name: str, small: dict[str, float], big: dict[str, float], sizes: tuple[int, int]
) -> None:
    t = Table(title=name)
    for column in ("figure", f"{sizes[0]:,}", f"{sizes[1]:,}", "ratio", "target", "met?"):
        t.add_column(column)
    rows = [
        (
            "case list p99 (ms)",
            "list_p99",
            lambda s, b: b <= 1.5 * s and b <= 50,
            "≤1.5× and ≤50 ms",
        ),
        ("case list p50 (ms)", "list_p50", lambda s, b: True, "-"),
        ("GET /healthz p99 (ms)", "ping_p99", lambda s, b: True, "- (the floor)"),
        ("year report (ms)", "report_ms", lambda s, b: b <= 1000, "≤1000 ms"),
        ("API RSS (MB)", "rss", lambda s, b: b <= 300, "≤300 MB"),
        ("figure rows rebuilt (s)", "rebuild_s", lambda s, b: True, "- (once, after seeding)"),
    ]
    for label, key, met, target in rows:
        s, b = small[key], big[key]
        t.add_row(
            label, f"{s:.1f}", f"{b:.1f}", f"{b / s:.2f}", target, "yes" if met(s, b) else "NO"
        )
    console.print(t)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--years", type=int, default=15, help="filing spread over N years")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reports", type=int, default=3, help="year reports (the median)")
    parser.add_argument("--year", type=int, default=None, help="the report's year (last year)")
    parser.add_argument(
        "--reuse", type=Path, default=None, help="SQLite: measure the scale-N.db files in DIR"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qingfeng-scale-", dir=args.workdir) as tmp:
        workdir = args.reuse or Path(tmp)
        policy = load_policy(DEFAULT_POLICY_FILE)
        templates = []
        if not args.reuse:
            console.print("templates: driving cases through the service")
            templates = build_templates(workdir, policy)
        sizes = (args.small, args.cases)
        results = {}
        if args.db in ("sqlite", "both"):
            urls = {n: f"sqlite:///{workdir / f'scale-{n}.db'}" for n in sizes}
            results["SQLite"] = run("SQLite", urls, workdir, args, templates)
        if args.db in ("postgres", "both"):
            bin_dir = postgres.binaries()
            if bin_dir is None:
                raise SystemExit("PostgreSQL is not installed (initdb not found)")
            with postgres.server(bin_dir) as server:
                urls = {n: postgres.create_database(server, f"scale_{n}") for n in sizes}
                results["PostgreSQL"] = run("PostgreSQL", urls, workdir, args, templates)
        for name, found in results.items():
            table(
                f"{name}: {sizes[0]:,} vs {sizes[1]:,} cases",
                found[sizes[0]],
                found[sizes[1]],
                sizes,
            )


if __name__ == "__main__":
    main()
