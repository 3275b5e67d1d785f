"""Time at the edges: aware UTC everywhere in code and database, Asia/Shanghai for rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    """Any datetime as aware UTC; a naive input is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local_text(moment: datetime) -> str:
    """``moment`` as Asia/Shanghai wall time, 'YYYY-MM-DD HH:MM' (for people to read)."""
    return to_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of a moment."""
    return to_utc(moment).astimezone(SHANGHAI).date()
