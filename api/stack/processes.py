"""The children of `qingfeng up`: plain subprocesses, supervised, woken by a signal.

Background work runs in child processes (`qingfeng notifier`, `qingfeng runner`, the
embedded Prefect server), at lower priority and outside the API's interpreter lock, so
staff requests get the CPU first. The mechanisms are the operating system's own:

- Supervision: a watch thread per child waits on it and starts it again when it exits,
  until `up` stops it (SIGTERM, then SIGKILL after a grace period).
- Dying with `up`: each child asks the kernel for a signal when `up` dies
  (``PR_SET_PDEATHSIG``, Linux; see ``background_child_setup``), so `kill -9` of `up` leaves no
  child behind to run work beside the next `up`'s children: SIGKILL for a child whose
  work is crash-safe and whose orderly stop may wait on others of its generation (the
  runner's runs in flight report to a Prefect server dying beside it, and meanwhile it
  claims runs from the next one), SIGTERM for the notifier (it finishes the batch it
  sent, so nothing is sent twice). A child is its own process group's leader.
- Wake-ups: after a commit that wrote work for a child, `up` sends it SIGUSR1; the child
  also polls on its own short interval, so a lost signal costs at most that interval.
- A previous `up` killed where no death signal exists (or a child that escaped it): each
  child's pid is kept in a file, and before its successor starts, whatever is left of
  that child's process group is killed (``end_previous``).
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

import psutil
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
        death_signal: signal.Signals = signal.SIGTERM,
        pid_file: Path | None = None,
    ) -> None:
        self.name, self.argv, self.env, self.stdout = name, list(argv), dict(env), stdout
        self.check_seconds, self.stop_seconds = check_seconds, stop_seconds
        self.death_signal = death_signal  # what the child gets when `up` dies
        self.pid_file = pid_file  # the child's pid, for its successor (see end_previous)
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
            if self.pid_file is not None:
                end_previous(self.pid_file, self.name)
            self.on_spawn()
            stdout = self.stdout()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT if stdout is not None else None,
                start_new_session=True,  # Ctrl-C reaches `up`, which stops us in order
                preexec_fn=background_child_setup(self.death_signal),
            )
            if stdout is not None:
                stdout.close()  # the child has its own copy
            if self.pid_file is not None:
                keep_pid(self.pid_file, self.process.pid)
        self._spawned.set()

    def _supervise(self) -> None:
        # This thread ends only once its child has: the child's death signal follows the
        # forking thread, so ending earlier would signal a child that is stopping in order.
        self._spawn()
        while self.process is not None:
            try:
                code = self.process.wait(timeout=self.check_seconds)
            except subprocess.TimeoutExpired:
                continue
            telemetry.process_ended(self.process.pid)
            if self._stop.is_set() or self._stop.wait(self.check_seconds):  # no busy loop
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
        if self._watch:
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
        death_signal: signal.Signals = signal.SIGTERM,
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
            death_signal=death_signal,
            pid_file=settings.data_dir / "run" / f"{command}.pid",
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
        # Stopping: further stop signals (a supervisor's and PR_SET_PDEATHSIG's burst) are
        # ignored, not handed back to the default handler, which would kill the stop midway.
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_IGN if signum in STOP else handler)
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


def keep_pid(path: Path, pid: int) -> None:
    """Write ``pid`` and its start time to ``path``, for ``end_previous``."""
    with contextlib.suppress(OSError, psutil.Error):  # without it, only the sweep is lost
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(f"{pid} {psutil.Process(pid).create_time()}\n")
        os.replace(partial, path)


def end_previous(path: Path, name: str) -> None:
    """Kill what is left of the process group of the child whose pid ``path`` keeps.

    A child leads its own group (``start_new_session``), and what it starts joins it. The
    kernel never reuses a pid while a group of that number exists: if the pid runs with
    another start time, the group is long gone; if it does not run, every member of the
    group that does is the child's.
    """
    try:
        pid_text, started = path.read_text().split()
        pid, created = int(pid_text), float(started)
    except (OSError, ValueError):
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        if abs(psutil.Process(pid).create_time() - created) > 0.01:
            return  # the pid is another process's now
    left = [p for p in psutil.process_iter() if _group(p.pid) == pid]
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    if left:
        log.warning("a previous child was still running; killed it", child=name, count=len(left))
        psutil.wait_procs(left, timeout=30)


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def background_child_setup(
    death_signal: signal.Signals = signal.SIGTERM,
) -> Callable[[], None]:
    """What a child does between fork and exec: yield the CPU to the API (background work
    may lag, staff may not wait) and, on Linux, get ``death_signal`` when `qingfeng up` dies.

    Everything is looked up here, in the parent: between fork and exec the child must not
    import or take locks another thread might have held.
    """
    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    pr_set_pdeathsig, parent = 1, os.getpid()

    def in_child() -> None:
        os.nice(10)
        if prctl is not None:
            prctl(pr_set_pdeathsig, int(death_signal))
            if os.getppid() != parent:  # `up` died before the request: nobody would ask
                os._exit(1)

    return in_child
