"""The deadline worker: APScheduler wakes it at the earliest pending step (and on a
safety interval); the database holds the steps, so nothing is lost across restarts.

One wake-up job, moved to the next due time after every run; never one job per deadline.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from cases.clock import utcnow
from cases.db import Database, UnitOfWork
from cases.deadlines import listen_for_new_steps
from cases.firing import fire_due_steps, next_pending_due
from cases.policy import Policy

log = structlog.get_logger("qingfeng.deadlines")
WAKE = "deadline-wake"


class DeadlineWorker:
    """Fires due steps in batches until none is due, then sleeps until the next one."""

    def __init__(
        self, db: Database, policy: Policy, *, safety_seconds: float = 60.0, batch: int = 1000
    ) -> None:
        self.db, self.policy, self.batch = db, policy, batch
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.safety_seconds = safety_seconds
        self._stopping = threading.Event()
        self._unlisten: Callable[[], None] | None = None

    def start(self) -> None:
        self.scheduler.add_job(
            self.run,
            "interval",
            seconds=self.safety_seconds,
            id="deadline-safety",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()
        self._unlisten = listen_for_new_steps(self.wake_by)
        self.wake_at_next()
        self.run()  # steps that fell due while the service was down fire now, in order

    def stop(self) -> None:
        # Not wait=True: a run finishing now would re-schedule itself with add_job, which
        # waits for the lock that a waiting shutdown holds. A run cut short is harmless:
        # each batch commits whole or not at all.
        self._stopping.set()
        if self._unlisten:
            self._unlisten()
        self.scheduler.shutdown(wait=False)

    def run(self) -> None:
        """Fire everything due now, then schedule the next wake-up."""
        total = 0
        while not self._stopping.is_set():
            fired = fire_due_steps(
                uow=UnitOfWork(self.db), policy=self.policy, now=utcnow(), batch=self.batch
            )
            if not fired:
                break
            total += fired
        if total:
            log.info("deadline steps fired", count=total)
        self.wake_at_next()

    def wake_at_next(self) -> None:
        if self._stopping.is_set():
            return
        due = next_pending_due(uow=UnitOfWork(self.db, write=False))
        if due is not None:
            self._wake_at(due)

    def wake_by(self, due: datetime) -> None:
        """Wake no later than ``due`` (a commit just wrote a step due then)."""
        if self._stopping.is_set():
            return
        job = self.scheduler.get_job(WAKE)
        if job is None or job.next_run_time > due:
            self._wake_at(due)

    def _wake_at(self, due: datetime) -> None:
        run_date = max(due, utcnow() + timedelta(milliseconds=10))
        with contextlib.suppress(SchedulerNotRunningError):  # stopped meanwhile
            self.scheduler.add_job(
                self.run,
                "date",
                run_date=run_date,
                id=WAKE,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
            )
