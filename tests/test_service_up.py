"""`qingfeng up` as a user starts it: migrates, gets ready, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.postgres import free_port


def test_up_serves_until_ctrl_c_and_keeps_its_data(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "QINGFENG_DATA_DIR": str(tmp_path), "QINGFENG_PORT": str(port)}
    env.pop("QINGFENG_DATABASE_URL", None)
    command = [sys.executable, "-m", "api.cli", "up"]
    for attempt in range(2):  # the second start finds the data of the first
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            deadline, ready = time.monotonic() + 30, None
            while time.monotonic() < deadline:
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            assert ready is not None and ready.status_code == 200, "not ready within 30 s"
            if attempt == 0:
                filed = httpx.post(
                    f"http://127.0.0.1:{port}/reports",
                    json={
                        "unit": "nowhere",
                        "subject_handle": "s",
                        "subject_name": "n",
                        "summary": "s",
                        "details": "d",
                    },
                )
                assert filed.status_code == 422  # an empty organisation: a clear refusal
        finally:
            process.send_signal(signal.SIGINT)
            output = process.communicate(timeout=20)[0].decode()
        assert process.returncode == 0, output
        assert "API docs" in output and (tmp_path / "qingfeng.db").exists()
