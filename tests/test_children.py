"""How a child of `up` hears from it: SIGUSR1 wakes it, its status file reports it, and
SIGTERM stops it once, however often it comes; `qingfeng status` without Prefect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.stack.processes import STATUS_FILE
from config.settings import get_settings
from tests.postgres import free_port
from tests.processes import PATIENCE, wait_for

CHILD = """
from api.stack.processes import serve_until_signalled
woken = []
serve_until_signalled(wake=lambda: woken.append(1), status=lambda: f"woken {len(woken)}")
print("stopped", flush=True)
"""


def test_a_child_is_woken_by_sigusr1_and_stops_once_however_often_sigterm_comes(
    tmp_path: Path,
) -> None:
    status = tmp_path / "child.status"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env={**os.environ, STATUS_FILE: str(status)},
        stdout=subprocess.PIPE,
    )
    try:

        def reported(text: str) -> bool:
            return status.exists() and status.read_text() == f"{child.pid} {text}\n"

        assert wait_for(lambda: reported("woken 0"), PATIENCE)
        child.send_signal(signal.SIGUSR1)
        assert wait_for(lambda: reported("woken 1"), PATIENCE)
        for _ in range(200):  # a burst, as a supervisor and PR_SET_PDEATHSIG may both send
            child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=PATIENCE)  # a backstop, not a measure
        assert child.returncode == 0 and output == b"stopped\n"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_status_says_orchestration_is_not_ready_while_prefect_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QINGFENG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QINGFENG_DATABASE_URL", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")  # nobody
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        result = runner.invoke(app, ["status"])
    finally:
        get_settings.cache_clear()
    assert "orchestration: NOT ready (Prefect unreachable)" in result.output, result.output
    assert "stuck in Prefect (done here, still running there): 0" in result.output


def test_every_setting_reaches_a_child_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child of `up` reads its settings from the QINGFENG_* variables `up` writes: each
    must read back to the same value (a CAS version once came back as text, and the
    notifier child refused to start)."""
    for name in [n for n in os.environ if n.startswith("QINGFENG_")]:
        monkeypatch.delenv(name)
    from api.stack.processes import settings_env
    from config.settings import Settings

    given = Settings(data_dir=tmp_path, cas_version=2, session_idle_minutes=15)
    for name, value in settings_env(given).items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child.model_dump() == {**given.model_dump(), "database_url": child.database_url}
    assert child.effective_database_url == given.effective_database_url
