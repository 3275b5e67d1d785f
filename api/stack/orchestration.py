"""`up`'s orchestration: the Prefect server (unless an external one is configured) and
`qingfeng runner`, each a supervised child process, reported ready only while Prefect
answers."""

from __future__ import annotations

import signal

from api.stack.prefect_server import PrefectServer
from api.stack.processes import ChildService
from cases.outbox import STAGE_FLOW
from config.settings import Settings
from flows.orchestrator import SOLE_RUNNER, OrchestrationState
from flows.prefect_api import CLIENT_SETTINGS


class OrchestrationProcesses:
    """`up`'s orchestration. The runner is a child process, not threads of the API's: its
    CPU work would hold the API's interpreter lock and delay staff requests (intake p99
    1.8x with it in-process, measured by bench/orchestration.py)."""

    def __init__(self, settings: Settings) -> None:
        self.server = PrefectServer(
            settings.data_dir / "prefect",
            settings.prefect_port,
            settings.prefect_database_url,
            pid_file=settings.data_dir / "run" / "prefect-server.pid",
        )
        self.runner = ChildService(
            "runner",
            settings,
            wakes_on={STAGE_FLOW},
            env={
                **CLIENT_SETTINGS,
                "PREFECT_API_URL": self.server.api_url,
                **({} if self.server.external else {SOLE_RUNNER: "1"}),
            },
            death_signal=signal.SIGKILL,  # stage runs are crash-safe; see processes.py
        )

    @property
    def status(self) -> str:
        """The runner's report, unless Prefect does not answer now (asked each time: a
        killed server must not be reported ready until its replacement answers)."""
        status = self.runner.status
        if status == OrchestrationState.READY and not self.server.reachable():
            return OrchestrationState.WAITING
        return status

    def start(self) -> None:
        self.server.start()
        self.runner.start()  # it waits for the server itself

    def stop(self) -> None:
        self.runner.stop()  # first: its runs in flight report their end to the server
        self.server.stop()
