"""The case list, the year's 述职 report and the API's memory at 1,000,000 cases.

    .venv/bin/python bench/scale.py [--cases 1000000] [--small 10000] [--db sqlite|postgres|both]
                                    [--requests 400] [--workdir DIR]

For each database and size: writes the cases (``bench/scale_seed.py``: cloned service
timelines over 15 years), reads its files into the page cache (``warm``), starts the API
alone under uvicorn (a subprocess), then
- the filtered case list: ``--requests`` GET /cases of varied filters and pages, one
  client, after a warm-up: p99 (target at 1M: at most 1.5x the small figure and <= 50 ms);
- a year's report for the whole committee: GET /performance for last calendar year, the
  median of 3 (target <= 1 s at 1M);
- the API process's resident memory after both (target <= 300 MB).
Prints each figure at both sizes (with ``--rounds N``, its median of N rounds, each round
measuring every database in turn), their ratio, the target and whether it is met. The
databases live in a temporary directory (or ``--workdir``), never in the repository.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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
from sqlalchemy import func, select

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
from cases.store.figures import mark_dirty  # noqa: E402
from cases.store.migrate import upgrade  # noqa: E402
from cases.store.models import ConductCase  # noqa: E402
from config.settings import DEFAULT_POLICY_FILE  # noqa: E402
from tests import postgres  # noqa: E402

console = Console()
DATABASES = ["SQLite", "PostgreSQL"]
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
    """The API alone (uvicorn on its ASGI entry point, one process) on ``url``: yields
    (port, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(workdir),
        "QINGFENG_DATABASE_URL": url,
        "QINGFENG_LOG_LEVEL": "WARNING",
        "QINGFENG_ORCHESTRATION": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "api.http.asgi:app",
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


def database_files(url: str) -> list[Path]:
    """The files that hold the database at ``url`` (SQLite's file and its WAL; on
    PostgreSQL, the database's directory in the cluster, read as its superuser)."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    db = Database(url)
    with db.reader.connect() as conn:
        data = conn.exec_driver_sql("SHOW data_directory").scalar_one()
        oid = conn.exec_driver_sql(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).scalar_one()
    db.dispose()
    return sorted(p for p in (Path(data) / "base" / str(oid)).iterdir() if p.is_file())


def warm(url: str) -> None:
    """Read the database's files once, so that both sizes are measured from the page
    cache. This VM hands idle page cache back to its host within minutes (DAMON
    reclaim): the 1M SQLite file (10 GB) was read from disk again by the next run, the
    10k one (100 MB) never. The figures are then those of a server whose data is in
    memory, as the 10k one's always is."""
    began, read = time.perf_counter(), 0
    for path in database_files(url):
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                read += len(chunk)
    took = time.perf_counter() - began
    console.print(f"  page cache: read {read / 2**30:.1f} GiB in {took:.0f} s")


def measure(
    url: str, workdir: Path, token: str, requests: int, reports: int = 3, year: int | None = None
) -> dict[str, float]:
    """List p99 (ms), report median (ms) and the API's peak RSS (MB) on one database."""
    figures: dict[str, float] = {}
    warm(url)
    with api(url, workdir) as (port, pid), httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
        timeout=900,
    ) as client:  # fmt: skip
        rss = psutil.Process(pid)
        queries = list_queries(random.Random(7), requests)
        with _uncollected():
            timings = _time_lists(client, queries)
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


def _time_lists(client: httpx.Client, queries: list[dict[str, str]]) -> list[float]:
    """GET /cases for each query after a warm-up of 40: each one's time (ms)."""
    cursors: list[str] = []
    timings: list[float] = []
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
    return timings


@contextmanager
def _uncollected() -> Iterator[None]:
    """This client's collector off while it times: its own full passes (this process
    holds the whole service's modules) took 80-130 ms, and were counted as the API's."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def populate(urls: list[str], templates: list[Template], count: int, years: int) -> list[str]:
    """Schema, organisation and the same ``count`` cases in each database at ``urls``
    (made once, written to each); returns a secretary's token for each."""
    dbs, tokens = [], []
    for url in urls:
        upgrade(url)
        dbs.append(Database(url))
        tokens.append(seed_organisation(UnitOfWork(dbs[-1]))["sec.li"])
    columns = [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress("[progress.description]{task.description}", *columns, console=console) as bar:
        task = bar.add_task(f"{count:,} cases", total=count)
        stages = seed_scale(
            dbs, templates, policy=load_policy(DEFAULT_POLICY_FILE), count=count, years=years,
            progress=lambda n: bar.advance(task, n),
        )  # fmt: skip
    console.print("  stages:", dict(sorted(stages.items())))
    for db in dbs:
        db.dispose()
    return tokens


def refresh_rate(url: str, cases: int = 2000) -> float:
    """Seconds the refresher takes over ``cases`` cases marked at random (their rows
    written again from their chains, as after their actions)."""
    db = Database(url)
    with UnitOfWork(db) as uow:
        last = uow.session.scalar(select(func.max(ConductCase.id))) or 0
        marked = random.Random(3).sample(range(1, last + 1), min(cases, last))
        mark_dirty(uow.session, set(marked))
        uow.commit()
    began = time.perf_counter()
    projection.refresh(db=db, policy=load_policy(DEFAULT_POLICY_FILE), calendar=current())
    took = time.perf_counter() - began
    db.dispose()
    return took


def token_for(url: str) -> str:
    """A new token for the secretary of a database written by an earlier run."""
    db = Database(url)
    token = create_token(uow=UnitOfWork(db), handle="sec.li", name="scale")[1]
    with db.reader.connect() as conn:
        held = conn.exec_driver_sql("SELECT count(*), max(filed_at) FROM conduct_case")
        console.print(f"  {url}: cases, last filed:", held.one())
    db.dispose()
    return token


def run(
    urls: dict[int, dict[str, str]], workdir: Path, args: argparse.Namespace
) -> dict[str, dict[int, dict[str, float]]]:
    """Write every size to every database first (or take those of ``--reuse``), then
    measure each, ``--rounds`` times (so all run the same code): {database: {size: each
    figure's median over the rounds}}."""
    tokens: dict[str, str] = {}
    if args.reuse:
        tokens = {url: token_for(url) for by_db in urls.values() for url in by_db.values()}
    else:
        console.print("templates: driving cases through the service")
        templates = build_templates(workdir, load_policy(DEFAULT_POLICY_FILE))
        for size, by_db in urls.items():
            console.print(f"[bold]{size:,} cases: {', '.join(by_db)}[/bold]")
            began = time.perf_counter()
            written = populate(list(by_db.values()), templates, size, args.years)
            tokens |= dict(zip(by_db.values(), written, strict=True))
            console.print(f"  written in {time.perf_counter() - began:.0f} s")
    rounds: dict[str, dict[int, list[dict[str, float]]]] = {}
    for n in range(args.rounds):
        console.print(f"[bold]round {n + 1} of {args.rounds}[/bold]")
        for size, by_db in urls.items():
            for name, url in by_db.items():
                upgrade(url)  # a migration added since the cases were written
                figures = measure(url, workdir, tokens[url], args.requests, args.reports, args.year)
                figures["refresh_s"] = refresh_rate(url)
                rounds.setdefault(name, {}).setdefault(size, []).append(figures)
                console.print(f"  {name}, {size:,}:", {k: round(v, 1) for k, v in figures.items()})
    for name, by_size in rounds.items():
        for size, each in by_size.items():
            p99s = ", ".join(f"{figures['list_p99']:.1f}" for figures in each)
            console.print(f"  {name}, {size:,}: list p99 by round {p99s} ms")
    return {
        name: {size: _medians(each) for size, each in by_size.items()}
        for name, by_size in rounds.items()
    }


def _medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds (one round: its figures)."""
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


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
        ("refresh of 2,000 cases (s)", "refresh_s", lambda s, b: True, "-"),
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
    parser.add_argument("--reports", type=int, default=3, help="year reports (the median)")
    parser.add_argument("--rounds", type=int, default=1, help="measure N times: the medians")
    parser.add_argument("--year", type=int, default=None, help="the report's year (last year)")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep", type=Path, default=None,
                      help="write the databases in DIR and keep them (for --reuse)")  # fmt: skip
    kept.add_argument("--reuse", type=Path, default=None,
                      help="measure the databases an earlier --keep wrote in DIR")  # fmt: skip
    args = parser.parse_args()
    sizes = (args.small, args.cases)
    names = {"sqlite": ["SQLite"], "postgres": ["PostgreSQL"]}.get(
        args.db, ["SQLite", "PostgreSQL"]
    )
    with ExitStack() as stack:
        workdir = args.reuse or args.keep
        if workdir is None:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="qingfeng-scale-"))
            )
        workdir.mkdir(parents=True, exist_ok=True)
        urls: dict[int, dict[str, str]] = {n: {} for n in sizes}
        if "SQLite" in names:
            for n in sizes:
                urls[n]["SQLite"] = f"sqlite:///{workdir / f'scale-{n}.db'}"
        if "PostgreSQL" in names:
            bin_dir = postgres.binaries()
            if bin_dir is None:
                raise SystemExit("PostgreSQL is not installed (initdb not found)")
            keep = workdir / "pg" if args.keep or args.reuse else None
            server = stack.enter_context(postgres.server(bin_dir, keep=keep))
            for n in sizes:
                name = f"scale_{n}"
                urls[n]["PostgreSQL"] = (
                    postgres.with_database(server, name)
                    if args.reuse
                    else postgres.create_database(server, name)
                )
        results = run(urls, workdir, args)
    for name, found in results.items():
        table(
            f"{name}: {sizes[0]:,} vs {sizes[1]:,} cases", found[sizes[0]], found[sizes[1]], sizes
        )


if __name__ == "__main__":
    main()
