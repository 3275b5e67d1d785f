"""What the stage flow's tasks work on: the database, the policy and the data directory.

`qingfeng up` (and the tests) hand over their own; a Prefect worker started elsewhere
builds them from the same QINGFENG_* settings on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cases.deadlines.calendar import configure as configure_calendar
from cases.files import load_policy
from cases.procedure.policy import Policy
from cases.store.db import Database
from config.settings import get_settings


@dataclass(frozen=True)
class FlowContext:
    db: Database
    policy: Policy
    case_files: Path


_current: list[FlowContext] = []


def use(context: FlowContext) -> None:
    """Make ``context`` the one every task of this process uses."""
    _current[:] = [context]


def current() -> FlowContext:
    """The configured context, built from settings when none was handed over."""
    if not _current:
        settings = get_settings()
        configure_calendar(settings.calendar_dir)
        use(
            FlowContext(
                db=Database(settings.effective_database_url, pool_size=4),
                policy=load_policy(settings.policy_file),
                case_files=settings.data_dir / "case-files",
            )
        )
    return _current[0]
