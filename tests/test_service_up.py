"""`qingfeng up` as a user starts it: migrates, gets ready, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.postgres import free_port
from tests.processes import PATIENCE, wait_for
from tests.receivers import Mailbox, smtp_server


def _stage_runs(db_file: Path) -> dict[str, int]:
    with sqlite3.connect(db_file) as connection:
        rows = connection.execute(
            "SELECT state, count(*) FROM outbox WHERE topic = 'stage_flow' GROUP BY state"
        )
        return dict(rows.fetchall())


def _children(data_dir: Path, command: str) -> list[int]:
    """Running `qingfeng <command>` processes of this data directory."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = f"QINGFENG_DATA_DIR={data_dir}".encode() in environ
        if ours and f"api.cli\0{command}".encode() in cmdline:
            found.append(int(proc.name))
    return found


def _orchestration(port: int) -> str:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=PATIENCE)
    except httpx.HTTPError:
        return "down"
    return str(response.json()["checks"].get("orchestration"))


def test_up_serves_until_ctrl_c_and_picks_up_where_it_stopped(tmp_path: Path) -> None:
    port = free_port()
    with smtp_server() as (mail_server, mailbox):
        _up_twice(tmp_path, port, mail_server.port, mailbox)


def _up_twice(tmp_path: Path, port: int, smtp_port: int, mailbox: Mailbox) -> None:
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(tmp_path),
        "QINGFENG_PORT": str(port),
        "QINGFENG_PREFECT_PORT": str(free_port()),
        "QINGFENG_SMTP_HOST": "127.0.0.1",
        "QINGFENG_SMTP_PORT": str(smtp_port),
    }
    for inherited in ("QINGFENG_DATABASE_URL", "PREFECT_API_URL"):  # the embedded default
        env.pop(inherited, None)
    units = tmp_path / "units.yaml"
    units.write_text("- {code: cs-su, name_zh: 计算机学院学生会, name_en: CS Student Union}\n")
    command = [sys.executable, "-m", "api.cli"]
    subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*command, "units", "import", str(units)], env=env, check=True)
    db_file = tmp_path / "qingfeng.db"
    for attempt in range(2):  # the second start finds the data (and the work) of the first
        process = subprocess.Popen(
            [*command, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            assert wait_for(lambda: _orchestration(port) != "down", PATIENCE), "API not up"
            if attempt == 0:
                report = {
                    "unit": "cs-su",
                    "subject_handle": "s1",
                    "subject_name": "n",
                    "summary": "s",
                    "details": "d",
                    "anonymous": False,
                    "reporter_name": "r",
                    "reporter_contact": "reporter@univ.example",
                }
                filed = httpx.post(
                    f"http://127.0.0.1:{port}/reports", json=report, timeout=PATIENCE
                )
                assert filed.status_code == 201  # accepted before Prefect is even ready
                assert _stage_runs(db_file) == {"pending": 1}
                # The receipt goes by the notifier child at once, Prefect or not.
                assert wait_for(lambda: len(mailbox.mails) == 1, PATIENCE), "no receipt mail"
                assert filed.json()["receipt_code"] in mailbox.mails[0].get_content()
                readyz = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=PATIENCE)
                checks = readyz.json()["checks"]
                assert checks["notifications"] == "running"
                assert len(_children(tmp_path, "notifier")) == 1
            else:
                # The report's stage run, left undone by the first stop, completes now.
                assert wait_for(lambda: _orchestration(port) == "ready", 3 * PATIENCE)
                # Stage runs go in a child of their own, not in threads of the API's process.
                assert len(_children(tmp_path, "runner")) == 1
                assert wait_for(lambda: _stage_runs(db_file) == {"done": 1}, PATIENCE)
                # A child that dies is started again, and reports ready again.
                [killed] = _children(tmp_path, "runner")
                os.kill(killed, signal.SIGKILL)

                def replaced(killed: int = killed) -> bool:
                    return _children(tmp_path, "runner") not in ([], [killed])

                assert wait_for(replaced, PATIENCE)
                assert wait_for(lambda: _orchestration(port) == "ready", 3 * PATIENCE)
        finally:
            process.send_signal(signal.SIGINT)
            output = process.communicate(timeout=3 * PATIENCE)[0].decode()  # Prefect: slowly
        assert process.returncode == 0, output
        assert "API docs" in output and "Prefect" in output
        # The children stopped with `up`.
        assert wait_for(lambda: not _children(tmp_path, "notifier"))
        assert wait_for(lambda: not _children(tmp_path, "runner"))
    assert [m["To"] for m in mailbox.mails] == ["reporter@univ.example"]  # once, not per start
    assert not _server_errors((tmp_path / "prefect" / "server.log").read_text())


def _server_errors(log: str) -> list[str]:
    """The Prefect server's tracebacks, less its own shutdown noise: a database connection
    whose reset is cancelled as the server stops (its services are torn down mid-query), and
    a server stopped while its services were still starting (Prefect's trigger service
    asserts it had started: seen under load, when `up` stops during the server's start)."""
    blocks = log.split("Traceback (most recent call last):")[1:]
    noise = ("asyncio.exceptions.CancelledError", "AssertionError: Reactive triggers not started")
    return [b for b in blocks if not any(n in b.split("\n\n")[0] for n in noise)]


def _descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` (children, their children…), by pid: their command."""
    parents: dict[int, list[int]] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(proc.name))
    found, todo = {}, list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().decode()
        except OSError:
            continue
        todo.extend(parents.get(child, []))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has finished; only its parent has not looked yet


def test_up_restarts_a_killed_prefect_server_and_its_children_die_with_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(tmp_path),
        "QINGFENG_PORT": str(port),
        "QINGFENG_PREFECT_PORT": str(free_port()),
        "QINGFENG_SMTP_HOST": "127.0.0.1",
        "QINGFENG_SMTP_PORT": str(free_port()),  # nobody there: the notifier idles
    }
    for inherited in ("QINGFENG_DATABASE_URL", "PREFECT_API_URL"):  # the embedded default
        env.pop(inherited, None)
    command = [sys.executable, "-m", "api.cli"]
    subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True)
    up = subprocess.Popen([*command, "up"], env=env, stdout=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: _orchestration(port) == "ready", 3 * PATIENCE)

        def prefect_server() -> list[int]:
            return [p for p, c in _descendants(up.pid).items() if "prefect\0server" in c]

        [server] = prefect_server()
        os.kill(server, signal.SIGKILL)
        # Not ready while Prefect is away (no stale "ready"), then ready after the restart.
        assert wait_for(lambda: _orchestration(port) not in ("ready", "down"), PATIENCE)
        assert wait_for(lambda: _orchestration(port) == "ready", 3 * PATIENCE)
        assert prefect_server() not in ([], [server])

        children = _descendants(up.pid)
        commands = "".join(children.values())
        assert "api.cli\0runner" in commands and "api.cli\0notifier" in commands
        up.kill()  # kill -9: `up` stops nothing itself
        up.wait()
        # Every child is gone soon after (the backstop is generous; the wait is not fixed).
        assert wait_for(lambda: not [p for p in children if _alive(p)], PATIENCE), [
            children[p] for p in children if _alive(p)
        ]
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
