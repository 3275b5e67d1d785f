"""Background work yields the CPU to staff requests: lower priority for worker threads
(Linux niceness is per thread) and for child processes of `qingfeng up`."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable


def lower_thread_priority() -> None:
    """Background work yields the CPU to the API's thread (Linux: niceness is per thread)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def background_child_setup() -> Callable[[], None]:
    """What a child does between fork and exec: yield the CPU to the API (background work
    may lag, staff may not wait) and, on Linux, die with `qingfeng up` if it is killed.

    Everything is looked up here, in the parent: between fork and exec the child must not
    import or take locks another thread might have held.
    """
    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    pr_set_pdeathsig, sigterm, parent = 1, signal.SIGTERM, os.getpid()

    def in_child() -> None:
        os.nice(10)
        if prctl is not None:
            prctl(pr_set_pdeathsig, sigterm)
            if os.getppid() != parent:  # `up` died before the request: nobody would ask
                os._exit(1)

    return in_child
