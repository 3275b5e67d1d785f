"""SQLite writers of different processes take turns on the file lock; the notifier's
(background) turn comes after a waiting staff writer's."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cases.writelock import WriterLock


def test_holders_of_one_file_exclude_each_other_and_the_next_wakes_at_once(
    tmp_path: Path,
) -> None:
    database = tmp_path / "qingfeng.db"
    first, second = WriterLock(database), WriterLock(database)  # two open files, as 2 processes
    first.acquire()
    acquired_at: list[float] = []
    waiter = threading.Thread(
        target=lambda: (second.acquire(), acquired_at.append(time.monotonic()))
    )
    waiter.start()
    time.sleep(0.05)
    assert not acquired_at  # still waiting while the first holds it
    released_at = time.monotonic()
    first.release()
    waiter.join(timeout=5)
    assert acquired_at and acquired_at[0] - released_at < 0.02  # woken promptly, no 100 ms sleep
    second.release()


def test_a_waiting_staff_writer_goes_before_the_background_writer(tmp_path: Path) -> None:
    database = tmp_path / "qingfeng.db"
    holder = WriterLock(database)
    staff, background = WriterLock(database), WriterLock(database, background=True)
    order: list[str] = []

    def take(lock: WriterLock, name: str) -> None:
        lock.acquire()
        order.append(name)
        time.sleep(0.01)
        lock.release()

    holder.acquire()
    threads = [
        threading.Thread(target=take, args=(background, "background")),
        threading.Thread(target=take, args=(staff, "staff")),
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.005)
    time.sleep(0.05)
    holder.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == ["staff", "background"]
