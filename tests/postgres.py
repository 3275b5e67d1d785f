"""A real PostgreSQL server for the tests, started from the installed binaries."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text


def binaries() -> Path | None:
    """The directory holding initdb and pg_ctl (Debian's layout first), if installed."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(bin_dir: Path, keep: Path | None = None) -> Iterator[str]:
    """A throw-away cluster on a free port with its socket in a private directory; or,
    with ``keep``, the cluster in that directory (made there the first time, kept after)."""
    base = keep or Path(tempfile.mkdtemp(prefix="qingfeng-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(base, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = base / "data"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    if not data.exists():
        _initdb(bin_dir, data, as_user)
    options = f"-p {port} -k {base} -c listen_addresses='' -c fsync=off -c max_connections=200"
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(base / "log"),
            "start",
        ],
        check=True,
        **quiet,
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={base}&port={port}"
    finally:
        mode = "fast" if keep else "immediate"
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", mode, "stop"],
            check=False,
            **quiet,
        )  # type: ignore[call-overload]
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def _initdb(bin_dir: Path, data: Path, as_user: list[str]) -> None:
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def with_database(url: str, name: str) -> str:
    return url.replace("/postgres?", f"/{name}?", 1)


def create_database(url: str, name: str, *, template: str | None = None) -> str:
    """CREATE DATABASE ``name`` (from ``template``); returns its URL."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        clause = f" TEMPLATE {template}" if template else ""
        connection.execute(text(f"CREATE DATABASE {name}{clause}"))
    admin.dispose()
    return with_database(url, name)
