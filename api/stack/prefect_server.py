"""The Prefect server of the embedded default: a supervised child process (started again
if it dies) with SQLite under data_dir.

When PREFECT_API_URL is set, an existing server (the scale-out set-up) is used instead
and nothing is started.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import structlog

from api.stack.processes import Supervised
from config import telemetry
from flows.prefect_api import CLIENT_SETTINGS, reachable, wait_for_api

log = structlog.get_logger("qingfeng.prefect")


class PrefectServer:
    """Starts (or finds) the Prefect API; ``api_url`` is where it answers."""

    def __init__(
        self,
        home: Path,
        port: int,
        database_url: str | None = None,
        *,
        pid_file: Path | None = None,
    ) -> None:
        self.home, self.port, self.database_url = home.resolve(), port, database_url
        self.pid_file = pid_file
        self.external = os.environ.get("PREFECT_API_URL")
        self.api_url = self.external or f"http://127.0.0.1:{port}/api"
        self.child: Supervised | None = None

    def start(self) -> None:
        os.environ.update(CLIENT_SETTINGS)
        os.environ["PREFECT_API_URL"] = self.api_url
        if self.external:
            log.info("using an existing Prefect server")
            return
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **CLIENT_SETTINGS,
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_DATABASE_CONNECTION_URL": self.database_url
            or f"sqlite+aiosqlite:///{self.home / 'prefect.db'}",
            "PREFECT_UI_API_URL": self.api_url,
        }
        env.pop(telemetry.MULTIPROC_ENV, None)  # its own metrics are not ours to serve
        prefect = Path(sys.executable).with_name("prefect")
        self.child = Supervised(
            "prefect-server",
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=lambda: (self.home / "server.log").open("ab"),
            stop_seconds=15,
            # Its orderly stop waits on its clients and services: unbounded with `up` gone.
            death_signal=signal.SIGKILL,
            pid_file=self.pid_file,
        )
        self.child.start()

    def reachable(self, timeout: float = 2.0) -> bool:
        """Whether the API answers healthy now."""
        return reachable(self.api_url, timeout)

    def wait_ready(self, timeout: float = 60) -> bool:
        return wait_for_api(self.api_url, timeout=timeout)

    def stop(self) -> None:
        if self.child:
            self.child.stop()
