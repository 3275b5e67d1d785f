"""The Prefect server of the embedded default: a supervised child process (started again
if it dies) with SQLite under data_dir.

When PREFECT_API_URL is set, an existing server (the scale-out set-up) is used instead
and nothing is started.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import structlog

from config.children import Supervised

log = structlog.get_logger("qingfeng.prefect")

# Our process talks to Prefect with these (set before the first Prefect client is made).
CLIENT_SETTINGS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",  # never a hidden server of its own
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Stage runs' own log lines ("Beginning flow run…") cost an API call each and say
    # nothing the run's states and the case artifact do not; warnings still show locally.
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
}


class PrefectServer:
    """Starts (or finds) the Prefect API; ``api_url`` is where it answers."""

    def __init__(self, home: Path, port: int, database_url: str | None = None) -> None:
        self.home, self.port, self.database_url = home.resolve(), port, database_url
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
        prefect = Path(sys.executable).with_name("prefect")
        self.child = Supervised(
            "prefect-server",
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=lambda: (self.home / "server.log").open("ab"),
            stop_seconds=15,
        )
        self.child.start()

    def reachable(self, timeout: float = 2.0) -> bool:
        """Whether the API answers healthy now."""
        try:
            return httpx.get(f"{self.api_url}/health", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 60) -> bool:
        return wait_for_api(self.api_url, timeout=timeout)

    def stop(self) -> None:
        if self.child:
            self.child.stop()


def wait_for_api(
    api_url: str, *, timeout: float, given_up: Callable[[], bool] = lambda: False
) -> bool:
    """Whether the Prefect API at ``api_url`` answers healthy within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not given_up():
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return False
