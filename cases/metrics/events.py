"""The inputs of the figures: timeline events as plain values, the period and the scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from cases.procedure.clock import SHANGHAI, to_utc
from cases.procedure.vocabulary import Action

# Events on a case's audit chain that are not staff actions (written by cases.service,
# cases.recompute and cases.reporter_side; a fired ladder step is 'deadline.<step>').
FILED = "case.filed"
RECOMPUTED = "deadline.recomputed"
SURVEY = "survey.answered"
DEADLINE_PREFIX = "deadline."


def action_event(action: Action) -> str:
    """The audit action a staff action is recorded as ('case.accept')."""
    return f"case.{action.value}"


@dataclass(frozen=True)
class Event:
    """One event of a case's timeline (a row of its audit chain ``case:<id>``)."""

    case_id: int
    seq: int  # its place in the case's chain: the order of the timeline
    unit_path: str  # the case's unit ('/1/4/'): a unit and those under it share a prefix
    action: str
    at: datetime  # aware UTC
    data: Mapping[str, Any] = field(default_factory=dict)
    actor_id: int | None = None


def _midnight(day: date) -> datetime:
    return to_utc(datetime.combine(day, time(0), tzinfo=SHANGHAI))


@dataclass(frozen=True)
class Period:
    """The days ``first`` to ``last`` inclusive, Asia/Shanghai: from midnight before
    ``first`` to midnight after ``last``."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it begins ({self.first})")

    @property
    def start(self) -> datetime:
        return _midnight(self.first)

    @property
    def end(self) -> datetime:
        return _midnight(self.last + timedelta(days=1))


@dataclass(frozen=True)
class Investigator:
    """One investigator: their person id (the actor of events) and handle (the name
    assignments record)."""

    person_id: int
    handle: str


@dataclass(frozen=True)
class Scope:
    """Whose cases: the whole committee (no unit), a unit with every unit under it (its
    path), and/or one investigator (cases they triaged or were assigned to investigate)."""

    unit_path: str | None = None
    investigator: Investigator | None = None
