"""The deadline worker: APScheduler wakes it at the earliest pending step (and on a
safety interval); the database holds the steps, so nothing is lost across restarts.

One wake-up job, moved to the next due time after every run; never one job per deadline.
It also brings the 述职 figures' projection up to date each minute (cases.metrics.projection).
The passes of one worker never overlap: ``run`` holds a lock, and ``start`` schedules the
first pass (the catch-up after downtime) instead of running one beside the job it has
just scheduled. Passes of several workers (instances on one database) may overlap:
``cases.firing`` claims by case, so they never split one case's steps between them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from cases.deadlines.calendar import current
from cases.deadlines.steps import listen_for_new_steps
from cases.firing import fire_due_steps, next_pending_due
from cases.metrics import projection
from cases.procedure.clock import utcnow
from cases.procedure.policy import Policy
from cases.store.db import Database, UnitOfWork

log = structlog.get_logger("qingfeng.deadlines")
WAKE = "deadline-wake"
SOON = timedelta(milliseconds=10)
# A pass that found due steps but could fire none: another instance's pass or a staff
# action holds their cases. Look again a little later rather than every SOON.
HELD_RETRY = timedelta(seconds=1)
FIGURES_SECONDS = 60.0  # how often the figures' projection is brought up to date


class DeadlineWorker:
    """Fires due steps in batches until none is due, then sleeps until the next one."""

    def __init__(
        self, db: Database, policy: Policy, *, safety_seconds: float = 60.0, batch: int = 1000
    ) -> None:
        self.db, self.policy, self.batch = db, policy, batch
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.safety_seconds = safety_seconds
        self._stopping = threading.Event()
        self._one_pass = threading.Lock()
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
        self.scheduler.add_job(
            self.refresh_figures,
            "interval",
            seconds=FIGURES_SECONDS,
            id="figures-refresh",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()
        self._unlisten = listen_for_new_steps(self.wake_by)
        self._wake_at(utcnow())  # the first pass fires what fell due while we were down

    def stop(self) -> None:
        # Not wait=True: a run finishing now would re-schedule itself with add_job, which
        # waits for the lock that a waiting shutdown holds. A run cut short is harmless:
        # each batch commits whole or not at all.
        self._stopping.set()
        if self._unlisten:
            self._unlisten()
        self.scheduler.shutdown(wait=False)

    def run(self) -> None:
        """Fire everything due now, then schedule the next wake-up; one pass at a time."""
        with self._one_pass:
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
            self.wake_at_next(fired_nothing=not total)

    def refresh_figures(self) -> None:
        """Bring the 述职 figures' projection up to date, so a report has little left."""
        if not self._stopping.is_set():
            projection.refresh(db=self.db, policy=self.policy, calendar=current())

    def wake_at_next(self, *, fired_nothing: bool = False) -> None:
        if self._stopping.is_set():
            return
        due = next_pending_due(uow=UnitOfWork(self.db, write=False))
        if due is not None:
            now = utcnow()
            held = fired_nothing and due <= now
            self._wake_at(due, not_before=now + (HELD_RETRY if held else SOON))

    def wake_by(self, due: datetime) -> None:
        """Wake no later than ``due`` (a commit just wrote a step due then)."""
        if self._stopping.is_set():
            return
        job = self.scheduler.get_job(WAKE)
        if job is None or job.next_run_time > due:
            self._wake_at(due)

    def _wake_at(self, due: datetime, *, not_before: datetime | None = None) -> None:
        run_date = max(due, not_before or utcnow() + SOON)
        with contextlib.suppress(SchedulerNotRunningError):  # stopped meanwhile
            self.scheduler.add_job(
                self.run,
                "date",
                run_date=run_date,
                id=WAKE,
                replace_existing=True,
                # One running and one waiting for the pass lock: a wake-up asked for
                # during a pass (a commit wrote a step due now) is never dropped.
                max_instances=2,
                coalesce=True,
            )
