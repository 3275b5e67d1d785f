"""`up`'s eye on the calendar files: at start, and whenever a file is added, changed or
removed, the pending deadlines that counted days in a changed year are counted again
(``cases.recompute``), so the running service never keeps a stale calendar."""

from __future__ import annotations

import threading

import structlog

from cases.deadlines.calendar import CalendarError, WorkingCalendar, current, reread
from cases.procedure.policy import Policy
from cases.recompute import Recomputed, recompute_deadlines
from cases.store.db import Database, UnitOfWork

log = structlog.get_logger("qingfeng.calendar")


class CalendarWatch:
    """Reads the calendar directory every ``interval`` seconds; recomputes when it changed."""

    def __init__(self, db: Database, policy: Policy, *, interval: float = 10.0) -> None:
        self.db, self.policy, self.interval = db, policy, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied = False  # a recomputation has succeeded since start
        self._before: WorkingCalendar | None = None  # the calendar before an unapplied change
        self._refused = ""

    def start(self) -> None:
        """Recompute now (whatever changed while the service was down), then keep watching."""
        self._guarded_tick()
        self._thread = threading.Thread(target=self._run, name="calendar-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def tick(self) -> Recomputed | None:
        """Look once: None when nothing was to do, else what the recomputation did."""
        before = current()
        try:
            if reread() is not None:
                self._before = self._before or before
            self._refused = ""
        except CalendarError as exc:  # keep the calendar in use; say so once per problem
            if str(exc) != self._refused:
                log.error("calendar file refused; the calendar in use stays", problem=str(exc))
            self._refused = str(exc)
        if self._applied and self._before is None:
            return None
        result = recompute_deadlines(
            uow=UnitOfWork(self.db), policy=self.policy, previous=self._before
        )
        self._applied, self._before = True, None
        if result.changed:
            log.info(
                "deadlines recomputed for a changed calendar",
                years=sorted(result.changed),
                rewritten=result.rewritten,
                moved=result.moved,
                marked=result.marked,
            )
        return result

    def _guarded_tick(self) -> None:
        try:
            self.tick()
        except Exception:  # logged; the next look tries again
            log.exception("calendar recomputation failed")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._guarded_tick()
