"""SQLite writers of different processes take turns on the file lock; the notifier's
(background) turn comes after a waiting staff writer's.

The waiters' pauses run on a virtual clock (`VirtualTime`): who polls when is decided by
the pauses the lock chooses, not by how the machine schedules threads."""

from __future__ import annotations

import threading
from pathlib import Path

from cases.writelock import WriterLock


class VirtualTime:
    """The sleeps of the threads under test, on a clock the test moves: ``step`` wakes the
    sleeper due first, alone, and waits until it sleeps again or ends."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakes: dict[threading.Thread, float] = {}
        self._changed = threading.Condition()

    def sleep(self, seconds: float) -> None:
        me = threading.current_thread()
        with self._changed:
            self._wakes[me] = self.now + seconds
            self._changed.notify_all()
            self._changed.wait_for(lambda: me not in self._wakes)

    def start(self, thread: threading.Thread, threads: list[threading.Thread]) -> None:
        """Start ``thread`` and add it to ``threads`` once it sleeps or has ended."""
        thread.start()
        threads.append(thread)
        self._settle(threads)

    def step(self, threads: list[threading.Thread]) -> None:
        with self._changed:
            due, self.now = min(self._wakes.items(), key=lambda wake: wake[1])
            del self._wakes[due]
            self._changed.notify_all()
        self._settle(threads)

    def _settle(self, threads: list[threading.Thread]) -> None:
        # A thread that ends notifies nobody: look again every few milliseconds.
        with self._changed:
            for _ in range(20_000):  # a backstop of about a minute
                if all(t in self._wakes or not t.is_alive() for t in threads):
                    return
                self._changed.wait(0.003)
        raise AssertionError("a thread under test neither slept nor ended")


def test_holders_of_one_file_exclude_each_other_and_the_next_wakes_at_once(
    tmp_path: Path,
) -> None:
    database = tmp_path / "qingfeng.db"
    clock = VirtualTime()
    first = WriterLock(database)
    second = WriterLock(database, sleep=clock.sleep)  # two open files, as two processes
    first.acquire()
    acquired_at: list[float] = []
    waiter: list[threading.Thread] = []
    clock.start(
        threading.Thread(target=lambda: (second.acquire(), acquired_at.append(clock.now))),
        waiter,
    )
    while clock.now < 0.2:
        clock.step(waiter)
    assert not acquired_at  # still waiting while the first holds it
    released_at = clock.now
    first.release()
    while waiter[0].is_alive():
        clock.step(waiter)
    # Woken within its next 1 ms poll, not after SQLite's busy handler's 100 ms sleeps.
    assert acquired_at and acquired_at[0] - released_at < 0.0011
    second.release()


def test_a_waiting_staff_writer_goes_before_the_background_writer(tmp_path: Path) -> None:
    database = tmp_path / "qingfeng.db"
    clock = VirtualTime()
    holder = WriterLock(database)
    staff = WriterLock(database, sleep=clock.sleep)
    background = WriterLock(database, background=True, sleep=clock.sleep)
    order: list[str] = []

    def take(lock: WriterLock, name: str) -> None:
        lock.acquire()
        order.append(name)
        clock.sleep(0.01)  # its transaction
        lock.release()

    holder.acquire()
    threads: list[threading.Thread] = []
    clock.start(threading.Thread(target=take, args=(background, "background")), threads)
    clock.start(threading.Thread(target=take, args=(staff, "staff")), threads)
    while clock.now < 0.05:  # both wait, the background writer first
        clock.step(threads)
    assert not order
    holder.release()
    while any(thread.is_alive() for thread in threads):
        clock.step(threads)
    assert order == ["staff", "background"]
