"""The secretary's chart series for a year: the cases read, beside every case read.

    .venv/bin/python bench/charts.py --url sqlite:///DIR/scale-10000.db [--year 2025]

On a database ``bench/scale.py --keep DIR`` wrote: reads the whole committee's events for
the year twice, once for the cases not closed before it (what ``charts`` reads) and once
for every case (the baseline, what it read before), and builds their histories. The best
of ``--repeat`` each, in process, then ``charts()`` itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cases.deadlines.calendar import current  # noqa: E402
from cases.files import load_policy  # noqa: E402
from cases.metrics.charts import charts  # noqa: E402
from cases.metrics.compute import histories  # noqa: E402
from cases.metrics.events import Period, Scope  # noqa: E402
from cases.metrics.reading import read_events  # noqa: E402
from cases.procedure.policy import Policy  # noqa: E402
from cases.store.db import Database, UnitOfWork  # noqa: E402
from config.settings import DEFAULT_POLICY_FILE  # noqa: E402


def _read(db: Database, policy: Policy, period: Period, *, all_cases: bool) -> tuple[int, float]:
    """Cases read and seconds taken: the year's events and their histories."""
    began = time.perf_counter()
    with UnitOfWork(db, write=False) as uow:
        since = None if all_cases else period.start
        events = read_events(uow.session, Scope(None, None), period.end, open_since=since)
        found = histories(events, policy=policy, calendar=current(), before=period.end)
    return len(found), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", required=True, help="the database (bench/scale.py --keep)")
    parser.add_argument("--year", type=int, default=date.today().year - 1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    db, policy = Database(args.url), load_policy(DEFAULT_POLICY_FILE)
    period = Period(date(args.year, 1, 1), date(args.year, 12, 31))
    for label, all_cases in (("every case (baseline)", True), ("not closed before", False)):
        runs = [_read(db, policy, period, all_cases=all_cases) for _ in range(args.repeat)]
        print(f"{label:22} {runs[0][0]:>9,} cases  {min(s for _, s in runs):7.2f} s")
    began = time.perf_counter()
    charts(uow=UnitOfWork(db, write=False), policy=policy, period=period, viewer=None)
    print(f"{'charts()':22} {'':>15}  {time.perf_counter() - began:7.2f} s")
    db.dispose()


if __name__ == "__main__":
    main()
