"""Background work of `qingfeng up` in child processes: `qingfeng notifier` and `qingfeng
runner`.

Work in a child, at lower priority, runs outside the API's interpreter lock, and the
operating system gives staff requests the CPU first: background threads in the API's own
process would queue staff requests behind them on that lock. The parent pokes a child
through its stdin after each commit that wrote work for it, so the work still starts at
once; the child reports how it is as ``status: …`` lines on its stdout; the parent starts
it again if it dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Mapping

import structlog
from pydantic import SecretStr

from cases import signals
from cases.outbox import WRITTEN
from config.background import background_child_setup
from config.settings import Settings

log = structlog.get_logger("qingfeng.children")

STATUS_PREFIX = "status: "


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


class ChildService:
    """Runs, pokes and supervises one `qingfeng <command>` child of `up`."""

    def __init__(
        self,
        command: str,
        settings: Settings,
        *,
        wakes_on: Collection[str],
        env: Mapping[str, str] | None = None,
        check_seconds: float = 5.0,
    ) -> None:
        self.command, self.wakes_on = command, frozenset(wakes_on)
        self.env = {**os.environ, **settings_env(settings), **(env or {})}
        self.check_seconds = check_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self._reported = ""
        self._stop = threading.Event()
        self._unlisten: Callable[[], None] = lambda: None
        self._watch: threading.Thread | None = None

    @property
    def status(self) -> str:
        """What the child last reported ("running" if nothing yet); "stopped" if it is not."""
        if not self.process or self.process.poll() is not None:
            return "stopped"
        return self._reported or "running"

    def start(self) -> None:
        self._spawn()
        self._unlisten = signals.listen(WRITTEN, self._poke)
        self._watch = threading.Thread(
            target=self._supervise, name=f"{self.command}-watch", daemon=True
        )
        self._watch.start()

    def _spawn(self) -> None:
        self._reported = ""
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", self.command],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches `up`, which stops us in order
            preexec_fn=background_child_setup(),
        )
        assert process.stdin is not None
        os.set_blocking(process.stdin.fileno(), False)
        self.process = process
        threading.Thread(
            target=self._read_output, args=(process,), name=f"{self.command}-out", daemon=True
        ).start()

    def _read_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:  # ends when the child exits
            line = raw.decode(errors="replace")
            if line.startswith(STATUS_PREFIX):
                # A dead child's last lines must not speak for the one that replaced it.
                if process is self.process:
                    self._reported = line.removeprefix(STATUS_PREFIX).strip()
            else:  # anything else it prints is for the operator, as if it were ours
                sys.stdout.write(line)
                sys.stdout.flush()

    def _poke(self, topics: set[str]) -> None:
        process = self.process
        if topics & self.wakes_on and process and process.stdin:
            # A full pipe already holds a wake-up; a dead child is restarted by the watch.
            with contextlib.suppress(OSError):
                os.write(process.stdin.fileno(), b".")

    def _supervise(self) -> None:
        while not self._stop.wait(self.check_seconds):
            if self.process and self.process.poll() is not None:
                log.error(
                    "a background process exited; starting it again",
                    command=self.command,
                    code=self.process.returncode,
                )
                self._spawn()

    def stop(self) -> None:
        self._stop.set()
        self._unlisten()
        if self._watch:
            self._watch.join(timeout=10)
        if self.process and self.process.poll() is None:
            self.process.terminate()  # it finishes the work in flight
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve_until_signalled(*, wake: Callable[[], None], status: Callable[[], str]) -> None:
    """A service host's life until Ctrl-C or SIGTERM: each byte on stdin calls ``wake``
    (pokes from `up`), and each change of ``status`` is printed as a ``status:`` line."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    def read_wakeups() -> None:
        with contextlib.suppress(OSError, ValueError):  # no stdin: the service's own interval
            while os.read(sys.stdin.fileno(), 4096):  # EOF (no parent) ends the pokes only
                wake()

    threading.Thread(target=read_wakeups, name="wakeups", daemon=True).start()
    reported = None
    while not stopping.is_set():
        current = status()
        if current != reported:
            print(f"{STATUS_PREFIX}{current}", flush=True)
            reported = current
        stopping.wait(0.5)
