"""Engines and the unit of work. SQLite: WAL, foreign keys on, writers take the lock at BEGIN."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    create_engine,
    event,
    insert,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

from cases.store.models import table_of


def _sqlite_engine(url: str, *, begin: str, pool_size: int, cache_kib: int) -> Engine:
    # timeout: pysqlite's busy handler; a writer that finds the file locked by another
    # process waits up to 30 s for it, inside SQLite.
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if ":memory:" in url or url == "sqlite://":
        kwargs["poolclass"] = StaticPool
    else:
        kwargs.update(pool_size=pool_size, max_overflow=0 if begin == _WRITE else pool_size)
    engine = create_engine(url, **kwargs)

    # SQLAlchemy's recipe for SQLite transactions: pysqlite's own BEGIN handling is off,
    # and each transaction starts with our BEGIN.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine


# A writer takes SQLite's write lock at BEGIN: a deferred transaction that reads and then
# writes could fail with SQLITE_BUSY at once instead of waiting its turn.
_WRITE, _READ = "BEGIN IMMEDIATE", "BEGIN"


class Database:
    """The engines of one database: a writer and a reader (the same engine off SQLite)."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # SQLite has one writer at a time. One writer connection per process: its
            # threads queue on the pool (woken the moment the last returns it), processes
            # on SQLite's lock (BEGIN IMMEDIATE, busy timeout). It keeps a large page
            # cache, so a big database's hot pages stay in memory.
            self.writer = _sqlite_engine(url, begin=_WRITE, pool_size=1, cache_kib=65536)
            self.reader = _sqlite_engine(url, begin=_READ, pool_size=pool_size, cache_kib=8192)
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


class UnitOfWork:
    """One database transaction. Re-entrant: an inner ``commit`` defers to the outermost."""

    def __init__(self, db: Database, *, write: bool = True) -> None:
        self.db = db
        self.write = write
        self._depth = 0
        self._committed = False
        self._after_commit: list[Callable[[], None]] = []
        self._after_rollback: list[Callable[[], None]] = []
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        if self._depth == 0:
            engine = self.db.writer if self.write else self.db.reader
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


def one_snapshot(session: Session) -> None:
    """Every read of the session's transaction from one snapshot, so queries read one after
    another agree with each other (PostgreSQL's REPEATABLE READ; a SQLite read transaction
    is one already). Before the transaction's first statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def core(session: Session) -> Connection:
    """The session's connection, for set-based Core statements in its transaction (a
    burst of rows, a bulk append); nothing pending is flushed first."""
    return session.connection()


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Write-once rows as one Core INSERT: no ORM objects to build, track and flush.

    For batches of rows a transaction writes and never reads back (deadline steps, audit
    events, outbox rows)."""
    core(session).execute(_insert_into(model), rows)


def upsert(
    session: Session, model: type[SQLModel], index: list[str], update: Callable[[Any, Any], Any]
) -> Insert:
    """INSERT … ON CONFLICT (``index``) DO UPDATE SET ``update(table, excluded)``, in the
    session's dialect (SQLite or PostgreSQL)."""
    table = table_of(model)
    dialect = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = dialect(table)
    return statement.on_conflict_do_update(
        index_elements=index, set_=update(table, statement.excluded)
    )


@cache
def _insert_into(model: type[SQLModel]) -> Insert:
    return insert(table_of(model))
