"""Background work yields to a busy foreground process (config/foreground.py).

The CPU time of real processes is read from /proc; what counts as busy, and how long
background work waits, is tested on a `Meter`, a stand-in process on a clock the test
moves, so neither depends on the CPU this machine has to spare."""

from __future__ import annotations

import threading
import time

import pytest

from config.foreground import PID_VARIABLE, ForegroundLoad, process_cpu_seconds
from tests.processes import Meter, python_running, sleeping, spinning, wait_for


class Ticking(threading.Event):
    """A stop event whose waits move the meter's clock on instead of taking time; set by
    the ``waits``-th wait, if given."""

    def __init__(self, meter: Meter, *, waits: int | None = None) -> None:
        super().__init__()
        self.meter, self.waits = meter, waits

    def wait(self, timeout: float | None = None) -> bool:
        self.meter.advance(timeout or 0.0)
        assert self.meter.now < 1e6, "waited for ever"
        if self.waits is not None:
            self.waits -= 1
            if self.waits == 0:
                self.set()
        return self.is_set()


def cpu(pid: int) -> float:
    seconds = process_cpu_seconds(pid)
    assert seconds is not None, f"process {pid} is gone"
    return seconds


def test_the_cpu_time_of_a_real_process_grows_while_it_runs_not_while_it_sleeps() -> None:
    with spinning() as busy, sleeping() as idle:
        busy_at, idle_at = cpu(busy.pid), cpu(idle.pid)
        assert wait_for(lambda: cpu(busy.pid) - busy_at >= 0.5, 120)
        assert cpu(idle.pid) - idle_at < 0.05
    assert process_cpu_seconds(busy.pid) is None  # gone


def test_more_than_busy_cores_is_busy_and_a_process_gone_is_not() -> None:
    meter = Meter()
    load = meter.load()
    # Fractions exact in binary: 0.5 of a core is not more than 0.5.
    for cores, busy in [(0.75, True), (0.5, False), (0.625, True), (0.125, False), (1.0, True)]:
        meter.run(cores)
        assert load.sample() and load.busy is busy, cores
    meter.run(None)  # the API stopped: nothing to yield to
    assert not load.sample() and not load.busy


def test_the_sampler_thread_follows_the_process_until_it_is_gone() -> None:
    reading: dict[str, float | None] = {"cores": 0.1}
    reads = []

    def cpu_seconds(pid: int) -> float | None:
        reads.append(pid)
        cores = reading["cores"]
        return None if cores is None else cores * time.monotonic()  # uses exactly that

    load = ForegroundLoad(7, cpu_seconds=cpu_seconds, sample_seconds=0.05)
    assert wait_for(lambda: len(reads) >= 5) and not load.busy  # several quiet samples
    reading["cores"] = 0.9
    assert wait_for(lambda: load.busy)
    reading["cores"] = None
    assert wait_for(lambda: not load.busy)
    assert set(reads) == {7}


def test_waiting_for_quiet_is_bounded_and_stops_on_request() -> None:
    meter = Meter()
    load = meter.load()
    meter.run(1.0)
    assert load.sample() and load.busy
    # Busy all along: waits its bound, then lets the work go (staff never starve it).
    assert load.wait_until_quiet(Ticking(meter), max_defer=1.0) == 1.0
    # A stop (the service shutting down) ends the wait at once: here at the second look.
    waits = 2
    waited = load.wait_until_quiet(Ticking(meter, waits=waits), max_defer=30)
    assert waited == waits * load.sample_seconds
    assert load.sample() and load.busy  # busy all the while
    meter.run(0.0)
    assert load.sample() and not load.busy
    assert load.wait_until_quiet(Ticking(meter), max_defer=30) == 0.0  # quiet: at once


def test_only_a_live_process_named_in_the_environment_is_watched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PID_VARIABLE, raising=False)
    assert ForegroundLoad.from_environment() is None  # a runner host of its own
    with python_running("pass") as gone:
        gone.wait()
    monkeypatch.setenv(PID_VARIABLE, str(gone.pid))
    assert ForegroundLoad.from_environment() is None
    with sleeping() as alive:
        monkeypatch.setenv(PID_VARIABLE, str(alive.pid))
        load = ForegroundLoad.from_environment()
        assert load is not None and load.pid == alive.pid
