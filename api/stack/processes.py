"""The children of `qingfeng up`: plain subprocesses, supervised, woken by a signal.

Background work runs in child processes (`qingfeng notifier`, `qingfeng runner`, the
embedded Prefect server), at lower priority and outside the API's interpreter lock, so
staff requests get the CPU first. The mechanisms are the operating system's own:

- Supervision: a watch thread per child waits on it and starts it again when it exits,
  until `up` stops it (SIGTERM, then SIGKILL after a grace period).
- Dying with `up`: each child asks the kernel for SIGTERM when `up` dies
  (``PR_SET_PDEATHSIG``, Linux; see ``background_child_setup``), so `kill -9` of `up` leaves no
  child behind to run work beside the next `up`'s children.
- Wake-ups: after a commit that wrote work for a child, `up` sends it SIGUSR1; the child
  also polls on its own short interval, so a lost signal costs at most that interval.
- Readiness: the child writes its status, with its pid, to the small file named by
  ``QINGFENG_STATUS_FILE`` (replaced atomically, on change); `up` reads it for /readyz
  and ignores a file left by a previous child. Nothing parses the child's output, which
  goes straight to `up`'s own.
- Signals in the child: the handlers do nothing; ``signal.set_wakeup_fd`` writes each
  signal's number to a socket the main thread waits on. No lock is taken in a handler,
  so a repeated SIGTERM cannot deadlock, and stopping twice is stopping once.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import IO

import structlog
from pydantic import SecretStr

from cases import signals
from cases.outbox import WRITTEN
from config import telemetry
from config.settings import Settings

log = structlog.get_logger("qingfeng.children")

STATUS_FILE = "QINGFENG_STATUS_FILE"  # the variable naming a child's status file
WAKE = signal.SIGUSR1
STOP = (signal.SIGINT, signal.SIGTERM)


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as QINGFENG_* variables, so a child process sees the same settings."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        text = str(value).lower() if isinstance(value, bool) else str(value)
        env[f"QINGFENG_{name.upper()}"] = text
    env["QINGFENG_DATABASE_URL"] = settings.effective_database_url
    return env


class Supervised:
    """One child process, started again whenever it exits, until ``stop``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        stdout: Callable[[], IO[bytes] | None] = lambda: None,
        check_seconds: float = 1.0,
        stop_seconds: float = 60.0,
    ) -> None:
        self.name, self.argv, self.env, self.stdout = name, list(argv), dict(env), stdout
        self.check_seconds, self.stop_seconds = check_seconds, stop_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.on_spawn: Callable[[], None] = lambda: None
        self._stop = threading.Event()
        self._spawned = threading.Event()
        self._lock = threading.Lock()  # a stop never races a restart
        self._watch: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        # The watch thread forks every child: PR_SET_PDEATHSIG follows the forking thread,
        # and this one lives exactly as long as the supervision.
        self._watch = threading.Thread(target=self._supervise, name=f"{self.name}-watch")
        self._watch.daemon = True
        self._watch.start()
        self._spawned.wait(30)  # a backstop: the fork itself is quick

    def _spawn(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self.on_spawn()
            stdout = self.stdout()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT if stdout is not None else None,
                start_new_session=True,  # Ctrl-C reaches `up`, which stops us in order
                preexec_fn=background_child_setup(),
            )
            if stdout is not None:
                stdout.close()  # the child has its own copy
        self._spawned.set()

    def _supervise(self) -> None:
        self._spawn()
        while not self._stop.is_set() and self.process is not None:
            try:
                code = self.process.wait(timeout=self.check_seconds)
            except subprocess.TimeoutExpired:
                continue
            telemetry.process_ended(self.process.pid)
            if self._stop.wait(self.check_seconds):  # a pause: no busy loop of crashes
                return
            log.error("a background process exited; starting it again", child=self.name, code=code)
            self._spawn()

    def stop(self) -> None:
        """Stop supervising, then the child: SIGTERM (it finishes the work in flight)."""
        with self._lock:
            self._stop.set()
            process = self.process
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watch:  # after the child: its exit would send it a second SIGTERM
            self._watch.join(timeout=self.check_seconds + 10)


class ChildService:
    """A supervised `qingfeng <command>` child of `up`, woken by SIGUSR1 after a commit
    that wrote one of the topics in ``wakes_on``; ``status`` is what it last reported."""

    def __init__(
        self,
        command: str,
        settings: Settings,
        *,
        wakes_on: Collection[str],
        env: Mapping[str, str] | None = None,
        check_seconds: float = 1.0,
    ) -> None:
        self.command, self.wakes_on = command, frozenset(wakes_on)
        self.status_file = settings.data_dir / "run" / f"{command}.status"
        self.child = Supervised(
            command,
            [sys.executable, "-m", "api.cli", command],
            env={
                **os.environ,
                **settings_env(settings),
                **(env or {}),
                STATUS_FILE: str(self.status_file),
            },
            check_seconds=check_seconds,
        )
        self.child.on_spawn = self._forget_status
        self._unlisten: Callable[[], None] = lambda: None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process

    @property
    def status(self) -> str:
        """What the child last reported ("running" if nothing yet); "stopped" if it is not."""
        process = self.child.process
        if process is None or process.poll() is not None:
            return "stopped"
        return self._reported(process.pid) or "running"

    def _reported(self, pid: int) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            written, _, status = self.status_file.read_text().partition(" ")
            if int(written) == pid:  # a dead child's file does not speak for its successor
                return status.strip()
        return None

    def _forget_status(self) -> None:
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        self.status_file.unlink(missing_ok=True)

    def start(self) -> None:
        self.child.start()
        self._unlisten = signals.listen(WRITTEN, self._poke)

    def _poke(self, topics: set[str]) -> None:
        process = self.child.process
        # Only once the child has reported: before that, it has no handler for the signal
        # (whose default is to end it), and it looks for work on its own at start anyway.
        if topics & self.wakes_on and process and self._reported(process.pid) is not None:
            with contextlib.suppress(ProcessLookupError):  # gone: the watch restarts it
                os.kill(process.pid, WAKE)

    def stop(self) -> None:
        self._unlisten()
        self.child.stop()


def serve_until_signalled(*, wake: Callable[[], None], status: Callable[[], str]) -> None:
    """A service host's life until SIGINT or SIGTERM: SIGUSR1 calls ``wake`` (pokes from
    `up`), and each change of ``status`` is written to the status file, if one is named."""
    receiver, sender = socket.socketpair()
    for end in (receiver, sender):
        end.setblocking(False)
    previous = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    handlers = {s: signal.signal(s, _nothing) for s in (*STOP, WAKE)}
    path = os.environ.get(STATUS_FILE)
    reported = None
    try:
        while True:
            current = status()
            if path and current != reported:
                _write_status(Path(path), current)
                reported = current
            ready, _, _ = select.select([receiver], [], [], 0.5)
            got = set(receiver.recv(256)) if ready else set()
            if got & {int(s) for s in STOP}:
                return
            if int(WAKE) in got:
                wake()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous)
        receiver.close()
        sender.close()


def _nothing(signum: int, frame: object) -> None:
    """A handler that does nothing: the wakeup socket carries the signal to the loop."""


def _write_status(path: Path, status: str) -> None:
    with contextlib.suppress(OSError):  # a status is a report, never a reason to stop
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(f"{os.getpid()} {status}\n")
        os.replace(partial, path)


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
