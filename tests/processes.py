"""Real processes for tests, a stand-in for one, and waiting on what they do."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


def wait_for(check: Callable[[], bool], seconds: float = 30) -> bool:
    """Whether ``check`` holds within ``seconds`` (polled; a backstop, not a measure)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
