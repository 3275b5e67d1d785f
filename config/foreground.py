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
    """Whether process ``pid`` used more than ``busy_cores`` of CPU in the last sample."""

    def __init__(self, pid: int, *, busy_cores: float = 0.5, sample_seconds: float = 0.25):
        self.pid, self.busy_cores, self.sample_seconds = pid, busy_cores, sample_seconds
        self.busy = False
        self._sampler = threading.Thread(target=self._sample, name="foreground", daemon=True)
        self._sampler.start()

    @classmethod
    def from_environment(cls) -> ForegroundLoad | None:
        """The load of the process named in QINGFENG_FOREGROUND_PID, if it is readable."""
        pid = os.environ.get(PID_VARIABLE, "")
        if not pid.isdigit() or process_cpu_seconds(int(pid)) is None:
            return None
        return cls(int(pid))

    def _sample(self) -> None:
        last, at = process_cpu_seconds(self.pid), time.monotonic()
        while last is not None:
            time.sleep(self.sample_seconds)
            now_cpu, now = process_cpu_seconds(self.pid), time.monotonic()
            if now_cpu is None:
                break
            self.busy = (now_cpu - last) / (now - at) > self.busy_cores
            last, at = now_cpu, now
        self.busy = False  # the foreground is gone: nothing to yield to

    def wait_until_quiet(self, stop: threading.Event, *, max_defer: float = 30.0) -> float:
        """Block while the foreground is busy (at most ``max_defer`` s, or until ``stop``);
        returns the seconds waited."""
        began = time.monotonic()
        while self.busy and not stop.is_set() and time.monotonic() - began < max_defer:
            stop.wait(self.sample_seconds)
        waited = time.monotonic() - began
        if waited >= self.sample_seconds:
            log.debug("background work waited for staff requests", seconds=round(waited, 2))
        return waited
