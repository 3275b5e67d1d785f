"""Real processes for tests, a stand-in for one, and waiting on what they do."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from config.foreground import ForegroundLoad

# Seconds a request or a start-up may take on a busy machine: a backstop, not a measure.
PATIENCE = 120.0


@contextmanager
def python_running(code: str, *, stdout: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process running ``code``, killed on leaving."""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=stdout)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def spinning() -> subprocess.AbstractContextManager[subprocess.Popen[bytes]]:
    """A process that uses a whole core, as the API does under a burst of requests."""
    return python_running("while True: pass")


@contextmanager
def sleeping() -> Iterator[subprocess.Popen[bytes]]:
    """A process that has started up and now sleeps: it uses no more CPU."""
    code = "import time; print('asleep', flush=True); time.sleep(120)"
    with python_running(code, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        process.stdout.readline()
        yield process


class Meter:
    """Stands for a process whose CPU use the test sets, on a clock the test moves: the
    readings of a ForegroundLoad. ``looks``: how often the clock was read."""

    def __init__(self) -> None:
        self.cores: float | None = 0.0  # None: the process is gone
        self.now = self.used = 0.0
        self.looks = 0

    def load(self) -> ForegroundLoad:
        """A load on this meter, sampled when the test calls its ``sample()``."""
        return ForegroundLoad(
            0, cpu_seconds=self.cpu_seconds, clock=self.clock, sample_in_background=False
        )

    def run(self, cores: float | None, seconds: float = 1.0) -> None:
        """The process uses ``cores`` (None: it ends) for ``seconds``."""
        self.cores = cores
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.used += (self.cores or 0.0) * seconds

    def cpu_seconds(self, pid: int) -> float | None:
        return None if self.cores is None else self.used

    def clock(self) -> float:
        self.looks += 1
        return self.now


def wait_for(check: Callable[[], bool], seconds: float = 30) -> bool:
    """Whether ``check`` holds within ``seconds`` (polled; a backstop, not a measure)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
