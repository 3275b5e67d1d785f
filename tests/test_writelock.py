"""SQLite writers take the write lock at BEGIN (BEGIN IMMEDIATE) and wait for another
process's transaction in SQLite's busy handler, instead of failing with "locked"."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text

from cases.store.db import Database, UnitOfWork
from tests.processes import wait_for


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'qingfeng.db'}")
    with UnitOfWork(db) as uow:
        uow.session.execute(text("CREATE TABLE counter (n INTEGER)"))
        uow.session.execute(text("INSERT INTO counter VALUES (0)"))
        uow.commit()
    return db


def other_process(db: Database, *, timeout: float) -> sqlite3.Connection:
    """A connection of its own to the file, as `qingfeng notifier` holds one."""
    return sqlite3.connect(db.url.removeprefix("sqlite:///"), timeout=timeout, isolation_level=None)


def test_a_writer_holds_the_write_lock_from_its_first_read(database: Database) -> None:
    other = other_process(database, timeout=0)
    with UnitOfWork(database) as uow:
        uow.session.execute(text("SELECT n FROM counter")).scalar_one()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # a read-then-write never loses its snapshot
    other.execute("BEGIN IMMEDIATE")  # free again once the unit of work ended
    other.execute("ROLLBACK")
    with UnitOfWork(database, write=False) as uow:
        uow.session.execute(text("SELECT n FROM counter")).scalar_one()
        other.execute("BEGIN IMMEDIATE")  # a reader takes no write lock
        other.execute("ROLLBACK")


def test_a_writer_waits_for_another_process_then_writes(database: Database) -> None:
    other = other_process(database, timeout=30)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE counter SET n = n + 1")
    trying, errors = threading.Event(), list[BaseException]()
    # The writer takes its pooled connection just before its BEGIN IMMEDIATE.
    event.listen(database.writer, "checkout", lambda *_: trying.set())

    def write() -> None:
        try:
            with UnitOfWork(database) as uow:
                uow.session.execute(text("UPDATE counter SET n = n + 10"))
                uow.commit()
        except BaseException as error:  # the test fails on it below
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    assert wait_for(trying.is_set)
    assert writer.is_alive()  # it waits in the busy handler: the other has not ended
    other.execute("COMMIT")
    writer.join(120)
    assert not writer.is_alive() and errors == []
    assert other.execute("SELECT n FROM counter").fetchone() == (11,)
