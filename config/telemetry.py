"""The Prometheus metrics every process records (served by the API at /metrics).

One module for all of them, at the lowest layer, so the API, the deadline worker
(cases), the runner (flows) and the notifier (notifications) count into the same names.

Across processes: `qingfeng up` calls ``share_between_processes`` before anything is
counted; its children inherit ``PROMETHEUS_MULTIPROC_DIR`` and so write their values to
files there too (prometheus_client's multiprocess mode), which /metrics sums. Without
the variable (tests, a lone `qingfeng serve`), values stay in this process's memory.

Every metric here has labels: a metric's values are made at its first ``labels(...)``,
so they follow the mode chosen at start-up even though this module is imported first.
No gauges: multiprocess gauges need a mode each, and the outbox gauges are read from the
database when scraped instead (api.http.prometheus). Labels are names from our own
vocabulary (actions, stages, steps, route templates), never a case reference or a token.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import Counter, Histogram, multiprocess, values

PREFIX = "qingfeng_"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "qingfeng_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "qingfeng_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)
ACTIONS = Counter("qingfeng_actions", "Staff actions committed, by action.", ["action"])
STEPS_FIRED = Counter(
    "qingfeng_deadline_steps_fired",
    "Deadline steps fired (recorded and announced, or closing an appeal window).",
    ["stage", "step"],
)
STEP_LATENESS = Histogram(
    "qingfeng_deadline_step_lateness_seconds",
    "How long after its due time a deadline step fired.",
    ["stage"],
    buckets=(1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600),
)
FLOW_RUNS_STARTED = Counter(
    "qingfeng_flow_runs_started", "Flow runs this runner started, by flow.", ["flow"]
)
FLOW_RUNS_FAILED = Counter(
    "qingfeng_flow_runs_failed",
    "Flow runs that ended failed or crashed, or could not be executed, by flow.",
    ["flow"],
)


def share_between_processes(directory: Path) -> None:
    """Count into files in ``directory`` (emptied first), in this process and in every
    child started after this; call it before anything is counted."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus_client picks its value class when first imported, which happened
    # before `up` read its settings; children pick it up from the variable themselves.
    values.ValueClass = values.MultiProcessValue()


def shared_directory() -> Path | None:
    """Where processes write their values, or None when each keeps its own."""
    directory = os.environ.get(MULTIPROC_ENV)
    return Path(directory) if directory else None


def process_ended(pid: int) -> None:
    """A child that wrote values has exited (its live gauges, if any, are dropped)."""
    directory = shared_directory()
    if directory is not None:
        multiprocess.mark_process_dead(pid, str(directory))
