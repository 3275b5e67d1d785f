"""The figures from the timeline events alone: a pure function (no database, no clock).

Each figure is what ``definitions`` says it is; this module is that text in code. Events
at or after the period's end are left out, so a period's figures never change once it has
ended (the calendar and the policy aside: due times are counted by them).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cases.deadlines.calendar import WorkingCalendar
from cases.metrics.events import SURVEY, Event, Period, Scope, action_event
from cases.metrics.timeline import Days, History, Visit, read_history
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import STAFF_STAGES, Action, AppealOutcome, FindingsResult, Stage

Value = Any  # int, float, None, or a dict of them (JSON)
DONE = (Stage.APPEAL_WINDOW, Stage.CLOSED)  # the committee's work on the case is done
UNCATEGORISED = "uncategorised"
OVERTURNED = "overturned"
SUBSTANTIATED = (FindingsResult.SUBSTANTIATED, FindingsResult.PARTLY_SUBSTANTIATED)


@dataclass(frozen=True)
class Figures:
    """Each figure's value by its code: the scope's, and each unit's (by unit path)."""

    values: dict[str, Value]
    units: dict[str, dict[str, Value]] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime  # the period's end: its last midnight, or now when that is earlier

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def rate(numerator: int, denominator: int) -> dict[str, Value]:
    share = numerator / denominator if denominator else None
    return {"numerator": numerator, "denominator": denominator, "rate": share}


def median(values: Sequence[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile_90(values: Sequence[int]) -> int | None:
    """Nearest rank: the ⌈0.9 n⌉-th value in order."""
    return sorted(values)[math.ceil(0.9 * len(values)) - 1] if values else None


def histories(
    events: Iterable[Event], *, policy: Policy, calendar: WorkingCalendar, before: datetime
) -> list[History]:
    """Each case's history from its events earlier than ``before`` (chain order)."""
    by_case: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event.at < before:
            by_case[event.case_id].append(event)
    days = Days(policy, calendar)
    return [
        read_history(
            sorted(found, key=lambda e: e.seq), policy=policy, calendar=calendar, days=days
        )
        for _, found in sorted(by_case.items())
    ]


def in_scope(history: History, scope: Scope) -> bool:
    if scope.unit_path is not None and not history.unit_path.startswith(scope.unit_path):
        return False
    who = scope.investigator
    return who is None or (
        who.handle in history.investigators or who.person_id in history.triaged_by
    )


def compute(
    events: Iterable[Event],
    *,
    policy: Policy,
    calendar: WorkingCalendar,
    period: Period,
    scope: Scope,
    now: datetime | None = None,
    units: Iterable[str] = (),
) -> Figures:
    """The figures of ``scope``'s cases over ``period`` (cut at ``now`` when it is earlier).
    ``units``: paths of units with cases whose events were left out (none count in the
    period): each has its line too."""
    window = Window(period.start, min(period.end, now) if now else period.end)
    found = histories(events, policy=policy, calendar=calendar, before=window.end)
    cases = [h for h in found if in_scope(h, scope)]
    by_unit: dict[str, list[History]] = defaultdict(list, {path: [] for path in units})
    for history in cases:
        by_unit[history.unit_path].append(history)
    return Figures(
        values=scope_figures(cases, window),
        units={
            path: unit_figures(group, window, policy) for path, group in sorted(by_unit.items())
        },
    )


def _counts(cases: Sequence[History], window: Window) -> Counter[str]:
    """Events in the window, by action (one pass over every event)."""
    return Counter(e.action for h in cases for e in h.events if window.holds(e.at))


def scope_figures(cases: Sequence[History], window: Window) -> dict[str, Value]:
    counts = _counts(cases, window)

    def count(*actions: Action) -> int:
        return sum(counts[action_event(action)] for action in actions)

    return {
        "reports_received": sum(1 for h in cases if window.holds(h.visits[0].entered)),
        "reports_accepted": count(Action.ACCEPT),
        "reports_declined": count(Action.DECLINE),
        "cases_closed": count(Action.CLOSE, Action.DECIDE_APPEAL),
        "completion_rate": completion_rate(cases, window),
        "on_time_rate": on_time_rates(cases, window),
        "stage_time_median": _stage_days(cases, window, median),
        "stage_time_p90": _stage_days(cases, window, percentile_90),
        "overdue_now": sum(1 for h in cases if _overdue(h.visits[-1], window.end)),
        "verification_returns": count(Action.RETURN_FINDINGS),
        "extensions_requested": count(Action.REQUEST_EXTENSION),
        "extensions_granted": count(Action.GRANT_EXTENSION),
        "appeals_lodged": count(Action.APPEAL),
        "appeal_outcomes": appeal_outcomes(cases, window),
        "satisfaction_mean": satisfaction_mean(cases, window),
        "satisfaction_distribution": satisfaction_distribution(cases, window),
        "satisfaction_response_rate": response_rate(cases, window),
    }


def _staff_visits(history: History) -> list[Visit]:
    return [v for v in history.visits if v.stage in STAFF_STAGES]


def completion_rate(cases: Sequence[History], window: Window) -> dict[str, Value]:
    owed = [
        h
        for h in cases
        if any(
            v.entered < window.end and (v.left is None or v.left > window.start)
            for v in _staff_visits(h)
        )
    ]
    return rate(sum(1 for h in owed if h.stage in DONE), len(owed))


def _overdue(visit: Visit, end: datetime) -> bool:
    """Still in a staff stage at ``end`` and past its due time."""
    return visit.left is None and visit.stage in STAFF_STAGES and _past(visit.due, end)


def _past(due: datetime | None, end: datetime) -> bool:
    return due is not None and due < end


def on_time_rates(cases: Sequence[History], window: Window) -> dict[str, Value]:
    counted: dict[Stage, list[bool]] = {stage: [] for stage in STAFF_STAGES}
    for visit in (v for h in cases for v in _staff_visits(h)):
        if visit.left is not None and window.holds(visit.left):
            counted[visit.stage].append(visit.due is None or visit.left <= visit.due)
        elif visit.left is None and window.holds(visit.due):  # due in the period, not left
            counted[visit.stage].append(False)
    rates = {stage.value: rate(sum(marks), len(marks)) for stage, marks in counted.items()}
    every = [mark for marks in counted.values() for mark in marks]
    return rates | {"overall": rate(sum(every), len(every))}


def stage_durations(cases: Sequence[History], window: Window) -> dict[Stage, list[int]]:
    """Working days of each stay that left a staff stage in the period, by stage."""
    days: dict[Stage, list[int]] = {stage: [] for stage in STAFF_STAGES}
    for visit in (v for h in cases for v in _staff_visits(h)):
        if window.holds(visit.left) and visit.days is not None:
            days[visit.stage].append(visit.days)
    return days


def _stage_days(cases: Sequence[History], window: Window, measure: Any) -> dict[str, Value]:
    return {stage.value: measure(d) for stage, d in stage_durations(cases, window).items()}


def appeal_outcomes(cases: Sequence[History], window: Window) -> dict[str, int]:
    decided = action_event(Action.DECIDE_APPEAL)
    found = Counter(
        e.data["outcome"]
        for h in cases
        for e in h.events
        if e.action == decided and window.holds(e.at)
    )
    return {outcome.value: found[outcome.value] for outcome in AppealOutcome}


def _scores(cases: Sequence[History], window: Window) -> list[int]:
    return [score for h in cases for at, score in h.scores if window.holds(at)]


def satisfaction_mean(cases: Sequence[History], window: Window) -> float | None:
    scores = _scores(cases, window)
    return sum(scores) / len(scores) if scores else None


def satisfaction_distribution(cases: Sequence[History], window: Window) -> dict[str, int]:
    found = Counter(_scores(cases, window))
    return {str(score): found[score] for score in range(1, 6)}


def response_rate(cases: Sequence[History], window: Window) -> dict[str, Value]:
    closed = [h for h in cases if window.holds(h.finished_at)]
    return rate(sum(1 for h in closed if any(e.action == SURVEY for e in h.events)), len(closed))


def unit_figures(cases: Sequence[History], window: Window, policy: Policy) -> dict[str, Value]:
    filed = [h for h in cases if window.holds(h.visits[0].entered)]
    categories = Counter(h.category or UNCATEGORISED for h in filed)
    work_style = {code: categories[code] for code in policy.work_style_codes}
    decided = [h for h in cases if window.holds(h.finished_at)]
    findings = Counter(h.findings for h in decided if h.decision_stands)
    substantiated = {result.value: findings[result.value] for result in SUBSTANTIATED}
    decisions = Counter(h.decision if h.decision_stands else OVERTURNED for h in decided)
    return {
        "reports_by_category": {
            code: categories[code] for code in (*(c.code for c in policy.categories), UNCATEGORISED)
        },
        "work_style_reports": work_style | {"total": sum(work_style.values())},
        "substantiated_findings": substantiated | {"total": sum(substantiated.values())},
        "final_dispositions": {
            code: decisions[code] for code in (*(d.code for d in policy.dispositions), OVERTURNED)
        },
        "completion_rate": completion_rate(cases, window),
        "satisfaction_mean": satisfaction_mean(cases, window),
    }
