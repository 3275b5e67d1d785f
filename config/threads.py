"""Thread priority for background work, so staff requests get the CPU first."""

from __future__ import annotations

import contextlib
import os
import threading


def lower_thread_priority() -> None:
    """Background work yields the CPU to the API's thread (Linux: niceness is per thread)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
