"""Background work waits while staff are being served.

Niceness shares out the CPU, but a stage run costs more than its own process's CPU: it
makes the Prefect server create and move the run (about half a CPU-second each), and all
of it competes with the API for the disk and memory bandwidth. Measured with
bench/orchestration.py: intake p99 was 1.2-1.6x with runs dispatched during the load and
1.0x with them held back. So `up`'s runner child watches the API process's CPU use and
starts no new work while it is busy, for at most ``max_defer`` seconds at a time: during
a burst of staff requests the runs lag, but they are never starved.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger("qingfeng.foreground")

# `up` names itself to its runner child in this variable.
PID_VARIABLE = "QINGFENG_FOREGROUND_PID"


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float | None:
    """User and system CPU seconds of ``pid`` so far (with those of its children it has
    waited for, if asked); None if it is gone (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = fields[11:15] if reaped_children else fields[11:13]
    return sum(int(tick) for tick in ticks) / os.sysconf("SC_CLK_TCK")


class ForegroundLoad:
    """Whether process ``pid`` used more than ``busy_cores`` of CPU in the last sample.

    ``cpu_seconds`` and ``clock`` read the process's CPU time and the time (tests pass
    readings of their own); ``sample_in_background=False`` leaves the sampling to whoever
    calls ``sample()``."""

    def __init__(
        self,
        pid: int,
        *,
        busy_cores: float = 0.5,
        sample_seconds: float = 0.25,
        cpu_seconds: Callable[[int], float | None] = process_cpu_seconds,
        clock: Callable[[], float] = time.monotonic,
        sample_in_background: bool = True,
    ):
        self.pid, self.busy_cores, self.sample_seconds = pid, busy_cores, sample_seconds
        self._cpu_seconds, self._clock = cpu_seconds, clock
        self.busy = False
        self._last = (cpu_seconds(pid), clock())
        if sample_in_background:
            sampler = threading.Thread(target=self._sample, name="foreground", daemon=True)
            sampler.start()

    @classmethod
    def from_environment(cls) -> ForegroundLoad | None:
        """The load of the process named in QINGFENG_FOREGROUND_PID, if it is readable."""
        pid = os.environ.get(PID_VARIABLE, "")
        if not pid.isdigit() or process_cpu_seconds(int(pid)) is None:
            return None
        return cls(int(pid))

    def sample(self) -> bool:
        """Read the process's CPU time once more and update ``busy``; False once it is gone."""
        last_cpu, last_at = self._last
        now_cpu, now = self._cpu_seconds(self.pid), self._clock()
        if last_cpu is None or now_cpu is None:
            self.busy = False  # the foreground is gone: nothing to yield to
            return False
        if now > last_at:
            self.busy = (now_cpu - last_cpu) / (now - last_at) > self.busy_cores
            self._last = (now_cpu, now)
        return True

    def _sample(self) -> None:
        while True:
            time.sleep(self.sample_seconds)
            if not self.sample():
                return

    def wait_until_quiet(self, stop: threading.Event, *, max_defer: float = 30.0) -> float:
        """Block while the foreground is busy (at most ``max_defer`` s, or until ``stop``);
        returns the seconds waited."""
        began = self._clock()
        while self.busy and not stop.is_set() and self._clock() - began < max_defer:
            stop.wait(self.sample_seconds)
        waited = self._clock() - began
        if waited >= self.sample_seconds:
            log.debug("background work waited for staff requests", seconds=round(waited, 2))
        return waited
