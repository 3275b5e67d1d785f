"""Backups of the case database, each one self-describing file.

SQLite: sqlite3's online backup API copies the whole file in one step, a consistent
snapshot taken while the service writes (WAL: the writer is never blocked). PostgreSQL:
``pg_dump --format=custom``, restored by ``pg_restore --clean --if-exists`` in a single
transaction. The URL's password reaches both through PGPASSWORD, never a command line.

A backup file is the line ``MAGIC``, one line of JSON (the ``Manifest``: engine, schema
revision, time, payload size and sha256), then the payload: the SQLite file or the dump.
Every file is written beside its target under a temporary name and renamed into place, so
nothing is ever half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text

from cases.store.migrate import alembic_config, upgrade

MAGIC = b"QINGFENG-BACKUP 1\n"
SQLITE, POSTGRESQL = "sqlite", "postgresql"
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on: names the file and what is wrong."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class Manifest:
    """What a backup file holds: which engine's payload, at which schema, made when."""

    engine: str
    revision: str
    created_at: str  # ISO 8601, UTC
    size: int
    sha256: str

    def line(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode() + b"\n"


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    kept: Path | None  # SQLite: the database the restore replaced, kept beside it


def engine_of(url: str) -> str:
    if url.startswith("sqlite"):
        return SQLITE
    if url.startswith("postgresql"):
        return POSTGRESQL
    raise BackupError(url.split(":", 1)[0], "only SQLite and PostgreSQL databases are backed up")


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(url, "an in-memory SQLite database has no file to back up")
    return Path(database)


def describe(url: str) -> str:
    """The database for messages: its file, or its URL without the password."""
    if engine_of(url) == SQLITE:
        return str(sqlite_path(url))
    return make_url(url).render_as_string(hide_password=True)


# --- backup ----------------------------------------------------------------------------


def backup(url: str, out: Path, *, now: datetime) -> Manifest:
    """Write a backup of the database at ``url`` to ``out`` (replaced atomically)."""
    engine = engine_of(url)
    out = out.resolve()
    if out.is_dir():
        raise BackupError(out, "is a directory; name the backup file to write")
    if not out.parent.is_dir():
        raise BackupError(out, f"its directory {out.parent} does not exist")
    with _scratch(out.parent, out.name) as payload:
        if engine == SQLITE:
            _sqlite_snapshot(sqlite_path(url), payload)
            revision = _revision(f"sqlite:///{payload}", out)
        else:
            revision = _revision(url, out)
            _run_pg("pg_dump", ["--format=custom", f"--file={payload}"], url, out)
        size, digest = _digest(payload)
        manifest = Manifest(engine, revision, now.isoformat(), size, digest)
        with _scratch(out.parent, out.name) as whole:
            with whole.open("wb") as target, payload.open("rb") as source:
                target.write(MAGIC + manifest.line())
                shutil.copyfileobj(source, target, _CHUNK)
                target.flush()
                os.fsync(target.fileno())
            os.replace(whole, out)
    return manifest


def _sqlite_snapshot(source: Path, into: Path) -> None:
    if not source.is_file():
        raise BackupError(source, "no database file here")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(into)
    try:
        src.backup(dst)  # pages=-1: all in one step, one read transaction: one snapshot
    except sqlite3.Error as exc:
        raise BackupError(source, f"cannot be read: {exc}") from exc
    finally:
        dst.close()
        src.close()


def _revision(url: str, path: Path) -> str:
    """The schema revision alembic recorded in the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # no table, no server: either way not a qingfeng database
        raise BackupError(path, f"cannot read the schema revision: {exc}") from exc
    finally:
        engine.dispose()
    if not found:
        raise BackupError(path, "the database has no schema revision (run `qingfeng migrate`)")
    return str(found)


# --- reading a backup file -------------------------------------------------------------


def read_manifest(path: Path) -> Manifest:
    """The manifest at the head of a backup file."""
    with _opened(path) as source:
        return _manifest(path, source)


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    try:
        with path.open("rb") as source:
            yield source
    except FileNotFoundError as exc:
        raise BackupError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise BackupError(path, "is a directory, not a backup file") from exc


def _manifest(path: Path, source: BinaryIO) -> Manifest:
    if source.readline() != MAGIC:
        raise BackupError(path, "not a qingfeng backup (its first line is not the header)")
    try:
        fields = json.loads(source.readline(64 * 1024))
        manifest = Manifest(**fields)
    except (ValueError, TypeError) as exc:
        raise BackupError(path, f"its manifest line is damaged: {exc}") from exc
    if manifest.engine not in (SQLITE, POSTGRESQL):
        raise BackupError(path, f"unknown engine {manifest.engine!r} in its manifest")
    return manifest


def check_restorable(path: Path, manifest: Manifest, url: str) -> None:
    """Refuse a backup of the other engine, or from a schema this qingfeng does not know."""
    if manifest.engine != engine_of(url):
        raise BackupError(
            path, f"a {manifest.engine} backup cannot be restored into {engine_of(url)}"
        )
    scripts = ScriptDirectory.from_config(alembic_config(url))
    known = {script.revision for script in scripts.walk_revisions()}
    if manifest.revision not in known:
        raise BackupError(
            path,
            f"made by a newer qingfeng (schema {manifest.revision}; this one knows up to "
            f"{scripts.get_current_head()}): upgrade qingfeng first",
        )


def _extract(path: Path, manifest: Manifest, into: Path) -> None:
    """The payload into ``into``, checked against the manifest's size and sha256."""
    digest, size = hashlib.sha256(), 0
    with _opened(path) as source, into.open("wb") as target:
        _manifest(path, source)
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
        target.flush()
        os.fsync(target.fileno())
    if size != manifest.size:
        raise BackupError(
            path, f"truncated or padded: {size} bytes, the manifest says {manifest.size}"
        )
    if digest.hexdigest() != manifest.sha256:
        raise BackupError(path, "damaged: its sha256 differs from the manifest's")


# --- restore ---------------------------------------------------------------------------


def restore(url: str, path: Path) -> Restored:
    """Replace the database at ``url`` with the backup in ``path``, then migrate it to the
    newest schema. SQLite: restored into a file beside the database and renamed over it
    (the old one kept as ``<name>.before-restore``). PostgreSQL: one transaction."""
    path = path.resolve()
    manifest = read_manifest(path)
    check_restorable(path, manifest, url)
    if manifest.engine == SQLITE:
        target = sqlite_path(url).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        with _scratch(target.parent, target.name) as staged:
            _extract(path, manifest, staged)
            _check_sqlite(path, staged)
            upgrade(f"sqlite:///{staged}")
            kept = _swap_in(staged, target)
        return Restored(manifest, kept)
    with tempfile.TemporaryDirectory(prefix="qingfeng-restore-") as scratch:
        dump = Path(scratch) / "dump"
        _extract(path, manifest, dump)
        options = ["--clean", "--if-exists", "--no-owner", "--single-transaction"]
        _run_pg("pg_restore", [*options, "--exit-on-error", str(dump)], url, path)
    upgrade(url)
    return Restored(manifest, None)


def _check_sqlite(path: Path, staged: Path) -> None:
    connection = sqlite3.connect(staged)
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(path, f"its payload is not a SQLite database: {exc}") from exc
    finally:
        connection.close()
    if not verdict or verdict[0] != "ok":
        raise BackupError(path, f"its SQLite payload fails the integrity check: {verdict}")


def _swap_in(staged: Path, target: Path) -> Path | None:
    """Rename ``staged`` over ``target``; the old file is kept, its WAL folded in first
    (a stale -wal beside the new file would be applied to it)."""
    kept = None
    if target.exists():
        old = sqlite3.connect(target, timeout=30)
        try:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            old.close()
        kept = target.with_name(f"{target.name}.before-restore")
        kept.unlink(missing_ok=True)
        os.link(target, kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)
    return kept


# --- helpers ---------------------------------------------------------------------------


@contextmanager
def _scratch(directory: Path, name: str) -> Iterator[Path]:
    """A temporary file name in ``directory`` (same file system: renames are atomic),
    removed afterwards unless it was renamed away."""
    handle, raw = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
    os.close(handle)
    scratch = Path(raw)
    try:
        yield scratch
    finally:
        scratch.unlink(missing_ok=True)


def _digest(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq reads it, without its password, and the environment carrying the
    password (PGPASSWORD) for pg_dump and pg_restore."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    # URL.set(password=None) keeps the password; the tuple's own replace drops it.
    bare = parsed._replace(drivername="postgresql", password=None)
    return bare.render_as_string(hide_password=False), env


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest of Debian's installed versions."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise BackupError(name, "not installed (apt-get install postgresql-client)")


def _run_pg(tool: str, options: list[str], url: str, path: Path) -> None:
    conninfo, env = libpq(url)
    done = subprocess.run(
        [pg_tool(tool), f"--dbname={conninfo}", *options],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        why = lines[-1] if lines else f"exit status {done.returncode}"
        raise BackupError(path, f"{tool} failed: {why}")
