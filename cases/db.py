"""Engines and the unit of work. SQLite: WAL, foreign keys on, writers take the lock up front."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Update,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    update,
)
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

from cases.models import pk, table_of
from cases.writelock import WriterLock


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int, cache_kib: int) -> Engine:
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if ":memory:" in url or url == "sqlite://":
        kwargs["poolclass"] = StaticPool
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes can fail with SQLITE_BUSY
        # without waiting; writers take the write lock at BEGIN and queue on busy_timeout.
        # Straight to the driver: this runs for every transaction, and SQLAlchemy's
        # statement machinery would cost more than the BEGIN itself.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The engines of one database: a writer and a reader (the same engine off SQLite)."""

    def __init__(self, url: str, *, pool_size: int = 20, background: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # SQLite has one writer: writers queue on a lock (threads) and a file lock (other
        # processes) that wake the next one the moment the last commits (cases.writelock).
        self.write_lock: WriterLock | None = (
            WriterLock(_database_file(url), background=background) if self.is_sqlite else None
        )
        if self.is_sqlite:
            # Writers take turns (see write_lock), so a few writer connections suffice, and
            # each can keep a large page cache: a big database's hot pages stay in memory.
            self.writer = _sqlite_engine(url, immediate=True, pool_size=2, cache_kib=65536)
            self.reader = _sqlite_engine(url, immediate=False, pool_size=pool_size, cache_kib=8192)
        else:
            self.writer = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.reader = self.writer

    def checkpoint_wal(self) -> None:
        """SQLite: copy the WAL into the database file now, without blocking anyone, so the
        WAL restarts small. A bulk writer calls this after its batches: otherwise the
        commit that crosses the automatic threshold pays, most often a staff action's."""
        if self.is_sqlite:
            with self.reader.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
        if self.write_lock is not None:
            self.write_lock.close()


def _database_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for an in-memory database)."""
    path = url.removeprefix("sqlite:///")
    return None if path in ("", ":memory:") or path == url else Path(path)


class UnitOfWork:
    """One database transaction. Re-entrant: an inner ``commit`` defers to the outermost."""

    def __init__(self, db: Database, *, write: bool = True) -> None:
        self.db = db
        self.write = write
        self._depth = 0
        self._committed = False
        self._after_commit: list[Callable[[], None]] = []
        self._after_rollback: list[Callable[[], None]] = []
        self._locked = False
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        if self._depth == 0:
            engine = self.db.writer if self.write else self.db.reader
            self._locked = self.write and self.db.write_lock is not None
            if self._locked:
                assert self.db.write_lock is not None
                self.db.write_lock.acquire()
            self.session = Session(engine, expire_on_commit=False)
            self._committed = False
            self._after_commit = []
            self._after_rollback = []
        self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            if exc_type is not None and not self._committed:
                self.session.rollback()
            # close() ends an uncommitted transaction without expiring loaded objects,
            # so what a read returned stays usable after the block.
            self.session.close()
            if self._locked and self.db.write_lock is not None:
                self.db.write_lock.release()
            if self._committed and exc_type is None:
                for callback in self._after_commit:
                    callback()
            elif exc_type is not None and not self._committed:
                for callback in self._after_rollback:
                    callback()

    def commit(self) -> None:
        """Commit, unless an outer block owns the transaction (it commits when it is done)."""
        if self._depth == 1:
            self.session.commit()
            self._committed = True
        else:
            self.session.flush()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction has committed (wake a worker, say)."""
        self._after_commit.append(callback)

    def after_rollback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once an error has rolled the transaction back (record a refusal
        in a transaction of its own, say)."""
        self._after_rollback.append(callback)


def core(session: Session) -> Connection:
    """The session's connection, for Core statements on the staff-action path.

    ``session.execute`` wraps even a plain Core statement in the ORM's execution layer
    (events, autoflush, ORM result set-up), which cost more than the statement's SQL. The
    connection is the session's own, in its transaction; nothing pending is flushed first.
    """
    return session.connection()


def write_changes(session: Session, row: SQLModel) -> None:
    """Write what changed on ``row`` (loaded by ``session``) as one Core UPDATE by primary
    key, and take the row out of the session so that the commit's flush skips it.

    For the case row of a staff action: the ORM's flush of that one object (unit of work,
    dependency sort, per-attribute history) cost a sixth of the action.
    """
    changed = sorted(inspect(row).committed_state)
    if changed:
        values = {key: getattr(row, key) for key in changed}
        values["row_id"] = pk(row)  # type: ignore[arg-type]  # every table model has an id
        core(session).execute(_update_of(type(row), tuple(changed)), values)
    session.expunge(row)


@cache
def _update_of(model: type[SQLModel], columns: tuple[str, ...]) -> Update:
    # One statement per set of changed columns (a handful per model), compiled once.
    table = table_of(model)
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({column: bindparam(column) for column in columns})
    )


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Write-once rows as one Core INSERT: no ORM objects to build, track and flush.

    For rows a transaction writes and never reads back (records, deadline steps): on the
    staff-action path the ORM's per-object work cost more than the SQL.
    """
    core(session).execute(_insert_into(model), rows)


@cache
def _insert_into(model: type[SQLModel]) -> Insert:
    return insert(table_of(model))
