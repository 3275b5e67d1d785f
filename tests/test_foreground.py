"""Background work yields to a busy foreground process (config/foreground.py), measured
on real processes: one that spins and one that sleeps."""

from __future__ import annotations

import threading
import time

import pytest

from config.foreground import PID_VARIABLE, ForegroundLoad
from tests.processes import python_running, sleeping, spinning, wait_for


def test_a_spinning_process_is_busy_and_a_sleeping_one_is_not() -> None:
    with spinning() as busy, sleeping() as idle:
        busy_load, idle_load = ForegroundLoad(busy.pid), ForegroundLoad(idle.pid)
        assert wait_for(lambda: busy_load.busy)
        time.sleep(1)  # several samples of the sleeping one
        assert not idle_load.busy
    # Once the busy one is gone there is nothing to yield to.
    assert wait_for(lambda: not busy_load.busy)


def test_waiting_for_quiet_is_bounded_and_stops_on_request() -> None:
    with spinning() as busy:
        load = ForegroundLoad(busy.pid)
        assert wait_for(lambda: load.busy)
        assert load.wait_until_quiet(threading.Event(), max_defer=1.0) >= 1.0
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        assert load.wait_until_quiet(stop, max_defer=30) < 10  # the stop, not the bound
    assert wait_for(lambda: not load.busy)
    assert load.wait_until_quiet(threading.Event()) < load.sample_seconds  # quiet: at once


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
