"""The notification dispatcher as a child process of `qingfeng up` (`qingfeng notifier`).

Rendering, composing mail and TLS are CPU work; in a child at lower priority they run
outside the API's interpreter lock and the operating system gives staff requests the CPU
first. The parent pokes the child through its stdin after each commit that wrote outbox
rows, so messages still leave at once, and starts it again if it dies.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading

import structlog
from pydantic import SecretStr

from cases import signals
from cases.outbox import WRITTEN
from config.background import background_child_setup
from config.settings import Settings
from notifications.service import TOPICS

log = structlog.get_logger("qingfeng.notifications")


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


class NotifierProcess:
    """Runs, pokes and supervises the `qingfeng notifier` child."""

    def __init__(self, settings: Settings, *, check_seconds: float = 5.0) -> None:
        self.env = {**os.environ, **settings_env(settings)}
        self.check_seconds = check_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._unlisten = lambda: None
        self._watch: threading.Thread | None = None

    @property
    def status(self) -> str:
        return "running" if self.process and self.process.poll() is None else "stopped"

    def start(self) -> None:
        self._spawn()
        self._unlisten = signals.listen(WRITTEN, self._poke)
        self._watch = threading.Thread(target=self._supervise, name="notifier-watch", daemon=True)
        self._watch.start()

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "notifier"],
            env=self.env,
            stdin=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches `up`, which stops us in order
            preexec_fn=background_child_setup(),
        )
        assert self.process.stdin is not None
        os.set_blocking(self.process.stdin.fileno(), False)

    def _poke(self, topics: set[str]) -> None:
        process = self.process
        if topics & TOPICS and process and process.stdin:
            # A full pipe already holds a wake-up; a dead child is restarted by the watch.
            with contextlib.suppress(OSError):
                os.write(process.stdin.fileno(), b".")

    def _supervise(self) -> None:
        while not self._stop.wait(self.check_seconds):
            if self.process and self.process.poll() is not None:
                log.error("the notifier exited; starting it again", code=self.process.returncode)
                self._spawn()

    def stop(self) -> None:
        self._stop.set()
        self._unlisten()
        if self._watch:
            self._watch.join(timeout=10)
        if self.process and self.process.poll() is None:
            self.process.terminate()  # it finishes the batch in flight
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
