"""Writers to one SQLite file take turns, and each is woken as soon as the last is done.

Threads of a process queue on a lock; processes on the machine (the API, `qingfeng
notifier`, the CLI) on a file lock next to the database, polled at 1 ms at most (20 ms
for the notifier, which thereby yields to staff actions). Without
it a writer that finds the database locked by another process sleeps in SQLite's busy
handler, 1, 2, 5, 10 … 100 ms a try, so a staff action could wait several times as long
as the other transaction took. Correctness never depends on this lock: SQLite's own
locking (BEGIN IMMEDIATE and busy_timeout) still guards every write.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

GIVE_UP_SECONDS = 30.0  # then SQLite's busy_timeout decides, as without this lock


class WriterLock:
    """``background``: a bulk writer (the notifier) that polls coarsely, so staff writers,
    polling finely, take the lock first whenever both wait. ``sleep`` pauses between polls
    (tests pass one on a clock of their own)."""

    def __init__(
        self,
        database_file: Path | None,
        *,
        background: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._threads = threading.Lock()
        self._pauses = (0.005, 0.02) if background else (0.0001, 0.001)
        self._sleep = sleep
        self._fd: int | None = None
        if database_file is not None:
            self._fd = os.open(f"{database_file}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._file_held = False

    def acquire(self) -> None:
        self._threads.acquire()
        self._file_held = self._fd is not None and self._lock_file(self._fd)

    def release(self) -> None:
        if self._file_held and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._file_held = False
        self._threads.release()

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _lock_file(self, fd: int) -> bool:
        # Not a blocking flock: two Database objects on one file in one thread would wait
        # on each other for ever; polling gives up and leaves it to SQLite.
        (pause, longest_pause), deadline = self._pauses, time.monotonic() + GIVE_UP_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                self._sleep(pause)
                pause = min(pause * 2, longest_pause)
