"""Real processes for tests, and waiting on what they do."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def python_running(code: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process running ``code``, killed on leaving."""
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def spinning() -> subprocess.AbstractContextManager[subprocess.Popen[bytes]]:
    """A process that uses a whole core, as the API does under a burst of requests."""
    return python_running("while True: pass")


def sleeping() -> subprocess.AbstractContextManager[subprocess.Popen[bytes]]:
    return python_running("import time; time.sleep(120)")


def wait_for(check: Callable[[], bool], seconds: float = 10) -> bool:
    """Whether ``check`` holds within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
