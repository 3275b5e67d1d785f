"""Data at rest is the owner's alone whatever the umask, and the mail pickup folder keeps no
receipt code (issue 18, item 7): `qingfeng migrate` and `qingfeng up` run under umask 000,
on a data directory an earlier start left readable."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from config.at_rest import sqlite_file
from notifications.channels.base import Outgoing
from notifications.channels.email import MASKED_CODE, PickupDirectory, masked
from tests.postgres import free_port
from tests.processes import PATIENCE, wait_for

CODE = "7K3M-Q9TX-2HCV-WR5D"
TOKEN = "Zk3v0PqW9yLr2sT8uX1cN4bM7dF6gH5jK0aS3eR2tYw"


def _modes(root: Path) -> dict[str, int]:
    """Every directory and file below ``root`` (and root itself): its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def _readable_leftovers(data: Path) -> None:
    """What an earlier start under umask 022 (or a careless copy) left: group and others
    may read it."""
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "secret_key").write_text("0" * 64)
    (data / "mail").mkdir()
    (data / "mail" / "old.eml").write_text("From: qingfeng@localhost\n\nold\n")
    for path in (data / "secret_key", data / "mail" / "old.eml"):
        path.chmod(0o644)
    (data / "mail").chmod(0o755)


def _env(data: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "QINGFENG_DATA_DIR": str(data),
        "QINGFENG_PORT": str(port),
        "QINGFENG_PREFECT_PORT": str(free_port()),
    }
    for inherited in ("QINGFENG_DATABASE_URL", "PREFECT_API_URL", "QINGFENG_SMTP_HOST"):
        env.pop(inherited, None)  # the embedded defaults: SQLite, Prefect, the pickup folder
    return env


def _open_umask() -> None:
    os.umask(0)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=PATIENCE).is_success
    except httpx.HTTPError:
        return False


# A whole `up` (minutes on a busy machine): the long lane, make test-lanes.
@pytest.mark.lane
def test_migrate_and_up_under_umask_000_keep_everything_owner_only(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    _readable_leftovers(data)
    env, command = _env(data, port), [sys.executable, "-m", "api.cli"]
    run = {"env": env, "preexec_fn": _open_umask, "capture_output": True, "check": True}
    subprocess.run([*command, "migrate"], **run)  # type: ignore[call-overload]
    db = data / "qingfeng.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600  # new under umask 000: still 0600
    units = tmp_path / "units.yaml"
    units.write_text("- {code: cs-su, name_zh: 计算机学院学生会, name_en: CS Student Union}\n")
    subprocess.run([*command, "units", "import", str(units)], **run)  # type: ignore[call-overload]
    up = subprocess.Popen(
        [*command, "up"],
        env=env,
        preexec_fn=_open_umask,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: _answers(port), 3 * PATIENCE), "the API did not answer"
        filed = httpx.post(
            f"http://127.0.0.1:{port}/reports",
            json={
                "unit": "cs-su",
                "subject_name": "张同学",
                "summary": "活动经费去向不明",
                "details": "详细情况",
                "anonymous": False,
                "reporter_name": "王小明",
                "reporter_contact": "wxm@univ.example",
            },
            timeout=PATIENCE,
        )
        assert filed.status_code == 201, filed.text
        code = filed.json()["receipt_code"]
        assert wait_for(lambda: len(list((data / "mail").glob("*.eml"))) == 2, PATIENCE)
        # The Prefect server's database (created by the server, a child of `up`).
        prefect_db = data / "prefect" / "prefect.db"
        assert wait_for(prefect_db.exists, 3 * PATIENCE), "no Prefect database"
        # While `up` runs: the SQLite WAL and shared memory are there too.
        assert (data / "qingfeng.db-wal").exists() and (data / "qingfeng.db-shm").exists()
        modes = _modes(data)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=3 * PATIENCE)
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (data / name).is_dir() or name == "." else 0o600)
    }
    assert wrong == {}
    for expected in ("qingfeng.db", "qingfeng.db-wal", "secret_key", "prefect", "mail"):
        assert expected in modes
    assert "prefect/prefect.db" in modes

    # The receipt mail is in the pickup folder, its code masked: the mail is its only copy.
    [receipt] = [p for p in (data / "mail").glob("*.eml") if p.name != "old.eml"]
    mail = message_from_bytes(receipt.read_bytes(), policy=policy.default)
    body = str(mail.get_body().get_content())  # type: ignore[union-attr]
    assert mail["To"] == "wxm@univ.example"
    assert MASKED_CODE in body and code not in body
    assert code.encode() not in receipt.read_bytes()


def test_the_pickup_folder_masks_codes_and_link_tokens_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    body = (
        f"您的回执码：{CODE}\n请打开 https://qingfeng.example/s/{TOKEN} 。"
        "编号 QF-2026-00012，ABCD-EFGH 不是回执码。"
    )
    message = Outgoing(
        key="k1", notice="report_received", reference="QF-2026-00012", language="zh-CN",
        subject=f"【清风】{CODE}", body=body, email="wxm@univ.example",
    )  # fmt: skip
    folder = tmp_path / "mail"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    PickupDirectory(folder, "qingfeng@localhost").send([message])
    [written] = folder.glob("*.eml")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    mail = message_from_bytes(written.read_bytes(), policy=policy.default)
    text = str(mail.get_body().get_content())  # type: ignore[union-attr]
    assert CODE not in text and TOKEN not in text and CODE not in str(mail["Subject"])
    assert text == masked(body)
    assert "https://qingfeng.example/s/XXXXXXXX" in text and "QF-2026-00012" in text
    assert "ABCD-EFGH 不是回执码" in text  # only whole codes are masked


def test_a_sqlite_database_outside_the_data_directory_is_found() -> None:
    assert sqlite_file("sqlite:////srv/qf/main.db") == Path("/srv/qf/main.db")
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://qf@db/qf") is None
